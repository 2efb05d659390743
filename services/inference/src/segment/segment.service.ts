import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { LvsegError } from '@lvseg/common';
import type { InferenceConfig } from '@lvseg/config';
import { BinaryMask, GrayImage, decodeDicomImage, encodeMaskPng } from '@lvseg/imaging';
import { confusion, diceFromConfusion, jaccardFromConfusion, pixelAccuracyFromConfusion, renderHeatmap } from '@lvseg/model';
import { INFERENCE_CONFIG } from '../tokens';
import { MetricsService } from '../metrics/metrics.service';
import { ModelRegistry } from '../models/model-registry.service';
import { InferenceQueue } from './inference-queue';
import { SegmentQuery, gradCamLayerFor, heatmapLayersFor, readLabel, safeUid } from './segment-request';
import type { GradCamDto, HeatmapDto, LabelMetricsDto, LvAreaDto, RoiDto, SegmentResponseDto, TimingsDto } from './dto/segment-response.dto';
import type { ImageSegmentation } from '../engine/segmentation-engine';

/** One POST /segment, as the controller hands it over. */
export interface SegmentInput {
  dicom: Buffer;
  label?: Buffer;
  query: SegmentQuery;
  /** `performance.now()` when the request reached the service (for `receiveMs` and `totalMs`). */
  receivedAt: number;
}

/** What the request log line may name about the request (never patient data). */
export interface SegmentLogContext {
  sopInstanceUid?: string | null;
  modelVersion?: string;
}

const round = (ms: number): number => Math.round(ms * 100) / 100;

/**
 * The /segment pipeline: decode → (label) → queue + batched forward pass → mask PNG, LV area, label metrics →
 * (heatmaps, Grad-CAM). Each stage is timed; each refusal is a typed LvsegError.
 */
@Injectable()
export class SegmentService implements OnApplicationShutdown {
  readonly queue: InferenceQueue;

