import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

/**
 * Layering (docs/development.md): the engine is platform-agnostic, and nothing below the CLI
 * imports it. Each entry: the files, and the folders they must not import.
 */
const LAYERS = [
  { files: ['src/engine/**/*.ts'], forbidden: ['platforms', 'cli', 'simulate', 'validate', 'loadtester'] },
  { files: ['src/platforms/**/*.ts'], forbidden: ['cli'] },
  {
    files: ['src/shared/**/*.ts'],
    forbidden: [
      'engine',
      'platforms',
      'cli',
      'simulate',
      'validate',
      'metrics',
      'notifiers',
      'webhooks',
      'loadtester',
    ],
  },
  { files: ['src/api/**/*.ts'], forbidden: ['engine', 'platforms', 'cli', 'simulate', 'loadtester'] },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', 'coverage/**', 'tools/kube/**', 'tools/kwok/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver()],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false },
      ],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
    },
  },
  ...LAYERS.map(({ files, forbidden }) => ({
    files,
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: forbidden.map((folder) => ({
            group: [`**/${folder}/*`, `**/${folder}/**`],
            message: `this layer may not import src/${folder}/ (layering: docs/development.md)`,
          })),
        },
      ],
    },
  })),
  {
    // Tests build and mutate untyped manifests on purpose (fuzzing, one-field changes).
    files: ['**/*.test.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
