import type * as Ort from 'onnxruntime-node';
import type { Logger } from 'pino';
import { LvsegError, isLvsegError } from '@lvseg/common';
import type { BinaryMask, GrayImage } from '@lvseg/imaging';
import { GradCamMap, INT8_CALIBRATION_FILE, type Int8Calibration, LayerMap, MaskOptions, StageRunner, exportQuantizedToOnnx, exportToOnnx, maskOptionsOf, parseInt8Calibration, predictLvProbabilities, segmentCascade, segmentWholeImages } from '@lvseg/model';
import type { ModelCard } from '@lvseg/model-store';
import { OnnxSessionRunner, startOnnxWorker } from './onnx-worker';
import { EngineFactory, ImageSegmentation, SegmentOptions, SegmentationEngine } from './segmentation-engine';
import { TfjsEngineFactory, TfjsSegmentationEngine, stageNetworks } from './tfjs-engine';

/** The onnxruntime-node module, loaded by the caller (so a build without it still starts on tfjs). */
export type OnnxRuntime = typeof Ort;

export interface OnnxEngineOptions {
  /** Intra-op threads of each session (`LVSEG_ORT_THREADS`). */
  threads: number;
  /** ONNX files kept in memory by model version, so a version loaded again is not exported again (default 4). */
  cacheSize?: number;
  logger?: Logger;
  /** Serve INT8 (QDQ) graphs for versions that carry `int8-calibration.json` (made by `lvseg models quantize`; default true). */
  int8?: boolean;
}

/**
 * Largest |onnx - tfjs| LV probability accepted on the load-time probe. The export agrees within ~1e-5 (specs); this
 * only catches an export that is wrong, never float noise.
 */
const PROBE_TOLERANCE = 1e-3;
/** INT8 graphs: the largest network's mean |int8 - tfjs| on the probe (quantisation moves borders, not whole maps). */
const INT8_PROBE_TOLERANCE = 0.02;

/** One network of a model on onnxruntime: its worker session and the side it runs at. */
interface OnnxStage {
  session: OnnxSessionRunner;
  size: number;
}

/** LV probability maps of size×size inputs, one batched call to a stage's session. */
function onnxRunner(stage: OnnxStage): StageRunner {
  return async (inputs, size) => {
    const batch = new Float32Array(inputs.length * size * size);
    inputs.forEach((x, k) => batch.set(x, k * size * size));
    const { data } = await stage.session.run(batch, [inputs.length, size, size, 1]);
    return inputs.map((_, k) => data.subarray(k * size * size, (k + 1) * size * size));
  };
}

/**
 * The mask path on onnxruntime in worker threads (each network exported once at load, softmax and the LV channel
 * inside the graph; a cascade's localiser and segmenter in a worker each), through the same `segmentWholeImages` and
 * `segmentCascade` as tfjs (only the forward pass differs); heatmaps and Grad-CAM stay on tfjs.
 */
export class OnnxSegmentationEngine implements SegmentationEngine {
  readonly version: string;
  readonly architecture: string;
  readonly heatmapLayers: string[];
  readonly runtime: string;
  /** The networks running as INT8 graphs (from the version's `int8-calibration.json`); empty = all float. */
  readonly int8Networks: string[];
  /** Two: the event loop prepares (normalise, resample) or finishes (masks) one batch while a worker runs the other. */
  readonly maxConcurrentCalls = 2;
  private readonly maskOptions: MaskOptions;
  private disposed = false;

  constructor(
    private readonly stages: OnnxStage[],
    ort: OnnxRuntime,
    /** Serves explanations; owned (disposed) by this engine. */
    private readonly explainer: TfjsSegmentationEngine,
    card: ModelCard,
    threads: number,
    int8Networks: string[] = [],
  ) {
    this.version = explainer.version;
    this.architecture = explainer.architecture;
    this.heatmapLayers = explainer.heatmapLayers;
    this.int8Networks = int8Networks;
    this.maskOptions = maskOptionsOf(card);
    // INT8 is named (GET /health/ready shows this): its masks are close to float's, not the same as tfjs's.
    const int8 = int8Networks.length ? `, INT8 ${int8Networks.join(' and ')}` : '';
    this.runtime = `onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common} (cpu, ${stages.length === 1 ? 'worker thread' : `${stages.length} worker threads`}, ${threads} intra-op thread${threads === 1 ? '' : 's'}${int8}); explanations on ${explainer.runtime}`;
  }

