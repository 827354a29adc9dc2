// One lint setup for the whole repo, following JupyterLab's own rules.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '.state/**',
      '**/dist/**',
      '**/lib/**',
      '**/labextension/**',
      'jupyter/**',
      'ui-tests/test-results/**',
      'ui-tests/playwright-report/**',
      'schema/src/generated*.ts'
    ]
  },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      // JupyterLab's own style: CommandIDs and Private helpers live in namespaces
      '@typescript-eslint/no-namespace': 'off',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/naming-convention': [
        'error',
        { selector: 'interface', format: ['PascalCase'], custom: { regex: '^I[A-Z]', match: true } }
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }]
    }
  }
);
