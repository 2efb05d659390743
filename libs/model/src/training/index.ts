export * from './loss';
export * from './schedule';
export * from './serialize';
export * from './trainer';
export * from './recipes';
