import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Vite would load graphql's ESM build for our sources while Node loads the CJS build for yoga,
    // giving two GraphQLError classes (and masked client errors). Tests use the one Node uses.
    alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') }],
  },
  test: {
    root: fileURLToPath(new URL('../../', import.meta.url)),
    include: ['gateway/test/**/*.test.ts', 'schema/test/**/*.test.ts', 'subgraphs/*/test/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    globalSetup: [fileURLToPath(new URL('./src/global-setup.ts', import.meta.url))],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // PGlite instances are memory-hungry WASM; two workers fit a 2-core machine.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ['default', fileURLToPath(new URL('./src/summary-reporter.ts', import.meta.url))],
  },
});
