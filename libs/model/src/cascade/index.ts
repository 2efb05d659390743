export * from './cascade';
export * from './lv-model';
export * from './cascade-trainer';
