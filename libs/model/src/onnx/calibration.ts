/**
 * INT8 calibration of a model version: the activation ranges of each network, measured with onnxruntime on the inputs
 * the serving path gives each network for training images, stored in the version as `int8-calibration.json` (a
 * store file, so the card's sha256 set covers it), and the quantised ONNX bytes the onnx engine serves from it.
 */
import type * as Ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs';
import { LvsegError } from '@lvseg/common';
import { GrayImage, MODEL_INPUT_SIZE, toModelInput } from '@lvseg/imaging';
import { LvModel } from '../cascade/lv-model';
import { StageRunner, segmentCascade } from '../cascade/cascade';
import { DEFAULT_MASK_OPTIONS, predictLvProbabilities } from '../segmentation';
import { ONNX_IR_VERSION, ONNX_OPSET, OnnxExportOptions, buildOnnxGraph, encodeExportedGraph } from './export';
import { OnnxGraph, encodeOnnxModel } from './onnx-model';
import { ActivationRanges, QuantizeOptions, RangeCollector, calibrationTensors, quantizeGraph, withCalibrationOutputs } from './quantize';

/** The store file holding a version's INT8 calibration. */
export const INT8_CALIBRATION_FILE = 'int8-calibration.json';

const FORMAT = 'lvseg-int8-calibration';

/** What `int8-calibration.json` holds. */
export interface Int8Calibration {
  format: typeof FORMAT;
  formatVersion: 1;
  /** 'minmax': each tensor's range is the smallest and largest value seen over the calibration images. */
  method: 'minmax';
  weightBits: 7 | 8;
  /** The images the ranges were measured on (a training split, never the one models are selected on). */
  data: { source: string; split: string; images: number; manifestSha256?: string };
  /** onnxruntime version that measured them. */
  runtime: string;
  /** Per network (`model`, or a cascade's `localiser` and `segmenter`): ranges by ONNX tensor name; a network not listed is served in float. */
  networks: Record<string, { inputs: number; ranges: ActivationRanges }>;
}

/** The networks of a model in serving order, with the side each runs at (`model`, or `localiser` and `segmenter`). */
export function lvNetworks(model: LvModel): Array<{ name: string; net: tf.LayersModel; size: number }> {
  return model.kind === 'single'
    ? [{ name: 'model', net: model.model, size: MODEL_INPUT_SIZE }]
    : [
        { name: 'localiser', net: model.localiser, size: model.spec.localiserSize },
        { name: 'segmenter', net: model.segmenter, size: model.spec.segmenterSize },
      ];
}

/**
 * The input each network gets when `images` are served one by one (a cascade: the localiser's resampled image, then
 * the segmenter's ROI as the tfjs localiser places it), by network name. Images where the cascade finds no LV give
 * the segmenter nothing, as in serving.
 */
export async function servedNetworkInputs(model: LvModel, images: GrayImage[]): Promise<Record<string, Float32Array[]>> {
  if (model.kind === 'single') return { model: images.map((im) => toModelInput(im, MODEL_INPUT_SIZE, model.inputScaling)) };
  const seen: Record<string, Float32Array[]> = { localiser: [], segmenter: [] };
  const recording = (name: 'localiser' | 'segmenter', net: tf.LayersModel): StageRunner => async (inputs, size) => {
    seen[name].push(...inputs);
    return predictLvProbabilities(net, inputs, size, 8);
  };
  for (const im of images) await segmentCascade([im], { localiser: recording('localiser', model.localiser), segmenter: recording('segmenter', model.segmenter) }, { ...model.spec, testTimeFlip: false }, DEFAULT_MASK_OPTIONS);
  return seen;
}

/** Session options for calibration runs: no fusion across the tensors being read, one thread (the CLI's own). */
const CALIBRATION_SESSION: Ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'basic', intraOpNumThreads: 1, interOpNumThreads: 1 };

/**
 * Runs `graph` (float) on each input (size×size, one channel) with every tensor `calibrationTensors` names as an extra
 * output, and returns their [min, max] over all inputs.
 */
