import { Injectable } from '@nestjs/common';
import type { SegmentResponseDto, TimingsDto } from './dto/segment-response.dto';
import { SegmentationPipeline } from './pipeline/segmentation-pipeline';
import { SegmentQuery, gradCamLayerFor, heatmapLayersFor, safeUid } from './segment-request';

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
 * POST /segment on the segmentation pipeline: check the asked-for layers against the model → decode → (label) →
 * segment (batched with concurrent requests) → (heat maps, Grad-CAM) → the answer, with the pipeline's stage timings.
 * Each refusal is a typed LvsegError.
 */
@Injectable()
export class SegmentService {
  constructor(private readonly pipeline: SegmentationPipeline) {}

  async segment(input: SegmentInput, log: SegmentLogContext = {}): Promise<SegmentResponseDto> {
    const start = performance.now();
    return this.pipeline.run(input.query.model, async (run) => {
      const model = run.model;
      log.modelVersion = model.version;
      const heatmapLayers = heatmapLayersFor(input.query.heatmaps, model.heatmapLayers);
      const gradCamLayer = gradCamLayerFor(input.query.gradcam, model.heatmapLayers);

      const { image, meta } = await run.decode(input.dicom);
      const sopInstanceUid = safeUid(meta.sopInstanceUid);
      log.sopInstanceUid = sopInstanceUid;
      const label = input.label !== undefined ? run.readLabel(input.label, image) : undefined;

      const seg = await run.segmentImage(image, { label, maskPng: true });
      const { mask } = seg.segmentation;
      const heatmaps = heatmapLayers.length > 0 ? await run.heatmaps(image, heatmapLayers) : undefined;
      const gradcam = gradCamLayer ? await run.gradCam(image, gradCamLayer, mask) : undefined;

      const ms = (stage: string): number => round(run.clock.ms(stage) ?? 0);
      const ifRan = (key: keyof TimingsDto, stage: string) => (run.clock.ms(stage) === undefined ? {} : { [key]: ms(stage) });
      const timings: TimingsDto = {
        receiveMs: round(start - input.receivedAt),
        decodeMs: ms('decode'),
        ...ifRan('labelMs', 'label'),
        queueMs: ms('queue'),
        inferenceMs: ms('inference'),
        batchSize: run.batchSize ?? 1,
        postprocessMs: ms('postprocess'),
        ...ifRan('metricsMs', 'metrics'),
        ...ifRan('heatmapsMs', 'heatmaps'),
        ...ifRan('gradcamMs', 'gradcam'),
        totalMs: round(performance.now() - input.receivedAt),
      };
      const labelMetrics = seg.label ? (({ lvArea: _labelArea, ...metrics }) => metrics)(seg.label) : undefined;
      return {
        model: { version: model.version, architecture: model.architecture },
        image: { rows: image.rows, columns: image.columns, pixelSpacingMm: image.pixelSpacingMm ?? null, sopInstanceUid },
        mask: seg.mask!,
        lvArea: seg.lvArea,
        lvFound: seg.segmentation.lvFound,
        roi: seg.roi,
        ...(labelMetrics ? { label: labelMetrics } : {}),
        ...(heatmaps ? { heatmaps } : {}),
        ...(gradcam ? { gradcam } : {}),
        timings,
      };
    });
  }
}
