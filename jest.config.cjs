const { jestConfig } = require('@salesforce/sfdx-lwc-jest/config');

module.exports = {
    ...jestConfig,
    // Jest runs the components' tests only; every TypeScript test elsewhere belongs to vitest.
    roots: ['<rootDir>/force-app'],
    // Registers toBeAccessible() (axe rules through @sa11y/jest) for every component test.
    setupFilesAfterEnv: [
        ...(jestConfig.setupFilesAfterEnv || []),
        '<rootDir>/force-app/test/jest-sa11y-setup.js'
    ],
    // A bare `*`, as sfdx-lwc-jest's own default uses: with `*.js` Jest finds no component files.
    collectCoverageFrom: [
        'force-app/main/default/lwc/**/*',
        '!**/*.{html,css,xml,json}',
        '!**/__tests__/**'
    ],
    coverageThreshold: {
        global: { lines: 90 }
    }
};
