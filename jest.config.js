/** Unit specs sit beside the code; end-to-end tests live in test/. */
module.exports = {
  // jest's node environment with the main realm's typed arrays, which onnxruntime-node's outputs need (see the file).
  testEnvironment: '<rootDir>/libs/model/src/onnx/testing/jest-node-environment.js',
  roots: ['<rootDir>/libs', '<rootDir>/services', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts', '**/*.browser-spec.ts'],
  transform: {
    // @swc/jest with module-local bindings for hot built-ins (see the file: jest's vm context makes global lookups slow).
    '^.+\\.ts$': ['<rootDir>/test/support/jest-transform.js', { jsc: { parser: { syntax: 'typescript', decorators: true }, transform: { legacyDecorator: true, decoratorMetadata: true }, target: 'es2022' } }],
    // pngjs's per-byte filter loops (heat map and mask PNGs) get the same prelude: 16× slower under jest without it.
    'node_modules/pngjs/.+\\.js$': ['<rootDir>/test/support/jest-transform.js', {}],
  },
  transformIgnorePatterns: ['/node_modules/(?!pngjs/)'],
  moduleNameMapper: {
    // Test support of a lib (not exported from its index), for specs and e2e tests elsewhere.
    '^@lvseg/model-store/testing$': '<rootDir>/libs/model-store/src/testing/model-store.contract',
    '^@lvseg/(imaging|model|model-store|common|config|report|lv-function|dicom)$': '<rootDir>/libs/$1/src',
    // One lib file by path, as the browser pages import them (services/inference/web/tsconfig.json).
    '^@lvseg/(imaging|model|common)/(.+)$': '<rootDir>/libs/$1/src/$2',
  },
  testTimeout: 120000,
};
