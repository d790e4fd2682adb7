import { parseArgs } from 'node:util';
import { generateSdk, GenerateSdkError } from './generate-sdk.ts';

/**
 * npm run sdk:generate -- --operations <folder> --out <folder> [--metadata <folder>]
 * npm run sdk:generate -- --operations <folder> --out <folder> --endpoint <url> [--header "name: value"]…
 */
const USAGE = 'usage: npm run sdk:generate -- --operations <folder> --out <folder> [--metadata <folder> | --endpoint <url> [--header "name: value"]...]';

async function main(): Promise<number> {
  let values: { operations?: string; out?: string; metadata?: string; endpoint?: string; header?: string[] };
  try {
    ({ values } = parseArgs({ options: { operations: { type: 'string' }, out: { type: 'string' }, metadata: { type: 'string' }, endpoint: { type: 'string' }, header: { type: 'string', multiple: true } } }));
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!values.operations || !values.out) {
    console.error(`--operations and --out are required\n${USAGE}`);
    return 2;
  }
  const headers: Record<string, string> = {};
  for (const h of values.header ?? []) {
    const at = h.indexOf(':');
    if (at <= 0) {
      console.error(`--header must be "name: value", got "${h}"`);
      return 2;
    }
    headers[h.slice(0, at).trim().toLowerCase()] = h.slice(at + 1).trim();
  }
  try {
    const files = await generateSdk({ operations: values.operations, out: values.out, ...(values.endpoint ? { endpoint: values.endpoint, headers } : {}), ...(values.metadata ? { metadata: values.metadata } : {}) });
    console.log(`wrote ${files.length} file(s):\n${files.map((f) => `  ${f}`).join('\n')}`);
    return 0;
  } catch (e) {
    console.error(e instanceof GenerateSdkError ? e.message : e);
    return 1;
  }
}

main().then((code) => process.exit(code));