  async segment(images: GrayImage[], opts: SegmentOptions = {}): Promise<ImageSegmentation[]> {
    this.assertLive();
    if (images.length === 0) return [];
    const model = this.explainer.model;
    if (model.kind === 'cascade') {
      return segmentCascade(images, { localiser: onnxRunner(this.stages[0]), segmenter: onnxRunner(this.stages[1]) }, model.spec, this.maskOptions, opts);
    }
    return segmentWholeImages(images, onnxRunner(this.stages[0]), this.maskOptions, model.inputScaling);
  }

  /**
   * Each network's LV map on onnxruntime and on tfjs for the same synthetic input: the largest difference, or with
   * 'mean' the largest network's mean difference (INT8: a few border pixels may differ by a lot; a wrong graph differs everywhere).
   */
  async probeDifference(stat: 'max' | 'mean' = 'max'): Promise<number> {
    let max = 0;
    const nets = stageNetworks(this.explainer.model);
    for (const [k, { net, size }] of nets.entries()) {
      const input = probeInput(size);
      const [ours] = await onnxRunner(this.stages[k])([input], size);
      const [theirs] = predictLvProbabilities(net, [input], size, 1);
      let sum = 0;
      for (let i = 0; i < ours.length; i++) {
        const d = Math.abs(ours[i] - theirs[i]);
        if (stat === 'max') max = Math.max(max, d);
        sum += d;
      }
      if (stat === 'mean') max = Math.max(max, sum / ours.length);
    }
    return max;
  }

  /** Each network's session alone on a probe input of its size (for `bench:engine`: where the time goes). */
  stageTimers(): Array<{ name: string; size: number; run(): Promise<void> }> {
    return stageNetworks(this.explainer.model).map(({ name }, k) => {
      const { size } = this.stages[k];
      return { name, size, run: async () => void (await onnxRunner(this.stages[k])([probeInput(size)], size)) };
    });
  }

  activationMaps(image: GrayImage, layers: string[]): Promise<LayerMap[]> {
    this.assertLive();
    return this.explainer.activationMaps(image, layers);
  }

  gradCam(image: GrayImage, layer: string, mask: BinaryMask): Promise<GradCamMap> {
    this.assertLive();
    return this.explainer.gradCam(image, layer, mask);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.explainer.dispose();
    for (const st of this.stages) void st.session.release().catch(() => undefined);
  }

  private assertLive(): void {
    if (this.disposed) throw new Error(`engine for ${this.version} used after dispose`);
  }
}

/**
 * Loads a version with the tfjs factory (shape check, warm-up: the explanations need it anyway), exports it to ONNX
 * (cached by version), opens an onnxruntime session and checks it against tfjs on a probe image. A model the exporter
 * cannot map, or whose probe disagrees, is served on tfjs alone (logged as `engine.onnx_fallback`), not refused.
 */
export class OnnxEngineFactory implements EngineFactory {
  private readonly onnxByVersion = new Map<string, Uint8Array[]>();
  private readonly tfjs = new TfjsEngineFactory();

  constructor(
    private readonly ort: OnnxRuntime,
    private readonly options: OnnxEngineOptions,
  ) {}

