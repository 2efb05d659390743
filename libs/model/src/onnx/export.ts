import * as tf from '@tensorflow/tfjs';
import { LvsegError } from '@lvseg/common';
import { OnnxAttribute, OnnxGraph, OnnxInitializer, OnnxNode, encodeOnnxModel } from './onnx-model';

/** Opset the exporter writes (Softmax over one axis, Clip with min/max inputs: opset 13 semantics). */
export const ONNX_OPSET = 13;
/** IR version that goes with opset 13. */
export const ONNX_IR_VERSION = 7;

export interface OnnxExportOptions {
  /**
   * What the graph returns. 'logits' (default): the model's output as `model.predict` gives it, NHWC.
   * 'class-probability': the softmax over the channel axis, only channel `classIndex`, as [N, H, W] (what a mask
   * needs, without a transpose of the whole output).
   */
  output?: { kind: 'logits' } | { kind: 'class-probability'; classIndex: number };
  /** Name of the graph input (default 'image'). */
  inputName?: string;
  /** Stored in the file's metadata_props (e.g. the model version). */
  metadata?: Record<string, string>;
}

/** Layers the exporter maps; anything else is refused with ONNX_UNSUPPORTED_LAYER. */
export const ONNX_SUPPORTED_LAYERS = [
  'InputLayer',
  'Conv2D',
  'Conv2DTranspose',
  'MaxPooling2D',
  'AveragePooling2D',
  'BatchNormalization',
  'ReLU',
  'LeakyReLU',
  'Activation',
  'Concatenate',
  'Add',
  'Dropout',
  'SpatialDropout2D',
] as const;

/** Activations (of conv layers or `Activation` layers) the exporter maps. */
export const ONNX_SUPPORTED_ACTIVATIONS = ['linear', 'relu', 'relu6', 'sigmoid', 'tanh', 'softmax', 'elu'] as const;

/** NHWC axis (tfjs, channels last) → NCHW axis (inside the ONNX graph). */
const NHWC_TO_NCHW_AXIS = [0, 2, 3, 1];

type Shape = Array<number | null>;
interface SymbolicLike {
  id: number;
  shape: Shape;
}
interface NodeLike {
  inputTensors: SymbolicLike[];
  outputTensors: SymbolicLike[];
}
interface LayerLike {
  name: string;
  getClassName(): string;
  getConfig(): Record<string, unknown>;
  inboundNodes: NodeLike[];
  weights: Array<{ originalName: string; shape: Shape; read(): tf.Tensor }>;
}

/**
 * Converts a tfjs layers model (channels-last 2-D conv nets: the lvseg architectures and the layers listed in
 * ONNX_SUPPORTED_LAYERS) into an ONNX model (opset 13, CPU-friendly NCHW inside, a Transpose at the input and at the
 * 'logits' output). TF 'same' padding is written as explicit pads (more at the end, as TF) when the spatial size is
 * known, else as auto_pad SAME_UPPER. Throws LvsegError('unsupported', 'ONNX_UNSUPPORTED_LAYER' | 'ONNX_EXPORT_UNSUPPORTED').
 */
export function exportToOnnx(model: tf.LayersModel, opts: OnnxExportOptions = {}): Uint8Array {
  return encodeExportedGraph(model, buildOnnxGraph(model, opts), opts);
}

/** The bytes of an .onnx file for `graph`, a graph of `model` (as built by buildOnnxGraph, possibly rewritten since). */
export function encodeExportedGraph(model: tf.LayersModel, graph: OnnxGraph, opts: Pick<OnnxExportOptions, 'metadata'> = {}): Uint8Array {
  return encodeOnnxModel({
    graph,
    opset: ONNX_OPSET,
    irVersion: ONNX_IR_VERSION,
    producerName: 'lvseg',
    producerVersion: `tfjs ${tf.version.tfjs}`,
    metadata: { source: `tfjs layers model "${model.name}"`, ...(opts.metadata ?? {}) },
  });
}

