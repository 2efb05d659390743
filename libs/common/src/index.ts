export * from './errors';
export * from './sha256';
export * from './random';
export * from './paths';
export * from './numeric';
export * from './json-comments';
