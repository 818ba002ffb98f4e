import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Types for every operation in portal/src from the API's schema (portal/schema.graphql, printed from
 * the Pothos builder by scripts/print-schema.ts). Output committed: `npm run portal:codegen` (ADR 0034).
 */
const config: CodegenConfig = {
  schema: 'portal/schema.graphql',
  documents: ['portal/src/**/*.tsx', 'portal/src/**/*.ts', '!portal/src/gql/**/*'],
  ignoreNoDocuments: true,
  generates: {
    'portal/src/gql/': {
      preset: 'client',
      config: {
        documentMode: 'string',
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: 'string' },
      },
      presetConfig: { fragmentMasking: false },
    },
  },
};
export default config;