  constructor(
    private readonly registry: ModelRegistry,
    private readonly metrics: MetricsService,
    @Inject(INFERENCE_CONFIG) private readonly config: InferenceConfig,
  ) {
    const { queueSize, batchWindowMs, maxBatchSize } = config.inference;
    this.queue = new InferenceQueue(
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
  }

  onApplicationShutdown(): void {
    this.queue.close();
  }

  async segment(input: SegmentInput, log: SegmentLogContext = {}): Promise<SegmentResponseDto> {
    const t = { start: performance.now() };
    const handle = await this.registry.acquire(input.query.model);
    try {
      log.modelVersion = handle.version;
      const heatmapLayers = heatmapLayersFor(input.query.heatmaps, handle.engine.heatmapLayers);
      const gradCamLayer = gradCamLayerFor(input.query.gradcam, handle.engine.heatmapLayers);

      let mark = performance.now();
      const { image, meta } = await decodeDicomImage(input.dicom);
      assertServableImage(image, this.config.inference.maxImageSide);
      const sopInstanceUid = safeUid(meta.sopInstanceUid);
      log.sopInstanceUid = sopInstanceUid;
      const decodeMs = performance.now() - mark;

      let labelMs: number | undefined;
      let label: ReturnType<typeof readLabel> | undefined;
      if (input.label !== undefined) {
        mark = performance.now();
        label = readLabel(input.label, image.rows, image.columns);
        labelMs = performance.now() - mark;
      }

      const seg = await this.queue.segment(handle, image);
      const { mask } = seg.result;

      mark = performance.now();
      const maskPng = encodeMaskPng(mask).toString('base64');
      const lvArea = lvAreaOf(mask, image);
      const postprocessMs = performance.now() - mark;

      let labelMetrics: LabelMetricsDto | undefined;
      let metricsMs: number | undefined;
      if (label) {
        mark = performance.now();
        labelMetrics = labelMetricsOf(mask, label.mask, label.kind);
        metricsMs = performance.now() - mark;
      }

      let heatmaps: HeatmapDto[] | undefined;
      let heatmapsMs: number | undefined;
      if (heatmapLayers.length > 0) {
        mark = performance.now();
        const { value: maps } = await this.queue.run(handle, 'heatmaps', () => handle.engine.activationMaps(image, heatmapLayers));
        heatmaps = maps.map((m) => {
          const r = renderHeatmap(m, image);
          return { layer: m.layer, layerShape: [m.rows, m.columns, m.channels], png: r.png.toString('base64'), overlayPng: r.overlayPng.toString('base64') };
        });
        heatmapsMs = performance.now() - mark;
      }

      let gradcam: GradCamDto | undefined;
      let gradcamMs: number | undefined;
      if (gradCamLayer) {
        mark = performance.now();
        const { value: cam } = await this.queue.run(handle, 'gradcam', () => handle.engine.gradCam(image, gradCamLayer, mask));
        const r = renderHeatmap(cam, image, { zeroBased: true });
        gradcam = { layer: cam.layer, layerShape: [cam.rows, cam.columns, cam.channels], region: cam.region, png: r.png.toString('base64'), overlayPng: r.overlayPng.toString('base64') };
        gradcamMs = performance.now() - mark;
      }

      const end = performance.now();
      const timings: TimingsDto = {
        receiveMs: round(t.start - input.receivedAt),
        decodeMs: round(decodeMs),
        ...(labelMs !== undefined ? { labelMs: round(labelMs) } : {}),
        queueMs: round(seg.queueMs),
        inferenceMs: round(seg.inferenceMs),
        batchSize: seg.batchSize,
        postprocessMs: round(postprocessMs),
        ...(metricsMs !== undefined ? { metricsMs: round(metricsMs) } : {}),
        ...(heatmapsMs !== undefined ? { heatmapsMs: round(heatmapsMs) } : {}),
        ...(gradcamMs !== undefined ? { gradcamMs: round(gradcamMs) } : {}),
        totalMs: round(end - input.receivedAt),
      };
      return {
        model: { version: handle.version, architecture: handle.architecture },
        image: { rows: image.rows, columns: image.columns, pixelSpacingMm: image.pixelSpacingMm ?? null, sopInstanceUid },
        mask: { png: maskPng, rows: mask.rows, columns: mask.columns },
        lvArea,
        lvFound: seg.result.lvFound,
        roi: roiDtoOf(seg.result),
        ...(labelMetrics ? { label: labelMetrics } : {}),
        ...(heatmaps ? { heatmaps } : {}),
        ...(gradcam ? { gradcam } : {}),
        timings,
      };
    } finally {
      handle.release();
    }
  }
}

/** Refuses an image this service does not segment: a side over `maxSide` (413), or NaN/infinite pixels (422). */
export function assertServableImage(image: GrayImage, maxSide: number): void {
  if (image.rows > maxSide || image.columns > maxSide) {
    throw new LvsegError('too-large', 'IMAGE_TOO_LARGE', `the image is ${image.columns}×${image.rows}; this service takes images up to ${maxSide}×${maxSide}`, {
      rows: image.rows,
      columns: image.columns,
    });
  }
  for (let i = 0; i < image.data.length; i++) {
    if (!Number.isFinite(image.data[i])) throw new LvsegError('invalid-input', 'DICOM_NON_FINITE_PIXELS', 'the image has NaN or infinite pixel values');
  }
}

/** LV area in pixels and, when the pixel spacing is known, in mm². */
export function lvAreaOf(mask: BinaryMask, image: GrayImage): LvAreaDto {
  let pixels = 0;
  for (let i = 0; i < mask.data.length; i++) if (mask.data[i]) pixels++;
  const spacing = image.pixelSpacingMm;
  if (!spacing) return { pixels, mm2: null, reason: 'the DICOM has no PixelSpacing (0028,0030) or ImagerPixelSpacing (0018,1164)' };
  return { pixels, mm2: pixels * spacing[0] * spacing[1] };
}

/** Dice, Jaccard and pixel accuracy of the mask against a label, and the label's LV pixels. */
export function labelMetricsOf(mask: BinaryMask, truth: BinaryMask, kind: 'png' | 'contour'): LabelMetricsDto {
  const c = confusion(mask, truth);
  return { kind, dice: diceFromConfusion(c), jaccard: jaccardFromConfusion(c), pixelAccuracy: pixelAccuracyFromConfusion(c), labelPixels: c.tp + c.fn };
}

/** The ROI a cascade segmented, rounded for JSON; null for whole-image models or when no LV was found. */
export function roiDtoOf(seg: ImageSegmentation): RoiDto | null {
  if (!seg.roi || !seg.roiSource) return null;
  const r2 = (v: number) => Math.round(v * 100) / 100;
  return { centerRow: r2(seg.roi.centerRow), centerColumn: r2(seg.roi.centerColumn), height: r2(seg.roi.height), width: r2(seg.roi.width), source: seg.roiSource };
}
