export * from './auth-config';
export * from './config';
export * from './inference-config';
export * from './pacs-config';
export * from './queue-config';
export * from './schema';
