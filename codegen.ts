import type { CodegenConfig } from '@graphql-codegen/cli';
import { CLIENT_PRESET_OUTPUT } from './packages/sdk/src/preset.ts';

/**
 * Typed client SDK generation (GraphQL Code Generator, client preset) from the composed public schema
 * that `npm run schema:generate` writes. Run: `npm run codegen`. The output is committed and a test
 * fails when it drifts from the schema or the operations.
 */
const config: CodegenConfig = {
  schema: 'schema/generated/public.graphql',
  documents: ['packages/sdk/src/operations/**/*.graphql'],
  ignoreNoDocuments: false,
  // ESM output with explicit .js extensions (NodeNext resolution).
  emitLegacyCommonJSImports: false,
  generates: {
    'packages/sdk/src/generated/': CLIENT_PRESET_OUTPUT,
  },
};

export default config;
