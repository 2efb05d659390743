export * from './model-card';
export * from './model-store';
export { ALIASES_FILE_NAME, type ModelStoreCommonOptions } from './store-core';
export * from './file-model-store';
export * from './s3-model-store';
export * from './open-model-store';
export * from './promote';
