import * as tf from '@tensorflow/tfjs';
import { Injectable } from '@nestjs/common';
import { LvsegError } from '@lvseg/common';
import { BinaryMask, GrayImage, MODEL_INPUT_SIZE } from '@lvseg/imaging';
import { GradCamMap, LayerMap, LvModel, MaskOptions, disposeLvModel, lvActivationMaps, lvGradCam, lvHeatmapLayers, lvModelFromFiles, maskOptionsOf, predictLvProbabilities, segmentLv } from '@lvseg/model';
import type { ModelCard } from '@lvseg/model-store';
import { EngineFactory, ImageSegmentation, SegmentOptions, SegmentationEngine } from './segmentation-engine';

/** A tfjs model of either kind (single network or cascade) serving segmentations (the same `segmentLv` as `lvseg eval`) and explanations. */
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
    readonly model: LvModel,
    card: ModelCard,
  ) {
    this.version = card.version;
    this.architecture = card.architecture;
    this.heatmapLayers = lvHeatmapLayers(model);
    this.maskOptions = maskOptionsOf(card);
    const lv = card.classes.indexOf('lv');
    this.classIndex = lv >= 0 ? lv : 1;
  }

  get runtime(): string {
    return `tfjs (${tf.getBackend()})${this.fallbackReason ? `; onnxruntime not used: ${this.fallbackReason}` : ''}`;
  }

  async segment(images: GrayImage[], opts: SegmentOptions = {}): Promise<ImageSegmentation[]> {
    this.assertLive();
    return segmentLv(this.model, images, this.maskOptions, { series: opts.series, batchSize: Math.max(1, images.length) });
  }

  async activationMaps(image: GrayImage, layers: string[]): Promise<LayerMap[]> {
    this.assertLive();
    return lvActivationMaps(this.model, image, layers, this.maskOptions);
  }

  async gradCam(image: GrayImage, layer: string, mask: BinaryMask): Promise<GradCamMap> {
    this.assertLive();
    return lvGradCam(this.model, image, layer, mask, this.classIndex, this.maskOptions);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    disposeLvModel(this.model);
  }

  private assertLive(): void {
    if (this.disposed) throw new Error(`engine for ${this.version} used after dispose`);
  }
}

/** The networks of a model with the input side each is run at (null: the whole-image model's 256). */
export function stageNetworks(model: LvModel): Array<{ name: string; net: tf.LayersModel; size: number }> {
  return model.kind === 'single'
    ? [{ name: 'model', net: model.model, size: MODEL_INPUT_SIZE }]
    : [
        { name: 'localiser', net: model.localiser, size: model.spec.localiserSize },
        { name: 'segmenter', net: model.segmenter, size: model.spec.segmenterSize },
      ];
}

/** Loads tfjs models from store files, checks each network takes and gives maps of its size, and warms them up once. */
@Injectable()
export class TfjsEngineFactory implements EngineFactory {
  async create(card: ModelCard, files: Map<string, Buffer>): Promise<SegmentationEngine> {
    let model: LvModel;
    try {
      model = await lvModelFromFiles(files, card);
    } catch (e) {
      throw new LvsegError('unsupported', 'MODEL_LOAD_FAILED', `model ${card.version} does not load as a tfjs layers model: ${String((e as Error).message ?? e).slice(0, 200)}`, {
        version: card.version,
      });
    }
    for (const { name, net, size: s } of stageNetworks(model)) {
      const inShape = net.inputs[0]?.shape ?? [];
      const outShape = net.outputs[0]?.shape ?? [];
      const fits = (shape: (number | null)[], channels: number) => shape.length === 4 && (shape[1] === s || shape[1] === null) && (shape[2] === s || shape[2] === null) && shape[3] === channels;
      if (net.inputs.length !== 1 || !fits(inShape, 1) || !fits(outShape, card.classes.length || 2)) {
        disposeLvModel(model);
        throw new LvsegError('unsupported', 'MODEL_SHAPE', `model ${card.version} (${name}) maps ${JSON.stringify(inShape)} to ${JSON.stringify(outShape)}; the service needs [null, ${s}, ${s}, 1] to [null, ${s}, ${s}, classes]`, {
          version: card.version,
        });
      }
    }
    const engine = new TfjsSegmentationEngine(model, card);
    try {
      // One pass of each network on a blank input: compiles the kernels now rather than in the first request, and
      // proves each runs (a blank image alone would never reach a cascade's segmenter).
      for (const { net, size } of stageNetworks(model)) {
        const [warm] = predictLvProbabilities(net, [new Float32Array(size * size)], size, 1);
        if (!warm.every(Number.isFinite)) throw new Error('non-finite output');
      }
    } catch (e) {
      engine.dispose();
      throw new LvsegError('unsupported', 'MODEL_LOAD_FAILED', `model ${card.version} fails its warm-up pass: ${String((e as Error).message ?? e).slice(0, 200)}`, { version: card.version });
    }
    return engine;
  }
}
