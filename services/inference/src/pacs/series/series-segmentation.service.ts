import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import type { NaturalDataset } from 'dcmjs';
import type { Logger } from 'pino';
import { LvsegError, isLvsegError, repoRoot } from '@lvseg/common';
import type { InferenceConfig } from '@lvseg/config';
import { BinaryMask, DicomMeta, GrayImage, decodeDicom } from '@lvseg/imaging';
import { APP_LOGGER, INFERENCE_CONFIG } from '../../tokens';
import type { ModelHandle } from '../../models/model-handle';
import { ModelRegistry } from '../../models/model-registry.service';
import { SegmentService, lvAreaOf } from '../../segment/segment.service';
import type { PacsClient, SeriesRef } from '../client/pacs-client';
import type { PacsImageResult, PacsJobResult } from '../jobs/pacs-job';
import { PACS_CLIENT, PACS_STATE } from '../pacs.tokens';
import { naturalizeDicom } from '../seg/dicom-seg-reader';
import { writeLvSegmentation } from '../seg/dicom-seg-writer';
import { segUidsFor } from '../seg/uids';
import type { PacsStateStore } from '../state/pacs-state-store';
import { sleep } from '../util/retry';
import { shortAxisSkipReason } from './short-axis-check';

interface DecodedImage {
  image: GrayImage;
  meta: DicomMeta;
  dataset: NaturalDataset;
  sopInstanceUid: string;
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
 * service's inference queue (shared with POST /segment, batched) → DICOM SEG → STOW-RS → remember. Idempotent: the SEG's
 * UIDs derive from the series and model version, a series already processed (or whose SEG the PACS already holds) is
 * skipped, and a PACS keeps one copy of a SOP Instance stored twice.
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
  ) {}

  /** Segments the series and stores its SEG; throws LvsegErrors (transient ones are retried by the job runner). */
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
      let mark = performance.now();
      if (await this.pacs.seriesExists(ref.studyInstanceUid, uids.seriesInstanceUid)) {
        this.state.markProcessed(ref.seriesInstanceUid, modelVersion);
        return { outcome: 'skipped', modelVersion, reason: { code: 'SEG_ALREADY_IN_PACS', message: `the study already holds lvseg's SEG of this series for model ${modelVersion}` } };
      }
      timings.checkMs = ms(mark);

      mark = performance.now();
      const files = await this.pacs.retrieveSeries(ref);
      timings.retrieveMs = ms(mark);
      if (files.length === 0) return { outcome: 'skipped', modelVersion, reason: { code: 'SERIES_NOT_FOUND', message: 'the PACS returned no instance for the series' }, timings };

      mark = performance.now();
      const skippedImages: NonNullable<PacsJobResult['skippedImages']> = [];
      const decoded: DecodedImage[] = [];
      for (const bytes of files) {
        try {
          const { image, meta } = decodeDicom(bytes);
          decoded.push({ image, meta, dataset: naturalizeDicom(bytes), sopInstanceUid: meta.sopInstanceUid ?? '' });
        } catch (e) {
          if (!isLvsegError(e)) throw e;
          skippedImages.push({ code: e.code, message: e.message });
        }
      }
      timings.decodeMs = ms(mark);
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
        usable.map((d, k) => ({ dataset: d.dataset, mask: masks[k] })),
        { ...uids, model: { version: modelVersion, architecture: handle.architecture }, softwareVersion: this.softwareVersion },
      );
      timings.writeMs = ms(mark);

      mark = performance.now();
      const stored = await this.pacs.store(ref.studyInstanceUid, [seg.bytes]);
      timings.storeMs = ms(mark);
      if (!stored.stored.includes(uids.sopInstanceUid)) {
        const failure = stored.failed[0]?.reason;
        // The store answer is ambiguous (e.g. a retry after a lost answer): the PACS may hold it anyway.
        if (!(await this.pacs.seriesExists(ref.studyInstanceUid, uids.seriesInstanceUid))) {
          throw new LvsegError('unavailable', 'PACS_STORE_FAILED', `STOW-RS did not store the SEG${failure !== undefined ? ` (failure reason 0x${failure.toString(16)})` : ''}`);
        }
      }
      this.state.markProcessed(ref.seriesInstanceUid, modelVersion);
      timings.totalMs = ms(started);

      const images: PacsImageResult[] = usable.map((d, k) => ({
        sopInstanceUid: d.sopInstanceUid,
        ...(d.meta.instanceNumber !== undefined ? { instanceNumber: d.meta.instanceNumber } : {}),
        lvArea: lvAreaOf(masks[k], d.image),
      }));
      images.sort((a, b) => (a.instanceNumber ?? 0) - (b.instanceNumber ?? 0));
      this.log.info(
        { event: 'pacs.seg_stored', jobId, modelVersion, sopInstanceUid: uids.sopInstanceUid, frames: seg.frames, ms: timings.totalMs },
        `stored SEG ${uids.sopInstanceUid} (${seg.frames} frames)`,
      );
      return {
        outcome: 'segmented',
        modelVersion,
        seg: { studyInstanceUid: ref.studyInstanceUid, seriesInstanceUid: uids.seriesInstanceUid, sopInstanceUid: uids.sopInstanceUid, frames: seg.frames, frameOfReferenceUid: seg.frameOfReferenceUid },
        images,
        ...(skippedImages.length ? { skippedImages } : {}),
        ...(seg.warnings.length ? { warnings: seg.warnings } : {}),
        timings,
      };
    } finally {
      handle.release();
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
