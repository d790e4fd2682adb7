import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generate } from '@graphql-codegen/cli';
import type { CodegenConfig } from '@graphql-codegen/cli';
import { loadMetadata } from '@objectos/metadata';
import { compile, generatedFiles } from '@objectos/schema';
import { CLIENT_PRESET_OUTPUT } from './preset.ts';


export interface GenerateSdkOptions {
  /** A folder of `.graphql` operations (searched recursively). */
  operations: string;
  /** Where the typed documents go (written over). */
  out: string;
  /**
   * A running ObjectOS endpoint to introspect (your external subgraphs included); it needs
   * introspection on and credentials in `headers`. Otherwise the schema comes from `metadata`.
   */
  endpoint?: string;
  headers?: Record<string, string>;
  /** A metadata folder to compile the public schema from. @default metadata */
  metadata?: string;
}

/** An SDK generation that could not be done, with the reason in words. */
export class GenerateSdkError extends Error {}

async function graphqlFiles(dir: string): Promise<number> {
  try {
    return (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.graphql')).length;
  } catch {
    throw new GenerateSdkError(`the operations folder ${dir} cannot be read`);
  }
}

/**
 * Generates a typed SDK (GraphQL Code Generator, client preset) for a folder of operations, against
 * the public schema compiled from metadata or against a running endpoint. Returns the files written.
 */
export async function generateSdk(options: GenerateSdkOptions): Promise<string[]> {
  const operations = resolve(options.operations);
  if ((await graphqlFiles(operations)) === 0) throw new GenerateSdkError(`no .graphql operations in ${operations}`);
  let schema: CodegenConfig['schema'];
  let scratch: string | null = null;
  if (options.endpoint) {
    let url: URL;
    try {
      url = new URL(options.endpoint);
    } catch {
      throw new GenerateSdkError(`--endpoint must be a URL, got "${options.endpoint}"`);
    }
    schema = [{ [url.href]: { headers: options.headers ?? {} } }];
  } else {
    const compiled = compile(await loadMetadata(resolve(options.metadata ?? 'metadata')));
    scratch = await mkdtemp(join(tmpdir(), 'objectos-sdk-'));
    const file = join(scratch, 'public.graphql');
    await writeFile(file, generatedFiles(compiled)['public.graphql']!);
    schema = file;
  }
  const out = resolve(options.out).replace(/\/?$/, '/');
  try {
    const files = (await generate({ schema, documents: [join(operations, '**/*.graphql')], ignoreNoDocuments: false, emitLegacyCommonJSImports: false, generates: { [out]: CLIENT_PRESET_OUTPUT }, silent: true, errorsOnly: true }, true)) as { filename: string }[];
    return files.map((f) => f.filename);
  } catch (e) {
    // Codegen's errors name the operation file and what does not match the schema; keep its words.
    const detail = e instanceof Error ? (e as Error & { details?: string }).details ?? e.message : String(e);
    throw new GenerateSdkError(`the SDK could not be generated: ${detail.trim()}`);
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}
