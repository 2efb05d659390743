/**
 * Static INT8 quantisation of an exported graph in QDQ form (QuantizeLinear/DequantizeLinear pairs), which
 * onnxruntime's CPU provider fuses into quantised kernels at session load (level 2 "extended", part of 'all'):
 * DQ(x), DQ(W), DQ(b) → Conv → [Relu →] Q becomes QLinearConv (the Relu is dropped into the Q, whose zero point is
 * 0); DQ → MaxPool → Q with equal parameters runs MaxPool on uint8; DQs → Concat → Q becomes QLinearConcat. Its
 * QDQ fusions have no ConvTranspose, so the 2×2 up-convolutions run in float between a DQ and a Q.
 *
 * Activations: uint8, asymmetric, per tensor, from ranges calibrated on training images (0 is always exactly
 * representable, so a convolution's zero padding stays exact). Weights: int8, symmetric, per output channel; biases:
 * int32 at scale (input scale × weight scale). The network's last convolution (whose output is not read by another
 * quantised op: the logits) stays float, as does everything after it.
 */
import { LvsegError } from '@lvseg/common';
import { OnnxGraph, OnnxInitializer, OnnxNode, OnnxTensorData } from './onnx-model';

/** Calibrated [min, max] of each activation tensor a quantised graph needs, by ONNX tensor name. */
export type ActivationRanges = Record<string, [number, number]>;

export interface QuantizeOptions {
  /**
   * Bits of the weights: 8 ([-127, 127]) or 7 ([-63, 63], "reduce range"). x86 AVX2 without VNNI multiplies uint8 by
   * int8 with VPMADDUBSW, whose int16 pair sums can saturate at 8 bits (255·127·2 > 32767), never at 7.
   */
  weightBits?: 7 | 8;
}

/** Ops whose inputs and outputs are quantised (QDQ around them). */
const QUANTISED_OPS = new Set(['Conv', 'ConvTranspose', 'Concat', 'MaxPool']);

interface GraphIndex {
  producer: Map<string, OnnxNode>;
  consumers: Map<string, OnnxNode[]>;
  initializers: Map<string, OnnxInitializer>;
}

function indexGraph(g: OnnxGraph): GraphIndex {
  const producer = new Map<string, OnnxNode>();
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of g.nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  return { producer, consumers, initializers: new Map(g.initializers.map((t) => [t.name, t])) };
}

/** A Conv's activation output: the Relu's when the Conv feeds one Relu only (the Relu then folds into the Q). */
function activationOutput(conv: OnnxNode, ix: GraphIndex): string {
  const users = ix.consumers.get(conv.outputs[0]) ?? [];
  return users.length === 1 && users[0].opType === 'Relu' ? users[0].outputs[0] : conv.outputs[0];
}

/** What the quantiser does with a graph: the Convs it quantises, and the tensors that get a QDQ pair. */
interface QuantisationPlan {
  /** Convs with int8 weights (fused into QLinearConv). */
  convs: Set<OnnxNode>;
  /** Tensors followed by Q → DQ, in graph order. */
  tensors: string[];
  /** MaxPool outputs, quantised with their input's parameters (an equal pair is what lets onnxruntime drop them). */
  sameAs: Map<string, string>;
}

function planQuantisation(g: OnnxGraph): QuantisationPlan {
  const ix = indexGraph(g);
  const readByQuantisedOps = (t: string) => {
    const users = ix.consumers.get(t) ?? [];
    return users.length > 0 && users.every((u) => QUANTISED_OPS.has(u.opType));
  };
  const convs = new Set<OnnxNode>();
  for (const n of g.nodes) {
    const w = n.opType === 'Conv' ? ix.initializers.get(n.inputs[1]) : undefined;
    // The logits' Conv stays float: its output is read by float ops (softmax) and a uint8 logit would cost accuracy.
    if (w && w.data instanceof Float32Array && w.dims.length === 4 && readByQuantisedOps(activationOutput(n, ix))) convs.add(n);
  }
  const wanted = new Set<string>();
  const sameAs = new Map<string, string>();
  for (const n of g.nodes) {
    if (!QUANTISED_OPS.has(n.opType)) continue;
    if (n.opType === 'Conv' && !convs.has(n)) {
      wanted.add(n.inputs[0]); // its input is another quantised op's output anyway: read through a DQ
      continue;
    }
    const dataInputs = n.opType === 'Concat' ? n.inputs : [n.inputs[0]];
    for (const t of dataInputs) wanted.add(t);
    const out = n.opType === 'Conv' ? activationOutput(n, ix) : n.outputs[0];
    wanted.add(out);
    if (n.opType === 'MaxPool') sameAs.set(out, n.inputs[0]);
  }
  for (const t of wanted) {
    if (ix.initializers.has(t)) throw new LvsegError('unsupported', 'ONNX_QUANTIZE_UNSUPPORTED', `tensor ${t} is a constant where an activation was expected`);
  }
  // Graph order (producers first), so Q/DQ nodes can be inserted right after each producer.
  const order = new Map<string, number>();
  g.inputs.forEach((v) => order.set(v.name, -1));
  g.nodes.forEach((n, k) => n.outputs.forEach((o) => order.set(o, k)));
  const tensors = [...wanted].sort((a, b) => (order.get(a) ?? -1) - (order.get(b) ?? -1));
  return { convs, tensors, sameAs };
}