export async function calibrateActivationRanges(ort: typeof Ort, graph: OnnxGraph, inputs: Float32Array[], size: number, batchSize = 8): Promise<ActivationRanges> {
  if (inputs.length === 0) throw new LvsegError('invalid-input', 'ONNX_CALIBRATION_EMPTY', `no calibration inputs for network ${graph.name}`);
  const tensors = calibrationTensors(graph);
  const bytes = encodeOnnxModel({ graph: withCalibrationOutputs(graph, tensors), opset: ONNX_OPSET, irVersion: ONNX_IR_VERSION, producerName: 'lvseg', producerVersion: 'calibration' });
  const session = await ort.InferenceSession.create(bytes, CALIBRATION_SESSION);
  const ranges = new RangeCollector();
  try {
    for (let k = 0; k < inputs.length; k += batchSize) {
      const batch = inputs.slice(k, k + batchSize);
      const x = new Float32Array(batch.length * size * size);
      batch.forEach((b, j) => x.set(b, j * size * size));
      const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [batch.length, size, size, 1]) }, tensors);
      for (const t of tensors) {
        ranges.add(t, out[t].data as Float32Array);
        out[t].dispose?.();
      }
    }
  } finally {
    await session.release();
  }
  return ranges.ranges;
}

/**
 * Measures a model's INT8 calibration on `images` (training images): each network's inputs as serving gives them,
 * run through its exported float graph. `exportOptions` must be those the engine exports with (the tensor names).
 * `networks` limits it to some networks (the others are served in float).
 */
export async function calibrateLvModel(
  ort: typeof Ort,
  model: LvModel,
  images: GrayImage[],
  data: Int8Calibration['data'],
  exportOptions: OnnxExportOptions,
  opts: QuantizeOptions & { networks?: string[] } = {},
): Promise<Int8Calibration> {
  const inputs = await servedNetworkInputs(model, images);
  const networks: Int8Calibration['networks'] = {};
  const all = lvNetworks(model);
  const unknown = (opts.networks ?? []).filter((n) => !all.some((x) => x.name === n));
  if (unknown.length) throw new LvsegError('invalid-input', 'ONNX_CALIBRATION_NETWORK', `no network ${unknown.join(', ')} in this model (it has ${all.map((x) => x.name).join(', ')})`);
  for (const { name, net, size } of all.filter((x) => !opts.networks || opts.networks.includes(x.name))) {
    const graph = buildOnnxGraph(net, exportOptions);
    networks[name] = { inputs: inputs[name].length, ranges: await calibrateActivationRanges(ort, graph, inputs[name], size) };
  }
  return { format: FORMAT, formatVersion: 1, method: 'minmax', weightBits: opts.weightBits ?? 8, data, runtime: `onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common}`, networks };
}

/** Reads and checks `int8-calibration.json`; throws 'integrity' MODEL_CALIBRATION_INVALID when it is not one. */
export function parseInt8Calibration(bytes: Uint8Array): Int8Calibration {
  let c: Partial<Int8Calibration>;
  try {
    c = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<Int8Calibration>;
  } catch {
    throw invalidCalibration('not valid JSON');
  }
  if (c?.format !== FORMAT || c.formatVersion !== 1) throw invalidCalibration(`format ${JSON.stringify(c?.format)} v${String(c?.formatVersion)}; expected ${FORMAT} v1`);
  if (c.weightBits !== 7 && c.weightBits !== 8) throw invalidCalibration(`weightBits ${String(c.weightBits)}; expected 7 or 8`);
  if (typeof c.networks !== 'object' || c.networks === null) throw invalidCalibration('no networks');
  for (const [name, n] of Object.entries(c.networks)) {
    const ok = n && typeof n.ranges === 'object' && Object.values(n.ranges).every((r) => Array.isArray(r) && r.length === 2 && r.every(Number.isFinite) && r[0] <= r[1]);
    if (!ok) throw invalidCalibration(`network ${name} has a malformed range`);
  }
  return c as Int8Calibration;
}

function invalidCalibration(why: string): LvsegError {
  return new LvsegError('integrity', 'MODEL_CALIBRATION_INVALID', `${INT8_CALIBRATION_FILE}: ${why}`);
}

/** The INT8 (QDQ) ONNX bytes of one network from its calibration; throws ONNX_QUANTIZE_RANGE for another graph's. */
export function exportQuantizedToOnnx(net: tf.LayersModel, calibration: Int8Calibration, network: string, opts: OnnxExportOptions = {}): Uint8Array {
  const c = calibration.networks[network];
  if (!c) throw new LvsegError('invalid-input', 'ONNX_QUANTIZE_RANGE', `${INT8_CALIBRATION_FILE} has no network "${network}"`);
  const graph = quantizeGraph(buildOnnxGraph(net, opts), c.ranges, { weightBits: calibration.weightBits });
  return encodeExportedGraph(net, graph, { metadata: { ...(opts.metadata ?? {}), quantization: `int8 qdq, ${calibration.weightBits}-bit weights, ${calibration.method} on ${calibration.data.images} ${calibration.data.split} images` } });
}
