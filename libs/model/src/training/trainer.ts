import * as tf from '@tensorflow/tfjs';
import { LvsegError, SeededRandom } from '@lvseg/common';
import { AugmentOptions, InputScaling, LabelledImage, MODEL_INPUT_SIZE, augmentPair, maskToModelSize, toModelInput } from '@lvseg/imaging';
import { BiasVariant, InitializerName, buildModel } from '../architectures';
import { dice, pixelAccuracy } from '../metrics';
import { segmentImages, MaskOptions } from '../segmentation';
import { LossName, segmentationLoss } from './loss';
import { staircaseLearningRate } from './schedule';
import { GradientWorkerPool } from './data-parallel';

export type OptimizerName = 'sgd' | 'momentum' | 'adam';

/** Everything that determines a training run (recorded on the model card as hyper-parameters). */
export interface TrainConfig {
  arch: string;
  seed: number;
  epochs: number;
  batchSize: number;
  optimizer: OptimizerName;
  learningRate: number;
  decayRate: number;
  decaySteps: number;
  loss: LossName;
  /** Train on random crops of this side (0 = whole 256×256 images). Fully convolutional nets only. */
  crop: number;
  /** Share of crops centred near the LV (the rest are anywhere), so the LV is seen often but background stays varied. */
  lvCropProbability: number;
  augment: AugmentOptions;
  /** Evaluate on the val split every N epochs (and always at the last epoch). */
  valEvery: number;
  mask: MaskOptions;
  /** Model version whose weights the run starts from (fine-tuning); absent: fresh seeded initialisation. */
  initFrom?: string;
  /**
   * Resuming (`lvseg train --resume`): epochs of this same recipe already run by the `initFrom` weights. The run
   * goes on at epoch `startEpoch + 1` up to `epochs`, with the learning-rate schedule at step startEpoch × steps per
   * epoch and the seeded shuffle/augmentation stream replayed past the done epochs, so with a stateless optimiser
   * (plain `sgd`) it continues the interrupted run exactly; absent: 0.
   */
  startEpoch?: number;
  /** Fresh weights' initializer (fcn-paper: the lab's `truncated-normal-0.1`); absent: `default`. */
  initializer?: InitializerName;
  /** Convolution biases (fcn-paper: the lab's `none` variant); absent: `zero`. */
  bias?: BiasVariant;
  /**
   * How the model's input is made from the image (fcn-paper: the lab's `raw-1024`, modality value / 1024); absent:
   * `normalize`. Also written to the card's `preprocessing.inputScaling`, which every serving path reads.
   */
  inputScaling?: InputScaling;
  /**
   * Worker threads computing each step's gradients on shards of the batch (data-parallel, `GradientWorkerPool`);
   * absent or 1: the step runs on the calling thread.
   */
  workers?: number;
  /**
   * Weight averaging (SWA, Izmailov et al. 2018): from this epoch on, the running mean of the weights at each
   * epoch's end is what val selects and what is kept; the optimiser goes on from the last weights. Absent: off.
   */
  averageFrom?: number;
}

export interface SplitMetrics {
  dice: number;
  pixelAccuracy: number;
  images: number;
}

export interface EpochMetrics {
  epoch: number;
  learningRate: number;
  trainLoss: number;
  /** Pixel accuracy and Dice pooled over the epoch's (augmented) training batches. */
  trainPixelAccuracy: number;
  trainDice: number;
  val?: SplitMetrics;
  ms: number;
}

export interface TrainHooks {
  onEpochStart?(epoch: number, steps: number): void;
  onStep?(info: { epoch: number; step: number; steps: number; loss: number; learningRate: number }): void;
  onEpochEnd?(metrics: EpochMetrics, model: tf.LayersModel): void | Promise<void>;
}

export interface TrainResult {
  model: tf.LayersModel;
  history: EpochMetrics[];
  /** Epoch whose weights were kept (best val Dice; the last epoch when there is no val split). */
  bestEpoch: number;
  steps: number;
  trainMs: number;
}

interface Prepared {
  input: Float32Array;
  mask: Uint8Array;
}

function prepare(items: LabelledImage[], inputScaling: InputScaling | undefined): Prepared[] {
  return items.map((it) => ({ input: toModelInput(it.image, MODEL_INPUT_SIZE, inputScaling), mask: maskToModelSize(it.mask).data }));
}

