import lwcRecommended from '@salesforce/eslint-config-lwc/recommended.js';
import tseslint from 'typescript-eslint';

export default [
    {
        ignores: [
            'node_modules/**',
            'coverage/**',
            '.sf/**',
            '.sfdx/**',
            'mdapi-out/**',
            'force-app/**/staticresources/**'
        ]
    },
    ...tseslint.config({
        files: ['**/*.ts'],
        extends: [tseslint.configs.recommended],
        rules: {
            '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }]
        }
    }),
    ...lwcRecommended.map((config) => ({
        ...config,
        files: ['force-app/**/lwc/**/*.js']
    })),
    {
        files: ['force-app/**/lwc/**/__tests__/**/*.js'],
        languageOptions: {
            globals: {
                jest: 'readonly',
                describe: 'readonly',
                it: 'readonly',
                expect: 'readonly',
                beforeEach: 'readonly',
                afterEach: 'readonly',
                require: 'readonly',
                global: 'readonly'
            }
        }
    }
];
