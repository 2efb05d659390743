import type * as Ort from 'onnxruntime-node';
import type { Logger } from 'pino';
import { LvsegError, isLvsegError } from '@lvseg/common';
import { BinaryMask, GrayImage, MODEL_INPUT_SIZE, resizeBilinear, toModelInput } from '@lvseg/imaging';
import { GradCamMap, LayerMap, MaskOptions, exportToOnnx, probabilityToMask } from '@lvseg/model';
import type { ModelCard } from '@lvseg/model-store';
import { OnnxSessionRunner, startOnnxWorker } from './onnx-worker';
import { EngineFactory, ImageSegmentation, SegmentationEngine } from './segmentation-engine';
import { maskOptionsOf } from '@lvseg/model';
import { TfjsEngineFactory, TfjsSegmentationEngine } from './tfjs-engine';

/** The onnxruntime-node module, loaded by the caller (so a build without it still starts on tfjs). */
export type OnnxRuntime = typeof Ort;

export interface OnnxEngineOptions {
  /** Intra-op threads of each session (`LVSEG_ORT_THREADS`). */
  threads: number;
  /** ONNX files kept in memory by model version, so a version loaded again is not exported again (default 4). */
  cacheSize?: number;
  logger?: Logger;
}

/**
 * Largest |onnx - tfjs| LV probability accepted on the load-time probe. The export agrees within ~1e-5 (specs); this
 * only catches an export that is wrong, never float noise.
 */
const PROBE_TOLERANCE = 1e-3;

/**
 * The mask path on onnxruntime in a worker thread (the tfjs model exported once at load, softmax and the LV channel
 * inside the graph), with the same preprocessing and post-processing as `segmentImages`; heatmaps and Grad-CAM stay
 * on tfjs.
 */
export class OnnxSegmentationEngine implements SegmentationEngine {
  readonly version: string;
  readonly architecture: string;
  readonly heatmapLayers: string[];
  readonly runtime: string;
  /** Two: the event loop prepares (normalise, resample) or finishes (masks) one batch while the worker runs the other. */
  readonly maxConcurrentCalls = 2;
  private readonly maskOptions: MaskOptions;
  private disposed = false;

  constructor(
    private readonly session: OnnxSessionRunner,
    ort: OnnxRuntime,
    /** Serves explanations; owned (disposed) by this engine. */
    private readonly explainer: TfjsSegmentationEngine,
    card: ModelCard,
    threads: number,
  ) {
    this.version = explainer.version;
    this.architecture = explainer.architecture;
    this.heatmapLayers = explainer.heatmapLayers;
    this.maskOptions = maskOptionsOf(card);
    this.runtime = `onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common} (cpu, worker thread, ${threads} intra-op thread${threads === 1 ? '' : 's'}); explanations on ${explainer.runtime}`;
  }

  async segment(images: GrayImage[]): Promise<ImageSegmentation[]> {
    this.assertLive();
    if (images.length === 0) return [];
    const s = MODEL_INPUT_SIZE;
    const batch = new Float32Array(images.length * s * s);
    images.forEach((im, k) => batch.set(toModelInput(im), k * s * s));
    const { data: probs } = await this.session.run(batch, [images.length, s, s, 1]);
    return images.map((im, k) => {
      const probability = resizeBilinear(probs.subarray(k * s * s, (k + 1) * s * s), s, s, im.rows, im.columns);
      return { probability, mask: probabilityToMask(probability, im.rows, im.columns, this.maskOptions) };
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
    void this.session.release().catch(() => undefined);
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
  private readonly onnxByVersion = new Map<string, Uint8Array>();
  private readonly tfjs = new TfjsEngineFactory();

  constructor(
    private readonly ort: OnnxRuntime,
    private readonly options: OnnxEngineOptions,
  ) {}

  async create(card: ModelCard, files: Map<string, Buffer>): Promise<SegmentationEngine> {
    const explainer = (await this.tfjs.create(card, files)) as TfjsSegmentationEngine;
    let session: OnnxSessionRunner | undefined;
    try {
      const bytes = this.onnxOf(card, explainer);
      session = await startOnnxWorker(bytes, {
        intraOpNumThreads: this.options.threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        // A spinning worker only burns the core the event loop and other processes need.
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      });
      const engine = new OnnxSegmentationEngine(session, this.ort, explainer, card, this.options.threads);
      const diff = await probeDifference(engine, explainer);
      if (!(diff <= PROBE_TOLERANCE)) {
        throw new LvsegError('unsupported', 'ONNX_PROBE_MISMATCH', `onnxruntime and tfjs disagree by ${diff} on the probe image (tolerance ${PROBE_TOLERANCE})`);
      }
      this.options.logger?.info({ event: 'engine.onnx_ready', version: card.version, probeMaxAbsDiff: diff, runtime: engine.runtime }, `model ${card.version} on onnxruntime`);
      return engine;
    } catch (e) {
      await session?.release().catch(() => undefined);
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

  private onnxOf(card: ModelCard, explainer: TfjsSegmentationEngine): Uint8Array {
    let bytes = this.onnxByVersion.get(card.version);
    if (bytes) {
      this.onnxByVersion.delete(card.version); // LRU: re-inserted below as the newest
    } else {
      const lv = card.classes.indexOf('lv');
      bytes = exportToOnnx(explainer.model, { output: { kind: 'class-probability', classIndex: lv >= 0 ? lv : 1 }, metadata: { version: card.version, architecture: card.architecture } });
    }
    this.onnxByVersion.set(card.version, bytes);
    while (this.onnxByVersion.size > (this.options.cacheSize ?? 4)) this.onnxByVersion.delete(this.onnxByVersion.keys().next().value as string);
    return bytes;
  }
}

/** Max |LV probability| difference of the two engines on a smooth synthetic image with structure at every scale. */
async function probeDifference(a: SegmentationEngine, b: SegmentationEngine): Promise<number> {
  const s = MODEL_INPUT_SIZE;
  const data = new Float32Array(s * s);
  for (let r = 0; r < s; r++) {
    for (let c = 0; c < s; c++) {
      const d = Math.hypot(r - s * 0.45, c - s * 0.55);
      data[r * s + c] = 400 * Math.exp(-((d / 30) ** 2)) + 120 * Math.sin(r / 7) * Math.cos(c / 11) + 200;
    }
  }
  const image = { rows: s, columns: s, data };
  const [[x], [y]] = await Promise.all([a.segment([image]), b.segment([image])]);
  let max = 0;
  for (let i = 0; i < x.probability.length; i++) max = Math.max(max, Math.abs(x.probability[i] - y.probability[i]));
  return max;
}