/** The ONNX graph of `model` before encoding (exposed for specs and for inspection). */
export function buildOnnxGraph(model: tf.LayersModel, opts: OnnxExportOptions = {}): OnnxGraph {
  const b = new GraphBuilder();
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw unsupported(`the model has ${model.inputs.length} inputs and ${model.outputs.length} outputs; the exporter takes one of each`);
  }
  const input = model.inputs[0] as unknown as SymbolicLike;
  if (input.shape.length !== 4) throw unsupported(`the model input is rank ${input.shape.length}; the exporter takes NHWC images (rank 4)`);
  const inputName = opts.inputName ?? 'image';
  b.reserve(inputName, 'logits', 'probability');
  const [, h, w, c] = input.shape;
  const graphInput = { name: inputName, shape: ['batch', h ?? 'height', w ?? 'width', c ?? 'channels'] };
  b.names.set(input.id, b.node('Transpose', [inputName], 'input_to_nchw', [ints('perm', [0, 3, 1, 2])]));

  for (const layer of model.layers as unknown as LayerLike[]) {
    const className = layer.getClassName();
    if (className === 'InputLayer') continue;
    // A layer applied twice (shared weights) has several inbound nodes; none of ours does.
    if (layer.inboundNodes.length !== 1) {
      throw new LvsegError('unsupported', 'ONNX_UNSUPPORTED_LAYER', `layer "${layer.name}" (${className}) is applied ${layer.inboundNodes.length} times; shared layers are not supported`, {
        layer: layer.name,
        className,
      });
    }
    const node = layer.inboundNodes[0];
    const inputs = node.inputTensors.map((t) => {
      const name = b.names.get(t.id);
      if (name === undefined) throw unsupported(`layer "${layer.name}" reads a tensor no earlier layer produced (nested models are not supported)`);
      return name;
    });
    if (node.outputTensors.length !== 1) throw unsupported(`layer "${layer.name}" has ${node.outputTensors.length} outputs`);
    const out = mapLayer(b, layer, className, inputs, node.inputTensors.map((t) => t.shape));
    b.names.set(node.outputTensors[0].id, out);
  }

  const output = model.outputs[0] as unknown as SymbolicLike;
  const last = b.names.get(output.id);
  if (last === undefined) throw unsupported('the model output is not produced by any layer');
  const [, oh, ow, oc] = output.shape;
  const kind = opts.output?.kind ?? 'logits';
  let graphOutput: { name: string; shape: Array<number | string> };
  if (opts.output?.kind === 'class-probability') {
    const { classIndex } = opts.output;
    if (output.shape.length !== 4 || oc === null || !(Number.isInteger(classIndex) && classIndex >= 0 && classIndex < oc)) {
      throw unsupported(`class ${classIndex} does not exist in an output of shape ${JSON.stringify(output.shape)}`);
    }
    // softmax_c = 1 / Σ_j exp(l_j - l_c), summed over the channel axis, which also drops it: [N, C, H, W] → [N, H, W],
    // already the mask's layout. onnxruntime's Softmax over a non-last axis transposes internally (~3 ms of ~30 for
    // fcn-paper); these element-wise ops cost a tenth of that. exp overflowing to +Inf gives the right limit, 0.
    const index = b.constant('output_class_index', [1], BigInt64Array.from([BigInt(classIndex)]));
    const own = b.node('Gather', [last, index], 'output_class_logit', [int('axis', 1)]);
    const relative = b.node('Exp', [b.node('Sub', [last, own], 'output_relative_logits')], 'output_relative_exp');
    const sum = b.node('ReduceSum', [relative, b.constant('output_channel_axis', [1], BigInt64Array.from([1n]))], 'output_sum', [int('keepdims', 0)]);
    b.node('Reciprocal', [sum], 'output_probability', [], 'probability');
    graphOutput = { name: 'probability', shape: ['batch', oh ?? 'height', ow ?? 'width'] };
  } else if (kind === 'logits') {
    b.node('Transpose', [last], 'output_to_nhwc', [ints('perm', [0, 2, 3, 1])], 'logits');
    graphOutput = { name: 'logits', shape: ['batch', oh ?? 'height', ow ?? 'width', oc ?? 'classes'] };
  } else {
    throw unsupported(`unknown output kind ${String(kind)}`);
  }
  return { name: model.name, nodes: b.nodes, initializers: b.initializers, inputs: [graphInput], outputs: [graphOutput], docString: `exported by lvseg from tfjs ${tf.version.tfjs}` };
}

