import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { formatChanges, schemaChanges } from './schema-diff.ts';

/**
 * `npm run schema:diff`: the breaking-change report between two versions of the client-facing schema.
 *   npm run schema:diff                          # the committed public.graphql at HEAD~1 → the working tree's
 *   npm run schema:diff -- --base origin/main    # … at another git revision
 *   npm run schema:diff -- --old a.graphql --new b.graphql   # any two schemas or supergraphs
 * Add --fail-on-breaking to exit 1 when a change breaks existing clients (CI prints the report only).
 */
const PUBLIC = 'schema/generated/public.graphql';
const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};

async function main(): Promise<number> {
  const oldFile = opt('old');
  const base = opt('base') ?? 'HEAD~1';
  let before: string;
  let title: string;
  if (oldFile) {
    before = await readFile(oldFile, 'utf8');
    title = `${oldFile} → ${opt('new') ?? PUBLIC}`;
  } else {
    try {
      before = execFileSync('git', ['show', `${base}:${PUBLIC}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch {
      console.log(`schema:diff: ${PUBLIC} does not exist at ${base} (first version, or a shallow clone): nothing to compare`);
      return 0;
    }
    title = `${PUBLIC} at ${base} → now`;
  }
  const after = await readFile(opt('new') ?? PUBLIC, 'utf8');
  const changes = await schemaChanges(before, after);
  console.log(formatChanges(changes, title));
  return args.includes('--fail-on-breaking') && changes.breaking.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
