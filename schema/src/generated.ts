import { fileURLToPath } from 'node:url';
import type { CompiledSchema } from './compile.ts';

/** Where the committed SDL lives: `schema/generated/<subgraph>.graphql`. */
export const GENERATED_DIR = fileURLToPath(new URL('../generated/', import.meta.url));

/** File name → contents for every generated artefact. */
export function generatedFiles(compiled: CompiledSchema): Record<string, string> {
  return Object.fromEntries(Object.entries(compiled.subgraphs).map(([name, s]) => [`${name}.graphql`, s.sdl]));
}
