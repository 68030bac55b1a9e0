import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'scratch/', 'examples/**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
          message: 'Engine code takes time from the injected Clock (src/domain/clock.ts).',
        },
      ],
    },
  },
  {
    files: ['src/domain/clock.ts', 'src/cli/**', 'test/**', 'bench/**', 'src/store/**'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