function makeOptimizer(cfg: TrainConfig): tf.Optimizer {
  switch (cfg.optimizer) {
    case 'sgd':
      return tf.train.sgd(cfg.learningRate);
    case 'momentum':
      return tf.train.momentum(cfg.learningRate, 0.9);
    case 'adam':
      return tf.train.adam(cfg.learningRate);
  }
}

function setLearningRate(opt: tf.Optimizer, lr: number): void {
  // SGD exposes setLearningRate; Momentum and Adam read `learningRate` at every step.
  const o = opt as unknown as { setLearningRate?: (v: number) => void; learningRate: number };
  if (o.setLearningRate) o.setLearningRate(lr);
  else o.learningRate = lr;
}

/** Crop origin for one sample: near a random LV pixel with probability p, else uniform. */
function cropOrigin(mask: Uint8Array, n: number, crop: number, p: number, rng: SeededRandom): [number, number] {
  const max = n - crop;
  if (rng.next() < p) {
    const lv: number[] = [];
    for (let i = 0; i < mask.length; i++) if (mask[i]) lv.push(i);
    if (lv.length) {
      const at = lv[rng.int(lv.length)];
      const jitter = crop / 4;
      const r = Math.round(Math.floor(at / n) - crop / 2 + rng.uniform(-jitter, jitter));
      const c = Math.round((at % n) - crop / 2 + rng.uniform(-jitter, jitter));
      return [Math.max(0, Math.min(max, r)), Math.max(0, Math.min(max, c))];
    }
  }
  return [rng.int(max + 1), rng.int(max + 1)];
}

/** Evaluate a model on labelled images with the serving path (preprocess with `inputScaling` → model → mask at image size). */
export function evaluateSplit(model: tf.LayersModel, items: LabelledImage[], mask: MaskOptions = {}, inputScaling: InputScaling = 'normalize'): SplitMetrics {
  if (items.length === 0) return { dice: NaN, pixelAccuracy: NaN, images: 0 };
  const results = segmentImages(model, items.map((i) => i.image), mask, 4, inputScaling);
  let d = 0;
  let a = 0;
  results.forEach((r, k) => {
    d += dice(r.mask, items[k].mask);
    a += pixelAccuracy(r.mask, items[k].mask);
  });
  return { dice: d / items.length, pixelAccuracy: a / items.length, images: items.length };
}

/**
 * Copy a trained model's weights into a freshly built one of the same architecture (warm start). Refuses, with the
 * layer and both shapes, a model whose weights do not line up one to one.
 */
export function copyInitialWeights(target: tf.LayersModel, source: tf.LayersModel): void {
  const to = target.weights;
  const from = source.weights;
  if (to.length !== from.length) throw new LvsegError('invalid-input', 'INIT_MODEL_MISMATCH', `cannot start from that model: it has ${from.length} weight tensors, this architecture has ${to.length}`);
  to.forEach((w, i) => {
    const a = w.shape.join('x');
    const b = from[i].shape.join('x');
    if (a !== b) throw new LvsegError('invalid-input', 'INIT_MODEL_MISMATCH', `cannot start from that model: weight ${w.name} is ${a} here but ${b} in the model to start from`);
  });
  target.setWeights(source.getWeights());
}

/** Whether `model`'s weights have the shapes of `arch`'s, i.e. `copyInitialWeights` into a new `arch` model would work. */
export function hasWeightShapesOf(model: tf.LayersModel, arch: string): boolean {
  const probe = buildModel(arch, { size: null });
  try {
    const a = probe.weights.map((w) => w.shape.join('x'));
    const b = model.weights.map((w) => w.shape.join('x'));
    return a.length === b.length && a.every((s, i) => s === b[i]);
  } finally {
    probe.dispose();
  }
}

/** One training example as a stage sees it: a side×side input and its 0/1 LV mask. */
export interface TrainingSample {
  image: Float32Array;
  mask: Uint8Array;
}

/** What one training stage fits on and selects by. */
export interface StageData {
  /** Examples per epoch. */
  count: number;
  /** Side of every sample. */
  side: number;
  /** Example i of this epoch (augmented, cropped), drawn with `rng`. */
  sample(i: number, rng: SeededRandom): TrainingSample;
  /** Model selection metric on held-out data (val); absent: the last epoch is kept. */
  select?(model: tf.LayersModel): Promise<SplitMetrics> | SplitMetrics;
}

/**
 * Train an architecture on `train`, selecting the epoch with the best val Dice. Deterministic for a seed on a
 * given backend. The val split is used for model selection only: no gradient ever comes from it.
 * `init`: a trained model of the same architecture to start from (its weights are copied; the caller keeps it).
 */
