export * from './stats';
export * from './collect';
export * from './data-report';
export * from './overlay';
export * from './charts';
export * from './ef-agreement';
export * from './html';
export * from './report';
