import * as tf from '@tensorflow/tfjs';
import { Injectable } from '@nestjs/common';
import { LvsegError } from '@lvseg/common';
import { BinaryMask, GrayImage, MODEL_INPUT_SIZE, resizeMaskNearest, toModelInput } from '@lvseg/imaging';
import { ARCHITECTURES, GradCamMap, LayerMap, MaskOptions, gradCam, layerActivationMaps, maskOptionsOf, modelFromFiles, segmentImages } from '@lvseg/model';
import type { ModelCard } from '@lvseg/model-store';
import { EngineFactory, ImageSegmentation, SegmentationEngine } from './segmentation-engine';

/** A tfjs LayersModel serving segmentations (the same `segmentImages` as `lvseg eval`) and explanations. */
export class TfjsSegmentationEngine implements SegmentationEngine {
  readonly version: string;
  readonly architecture: string;
  readonly heatmapLayers: string[];
  private readonly maskOptions: MaskOptions;
  private readonly classIndex: number;
  private disposed = false;
  /** Set when another runtime was meant to serve this model and could not (said in `runtime`). */
  fallbackReason?: string;

  constructor(
    /** The loaded model (other runtimes export it; this engine owns and disposes it). */
    readonly model: tf.LayersModel,
    card: ModelCard,
  ) {
    this.version = card.version;
    this.architecture = card.architecture;
    const known = ARCHITECTURES[card.architecture]?.heatmapLayers ?? [];
    // Only names that really are layers of this model (a card could name an architecture this build does not know).
    this.heatmapLayers = known.filter((name) => model.layers.some((l) => l.name === name));
    this.maskOptions = maskOptionsOf(card);
    const lv = card.classes.indexOf('lv');
    this.classIndex = lv >= 0 ? lv : 1;
  }

  get runtime(): string {
    return `tfjs (${tf.getBackend()})${this.fallbackReason ? `; onnxruntime not used: ${this.fallbackReason}` : ''}`;
  }

  async segment(images: GrayImage[]): Promise<ImageSegmentation[]> {
    this.assertLive();
    return segmentImages(this.model, images, this.maskOptions, Math.max(1, images.length));
  }

  async activationMaps(image: GrayImage, layers: string[]): Promise<LayerMap[]> {
    this.assertLive();
    return layerActivationMaps(this.model, toModelInput(image), layers);
  }

  async gradCam(image: GrayImage, layer: string, mask: BinaryMask): Promise<GradCamMap> {
    this.assertLive();
    const region = resizeMaskNearest(mask, MODEL_INPUT_SIZE, MODEL_INPUT_SIZE).data;
    return gradCam(this.model, toModelInput(image), layer, region, { classIndex: this.classIndex });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }

  private assertLive(): void {
    if (this.disposed) throw new Error(`engine for ${this.version} used after dispose`);
  }
}

/** Loads tfjs models from store files, checks they take and give 256×256 maps, and warms them up once. */
@Injectable()
export class TfjsEngineFactory implements EngineFactory {
  async create(card: ModelCard, files: Map<string, Buffer>): Promise<SegmentationEngine> {
    let model: tf.LayersModel;
    try {
      if (!files.has('model.json') || !files.has('weights.bin')) throw new Error('model.json and weights.bin are required');
      model = await modelFromFiles(files);
    } catch (e) {
      throw new LvsegError('unsupported', 'MODEL_LOAD_FAILED', `model ${card.version} does not load as a tfjs layers model: ${String((e as Error).message ?? e).slice(0, 200)}`, {
        version: card.version,
      });
    }
    const s = MODEL_INPUT_SIZE;
    const inShape = model.inputs[0]?.shape ?? [];
    const outShape = model.outputs[0]?.shape ?? [];
    const fits = (shape: (number | null)[], channels: number) => shape.length === 4 && (shape[1] === s || shape[1] === null) && (shape[2] === s || shape[2] === null) && shape[3] === channels;
    if (model.inputs.length !== 1 || !fits(inShape, 1) || !fits(outShape, card.classes.length || 2)) {
      model.dispose();
      throw new LvsegError('unsupported', 'MODEL_SHAPE', `model ${card.version} maps ${JSON.stringify(inShape)} to ${JSON.stringify(outShape)}; the service needs [null, ${s}, ${s}, 1] to [null, ${s}, ${s}, classes]`, {
        version: card.version,
      });
    }
    const engine = new TfjsSegmentationEngine(model, card);
    try {
      // One pass on a blank image: compiles the kernels now rather than in the first request, and proves it runs.
      const [warm] = await engine.segment([{ rows: s, columns: s, data: new Float32Array(s * s) }]);
      if (!warm.probability.every(Number.isFinite)) throw new Error('non-finite output');
    } catch (e) {
      engine.dispose();
      throw new LvsegError('unsupported', 'MODEL_LOAD_FAILED', `model ${card.version} fails its warm-up pass: ${String((e as Error).message ?? e).slice(0, 200)}`, { version: card.version });
    }
    return engine;
  }
}
