// @ts-check
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      '.drydock/**',
      'coverage/**',
      'dist/**',
      'test/histories/**',
      'portal/dist/**',
      'portal/src/gql/**',
      'portal/vite.config.ts',
    ],
  },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code must be deterministic: no Node built-ins, no I/O libraries, no clocks or randomness
    // of its own (Temporal's sandbox provides deterministic Date and Math.random).
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'Workflows are deterministic: no Node built-ins.',
          })),
          patterns: [
            {
              group: [
                '@temporalio/client',
                '@temporalio/worker',
                '@temporalio/activity',
                '@temporalio/testing',
                '@mikro-orm/*',
                'pg',
                'fastify',
                'graphql*',
                'undici',
                'axios',
                '**/infra/**',
                // Plain data shared with the agent: enums and types, no I/O.
                '!**/infra/wire',
                '!**/infra/wire/agent-steps',
                '**/api/**',
                '**/agent/**',
                '**/workers/**',
              ],
              message: 'Workflows are deterministic: no I/O. Call an activity instead.',
            },
            {
              group: ['**/activities/**'],
              allowTypeImports: true,
              message:
                'Workflows import activities with `import type` and call them through proxyActivities.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'Workflows are deterministic: no process state.' },
        { name: 'require', message: 'Workflows are deterministic: import only workflow-safe modules.' },
        { name: 'fetch', message: 'Workflows are deterministic: no I/O. Call an activity instead.' },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Date',
          property: 'now',
          message: 'Workflows read time with `new Date()`, which the sandbox makes deterministic.',
        },
        {
          object: 'Math',
          property: 'random',
          message: 'Use uuid4() from @temporalio/workflow or take randomness as input.',
        },
      ],
    },
  },
  {
    // The API's layers (ADR 0017): a resolver or a route maps its arguments to a service call; the
    // services reach the database and Temporal. Types and entity enums may be imported.
    files: ['api/graphql/**/*.ts', 'api/routes/graphql.ts', 'api/routes/v1/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '@mikro-orm/*',
                'pg',
                '@temporalio/client',
                '**/infra/db/*',
                '!**/infra/db/entities',
                '**/infra/provisioning/machine-runs',
              ],
              allowTypeImports: true,
              message:
                'Resolvers and routes call a service (api/services); services reach the database and Temporal.',
            },
          ],
        },
      ],
    },
  },
  {
    // Services know no transport: GraphQL and the REST routes call them, never the reverse.
    files: ['api/services/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['graphql', 'graphql-yoga', '@pothos/*', '**/api/graphql/**', '**/api/routes/**'],
              allowTypeImports: true,
              message: 'Services know no transport: refuse with ServiceError, the transport maps it.',
            },
          ],
        },
      ],
    },
  },
  {
    // What every process shares (ADR 0006): infra/ imports no process's code.
    files: ['infra/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/api/**', '**/workers/**', '**/agent/**', '**/cli/**', '**/activities/**'],
              message: 'infra/ is shared by every process and imports none of them (ADR 0006).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
