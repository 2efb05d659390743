import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { InferenceConfig } from '@lvseg/config';
import type { BinaryMask, DicomImage, GrayImage } from '@lvseg/imaging';
import { decodeDicomImage } from '@lvseg/imaging';
import type { LvsegError } from '@lvseg/common';
import type { ImageSegmentation } from '../../engine/segmentation-engine';
import { MetricsService } from '../../metrics/metrics.service';
import type { ModelHandle } from '../../models/model-handle';
import { ModelRegistry } from '../../models/model-registry.service';
import { INFERENCE_CONFIG } from '../../tokens';
import type { GradCamDto, HeatmapDto, LabelMetricsDto, LvAreaDto, MaskDto, RoiDto } from '../dto/segment-response.dto';
import { InferenceQueue } from '../inference-queue';
import { readLabel } from '../segment-request';
import { decodeServableImage, imageTooLarge } from './decode.stage';
import { Label, gradCamDtoOf, heatmapDtoOf, labelMetricsOf, lvAreaOf, maskDtoOf, roiDtoOf } from './postprocess.stage';
import { PredictStage } from './predict.stage';
import { StageClock } from './stage-clock';

/** One image after predict → postprocess. */
export interface SegmentedImage {
  /** The engine's output: mask and LV probability at the image's size, whether an LV was found, a cascade's ROI. */
  segmentation: ImageSegmentation;
  lvArea: LvAreaDto;
  roi: RoiDto | null;
  /** The mask as a base64 PNG, when asked for (HTTP answers; the PACS path writes a DICOM SEG instead). */
  mask?: MaskDto;
  /** The mask against the label given with the image, and the label's own LV area. */
  label?: LabelMetricsDto & { lvArea: LvAreaDto };
}

export interface PostprocessOptions {
  /** Encode the mask as a PNG. */
  maskPng?: boolean;
}

/**
 * One request's (or one PACS job's) pass through the pipeline, holding one model version from start to end:
 * decode → (label) → predict on the inference queue → postprocess → (heat maps, Grad-CAM). Every stage adds its wall
 * time to `clock` under its name: decode, label, predict (queue + inference, the queue's own split), postprocess,
 * metrics, heatmaps, gradcam; the entry point adds its own stages (placement, retrieve, store…) to the same clock.
 */
export class PipelineRun {
  readonly clock = new StageClock();
  /** Images in the forward pass of the last `segmentImage` (it is batched with concurrent requests). */
  batchSize?: number;

  constructor(
    private readonly handle: ModelHandle,
    private readonly predict: PredictStage,
    /** Largest image side this service segments (`LVSEG_MAX_IMAGE_SIDE`). */
    readonly maxImageSide: number,
  ) {}

  /** The model version this run holds. */
  get model(): { version: string; architecture: string; heatmapLayers: string[] } {
    return { version: this.handle.version, architecture: this.handle.architecture, heatmapLayers: this.handle.engine.heatmapLayers };
  }

  /** decode: one DICOM → image + metadata; refused (413/415/422 LvsegError) when this service does not segment it. */
  decode(bytes: Buffer): Promise<DicomImage> {
    return this.clock.timeAsync('decode', () => decodeServableImage(bytes, this.maxImageSide));
  }

  /** decode without the servable check, for a caller that skips unsuitable images itself (`imageTooLarge`). */
  decodeUnchecked(bytes: Buffer): Promise<DicomImage> {
    return this.clock.timeAsync('decode', () => decodeDicomImage(bytes));
  }

  /** The IMAGE_TOO_LARGE refusal of an image over `maxImageSide`, or undefined. */
  imageTooLarge(image: Pick<GrayImage, 'rows' | 'columns'>): LvsegError | undefined {
    return imageTooLarge(image, this.maxImageSide);
  }

  /** label: an expert label (PNG mask or contour file) read at the image's size. */
  readLabel(bytes: Buffer, image: Pick<GrayImage, 'rows' | 'columns'>): Label {
    return this.clock.time('label', () => readLabel(bytes, image.rows, image.columns));
  }

