import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadMetadata, MetadataError } from '@objectos/metadata';
import { compile } from './compile.ts';
import { GENERATED_DIR, generatedFiles } from './generated.ts';

/** `write` regenerates schema/generated from the metadata; `check` exits 1 when the committed files drift. */
async function main(mode: string, metadataDir: string): Promise<number> {
  const compiled = compile(await loadMetadata(metadataDir));
  const files = generatedFiles(compiled);
  if (mode === 'write') {
    await mkdir(GENERATED_DIR, { recursive: true });
    for (const [name, text] of Object.entries(files)) await writeFile(join(GENERATED_DIR, name), text);
    console.log(`wrote ${Object.keys(files).length} file(s) to ${GENERATED_DIR}`);
    return 0;
  }
  const drifted: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    const current = await readFile(join(GENERATED_DIR, name), 'utf8').catch(() => '');
    if (current !== text) drifted.push(name);
  }
  if (drifted.length > 0) {
    console.error(`schema/generated is out of date with the metadata: ${drifted.join(', ')}. Run: npm run schema:generate`);
    return 1;
  }
  console.log('schema/generated matches the metadata');
  return 0;
}

const [mode = 'check', dir = 'metadata'] = process.argv.slice(2);
main(mode, resolve(dir)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof MetadataError ? e.message : e);
    process.exit(1);
  },
);
