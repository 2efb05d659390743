export * from './errors';
export * from './lv-function';
export * from './slice-geometry';
export * from './sunnybrook';
