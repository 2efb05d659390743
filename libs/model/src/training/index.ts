export * from './loss';
export * from './schedule';
export * from './trainer';
export * from './recipes';
