/** tfjs layers model → ONNX, for serving the forward pass on onnxruntime. */
export { exportToOnnx, buildOnnxGraph, ONNX_OPSET, ONNX_SUPPORTED_LAYERS, ONNX_SUPPORTED_ACTIVATIONS } from './export';
export type { OnnxExportOptions } from './export';
export type { OnnxGraph, OnnxNode, OnnxAttribute } from './onnx-model';