/** Emits the nodes of one layer (NCHW inside); returns the name of its output. */
function mapLayer(b: GraphBuilder, layer: LayerLike, className: string, inputs: string[], inputShapes: Shape[]): string {
  const cfg = layer.getConfig();
  const name = layer.name;
  switch (className) {
    case 'Conv2D':
    case 'Conv2DTranspose': {
      assertChannelsLast(layer, cfg);
      const kernelSize = pair(cfg.kernelSize);
      const strides = pair(cfg.strides ?? 1);
      const dilations = pair(cfg.dilationRate ?? 1);
      const padding = cfg.padding as string;
      const kernel = weightOf(layer, 'kernel');
      const bias = cfg.useBias === false ? undefined : weightOf(layer, 'bias');
      const [, inH, inW] = inputShapes[0];
      let conv: string;
      if (className === 'Conv2D') {
        // tfjs kernel [kh, kw, in, out] → ONNX W [out, in, kh, kw].
        const w = b.constant(`${name}_W`, [kernel.shape[3], kernel.shape[2], kernel.shape[0], kernel.shape[1]], transposeKernel(kernel));
        const attrs: OnnxAttribute[] = [ints('kernel_shape', kernelSize), ints('strides', strides), ints('dilations', dilations), ...convPadding(layer, padding, [inH, inW], kernelSize, strides, dilations)];
        conv = b.node('Conv', bias ? [inputs[0], w, b.constant(`${name}_B`, [bias.data.length], bias.data)] : [inputs[0], w], name, attrs);
      } else {
        if (dilations.some((d) => d !== 1)) {
          throw new LvsegError('unsupported', 'ONNX_UNSUPPORTED_LAYER', `layer "${name}": tfjs ignores dilationRate in Conv2DTranspose; refusing to guess`, { layer: name, className });
        }
        // tfjs kernel [kh, kw, out, in] → ONNX W [in, out, kh, kw]: the same (3, 2, 0, 1) permutation.
        const w = b.constant(`${name}_W`, [kernel.shape[3], kernel.shape[2], kernel.shape[0], kernel.shape[1]], transposeKernel(kernel));
        conv = b.node('ConvTranspose', bias ? [inputs[0], w, b.constant(`${name}_B`, [bias.data.length], bias.data)] : [inputs[0], w], name, [
          ints('kernel_shape', kernelSize),
          ints('strides', strides),
          ...convTransposePadding(layer, padding, kernelSize, strides),
        ]);
      }
      return activation(b, layer, conv, cfg.activation);
    }
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      assertChannelsLast(layer, cfg);
      const pool = pair(cfg.poolSize);
      const strides = pair(cfg.strides ?? cfg.poolSize);
      const [, inH, inW] = inputShapes[0];
      const attrs = [ints('kernel_shape', pool), ints('strides', strides), ...convPadding(layer, cfg.padding as string, [inH, inW], pool, strides, [1, 1])];
      // TF average pooling leaves padded cells out of the mean (count_include_pad = 0, the ONNX default).
      return b.node(className === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', inputs, name, attrs);
    }
    case 'BatchNormalization': {
      const axis = cfg.axis as number;
      if (axis !== -1 && axis !== 3) throw layerError(layer, `normalises axis ${axis}; only the channel axis (-1) is supported`);
      const mean = weightOf(layer, 'moving_mean');
      const variance = weightOf(layer, 'moving_variance');
      const n = mean.data.length;
      const gamma = cfg.scale === false ? new Float32Array(n).fill(1) : weightOf(layer, 'gamma').data;
      const beta = cfg.center === false ? new Float32Array(n) : weightOf(layer, 'beta').data;
      const c = (suffix: string, data: Float32Array) => b.constant(`${name}_${suffix}`, [n], data);
      return b.node('BatchNormalization', [inputs[0], c('scale', gamma), c('B', beta), c('mean', mean.data), c('var', variance.data)], name, [float('epsilon', cfg.epsilon as number)]);
    }
    case 'ReLU': {
      const maxValue = cfg.maxValue as number | null | undefined;
      if (maxValue === null || maxValue === undefined) return b.node('Relu', inputs, name);
      return clip(b, inputs[0], name, 0, maxValue);
    }
    case 'LeakyReLU':
      return b.node('LeakyRelu', inputs, name, [float('alpha', (cfg.alpha as number | undefined) ?? 0.3)]);
    case 'Activation':
      return activation(b, layer, inputs[0], cfg.activation);
    case 'Concatenate': {
      const rank = inputShapes[0].length;
      let axis = (cfg.axis as number | undefined) ?? -1;
      if (axis < 0) axis += rank;
      if (rank !== 4) throw layerError(layer, `concatenates rank-${rank} tensors; only rank 4 is supported`);
      return b.node('Concat', inputs, name, [int('axis', NHWC_TO_NCHW_AXIS[axis])]);
    }
    case 'Add':
      return inputs.slice(1).reduce((acc, x, i) => b.node('Add', [acc, x], i === inputs.length - 2 ? name : `${name}_${i}`), inputs[0]);
    case 'Dropout':
    case 'SpatialDropout2D':
      return inputs[0]; // identity at inference
    default:
      throw new LvsegError('unsupported', 'ONNX_UNSUPPORTED_LAYER', `layer "${name}" is a ${className}, which the ONNX exporter does not map (supported: ${ONNX_SUPPORTED_LAYERS.join(', ')})`, {
        layer: name,
        className,
      });
  }
}

