import { Inject, Injectable } from '@nestjs/common';
import { LvsegError } from '@lvseg/common';
import type { InferenceConfig } from '@lvseg/config';
import { DicomImage, decodeDicomImage, encodeMaskPng } from '@lvseg/imaging';
import type { LvFunction } from '@lvseg/lv-function';
import { INFERENCE_CONFIG } from '../tokens';
import { ModelRegistry } from '../models/model-registry.service';
import { SegmentService, assertServableImage, labelMetricsOf, lvAreaOf, roiDtoOf } from './segment.service';
import { SegmentQuery, readLabel, safeUid } from './segment-request';
import { SERIES_FILES_FIELD, SERIES_LABELS_FIELD, SeriesPart, aboutPart, aboutPartAsync, assertOneSeries, pairLabels } from './series-request';
import { FrameArea, frameIds, placeSeries, seriesLvComparison, seriesLvFunction } from './series-function';
import type { LvFunctionDto, SeriesImageDto, SeriesResponseDto, SeriesTimingsDto } from './dto/series-response.dto';

/** One POST /segment/series, as the controller hands it over. */
export interface SeriesInput {
  files: SeriesPart[];
  labels: SeriesPart[];
  query: SegmentQuery;
  /** `performance.now()` when the request reached the service. */
  receivedAt: number;
}

/** What the request log line may name about a series request: the model and how many images (never a DICOM value). */
export interface SeriesLogContext {
  modelVersion?: string;
  images?: number;
}

const round = (ms: number): number => Math.round(ms * 100) / 100;

const lvFunctionDto = (f: LvFunction): LvFunctionDto => ({ ...f });

/**
 * The /segment/series pipeline: pair labels by name → decode every DICOM (one series) → read the labels → place the
 * frames by geometry and check the stack → one engine call for the whole series (`{ series: true }`) on the inference
 * queue → mask PNGs, LV areas, label metrics → LV volumes and EF, and the expert's with labels. Everything stays in
 * this request: nothing is kept after the answer.
 */
@Injectable()
export class SegmentSeriesService {
  constructor(
    private readonly registry: ModelRegistry,
    private readonly segmentation: SegmentService,
    @Inject(INFERENCE_CONFIG) private readonly config: InferenceConfig,
  ) {}

  async segmentSeries(input: SeriesInput, log: SeriesLogContext = {}): Promise<SeriesResponseDto> {
    const start = performance.now();
    if (input.files.length === 0) {
      throw new LvsegError('invalid-input', 'MISSING_FILES', `no "${SERIES_FILES_FIELD}" part: send each DICOM of the series as a file part "${SERIES_FILES_FIELD}"`);
    }
    const names = input.files.map((f) => f.fileName);
    const pairing = pairLabels(
      names,
      input.labels.map((l) => l.fileName),
    );
    log.images = input.files.length;
    const handle = await this.registry.acquire(input.query.model);
    try {
      log.modelVersion = handle.version;

      let mark = performance.now();
      const decoded: DicomImage[] = [];
      for (const f of input.files) {
        decoded.push(
          await aboutPartAsync(SERIES_FILES_FIELD, f.fileName, async () => {
            if (f.bytes.length === 0) throw new LvsegError('invalid-input', 'EMPTY_BODY', 'the part is empty');
            const d = await decodeDicomImage(f.bytes);
            assertServableImage(d.image, this.config.inference.maxImageSide);
            return d;
          }),
        );
      }
      assertOneSeries(
        decoded.map((d) => d.meta),
        names,
      );
      const decodeMs = performance.now() - mark;

      mark = performance.now();
      const labels = pairing.map((l, k) => {
        if (l === undefined) return undefined;
        const part = input.labels[l];
        const { image } = decoded[k];
        return { fileName: part.fileName, ...aboutPart(SERIES_LABELS_FIELD, part.fileName, () => readLabel(part.bytes, image.rows, image.columns)) };
      });
      const labelled = labels.filter((l) => l !== undefined).length;
      const labelMs = performance.now() - mark;

      mark = performance.now();
      const placed = placeSeries(
        frameIds(names),
        decoded.map((d) => d.meta),
      );
      const placementMs = performance.now() - mark;

      const images = decoded.map((d) => d.image);
      const run = await this.segmentation.queue.run(handle, 'series', () => handle.engine.segment(images, { series: true }));
      const segs = run.value;

      mark = performance.now();
      const modelAreas: FrameArea[] = [];
      const expertAreas: Array<FrameArea | undefined> = [];
      const results: SeriesImageDto[] = decoded.map(({ image, meta }, k) => {
        const seg = segs[k];
        const lvArea = lvAreaOf(seg.mask, image);
        modelAreas.push({ pixels: lvArea.pixels, mm2: lvArea.mm2 });
        const label = labels[k];
        let labelDto: SeriesImageDto['label'];
        if (label) {
          const labelArea = lvAreaOf(label.mask, image);
          expertAreas.push({ pixels: labelArea.pixels, mm2: labelArea.mm2 });
          labelDto = { fileName: label.fileName, ...labelMetricsOf(seg.mask, label.mask, label.kind), lvArea: labelArea };
        } else expertAreas.push(undefined);
        const frame = placed.frames[k];
        return {
          fileName: names[k],
          sopInstanceUid: safeUid(meta.sopInstanceUid),
          instanceNumber: meta.instanceNumber ?? null,
          rows: image.rows,
          columns: image.columns,
          pixelSpacingMm: image.pixelSpacingMm ?? null,
          sliceIndex: frame.sliceIndex ?? null,
          phaseIndex: frame.phaseIndex ?? null,
          mask: { png: encodeMaskPng(seg.mask).toString('base64'), rows: seg.mask.rows, columns: seg.mask.columns },
          lvArea,
          lvFound: seg.lvFound,
          roi: roiDtoOf(seg),
          ...(labelDto ? { label: labelDto } : {}),
        };
      });
      const postprocessMs = performance.now() - mark;

      mark = performance.now();
      const modelFunction = seriesLvFunction(placed, modelAreas);
      const comparison = labelled > 0 ? seriesLvComparison(placed, modelAreas, expertAreas) : undefined;
      const functionMs = performance.now() - mark;

      const timings: SeriesTimingsDto = {
        receiveMs: round(start - input.receivedAt),
        decodeMs: round(decodeMs),
        ...(labelled > 0 ? { labelMs: round(labelMs) } : {}),
        placementMs: round(placementMs),
        queueMs: round(run.queueMs),
        inferenceMs: round(run.runMs),
        postprocessMs: round(postprocessMs),
        functionMs: round(functionMs),
        totalMs: round(performance.now() - input.receivedAt),
      };
      return {
        model: { version: handle.version, architecture: handle.architecture },
        series: {
          seriesInstanceUid: safeUid(decoded[0].meta.seriesInstanceUid),
          images: results.length,
          labelled,
          slicePositionSource: placed.slicePositionSource,
          phaseSource: placed.phaseSource,
        },
        images: results,
        ...('value' in modelFunction ? { function: lvFunctionDto(modelFunction.value) } : { function: null, functionError: modelFunction.error }),
        ...(comparison === undefined
          ? {}
          : 'value' in comparison
            ? {
                comparison: {
                  frames: comparison.value.frames,
                  expert: lvFunctionDto(comparison.value.expert),
                  model: lvFunctionDto(comparison.value.model),
                  difference: comparison.value.difference,
                },
              }
            : { comparison: null, comparisonError: comparison.error }),
        timings,
      };
    } finally {
      handle.release();
    }
  }
}
