import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { MetadataModel } from './model.ts';
import { parseMetadata, type MetadataSource } from './parse-metadata.ts';
import { MetadataError } from './errors.ts';

const OBJECT_FILE = /\.object\.ya?ml$/;

/** Loads every `*.object.yaml` (or `.yml`) below `dir` and validates them together. */
export async function loadMetadata(dir: string): Promise<MetadataModel> {
  let files: string[];
  try {
    files = (await readdir(dir, { recursive: true })).filter((f) => OBJECT_FILE.test(f)).sort();
  } catch (e) {
    throw new MetadataError([{ file: dir, line: 0, column: 0, path: '', message: `cannot read metadata folder: ${(e as Error).message}` }]);
  }
  if (files.length === 0)
    throw new MetadataError([{ file: dir, line: 0, column: 0, path: '', message: 'no *.object.yaml files found' }]);
  const sources: MetadataSource[] = await Promise.all(
    files.map(async (f) => ({ file: relative(process.cwd(), join(dir, f)) || f, text: await readFile(join(dir, f), 'utf8') })),
  );
  return parseMetadata(sources);
}