/** The activation tensors whose ranges `quantizeGraph` needs (calibrate these), in graph order. */
export function calibrationTensors(g: OnnxGraph): string[] {
  const plan = planQuantisation(g);
  return plan.tensors.filter((t) => !plan.sameAs.has(t));
}

/** The same graph also returning `tensors` (float, shape left to the runtime): run it to calibrate. */
export function withCalibrationOutputs(g: OnnxGraph, tensors: string[]): OnnxGraph {
  const have = new Set(g.outputs.map((o) => o.name));
  return { ...g, outputs: [...g.outputs, ...tensors.filter((t) => !have.has(t)).map((name) => ({ name }))] };
}

/** Running [min, max] of activation tensors over calibration batches. */
export class RangeCollector {
  readonly ranges: ActivationRanges = {};

  /** Widens the range of `tensor` to cover `data`. */
  add(tensor: string, data: ArrayLike<number>): void {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const r = this.ranges[tensor];
    this.ranges[tensor] = r ? [Math.min(r[0], lo), Math.max(r[1], hi)] : [lo, hi];
  }
}

/** uint8 asymmetric parameters of a range, widened to hold 0 exactly (zero padding, ReLU floors). */
export function activationQuantParams([min, max]: [number, number]): { scale: number; zeroPoint: number } {
  if (!(Number.isFinite(min) && Number.isFinite(max) && min <= max)) throw new LvsegError('invalid-input', 'ONNX_QUANTIZE_RANGE', `invalid activation range [${min}, ${max}]`);
  const lo = Math.min(0, min);
  const hi = Math.max(0, max, lo + 1e-6);
  const scale = (hi - lo) / 255;
  return { scale, zeroPoint: Math.min(255, Math.max(0, Math.round(-lo / scale))) };
}

/** int8 symmetric per-output-channel weights ([out, …] layout): values and one scale per channel. */
export function quantizeWeightsPerChannel(w: Float32Array, outChannels: number, bits: 7 | 8): { data: Int8Array; scales: Float32Array } {
  const qmax = bits === 8 ? 127 : 63;
  const per = w.length / outChannels;
  const data = new Int8Array(w.length);
  const scales = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    let m = 0;
    for (let i = o * per; i < (o + 1) * per; i++) m = Math.max(m, Math.abs(w[i]));
    const s = m > 0 ? m / qmax : 1;
    scales[o] = s;
    for (let i = o * per; i < (o + 1) * per; i++) data[i] = Math.max(-qmax, Math.min(qmax, Math.round(w[i] / s)));
  }
  return { data, scales };
}

/**
 * The QDQ form of a float graph (as `buildOnnxGraph` makes it) for the calibrated `ranges` of
 * `calibrationTensors(g)`. Throws ONNX_QUANTIZE_RANGE when a needed range is missing (calibration of another graph).
 */
