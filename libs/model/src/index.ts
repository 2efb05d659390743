export * from './architectures';
export * from './backend';
export * from './metrics';
export * from './segmentation';
export * from './training';
export * from './model-loading';
export * from './explain';
export * from './onnx';
