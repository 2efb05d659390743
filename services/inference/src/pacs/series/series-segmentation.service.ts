import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import type { NaturalDataset } from 'dcmjs';
import type { Logger } from 'pino';
import { LvsegError, isLvsegError, repoRoot } from '@lvseg/common';
import { LV_BLOOD_POOL_SEGMENT, WrittenSeg, lvFunctionOfSeries, lvFunctionSrUidsFor, segUidsFor, writeLvFunctionSr, writeLvSegmentation, writerSourceOf } from '@lvseg/dicom';
import { DicomMeta, GrayImage } from '@lvseg/imaging';
import { APP_LOGGER } from '../../tokens';
import { PipelineRun, SegmentationPipeline } from '../../segment/pipeline/segmentation-pipeline';
import type { StageClock } from '../../segment/pipeline/stage-clock';
import type { PacsClient, SeriesRef } from '../client/pacs-client';
import type { PacsImageResult, PacsJobResult, PacsLvFunctionResult } from '../jobs/pacs-job';
import { PacsMetrics } from '../pacs-metrics';
import { PACS_CLIENT, PACS_STATE } from '../pacs.tokens';
import type { PacsStateStore } from '../state/pacs-state-store';
import { shortAxisSkipReason } from './short-axis-check';

interface DecodedImage {
  image: GrayImage;
  meta: DicomMeta;
  dataset: NaturalDataset;
  sopInstanceUid: string;
}


/**
 * The series-level error when no image of a series decodes: `unsupported` (415-type) when every image was refused as
 * unsupported (e.g. arithmetic-coded JPEG), else `invalid-input` (422-type). The message counts the images and gives the
 * first reason (codec messages name no patient attribute).
 */
export function undecodableSeries(skipped: LvsegError[]): LvsegError {
  const codes = [...new Set(skipped.map((s) => s.code))];
  return new LvsegError(
    skipped.every((s) => s.kind === 'unsupported') ? 'unsupported' : 'invalid-input',
    'SERIES_UNDECODABLE',
    `none of the ${skipped.length} image(s) of the series could be decoded (${codes.join(', ')}): ${skipped[0].message}`,
  );
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

/** The PACS job's timings (ms, 0.1 ms steps), from the pipeline run's clock: the stages of this path that ran, in order. */
const PACS_STAGES = { checkMs: 'check', retrieveMs: 'retrieve', decodeMs: 'decode', segmentMs: 'predict', writeMs: 'write', storeMs: 'store', functionMs: 'function', srStoreMs: 'srStore' } as const;
function pacsTimings(clock: StageClock): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, stage] of Object.entries(PACS_STAGES)) {
    const v = clock.ms(stage);
    if (v !== undefined) out[key] = round(v);
  }
  return out;
}

function lvsegVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/**
 * The PACS path for one series: (already done?) → WADO-RS retrieve → decode → MR short-axis check → segment on the
 * segmentation pipeline (the one POST /segment uses, and its inference queue) → DICOM SEG → STOW-RS → LV function (EDV, ESV, SV,
 * EF; libs/lv-function) → DICOM SR (TID 1500) → STOW-RS → remember. Idempotent: the SEG's and SR's UIDs derive from the
 * series and model version, a series already processed (or whose SEG and SR the PACS already holds) is skipped, and a
 * PACS keeps one copy of a SOP Instance stored twice. A series without an LV function (e.g. one cardiac phase) gets
 * its SEG and no SR, with the reason in the result.
 */
@Injectable()
export class SeriesSegmentationService {
  private readonly softwareVersion = lvsegVersion();

  constructor(
    @Inject(PACS_CLIENT) private readonly pacs: PacsClient,
    @Inject(PACS_STATE) private readonly state: PacsStateStore,
    private readonly pipeline: SegmentationPipeline,
    @Inject(APP_LOGGER) private readonly log: Logger,
    private readonly metrics: PacsMetrics,
  ) {}

