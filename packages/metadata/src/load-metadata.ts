import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { MetadataModel } from './model.ts';
import { METADATA_FILE, OBJECT_FILE, parseMetadata, type MetadataSource } from './parse-metadata.ts';
import { MetadataError } from './errors.ts';


/** Loads every metadata file (`*.object|policy|audit|job|template|rule|connector|role|group|permission|sharing|rls.yaml`, or `.yml`) below `dir` and validates them together. */
export async function loadMetadata(dir: string): Promise<MetadataModel> {
  let files: string[];
  try {
    files = (await readdir(dir, { recursive: true })).filter((f) => METADATA_FILE.test(f)).sort();
  } catch (e) {
    throw new MetadataError([{ file: dir, line: 0, column: 0, path: '', message: `cannot read metadata folder: ${(e as Error).message}` }]);
  }
  if (!files.some((f) => OBJECT_FILE.test(f)))
    throw new MetadataError([{ file: dir, line: 0, column: 0, path: '', message: 'no *.object.yaml files found' }]);
  const sources: MetadataSource[] = await Promise.all(
    files.map(async (f) => ({ file: relative(process.cwd(), join(dir, f)) || f, text: await readFile(join(dir, f), 'utf8') })),
  );
  return parseMetadata(sources);
}
