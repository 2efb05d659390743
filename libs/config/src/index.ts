export * from './auth-config';
export * from './config';
export * from './inference-config';
export * from './model-store';
export * from './pacs-config';
export * from './run-store';
