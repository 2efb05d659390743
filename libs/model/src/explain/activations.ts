/**
 * Activation heatmaps: the output of a named layer for one model input, reduced over channels to one map per layer.
 */
import * as tf from '@tensorflow/tfjs';
import { LvsegError } from '@lvseg/common';
import { MODEL_INPUT_SIZE } from '@lvseg/imaging';
import { feedInputs, layerOutputId, layerStepIndex, runLayers } from './graph-executor';

/** A single-channel map at a layer's own spatial resolution (row-major). */
export interface LayerMap {
  layer: string;
  rows: number;
  columns: number;
  /** Channels of the layer output the map was reduced from. */
  channels: number;
  data: Float32Array;
}

export type ChannelReduction = 'mean' | 'max';

/** Checks every name is a layer of `model`; 'invalid-input' naming the unknown ones and the valid choices. */
export function assertLayerNames(model: tf.LayersModel, names: string[], valid: string[]): void {
  const unknown = names.filter((n) => !valid.includes(n));
  if (unknown.length > 0) {
    throw new LvsegError('invalid-input', 'UNKNOWN_LAYER', `unknown layer${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => JSON.stringify(n)).join(', ')}; valid layers: ${valid.join(', ')}`, {
      unknown,
      valid,
    });
  }
  for (const n of names) layerStepIndex(model, n);
}

/** Channel mean (or max) of each named layer's activation for one size×size model input, in one forward pass. */
export function layerActivationMaps(model: tf.LayersModel, input: Float32Array, layers: string[], opts: { size?: number; reduce?: ChannelReduction } = {}): LayerMap[] {
  const size = opts.size ?? MODEL_INPUT_SIZE;
  if (input.length !== size * size) throw new LvsegError('invalid-input', 'EXPLAIN_INPUT_SIZE', `model input has ${input.length} values, expected ${size}×${size}`);
  if (layers.length === 0) return [];
  const last = Math.max(...layers.map((l) => layerStepIndex(model, l)));
  const channels: number[] = [];
  const reduced = tf.tidy(() => {
    const x = tf.tensor4d(input, [1, size, size, 1]);
    const values = runLayers(model, feedInputs(model, [x]), 0, last);
    return layers.map((name) => {
      const a = values.get(layerOutputId(model, name)) as tf.Tensor;
      if (a.rank !== 4) throw new LvsegError('unsupported', 'EXPLAIN_LAYER_RANK', `layer ${name} has a rank-${a.rank} output; heatmaps need a spatial (rank-4) one`);
      channels.push(a.shape[3] as number);
      return opts.reduce === 'max' ? a.max(-1) : a.mean(-1);
    });
  });
  try {
    return reduced.map((t, k) => ({ layer: layers[k], rows: t.shape[1] as number, columns: t.shape[2] as number, channels: channels[k], data: Float32Array.from(t.dataSync() as Float32Array) }));
  } finally {
    tf.dispose(reduced);
  }
}
