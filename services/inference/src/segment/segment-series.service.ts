import { Injectable } from '@nestjs/common';
import { LvsegError } from '@lvseg/common';
import type { DicomImage } from '@lvseg/imaging';
import type { LvFunction } from '@lvseg/lv-function';
import { SegmentationPipeline } from './pipeline/segmentation-pipeline';
import { SegmentQuery, safeUid } from './segment-request';
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
 * POST /segment/series on the segmentation pipeline: pair labels by name → decode every DICOM (one series) → read
 * the labels → place the frames by geometry and check the stack → segment the whole series in one engine call →
 * LV volumes and EF, and the expert's with labels. Everything stays in this request: nothing is kept after the answer.
 */
@Injectable()
export class SegmentSeriesService {
  constructor(private readonly pipeline: SegmentationPipeline) {}

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
    return this.pipeline.run(input.query.model, async (run) => {
      const model = run.model;
      log.modelVersion = model.version;

      const decoded: DicomImage[] = [];
      for (const f of input.files) {
        decoded.push(
          await aboutPartAsync(SERIES_FILES_FIELD, f.fileName, async () => {
            if (f.bytes.length === 0) throw new LvsegError('invalid-input', 'EMPTY_BODY', 'the part is empty');
            return run.decode(f.bytes);
          }),
        );
      }
      assertOneSeries(
        decoded.map((d) => d.meta),
        names,
      );

      const labels = pairing.map((l, k) => {
        if (l === undefined) return undefined;
        const part = input.labels[l];
        return aboutPart(SERIES_LABELS_FIELD, part.fileName, () => run.readLabel(part.bytes, decoded[k].image));
      });
      const labelled = labels.filter((l) => l !== undefined).length;

      const placed = run.clock.time('placement', () =>
        placeSeries(
          frameIds(names),
          decoded.map((d) => d.meta),
        ),
      );

      const segmented = await run.segmentSeries(
        decoded.map((d) => d.image),
        { labels, maskPng: true },
      );
      const modelAreas: FrameArea[] = segmented.map(({ lvArea }) => ({ pixels: lvArea.pixels, mm2: lvArea.mm2 }));
      const expertAreas: Array<FrameArea | undefined> = segmented.map(({ label }) => (label ? { pixels: label.lvArea.pixels, mm2: label.lvArea.mm2 } : undefined));
      const results: SeriesImageDto[] = decoded.map(({ image, meta }, k) => {
        const seg = segmented[k];
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
          mask: seg.mask!,
          lvArea: seg.lvArea,
          lvFound: seg.segmentation.lvFound,
          roi: seg.roi,
          ...(seg.label ? { label: { fileName: input.labels[pairing[k]!].fileName, ...seg.label } } : {}),
        };
      });

      const { modelFunction, comparison } = run.clock.time('function', () => ({
        modelFunction: seriesLvFunction(placed, modelAreas),
        comparison: labelled > 0 ? seriesLvComparison(placed, modelAreas, expertAreas) : undefined,
      }));

      const ms = (stage: string): number => round(run.clock.ms(stage) ?? 0);
      const timings: SeriesTimingsDto = {
        receiveMs: round(start - input.receivedAt),
        decodeMs: ms('decode'),
        ...(labelled > 0 ? { labelMs: ms('label') } : {}),
        placementMs: ms('placement'),
        queueMs: ms('queue'),
        inferenceMs: ms('inference'),
        // The answer's postprocessing: masks, areas and, with labels, the comparison with each label.
        postprocessMs: round((run.clock.ms('postprocess') ?? 0) + (run.clock.ms('metrics') ?? 0)),
        functionMs: ms('function'),
        totalMs: round(performance.now() - input.receivedAt),
      };
      return {
        model: { version: model.version, architecture: model.architecture },
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
    });
  }
}