/**
 * Pads of a Conv or pool. TF 'same': output ceil(in / stride), total pad max((out - 1)·stride + k_eff - in, 0), the
 * odd pixel at the end (ONNX SAME_UPPER); 'valid': none.
 */
function convPadding(layer: LayerLike, padding: string, spatial: Array<number | null | undefined>, kernel: number[], strides: number[], dilations: number[]): OnnxAttribute[] {
  if (padding === 'valid') return [ints('pads', [0, 0, 0, 0])];
  if (padding !== 'same') throw layerError(layer, `uses padding "${padding}"; only 'same' and 'valid' are supported`);
  if (spatial.some((s) => typeof s !== 'number')) return [{ name: 'auto_pad', type: 'string', value: 'SAME_UPPER' }];
  const begin: number[] = [];
  const end: number[] = [];
  spatial.forEach((size, i) => {
    const n = size as number;
    const out = Math.ceil(n / strides[i]);
    const total = Math.max((out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - n, 0);
    begin.push(Math.floor(total / 2));
    end.push(total - Math.floor(total / 2));
  });
  return [ints('pads', [...begin, ...end])];
}

/**
 * Pads of a ConvTranspose matching tfjs/TF: the output is in·stride ('same') or in·stride + max(k - stride, 0)
 * ('valid'). ONNX's uncropped output is (in - 1)·stride + k; 'same' crops max(k - stride, 0) split as TF splits the
 * forward conv's pad (the odd pixel at the end); when k < stride both need stride - k more rows at the end
 * (output_padding). Independent of the input size, so no dynamic shape is needed.
 */
function convTransposePadding(layer: LayerLike, padding: string, kernel: number[], strides: number[]): OnnxAttribute[] {
  if (padding !== 'same' && padding !== 'valid') throw layerError(layer, `uses padding "${padding}"; only 'same' and 'valid' are supported`);
  const crop = kernel.map((k, i) => (padding === 'same' ? Math.max(k - strides[i], 0) : 0));
  const begin = crop.map((t) => Math.floor(t / 2));
  const end = crop.map((t, i) => t - begin[i]);
  const outputPadding = kernel.map((k, i) => Math.max(strides[i] - k, 0));
  return [ints('pads', [...begin, ...end]), ints('output_padding', outputPadding)];
}

/** A fused activation (conv `activation`, or an Activation layer) as ONNX nodes. */
function activation(b: GraphBuilder, layer: LayerLike, x: string, act: unknown): string {
  const a = (act ?? 'linear') as string;
  const name = `${layer.name}_${a}`;
  switch (a) {
    case 'linear':
      return x;
    case 'relu':
      return b.node('Relu', [x], name);
    case 'relu6':
      return clip(b, x, name, 0, 6);
    case 'sigmoid':
      return b.node('Sigmoid', [x], name);
    case 'tanh':
      return b.node('Tanh', [x], name);
    case 'elu':
      return b.node('Elu', [x], name, [float('alpha', 1)]);
    case 'softmax':
      return b.node('Softmax', [x], name, [int('axis', 1)]); // tfjs: last axis = channels = NCHW axis 1
    default:
      throw new LvsegError('unsupported', 'ONNX_UNSUPPORTED_LAYER', `layer "${layer.name}" uses activation "${a}", which the exporter does not map (supported: ${ONNX_SUPPORTED_ACTIVATIONS.join(', ')})`, {
        layer: layer.name,
        activation: a,
      });
  }
}

function clip(b: GraphBuilder, x: string, name: string, min: number, max: number): string {
  return b.node('Clip', [x, b.constant(`${name}_min`, [], Float32Array.of(min)), b.constant(`${name}_max`, [], Float32Array.of(max))], name);
}

/** [kh, kw, a, b] (tfjs) → [b, a, kh, kw] (ONNX Conv W [out, in, kh, kw]; ConvTranspose W [in, out, kh, kw]). */
function transposeKernel(k: { shape: number[]; data: Float32Array }): Float32Array {
  const [kh, kw, a, c] = k.shape;
  const out = new Float32Array(k.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < a; i++)
        for (let o = 0; o < c; o++) out[((o * a + i) * kh + y) * kw + x] = k.data[((y * kw + x) * a + i) * c + o];
  return out;
}

function weightOf(layer: LayerLike, suffix: string): { shape: number[]; data: Float32Array } {
  const v = layer.weights.find((w) => w.originalName === `${layer.name}/${suffix}` || w.originalName.endsWith(`/${suffix}`));
  if (!v) throw layerError(layer, `has no ${suffix} weight`);
  // read() is the variable itself (not a copy): never dispose it.
  const t = v.read();
  return { shape: t.shape, data: Float32Array.from(t.dataSync() as Float32Array) };
}

function assertChannelsLast(layer: LayerLike, cfg: Record<string, unknown>): void {
  if (cfg.dataFormat !== undefined && cfg.dataFormat !== 'channelsLast') throw layerError(layer, `uses dataFormat ${String(cfg.dataFormat)}; only channelsLast is supported`);
}

function pair(v: unknown): number[] {
  const a = Array.isArray(v) ? (v as number[]) : [v as number, v as number];
  if (a.length !== 2 || !a.every((x) => Number.isInteger(x) && x > 0)) throw unsupported(`expected a 2-D size, got ${JSON.stringify(v)}`);
  return a;
}

const int = (name: string, value: number): OnnxAttribute => ({ name, type: 'int', value });
const ints = (name: string, value: number[]): OnnxAttribute => ({ name, type: 'ints', value });
const float = (name: string, value: number): OnnxAttribute => ({ name, type: 'float', value });

function layerError(layer: LayerLike, what: string): LvsegError {
  return new LvsegError('unsupported', 'ONNX_UNSUPPORTED_LAYER', `layer "${layer.name}" (${layer.getClassName()}) ${what}`, { layer: layer.name, className: layer.getClassName() });
}

function unsupported(message: string): LvsegError {
  return new LvsegError('unsupported', 'ONNX_EXPORT_UNSUPPORTED', message);
}

/** Collects nodes and constants with unique names; maps tfjs symbolic tensor ids to ONNX value names. */
class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxInitializer[] = [];
  readonly names = new Map<number, string>();
  private readonly used = new Set<string>();

  /** Adds a node; returns its output name (`output` when given, else a fresh name from `name`). */
  node(opType: string, inputs: string[], name: string, attributes: OnnxAttribute[] = [], output?: string): string {
    const out = output ?? this.fresh(name);
    this.nodes.push({ opType, name: this.fresh(`${name}/${opType}`), inputs, outputs: [out], attributes });
    return out;
  }

  constant(name: string, dims: number[], data: Float32Array | BigInt64Array): string {
    const n = this.fresh(name);
    this.initializers.push({ name: n, dims, data });
    return n;
  }

  /** Names of graph inputs and outputs, which no other value may take. */
  reserve(...names: string[]): void {
    for (const n of names) this.used.add(n);
  }

  private fresh(base: string): string {
    let n = base;
    for (let i = 1; this.used.has(n); i++) n = `${base}_${i}`;
    this.used.add(n);
    return n;
  }
}
