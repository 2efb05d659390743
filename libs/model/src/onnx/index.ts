/** tfjs layers model → ONNX, for serving the forward pass on onnxruntime; and its INT8 (QDQ) form. */
export { exportToOnnx, buildOnnxGraph, encodeExportedGraph, ONNX_OPSET, ONNX_SUPPORTED_LAYERS, ONNX_SUPPORTED_ACTIVATIONS } from './export';
export type { OnnxExportOptions } from './export';
export type { OnnxGraph, OnnxNode, OnnxAttribute } from './onnx-model';
export { quantizeGraph, calibrationTensors, withCalibrationOutputs, activationQuantParams, quantizeWeightsPerChannel, RangeCollector } from './quantize';
export type { ActivationRanges, QuantizeOptions } from './quantize';
export { INT8_CALIBRATION_FILE, calibrateActivationRanges, calibrateLvModel, exportQuantizedToOnnx, lvNetworks, parseInt8Calibration, servedNetworkInputs } from './calibration';
export type { Int8Calibration } from './calibration';
