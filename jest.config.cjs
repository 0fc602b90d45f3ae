const { jestConfig } = require('@salesforce/sfdx-lwc-jest/config');

module.exports = {
  ...jestConfig,
  testPathIgnorePatterns: ['<rootDir>/node_modules/', '<rootDir>/relay/', '<rootDir>/test/'],
  collectCoverageFrom: ['force-app/main/default/lwc/**/*.js', '!**/__tests__/**'],
  coverageThreshold: {
    global: { lines: 90 }
  }
};