export async function trainModel(train: LabelledImage[], val: LabelledImage[], cfg: TrainConfig, hooks: TrainHooks = {}, init?: tf.LayersModel): Promise<TrainResult> {
  const n = MODEL_INPUT_SIZE;
  const side = cfg.crop > 0 ? cfg.crop : n;
  const model = buildModel(cfg.arch, { seed: cfg.seed, size: cfg.crop > 0 ? null : n, initializer: cfg.initializer, bias: cfg.bias });
  if (init) copyInitialWeights(model, init);
  const samples = prepare(train, cfg.inputScaling);
  const data: StageData = {
    count: samples.length,
    side,
    sample: (i, rng) => {
      const aug = augmentPair(samples[i].input, samples[i].mask, n, cfg.augment, rng);
      if (cfg.crop <= 0) return aug;
      const [r0, c0] = cropOrigin(aug.mask, n, side, cfg.lvCropProbability, rng);
      const image = new Float32Array(side * side);
      const mask = new Uint8Array(side * side);
      for (let r = 0; r < side; r++) {
        const from = (r + r0) * n + c0;
        image.set(aug.image.subarray(from, from + side), r * side);
        mask.set(aug.mask.subarray(from, from + side), r * side);
      }
      return { image, mask };
    },
    select: val.length ? (m) => evaluateSplit(m, val, cfg.mask, cfg.inputScaling) : undefined,
  };
  return fitStage(model, data, cfg, hooks);
}

/**
 * The training loop of every stage: seeded shuffles, the staircase learning rate, one optimiser step per batch,
 * train metrics pooled over the epoch, selection every `valEvery` epochs (and at the last) keeping the best weights.
 * `epochOffset` numbers this stage's epochs after an earlier stage's (one run record for a cascade).
 */
export async function fitStage(model: tf.LayersModel, data: StageData, cfg: TrainConfig, hooks: TrainHooks = {}, epochOffset = 0): Promise<TrainResult> {
  const pool = (cfg.workers ?? 1) > 1 ? await GradientWorkerPool.start(model, cfg.loss, cfg.workers as number) : undefined;
  try {
    return await fitEpochs(model, data, cfg, hooks, epochOffset, pool);
  } finally {
    await pool?.close();
  }
}