  /** Segments the series and stores its SEG and LV function SR; throws LvsegErrors (transient ones are retried by the job runner). */
  async process(ref: SeriesRef, jobId: string): Promise<PacsJobResult> {
    const started = performance.now();
    return this.pipeline.run(undefined, async (run) => {
      const { version: modelVersion, architecture } = run.model;
      if (this.state.isProcessed(ref.seriesInstanceUid, modelVersion)) {
        return { outcome: 'skipped', modelVersion, reason: { code: 'ALREADY_SEGMENTED', message: `lvseg already wrote a SEG for this series with model ${modelVersion}` } };
      }
      const uids = segUidsFor(ref.seriesInstanceUid, modelVersion);
      const srUids = lvFunctionSrUidsFor(ref.seriesInstanceUid, modelVersion);
      // A SEG without its SR (a run stopped between the two stores, or a series without an LV function) is done
      // again: the SEG's store is idempotent, and the SR needs the masks.
      const checkStart = performance.now();
      if ((await this.pacs.seriesExists(ref.studyInstanceUid, uids.seriesInstanceUid)) && (await this.pacs.seriesExists(ref.studyInstanceUid, srUids.seriesInstanceUid))) {
        this.state.markProcessed(ref.seriesInstanceUid, modelVersion);
        return { outcome: 'skipped', modelVersion, reason: { code: 'SEG_ALREADY_IN_PACS', message: `the study already holds lvseg's SEG and SR of this series for model ${modelVersion}` } };
      }
      run.clock.add('check', performance.now() - checkStart);

      const files = await run.clock.timeAsync('retrieve', () => this.pacs.retrieveSeries(ref));
      if (files.length === 0) return { outcome: 'skipped', modelVersion, reason: { code: 'SERIES_NOT_FOUND', message: 'the PACS returned no instance for the series' }, timings: pacsTimings(run.clock) };

      const skippedImages: NonNullable<PacsJobResult['skippedImages']> = [];
      const { decoded, decodeErrors } = await this.decodeSeries(run, files, skippedImages);
      // Nothing decodes (e.g. a codec fails on every frame): that is a failure of this series, not a "not for lvseg".
      if (decoded.length === 0 && decodeErrors.length > 0) throw undecodableSeries(decodeErrors);
      // Non-image objects stored in the series (e.g. a report) are not images to check; they are listed as skipped.
      const reason = shortAxisSkipReason(decoded.map((d) => d.meta));
      if (reason) return { outcome: 'skipped', modelVersion, reason, ...(skippedImages.length ? { skippedImages } : {}), timings: pacsTimings(run.clock) };

      const usable = this.usableImages(run, decoded, skippedImages);
      if (usable.length === 0) {
        return { outcome: 'skipped', modelVersion, reason: { code: 'NO_USABLE_IMAGES', message: 'no image of the series can be segmented' }, skippedImages, timings: pacsTimings(run.clock) };
      }

      // One engine call for the series (a cascade places each ROI with the series' consensus LV position); a full
      // queue (HTTP traffic) is waited out rather than failing the whole series.
      const segmented = await run.segmentSeries(
        usable.map((d) => d.image),
        { waitWhenFull: true },
      );
      const masks = segmented.map((s) => s.segmentation.mask);

      const seg = run.clock.time('write', () =>
        writeLvSegmentation(
          usable.map((d, k) => ({ dataset: d.dataset, mask: masks[k], transferSyntaxUid: d.meta.transferSyntaxUid })),
          { ...uids, model: { version: modelVersion, architecture }, softwareVersion: this.softwareVersion },
        ),
      );

      await run.clock.timeAsync('store', () => this.storeInStudy(ref.studyInstanceUid, 'SEG', seg.bytes, uids));
      this.log.info({ event: 'pacs.seg_stored', jobId, modelVersion, sopInstanceUid: uids.sopInstanceUid, frames: seg.frames }, `stored SEG ${uids.sopInstanceUid} (${seg.frames} frames)`);

      const areas = segmented.map((s) => s.lvArea);
      const lvFunction = await this.reportLvFunction(usable, areas, seg, { ref, jobId, modelVersion, architecture, segUids: uids, srUids }, run.clock);
      this.state.markProcessed(ref.seriesInstanceUid, modelVersion);
      const timings = { ...pacsTimings(run.clock), totalMs: round(performance.now() - started) };

      const images: PacsImageResult[] = usable.map((d, k) => ({
        sopInstanceUid: d.sopInstanceUid,
        ...(d.meta.instanceNumber !== undefined ? { instanceNumber: d.meta.instanceNumber } : {}),
        lvArea: areas[k],
      }));
      images.sort((a, b) => (a.instanceNumber ?? 0) - (b.instanceNumber ?? 0));
      return {
        outcome: 'segmented',
        modelVersion,
        seg: { studyInstanceUid: ref.studyInstanceUid, seriesInstanceUid: uids.seriesInstanceUid, sopInstanceUid: uids.sopInstanceUid, frames: seg.frames, ...(seg.frameOfReferenceUid ? { frameOfReferenceUid: seg.frameOfReferenceUid } : {}), dimensions: seg.dimensions, lossyImageCompression: seg.lossyImageCompression },
        images,
        function: lvFunction,
        ...(skippedImages.length ? { skippedImages } : {}),
        ...(seg.warnings.length ? { warnings: seg.warnings } : {}),
        timings,
      };
    });
  }

  /**
   * Decodes every retrieved instance and keeps what the SEG and SR copy from it, read from the data set the decode
   * parsed (each instance is parsed once); one that does not decode is listed as skipped.
   */
  private async decodeSeries(run: PipelineRun, files: Buffer[], skippedImages: NonNullable<PacsJobResult['skippedImages']>): Promise<{ decoded: DecodedImage[]; decodeErrors: LvsegError[] }> {
    const decoded: DecodedImage[] = [];
    const decodeErrors: LvsegError[] = [];
    for (const bytes of files) {
      try {
        const decodedImage = await run.decodeUnchecked(bytes);
        const { image, meta } = decodedImage;
        decoded.push({ image, meta, dataset: run.clock.time('decode', () => writerSourceOf(decodedImage, bytes)), sopInstanceUid: meta.sopInstanceUid ?? '' });
      } catch (e) {
        if (!isLvsegError(e)) throw e;
        decodeErrors.push(e);
        skippedImages.push({ code: e.code, message: e.message });
      }
    }
    return { decoded, decodeErrors };
  }

