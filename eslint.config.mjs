// Lint keeps workflow code deterministic: no Node built-ins or I/O libraries under src/workflows
// (and the pure modules workflows import), no floating promises anywhere, and the layers apart:
// activities never import the gateway or anything above them; the gateway imports only its own
// modules, src/naming, src/shared and src/model-spec.
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const ioModules = ['dockerode', 'simple-git', '@kubernetes/client-node', 'http-proxy', 'prom-client', '@temporalio/activity', '@temporalio/client', '@temporalio/worker', 'yaml'];

/** no-restricted-imports patterns for the folders `dirs` of src/, seen from files `depth` folders below src/. */
const above = (depth, dirs) => dirs.flatMap((dir) => [`${'../'.repeat(depth)}${dir}`, `${'../'.repeat(depth)}${dir}/**`]);
const layer = (folder, dirs, message) =>
  [1, 2, 3].map((depth) => ({
    files: [`src/${folder}/${'*/'.repeat(depth - 1)}*.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: above(depth, dirs), message }] }] },
  }));

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
    files: ['src/workflows/**/*.ts', 'src/rollout/**/*.ts', 'src/naming/**/*.ts', 'src/model-spec/schema.ts', 'src/shared/duration.ts', 'src/model-spec/limits.ts', 'src/errors.ts', 'src/policy/evaluate.ts', 'src/policy/identity.ts', 'src/policy/resolve.ts'],
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
  ...layer('activities', ['gateway', 'workflows', 'client', 'cli', 'worker', 'environments'], 'activities sit below the gateway, workflows, client and CLI: move what both need to src/naming or src/shared'),
  ...layer('gateway', ['activities', 'workflows', 'client', 'cli', 'worker', 'environments', 'config'], 'the gateway imports only src/naming, src/shared and src/model-spec: move what both need there'),
);
