import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

/**
 * Node module hooks that run the repository's TypeScript (registered by ./register.mjs). Types are
 * stripped by esbuild and nothing else changes: no identifier is renamed, so no function needs its name
 * kept. (tsx, which this replaces at run time, wraps every function it compiles in a `__name` call that
 * defines its `name`: a property per closure, made each time the closure is, on every request path.)
 */
// ES modules only: every load is answered as one (a .cts file would be CommonJS; the repository has none).
const TS = /\.m?ts$/;

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    // `./x.js` naming `./x.ts` (TypeScript's own convention, used by generated code).
    if (error?.code === 'ERR_MODULE_NOT_FOUND' && /^\.{1,2}\/.*\.js$/.test(specifier)) return nextResolve(specifier.replace(/\.js$/, '.ts'), context);
    throw error;
  }
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !TS.test(new URL(url).pathname)) return nextLoad(url, context);
  const file = fileURLToPath(url);
  const { code } = await transform(await readFile(file, 'utf8'), {
    loader: 'ts',
    format: 'esm',
    target: `node${process.versions.node}`,
    sourcefile: file,
    sourcemap: 'inline',
    tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true } },
  });
  return { format: 'module', source: code, shortCircuit: true };
}
