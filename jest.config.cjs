const { jestConfig } = require('@salesforce/sfdx-lwc-jest/config');

module.exports = {
    ...jestConfig,
    testPathIgnorePatterns: ['<rootDir>/node_modules/', '<rootDir>/relay/', '<rootDir>/test/'],
    // Registers toBeAccessible() (axe rules through @sa11y/jest) for every component test.
    setupFilesAfterEnv: [
        ...(jestConfig.setupFilesAfterEnv || []),
        '<rootDir>/force-app/test/jest-sa11y-setup.js'
    ],
    collectCoverageFrom: ['force-app/main/default/lwc/**/*.js', '!**/__tests__/**'],
    coverageThreshold: {
        global: { lines: 90 }
    }
};