export function quantizeGraph(g: OnnxGraph, ranges: ActivationRanges, opts: QuantizeOptions = {}): OnnxGraph {
  const bits = opts.weightBits ?? 8;
  const plan = planQuantisation(g);
  const ix = indexGraph(g);
  const used = new Set<string>([...g.nodes.flatMap((n) => [n.name, ...n.inputs, ...n.outputs]), ...g.initializers.map((t) => t.name), ...g.inputs.map((v) => v.name), ...g.outputs.map((v) => v.name)]);
  const fresh = (base: string) => {
    let n = base;
    for (let i = 1; used.has(n); i++) n = `${base}_${i}`;
    used.add(n);
    return n;
  };
  const initializers: OnnxInitializer[] = [];
  const constant = (name: string, dims: number[], data: OnnxTensorData) => {
    const n = fresh(name);
    initializers.push({ name: n, dims, data });
    return n;
  };

  // Activation parameters, and the DQ output that replaces each quantised tensor for its readers.
  const params = new Map<string, { scale: number; zeroPoint: number; scaleName: string; zeroName: string }>();
  for (const t of plan.tensors) {
    const source = plan.sameAs.get(t);
    if (source !== undefined) continue;
    const r = ranges[t];
    if (!r) throw new LvsegError('invalid-input', 'ONNX_QUANTIZE_RANGE', `no calibrated range for tensor ${t}: the calibration was made for another graph`, { tensor: t });
    const p = activationQuantParams(r);
    params.set(t, { ...p, scaleName: constant(`${t}_scale`, [], Float32Array.of(p.scale)), zeroName: constant(`${t}_zero_point`, [], Uint8Array.of(p.zeroPoint)) });
  }
  for (const [t, source] of plan.sameAs) params.set(t, params.get(source)!);

  const dequantised = new Map<string, string>();
  const qdqAfter = new Map<string, OnnxNode[]>(); // producer output → Q, DQ nodes to insert after it
  for (const t of plan.tensors) {
    const p = params.get(t)!;
    const q = fresh(`${t}_quantized`);
    const dq = fresh(`${t}_dequantized`);
    dequantised.set(t, dq);
    qdqAfter.set(t, [
      { opType: 'QuantizeLinear', name: fresh(`${t}/QuantizeLinear`), inputs: [t, p.scaleName, p.zeroName], outputs: [q] },
      { opType: 'DequantizeLinear', name: fresh(`${t}/DequantizeLinear`), inputs: [q, p.scaleName, p.zeroName], outputs: [dq] },
    ]);
  }

  const replacedWeights = new Set<string>();
  const nodes: OnnxNode[] = [];
  const emitQdq = (t: string) => {
    const pair = qdqAfter.get(t);
    if (pair) nodes.push(...pair);
  };
  for (const v of g.inputs) emitQdq(v.name);
  for (const n of g.nodes) {
    const inputs = n.inputs.map((i) => dequantised.get(i) ?? i);
    if (plan.convs.has(n)) {
      const w = ix.initializers.get(n.inputs[1])!;
      const out = w.dims[0];
      const qw = quantizeWeightsPerChannel(w.data as Float32Array, out, bits);
      const wScale = constant(`${w.name}_scale`, [out], qw.scales);
      const wq = constant(`${w.name}_quantized`, w.dims, qw.data);
      const wdq = fresh(`${w.name}_dequantized`);
      nodes.push({ opType: 'DequantizeLinear', name: fresh(`${w.name}/DequantizeLinear`), inputs: [wq, wScale, constant(`${w.name}_zero_point`, [out], new Int8Array(out))], outputs: [wdq], attributes: [{ name: 'axis', type: 'int', value: 0 }] });
      inputs[1] = wdq;
      replacedWeights.add(w.name);
      const b = n.inputs[2] !== undefined ? ix.initializers.get(n.inputs[2]) : undefined;
      if (b) {
        const sx = params.get(n.inputs[0])!.scale;
        const bScales = qw.scales.map((s) => s * sx);
        const bq = Int32Array.from(b.data as Float32Array, (v, o) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(v / bScales[o]))));
        const bdq = fresh(`${b.name}_dequantized`);
        nodes.push({
          opType: 'DequantizeLinear',
          name: fresh(`${b.name}/DequantizeLinear`),
          inputs: [constant(`${b.name}_quantized`, b.dims, bq), constant(`${b.name}_scale`, [out], bScales), constant(`${b.name}_zero_point`, [out], new Int32Array(out))],
          outputs: [bdq],
          attributes: [{ name: 'axis', type: 'int', value: 0 }],
        });
        inputs[2] = bdq;
        replacedWeights.add(b.name);
      }
    }
    nodes.push({ ...n, inputs });
    for (const o of n.outputs) emitQdq(o);
  }
  // Float weights that only quantised Convs read are dropped; any other reader keeps them.
  const stillRead = new Set(nodes.flatMap((n) => n.inputs));
  const kept = g.initializers.filter((t) => !replacedWeights.has(t.name) || stillRead.has(t.name));
  return { ...g, nodes, initializers: [...kept, ...initializers], docString: `${g.docString ?? ''} (INT8 QDQ, ${bits}-bit weights)`.trim() };
}
