import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import type { NaturalDataset } from 'dcmjs';
import type { Logger } from 'pino';
import { LvsegError, isLvsegError, repoRoot } from '@lvseg/common';
import type { InferenceConfig } from '@lvseg/config';
import { BinaryMask, DicomMeta, GrayImage, decodeDicomImage, naturalizeDicom } from '@lvseg/imaging';
import { APP_LOGGER, INFERENCE_CONFIG } from '../../tokens';
import type { ModelHandle } from '../../models/model-handle';
import { ModelRegistry } from '../../models/model-registry.service';
import { SegmentService, lvAreaOf } from '../../segment/segment.service';
import type { PacsClient, SeriesRef } from '../client/pacs-client';
import type { PacsImageResult, PacsJobResult, PacsLvFunctionResult } from '../jobs/pacs-job';
import { PacsMetrics } from '../pacs-metrics';
import { PACS_CLIENT, PACS_STATE } from '../pacs.tokens';
import { LV_BLOOD_POOL_SEGMENT, WrittenSeg, writeLvSegmentation } from '../seg/dicom-seg-writer';
import { lvFunctionSrUidsFor, segUidsFor } from '../seg/uids';
import { writeLvFunctionSr } from '../sr/lv-function-sr-writer';
import { lvFunctionOfSeries } from '../sr/series-lv-function';
import type { PacsStateStore } from '../state/pacs-state-store';
import { sleep } from '../util/retry';
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

const ms = (from: number): number => Math.round((performance.now() - from) * 10) / 10;

function lvsegVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/**
 * The PACS pipeline for one series: (already done?) → WADO-RS retrieve → decode → MR short-axis check → segment on the
 * service's inference queue (shared with POST /segment, batched) → DICOM SEG → STOW-RS → LV function (EDV, ESV, SV,
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
    private readonly registry: ModelRegistry,
    private readonly segmentation: SegmentService,
    @Inject(INFERENCE_CONFIG) private readonly config: InferenceConfig,
    @Inject(APP_LOGGER) private readonly log: Logger,
    private readonly metrics: PacsMetrics,
  ) {}

  /** Segments the series and stores its SEG and LV function SR; throws LvsegErrors (transient ones are retried by the job runner). */
  async process(ref: SeriesRef, jobId: string): Promise<PacsJobResult> {
    const started = performance.now();
    const timings: Record<string, number> = {};
    const handle = await this.registry.acquire();
    try {
      const modelVersion = handle.version;
      if (this.state.isProcessed(ref.seriesInstanceUid, modelVersion)) {
        return { outcome: 'skipped', modelVersion, reason: { code: 'ALREADY_SEGMENTED', message: `lvseg already wrote a SEG for this series with model ${modelVersion}` } };
      }
      const uids = segUidsFor(ref.seriesInstanceUid, modelVersion);
      const srUids = lvFunctionSrUidsFor(ref.seriesInstanceUid, modelVersion);
      let mark = performance.now();
      // A SEG without its SR (a run stopped between the two stores, or a series without an LV function) is done
      // again: the SEG's store is idempotent, and the SR needs the masks.
      if ((await this.pacs.seriesExists(ref.studyInstanceUid, uids.seriesInstanceUid)) && (await this.pacs.seriesExists(ref.studyInstanceUid, srUids.seriesInstanceUid))) {
        this.state.markProcessed(ref.seriesInstanceUid, modelVersion);
        return { outcome: 'skipped', modelVersion, reason: { code: 'SEG_ALREADY_IN_PACS', message: `the study already holds lvseg's SEG and SR of this series for model ${modelVersion}` } };
      }
      timings.checkMs = ms(mark);

      mark = performance.now();
      const files = await this.pacs.retrieveSeries(ref);
      timings.retrieveMs = ms(mark);
      if (files.length === 0) return { outcome: 'skipped', modelVersion, reason: { code: 'SERIES_NOT_FOUND', message: 'the PACS returned no instance for the series' }, timings };

      mark = performance.now();
      const skippedImages: NonNullable<PacsJobResult['skippedImages']> = [];
      const decoded: DecodedImage[] = [];
      const decodeErrors: LvsegError[] = [];
      for (const bytes of files) {
        try {
          const { image, meta } = await decodeDicomImage(bytes);
          decoded.push({ image, meta, dataset: naturalizeDicom(bytes), sopInstanceUid: meta.sopInstanceUid ?? '' });
        } catch (e) {
          if (!isLvsegError(e)) throw e;
          decodeErrors.push(e);
          skippedImages.push({ code: e.code, message: e.message });
        }
      }
      timings.decodeMs = ms(mark);
      // Nothing decodes (e.g. a codec fails on every frame): that is a failure of this series, not a "not for lvseg".
      if (decoded.length === 0 && decodeErrors.length > 0) throw undecodableSeries(decodeErrors);
      // Non-image objects stored in the series (e.g. a report) are not images to check; they are listed as skipped.
      const reason = shortAxisSkipReason(decoded.map((d) => d.meta));
      if (reason) return { outcome: 'skipped', modelVersion, reason, ...(skippedImages.length ? { skippedImages } : {}), timings };

      const usable = this.usableImages(decoded, skippedImages);
      if (usable.length === 0) return { outcome: 'skipped', modelVersion, reason: { code: 'NO_USABLE_IMAGES', message: 'no image of the series can be segmented' }, skippedImages, timings };

      mark = performance.now();
      const masks = await this.segment(handle, usable.map((d) => d.image));
      timings.segmentMs = ms(mark);

      mark = performance.now();
      const seg = writeLvSegmentation(
        usable.map((d, k) => ({ dataset: d.dataset, mask: masks[k], transferSyntaxUid: d.meta.transferSyntaxUid })),
        { ...uids, model: { version: modelVersion, architecture: handle.architecture }, softwareVersion: this.softwareVersion },
      );
      timings.writeMs = ms(mark);

      mark = performance.now();
      await this.storeInStudy(ref.studyInstanceUid, 'SEG', seg.bytes, uids);
      timings.storeMs = ms(mark);
      this.log.info({ event: 'pacs.seg_stored', jobId, modelVersion, sopInstanceUid: uids.sopInstanceUid, frames: seg.frames }, `stored SEG ${uids.sopInstanceUid} (${seg.frames} frames)`);

      const areas = usable.map((d, k) => lvAreaOf(masks[k], d.image));
      const lvFunction = await this.reportLvFunction(usable, areas, seg, { ref, jobId, modelVersion, architecture: handle.architecture, segUids: uids, srUids }, timings);
      this.state.markProcessed(ref.seriesInstanceUid, modelVersion);
      timings.totalMs = ms(started);

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
    } finally {
      handle.release();
    }
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
    timings: Record<string, number>,
  ): Promise<PacsLvFunctionResult> {
    let mark = performance.now();
    const fn = lvFunctionOfSeries(usable.map((d, k) => ({ sopInstanceUid: d.sopInstanceUid, meta: d.meta, area: areas[k] })));
    if ('reason' in fn) {
      timings.functionMs = ms(mark);
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
    timings.functionMs = ms(mark);
    mark = performance.now();
    await this.storeInStudy(ctx.ref.studyInstanceUid, 'SR', sr.bytes, ctx.srUids);
    timings.srStoreMs = ms(mark);
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
  private usableImages(decoded: DecodedImage[], skipped: NonNullable<PacsJobResult['skippedImages']>): DecodedImage[] {
    const max = this.config.inference.maxImageSide;
    const fits = decoded.filter((d) => {
      if (d.image.rows <= max && d.image.columns <= max) return true;
      skipped.push({ sopInstanceUid: d.sopInstanceUid, code: 'IMAGE_TOO_LARGE', message: `${d.image.columns}×${d.image.rows} is over LVSEG_MAX_IMAGE_SIDE (${max})` });
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

  /**
   * Masks of the images, through the service's inference queue, segmented together as one series (a cascade then
   * places each ROI with the series' consensus LV position). A full queue (HTTP traffic) is waited out here rather
   * than failing the whole series.
   */
  private async segment(handle: ModelHandle, images: GrayImage[]): Promise<BinaryMask[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        const { value } = await this.segmentation.queue.run(handle, 'series', () => handle.engine.segment(images, { series: true }));
        return value.map((r) => r.mask);
      } catch (e) {
        if (!isLvsegError(e) || e.code !== 'QUEUE_FULL' || attempt >= 20) throw e;
        await sleep(Math.min(2000, 100 * attempt));
      }
    }
  }
}