  async create(card: ModelCard, files: Map<string, Buffer>): Promise<SegmentationEngine> {
    const explainer = (await this.tfjs.create(card, files)) as TfjsSegmentationEngine;
    const stages: OnnxStage[] = [];
    try {
      const calibration = this.options.int8 !== false && files.has(INT8_CALIBRATION_FILE) ? parseInt8Calibration(files.get(INT8_CALIBRATION_FILE)!) : undefined;
      const int8 = calibration !== undefined;
      const int8Networks = stageNetworks(explainer.model).map((n) => n.name).filter((name) => calibration?.networks[name]);
      for (const [k, { size }] of this.onnxOf(card, explainer, calibration).entries()) {
        const session = await startOnnxWorker(this.onnxByVersion.get(card.version)![k], {
          intraOpNumThreads: this.options.threads,
          interOpNumThreads: 1,
          executionMode: 'sequential',
          graphOptimizationLevel: 'all',
          // A spinning worker only burns the core the event loop and other processes need.
          extra: { session: { intra_op: { allow_spinning: '0' } } },
        });
        stages.push({ session, size });
      }
      const engine = new OnnxSegmentationEngine(stages, this.ort, explainer, card, this.options.threads, int8Networks);
      const diff = await engine.probeDifference(int8 ? 'mean' : 'max');
      const tolerance = int8 ? INT8_PROBE_TOLERANCE : PROBE_TOLERANCE;
      if (!(diff <= tolerance)) {
        throw new LvsegError('unsupported', 'ONNX_PROBE_MISMATCH', `onnxruntime and tfjs disagree by ${diff} on the probe image (tolerance ${tolerance})`);
      }
      this.options.logger?.info({ event: 'engine.onnx_ready', version: card.version, probeMaxAbsDiff: diff, int8, runtime: engine.runtime }, `model ${card.version} on onnxruntime${int8 ? ' (int8)' : ''}`);
      return engine;
    } catch (e) {
      for (const st of stages) await st.session.release().catch(() => undefined);
      const code = isLvsegError(e) ? e.code : 'ONNX_SESSION_FAILED';
      const message = String((e as Error).message ?? e).slice(0, 300);
      this.options.logger?.warn({ event: 'engine.onnx_fallback', version: card.version, code }, `model ${card.version} served on tfjs: ${message}`);
      explainer.fallbackReason = `${code}: ${message}`;
      return explainer;
    }
  }

  /** Versions whose ONNX bytes are cached, oldest first. */
  get cachedVersions(): string[] {
    return [...this.onnxByVersion.keys()];
  }

  /** The ONNX bytes of each network of a version (cached), with the side each runs at; INT8 where `calibration` has the network. */
  private onnxOf(card: ModelCard, explainer: TfjsSegmentationEngine, calibration?: Int8Calibration): Array<{ size: number }> {
    const nets = stageNetworks(explainer.model);
    let bytes = this.onnxByVersion.get(card.version);
    if (bytes) {
      this.onnxByVersion.delete(card.version); // LRU: re-inserted below as the newest
    } else {
      const lv = card.classes.indexOf('lv');
      bytes = nets.map(({ name, net }) => {
        const opts = { output: { kind: 'class-probability', classIndex: lv >= 0 ? lv : 1 }, metadata: { version: card.version, architecture: card.architecture, network: name } } as const;
        return calibration?.networks[name] ? exportQuantizedToOnnx(net, calibration, name, opts) : exportToOnnx(net, opts);
      });
    }
    this.onnxByVersion.set(card.version, bytes);
    while (this.onnxByVersion.size > (this.options.cacheSize ?? 4)) this.onnxByVersion.delete(this.onnxByVersion.keys().next().value as string);
    return nets.map(({ size }) => ({ size }));
  }
}

/** A smooth synthetic input with structure at every scale, in the normalised range. */
function probeInput(s: number): Float32Array {
  const data = new Float32Array(s * s);
  for (let r = 0; r < s; r++) {
    for (let c = 0; c < s; c++) {
      const d = Math.hypot(r - s * 0.45, c - s * 0.55);
      data[r * s + c] = Math.min(1, Math.max(0, 0.6 * Math.exp(-((d / (s / 8)) ** 2)) + 0.2 * Math.sin(r / 7) * Math.cos(c / 11) + 0.3));
    }
  }
  return data;
}
