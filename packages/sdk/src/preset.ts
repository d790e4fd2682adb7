import type { CodegenConfig } from '@graphql-codegen/cli';

/** The client preset's settings, the same for ObjectOS's own SDK (codegen.ts) and for yours. */
export const CLIENT_PRESET_OUTPUT = {
  preset: 'client',
  presetConfig: {
    fragmentMasking: false,
    // Hashes of every operation, for a trusted-documents (persisted operations) setting.
    persistedDocuments: { mode: 'embedHashInDocument', hashAlgorithm: 'sha256' },
  },
  config: {
    useTypeImports: true,
    enumsAsTypes: true,
    scalars: { DateTime: 'string', Date: 'string', Time: 'string', JSON: 'unknown' },
  },
} satisfies NonNullable<CodegenConfig['generates']>[string];
