// @ts-check
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import tseslint from 'typescript-eslint';
import layering from './scripts/eslint/layering.js';

const root = dirname(fileURLToPath(import.meta.url));

export default [
  { ignores: ['node_modules/**', 'out/**', 'dist/**', 'release/**', 'test-results/**', 'playwright-report/**', '.cache/**'] },
  {
    files: ['**/*.ts', '**/*.js', '**/*.mjs'],
    languageOptions: { parser: tseslint.parser, ecmaVersion: 2022, sourceType: 'module' },
    plugins: { pxi: layering },
    rules: {
      'pxi/layering': ['error', { root }],
      'no-debugger': 'error',
      'no-unsafe-finally': 'error',
      'no-dupe-keys': 'error',
      'no-self-assign': 'error',
    },
  },
];