async function fitEpochs(model: tf.LayersModel, data: StageData, cfg: TrainConfig, hooks: TrainHooks, epochOffset: number, pool: GradientWorkerPool | undefined): Promise<TrainResult> {
  const started = Date.now();
  const rng = new SeededRandom(cfg.seed);
  const side = data.side;
  const optimizer = makeOptimizer(cfg);
  const stepsPerEpoch = Math.ceil(data.count / cfg.batchSize);
  const history: EpochMetrics[] = [];
  let best: { dice: number; epoch: number; weights: tf.Tensor[] } | undefined;
  // SWA: the running mean of the epoch-end weights from `averageFrom` on, and how many epochs it holds.
  let average: tf.Tensor[] | undefined;
  let averaged = 0;
  const startEpoch = cfg.startEpoch ?? 0;
  let step = startEpoch * stepsPerEpoch;
  // The random stream a run from epoch 1 would have consumed by now: each epoch's shuffle, then one sample per index.
  for (let e = 1; e <= startEpoch; e++) {
    const order = rng.shuffle(Array.from({ length: data.count }, (_, i) => i));
    order.forEach((i) => data.sample(i, rng));
  }

  for (let e = startEpoch + 1; e <= cfg.epochs; e++) {
    const epoch = e + epochOffset;
    const epochStart = Date.now();
    hooks.onEpochStart?.(epoch, stepsPerEpoch);
    const order = rng.shuffle(Array.from({ length: data.count }, (_, i) => i));
    let lossSum = 0;
    let tp = 0, fp = 0, fn = 0, correct = 0, total = 0;
    for (let s = 0; s < stepsPerEpoch; s++) {
      const idx = order.slice(s * cfg.batchSize, (s + 1) * cfg.batchSize);
      const xs = new Float32Array(idx.length * side * side);
      const ys = new Float32Array(idx.length * side * side * 2);
      const truth = new Uint8Array(idx.length * side * side);
      idx.forEach((i, k) => {
        const sample = data.sample(i, rng);
        xs.set(sample.image, k * side * side);
        truth.set(sample.mask, k * side * side);
        for (let p = 0; p < side * side; p++) ys[(k * side * side + p) * 2 + sample.mask[p]] = 1;
      });
      const lr = staircaseLearningRate(step, cfg.learningRate, cfg.decayRate, cfg.decaySteps);
      setLearningRate(optimizer, lr);
      let lossNum: number;
      let pred: ArrayLike<number>;
      if (pool) {
        const r = await pool.step(xs, ys, idx.length, side);
        optimizer.applyGradients(r.grads);
        Object.values(r.grads).forEach((g) => g.dispose());
        lossNum = r.loss;
        pred = r.predicted;
      } else {
        ({ lossNum, pred } = await localStep(model, optimizer, xs, ys, idx.length, side, cfg.loss));
      }
      for (let i = 0; i < pred.length; i++) {

        const p = pred[i] === 1 ? 1 : 0;
        const t = truth[i];
        if (p === t) correct++;
        if (p && t) tp++;
        else if (p) fp++;
        else if (t) fn++;
      }
      total += pred.length;
      lossSum += lossNum * idx.length;
      step++;
      hooks.onStep?.({ epoch, step: s + 1, steps: stepsPerEpoch, loss: lossNum, learningRate: lr });
    }
    const metrics: EpochMetrics = {
      epoch,
      learningRate: staircaseLearningRate(step - 1, cfg.learningRate, cfg.decayRate, cfg.decaySteps),
      trainLoss: lossSum / data.count,
      trainPixelAccuracy: correct / total,
      trainDice: tp + fp + fn === 0 ? 1 : (2 * tp) / (2 * tp + fp + fn),
      ms: 0,
    };
    if (cfg.averageFrom !== undefined && e >= cfg.averageFrom) {
      average = runningMean(average, model.getWeights(), averaged);
      averaged++;
    }
    if (data.select && (e % cfg.valEvery === 0 || e === cfg.epochs)) {
      // With averaging under way, val measures (and keeps) the average; training goes on from the last weights.
      const last = average ? model.getWeights().map((w) => w.clone()) : undefined;
      if (average) model.setWeights(average);
      metrics.val = await data.select(model);
      if (!best || metrics.val.dice > best.dice) {
        best?.weights.forEach((w) => w.dispose());
        best = { dice: metrics.val.dice, epoch, weights: model.getWeights().map((w) => w.clone()) };
      }
      if (last) {
        model.setWeights(last);
        last.forEach((w) => w.dispose());
      }
    }
    metrics.ms = Date.now() - epochStart;
    history.push(metrics);
    await hooks.onEpochEnd?.(metrics, model);
  }
  optimizer.dispose();
  let bestEpoch = cfg.epochs + epochOffset;
  if (!best && average) model.setWeights(average);
  average?.forEach((w) => w.dispose());
  if (best) {
    model.setWeights(best.weights);
    best.weights.forEach((w) => w.dispose());
    bestEpoch = best.epoch;
  }
  return { model, history, bestEpoch, steps: step, trainMs: Date.now() - started };
}

/** The mean of `count` weight sets (`mean`, absent when 0) and one more (`next`), as new tensors; `mean` is disposed. */
export function runningMean(mean: tf.Tensor[] | undefined, next: tf.Tensor[], count: number): tf.Tensor[] {
  if (!mean) return next.map((w) => w.clone());
  const out = tf.tidy(() => mean.map((m, k) => m.mul(count / (count + 1)).add(next[k].mul(1 / (count + 1)))));
  mean.forEach((m) => m.dispose());
  return out;
}

/** One training step on the calling thread: minimise the loss of the batch, answer its loss and predicted classes. */
async function localStep(model: tf.LayersModel, optimizer: tf.Optimizer, xs: Float32Array, ys: Float32Array, batch: number, side: number, lossName: LossName): Promise<{ lossNum: number; pred: Int32Array }> {
  const { loss, predicted } = tf.tidy(() => {
    const x = tf.tensor4d(xs, [batch, side, side, 1]);
    const y = tf.tensor4d(ys, [batch, side, side, 2]);
    let logitsKept: tf.Tensor | undefined;
    const lossValue = optimizer.minimize(() => {
      const logits = model.apply(x, { training: true }) as tf.Tensor4D;
      logitsKept = tf.keep(logits.argMax(-1));
      return segmentationLoss(logits, y, lossName);
    }, true) as tf.Scalar;
    return { loss: lossValue, predicted: logitsKept as tf.Tensor };
  });
  const lossNum = (await loss.data())[0];
  const pred = (await predicted.data()) as Int32Array;
  loss.dispose();
  predicted.dispose();
  return { lossNum, pred };
}
