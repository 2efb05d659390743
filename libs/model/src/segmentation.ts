import * as tf from '@tensorflow/tfjs';
import { BinaryMask, GrayImage, InputScaling, hasLvPixel, MODEL_INPUT_SIZE, resizeBilinear, toModelInput } from '@lvseg/imaging';
import { fillHoles, largestComponent, selectComponent } from './metrics';
import type { StageRunner } from './cascade/cascade';

export interface MaskOptions {
  /** LV probability at or above which a pixel is LV. */
  threshold?: number;
  /**
   * Keep one connected LV component (removes stray bright blood pools such as the RV): the one with the largest
   * summed probability (`most-probable`, default: +0.007 mean Dice over `largest` on the train split, measured with scripts/postprocess-analysis.ts), the largest
   * by area, or all components (`all`).
   */
  keepOneComponent?: 'most-probable' | 'largest' | 'all';
  /** Fill holes inside the LV: the expert contour encloses the papillary muscles, which are dark like myocardium. */
  fillHoles?: boolean;
}

export const DEFAULT_MASK_OPTIONS: Required<MaskOptions> = { threshold: 0.5, keepOneComponent: 'most-probable', fillHoles: true };

/** The mask post-processing a model version was evaluated with (its card's `preprocessing.postprocess`), else the default. */
export function maskOptionsOf(card: { preprocessing?: unknown } | undefined): MaskOptions {
  return (card?.preprocessing as { postprocess?: MaskOptions } | undefined)?.postprocess ?? DEFAULT_MASK_OPTIONS;
}

/** LV probability maps (softmax of the 2-class logits, channel 1) for model inputs of size×size, batched. */
export function predictLvProbabilities(model: tf.LayersModel, inputs: Float32Array[], size = MODEL_INPUT_SIZE, batchSize = 4): Float32Array[] {
  const out: Float32Array[] = [];
  for (let start = 0; start < inputs.length; start += batchSize) {
    const chunk = inputs.slice(start, start + batchSize);
    const buf = new Float32Array(chunk.length * size * size);
    chunk.forEach((a, k) => buf.set(a, k * size * size));
    const probs = tf.tidy(() => {
      const x = tf.tensor4d(buf, [chunk.length, size, size, 1]);
      const logits = model.predict(x) as tf.Tensor4D;
      return tf.softmax(logits, -1).slice([0, 0, 0, 1], [-1, -1, -1, 1]);
    });
    const data = probs.dataSync() as Float32Array;
    probs.dispose();
    for (let k = 0; k < chunk.length; k++) out.push(data.slice(k * size * size, (k + 1) * size * size));
  }
  return out;
}

/** Threshold a probability map (any size) into a mask, with the configured post-processing. */
export function probabilityToMask(prob: Float32Array, rows: number, columns: number, opts: MaskOptions = {}): BinaryMask {
  const o = { ...DEFAULT_MASK_OPTIONS, ...opts };
  const data = new Uint8Array(rows * columns);
  for (let i = 0; i < data.length; i++) data[i] = prob[i] >= o.threshold ? 1 : 0;
  let mask: BinaryMask = { rows, columns, data };
  if (o.keepOneComponent === 'largest') mask = largestComponent(mask);
  else if (o.keepOneComponent === 'most-probable') mask = selectComponent(mask, { probability: prob });
  if (o.fillHoles) mask = fillHoles(mask);
  return mask;
}

/** A whole-image model's LV map (MODEL_INPUT_SIZE²) back at the image's own size, and its mask. */
export function wholeImageSegmentation(modelProbability: Float32Array, image: Pick<GrayImage, 'rows' | 'columns'>, opts: MaskOptions = {}): { probability: Float32Array; mask: BinaryMask } {
  const probability = resizeBilinear(modelProbability, MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, image.rows, image.columns);
  return { probability, mask: probabilityToMask(probability, image.rows, image.columns, opts) };
}

/**
 * Segment images of any size: the shared preprocessing (with the model's `inputScaling`, its card's), the model, the
 * probability back at each image's own size, a mask.
 */
export function segmentImages(model: tf.LayersModel, images: GrayImage[], opts: MaskOptions = {}, batchSize = 4, inputScaling: InputScaling = 'normalize'): Array<{ probability: Float32Array; mask: BinaryMask }> {
  const probs = predictLvProbabilities(model, images.map((im) => toModelInput(im, MODEL_INPUT_SIZE, inputScaling)), MODEL_INPUT_SIZE, batchSize);
  return images.map((im, k) => wholeImageSegmentation(probs[k], im, opts));
}

/**
 * `segmentImages` with the forward pass injected (any runtime: tfjs, onnxruntime in a worker), as `segmentCascade`
 * takes its stage runners; a whole-image model has no ROI. `inputScaling`: the model's (its card's), as in `segmentImages`.
 */
export async function segmentWholeImages(
  images: GrayImage[],
  run: StageRunner,
  opts: MaskOptions = {},
  inputScaling: InputScaling = 'normalize',
): Promise<Array<{ probability: Float32Array; mask: BinaryMask; lvFound: boolean; roi: null; roiSource: null }>> {
  if (images.length === 0) return [];
  const probs = await run(images.map((im) => toModelInput(im, MODEL_INPUT_SIZE, inputScaling)), MODEL_INPUT_SIZE);
  return images.map((im, k) => {
    const { probability, mask } = wholeImageSegmentation(probs[k], im, opts);
    return { probability, mask, lvFound: hasLvPixel(mask), roi: null, roiSource: null };
  });
}
