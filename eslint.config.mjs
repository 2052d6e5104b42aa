// Lint keeps workflow code deterministic: no Node built-ins or I/O libraries under src/workflows
// (and the pure modules workflows import), and no floating promises anywhere.
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const ioModules = ['dockerode', 'simple-git', '@kubernetes/client-node', 'http-proxy', 'prom-client', '@temporalio/activity', '@temporalio/client', '@temporalio/worker', 'yaml'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'bin/**', 'eslint.config.mjs', 'test/upgrades/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', name: ['describe', 'it', 'test', 'suite'], package: 'node:test' }] },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/workflows/**/*.ts', 'src/rollout/**/*.ts', 'src/naming/**/*.ts', 'src/model-spec/schema.ts', 'src/shared/duration.ts', 'src/model-spec/limits.ts', 'src/errors.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...builtinModules, ...builtinModules.map((m) => `node:${m}`), ...ioModules].map((name) => ({
            name,
            message: 'workflow code must be deterministic and free of I/O: do this in an activity',
          })),
          patterns: [{ group: ['**/activities/*', '!**/activities/types'], message: 'workflows import activities as types only', allowTypeImports: true }],
        },
      ],
    },
  },
);