  /** predict → postprocess of one image, batched with concurrent requests for the same model. */
  async segmentImage(image: GrayImage, opts: PostprocessOptions & { label?: Label } = {}): Promise<SegmentedImage> {
    const out = await this.clock.timeAsync('predict', () => this.predict.image(this.handle, image));
    this.clock.add('queue', out.queueMs);
    this.clock.add('inference', out.inferenceMs);
    this.batchSize = out.batchSize;
    return this.postprocess(image, out.result, opts.label, opts);
  }

  /**
   * predict → postprocess of the images of one series in one engine call (a cascade uses the series' consensus LV
   * position). `waitWhenFull`: wait out a full queue rather than refuse (the PACS path has no client to retry).
   */
  async segmentSeries(images: GrayImage[], opts: PostprocessOptions & { labels?: ReadonlyArray<Label | undefined>; waitWhenFull?: boolean } = {}): Promise<SegmentedImage[]> {
    const out = await this.clock.timeAsync('predict', () => this.predict.series(this.handle, images, { waitWhenFull: opts.waitWhenFull }));
    this.clock.add('queue', out.queueMs);
    this.clock.add('inference', out.runMs);
    return images.map((image, k) => this.postprocess(image, out.value[k], opts.labels?.[k], opts));
  }

  /** Heat maps of the named layers for one image, rendered over it (on the queue, after the mask). */
  heatmaps(image: GrayImage, layers: string[]): Promise<HeatmapDto[]> {
    return this.clock.timeAsync('heatmaps', async () => {
      const { value } = await this.predict.heatmaps(this.handle, image, layers);
      return value.map((m) => heatmapDtoOf(m, image));
    });
  }

  /** Grad-CAM of the LV class over the predicted mask at `layer`, rendered over the image. */
  gradCam(image: GrayImage, layer: string, mask: BinaryMask): Promise<GradCamDto> {
    return this.clock.timeAsync('gradcam', async () => gradCamDtoOf((await this.predict.gradCam(this.handle, image, layer, mask)).value, image));
  }

  private postprocess(image: GrayImage, seg: ImageSegmentation, label: Label | undefined, opts: PostprocessOptions): SegmentedImage {
    const out: SegmentedImage = this.clock.time('postprocess', () => ({
      segmentation: seg,
      lvArea: lvAreaOf(seg.mask, image),
      roi: roiDtoOf(seg),
      ...(opts.maskPng ? { mask: maskDtoOf(seg.mask) } : {}),
    }));
    if (label) out.label = this.clock.time('metrics', () => ({ ...labelMetricsOf(seg.mask, label.mask, label.kind), lvArea: lvAreaOf(label.mask, image) }));
    return out;
  }
}

/**
 * The segmentation pipeline every entry point uses (POST /segment, POST /segment/series, the PACS series job), in
 * the manner of MONAI Deploy's operators: decode.stage → predict.stage (the engine, on the one inference queue) →
 * postprocess.stage, timed by one StageClock per run. It owns the inference queue; `run` holds a model version for
 * the length of a request.
 */
@Injectable()
export class SegmentationPipeline implements OnApplicationShutdown {
  private readonly predict: PredictStage;

  constructor(
    private readonly registry: ModelRegistry,
    metrics: MetricsService,
    @Inject(INFERENCE_CONFIG) private readonly config: InferenceConfig,
  ) {
    const { queueSize, batchWindowMs, maxBatchSize } = config.inference;
    const queue = new InferenceQueue(
      { capacity: queueSize, batchWindowMs, maxBatchSize },
      {
        depth: (n) => metrics.queueDepth.set(n),
        rejected: () => metrics.queueRejections.inc(),
        batch: (e) => {
          metrics.inferenceDuration.observe({ kind: e.label, model_version: e.version }, e.ms / 1000);
          if (e.kind === 'segment') metrics.batchSize.observe(e.size);
        },
      },
    );
    this.predict = new PredictStage(queue);
  }

  /** Runs `fn` with model `modelRef` (a version or alias; default the served one) held, and releases it after. */
  async run<T>(modelRef: string | undefined, fn: (run: PipelineRun) => Promise<T>): Promise<T> {
    const handle = await this.registry.acquire(modelRef);
    try {
      return await fn(new PipelineRun(handle, this.predict, this.config.inference.maxImageSide));
    } finally {
      handle.release();
    }
  }

  onApplicationShutdown(): void {
    this.predict.close();
  }
}
