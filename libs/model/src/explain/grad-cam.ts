/**
 * Grad-CAM for segmentation (Selvaraju et al. 2017; the "Seg-Grad-CAM" variant of Vinogradova et al. 2020): the class
 * score is the sum of the class logit over a region (the predicted LV), its gradient with respect to a layer's
 * activation A is averaged over space into one weight per channel, and the map is ReLU(Σ_k weight_k · A_k).
 */
import * as tf from '@tensorflow/tfjs';
import { LvsegError } from '@lvseg/common';
import { MODEL_INPUT_SIZE } from '@lvseg/imaging';
import type { LayerMap } from './activations';
import { feedInputs, layerOutputId, layerStepIndex, modelOutputs, runLayers } from './graph-executor';

export interface GradCamOptions {
  size?: number;
  /** Channel of the model output holding the class logit (lvseg models: 1 = LV). */
  classIndex?: number;
}

export interface GradCamMap extends LayerMap {
  /** 'predicted' when the score summed over the given region; 'whole-image' when the region was empty. */
  region: 'predicted' | 'whole-image';
  regionPixels: number;
}

/**
 * Grad-CAM of the class logit summed over `region` (size×size, non-zero = in) at layer `layer`, for one model input.
 * An empty region falls back to the whole image (an all-background prediction still has an explanation).
 */
export function gradCam(model: tf.LayersModel, input: Float32Array, layer: string, region: Uint8Array | null, opts: GradCamOptions = {}): GradCamMap {
  const size = opts.size ?? MODEL_INPUT_SIZE;
  const classIndex = opts.classIndex ?? 1;
  if (input.length !== size * size) throw new LvsegError('invalid-input', 'EXPLAIN_INPUT_SIZE', `model input has ${input.length} values, expected ${size}×${size}`);
  const k = layerStepIndex(model, layer);
  const aId = layerOutputId(model, layer);
  let regionPixels = 0;
  if (region) for (let i = 0; i < region.length; i++) if (region[i]) regionPixels++;
  const usePredicted = region !== null && regionPixels > 0;
  let channels = 0;
  const cam = tf.tidy(() => {
    const x = tf.tensor4d(input, [1, size, size, 1]);
    const prefix = runLayers(model, feedInputs(model, [x]), 0, k);
    const a = prefix.get(aId) as tf.Tensor;
    if (a.rank !== 4) throw new LvsegError('unsupported', 'EXPLAIN_LAYER_RANK', `layer ${layer} has a rank-${a.rank} output; Grad-CAM needs a spatial (rank-4) one`);
    channels = a.shape[3] as number;
    // A size-agnostic model (trained on crops) declares null spatial dims; its logits come out at the input size.
    const [, declaredRows, declaredColumns, outChannels] = model.outputs[0].shape as Array<number | null>;
    const outRows = declaredRows ?? size;
    const outColumns = declaredColumns ?? size;
    if (classIndex >= (outChannels as number)) throw new LvsegError('unsupported', 'EXPLAIN_CLASS_INDEX', `the model has ${outChannels} output channels, no class ${classIndex}`);
    let weights: tf.Tensor;
    if (usePredicted) {
      if (region!.length !== outRows * outColumns) {
        throw new LvsegError('invalid-input', 'EXPLAIN_REGION_SIZE', `Grad-CAM region has ${region!.length} pixels, the model output ${outRows}×${outColumns}`);
      }
      weights = tf.tensor4d(Float32Array.from(region!, (v) => (v ? 1 : 0)), [1, outRows, outColumns, 1]);
    } else {
      weights = tf.onesLike(x);
    }
    const score = (activation: tf.Tensor): tf.Scalar => {
      const values = new Map(prefix);
      values.set(aId, activation);
      runLayers(model, values, k + 1);
      const [logits] = modelOutputs(model, values);
      return logits.slice([0, 0, 0, classIndex], [-1, -1, -1, 1]).mul(weights).sum() as tf.Scalar;
    };
    const gradient = tf.grad(score)(a);
    const channelWeights = gradient.mean([1, 2], true);
    return tf.relu(a.mul(channelWeights).sum(-1));
  });
  try {
    return {
      layer,
      rows: cam.shape[1] as number,
      columns: cam.shape[2] as number,
      channels,
      data: Float32Array.from(cam.dataSync() as Float32Array),
      region: usePredicted ? 'predicted' : 'whole-image',
      regionPixels: usePredicted ? regionPixels : size * size,
    };
  } finally {
    cam.dispose();
  }
}