  /**
   * EDV/ESV/SV/EF of the series from its masks' areas, written as an SR (TID 1500) and stored beside the SEG; or why
   * there is none (libs/lv-function's LV_* code, e.g. LV_SINGLE_PHASE), which is an answer, not a failure. Logs name
   * the SR's SOP Instance UID and the reason's code only.
   */
  private async reportLvFunction(
    usable: DecodedImage[],
    areas: Array<{ pixels: number; mm2: number | null }>,
    seg: WrittenSeg,
    ctx: { ref: SeriesRef; jobId: string; modelVersion: string; architecture: string; segUids: { seriesInstanceUid: string; sopInstanceUid: string }; srUids: { seriesInstanceUid: string; sopInstanceUid: string } },
    clock: StageClock,
  ): Promise<PacsLvFunctionResult> {
    const functionStart = performance.now();
    const fn = lvFunctionOfSeries(usable.map((d, k) => ({ sopInstanceUid: d.sopInstanceUid, meta: d.meta, area: areas[k] })));
    if ('reason' in fn) {
      clock.add('function', performance.now() - functionStart);
      this.metrics.lvFunctionReports.inc({ outcome: 'not_computed' });
      this.log.info({ event: 'pacs.lv_function_not_computed', jobId: ctx.jobId, code: fn.reason.code }, `no LV function for job ${ctx.jobId} (${fn.reason.code}): no SR written`);
      return { computed: false, reason: fn.reason };
    }
    const sr = writeLvFunctionSr(
      usable.map((d, k) => ({ dataset: d.dataset, area: areas[k], frame: fn.frames[k] })),
      {
        ...ctx.srUids,
        seg: { ...ctx.segUids, segmentNumber: LV_BLOOD_POOL_SEGMENT.number, frameSources: seg.frameSources },
        lvFunction: fn.lvFunction,
        model: { version: ctx.modelVersion, architecture: ctx.architecture },
        softwareVersion: this.softwareVersion,
      },
    );
    clock.add('function', performance.now() - functionStart);
    await clock.timeAsync('srStore', () => this.storeInStudy(ctx.ref.studyInstanceUid, 'SR', sr.bytes, ctx.srUids));
    this.metrics.lvFunctionReports.inc({ outcome: 'sr_stored' });
    this.log.info({ event: 'pacs.sr_stored', jobId: ctx.jobId, modelVersion: ctx.modelVersion, sopInstanceUid: ctx.srUids.sopInstanceUid, images: sr.imageGroups }, `stored SR ${ctx.srUids.sopInstanceUid}`);
    return { computed: true, ...sr.reported, sr: { ...ctx.srUids } };
  }

  /** STOW-RS of one object lvseg wrote; an ambiguous answer is settled by asking whether the study holds its series. */
  private async storeInStudy(studyInstanceUid: string, what: 'SEG' | 'SR', bytes: Buffer, uids: { seriesInstanceUid: string; sopInstanceUid: string }): Promise<void> {
    const stored = await this.pacs.store(studyInstanceUid, [bytes]);
    if (stored.stored.includes(uids.sopInstanceUid)) return;
    const failure = stored.failed[0]?.reason;
    // The store answer is ambiguous (e.g. a retry after a lost answer): the PACS may hold it anyway.
    if (!(await this.pacs.seriesExists(studyInstanceUid, uids.seriesInstanceUid))) {
      throw new LvsegError('unavailable', 'PACS_STORE_FAILED', `STOW-RS did not store the ${what}${failure !== undefined ? ` (failure reason 0x${failure.toString(16)})` : ''}`);
    }
  }

  /** Images the model can take, all of one size (a SEG has one Rows × Columns); the others are listed as skipped. */
  private usableImages(run: PipelineRun, decoded: DecodedImage[], skipped: NonNullable<PacsJobResult['skippedImages']>): DecodedImage[] {
    const fits = decoded.filter((d) => {
      const refusal = run.imageTooLarge(d.image);
      if (!refusal) return true;
      skipped.push({ sopInstanceUid: d.sopInstanceUid, code: refusal.code, message: `${d.image.columns}×${d.image.rows} is over LVSEG_MAX_IMAGE_SIDE (${run.maxImageSide})` });
      return false;
    });
    const bySize = new Map<string, DecodedImage[]>();
    for (const d of fits) {
      const key = `${d.image.rows}x${d.image.columns}`;
      bySize.set(key, [...(bySize.get(key) ?? []), d]);
    }
    if (bySize.size <= 1) return fits;
    // Keep the most common size: the others are usually scouts stored in the same series.
    const [keep] = [...bySize.entries()].sort((a, b) => b[1].length - a[1].length)[0];
    for (const [size, group] of bySize) {
      if (size === keep) continue;
      for (const d of group) skipped.push({ sopInstanceUid: d.sopInstanceUid, code: 'IMAGE_SIZE_DIFFERS', message: `${d.image.columns}×${d.image.rows} differs from the series' ${keep.replace('x', '×')}` });
    }
    return bySize.get(keep)!;
  }
}
