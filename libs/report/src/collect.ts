/**
 * One pass over a data set folder: every manifest row is loaded with libs/imaging's own loader (`loadRow`: PNG pair, or
 * DICOM + contour rasterised), measured, normalised with the one `normalize()` the model sees, and dropped, so memory
 * stays at one image whatever the data set's size.
 */
import { existsSync, statSync } from 'node:fs';
import { isLvsegError, LvsegError } from '@lvseg/common';
import { countLvPixels, LabelledImage, loadRow, Manifest, ManifestRow, normalize, readManifest } from '@lvseg/imaging';
import { assignCardiacPhases, CardiacPhase, frameFromPaths, UnknownPhaseReason } from '@lvseg/lv-function';
import { accumulateHistogram, accumulateSplitHistogram, BinSpec, lvAreaMm2 } from './stats';

/** Per-image numbers (everything the page shows is derived from these and the intensity histograms). */
export interface ImageRecord {
  id: string;
  case: string;
  split: string;
  /** Image path relative to the data folder, as in the manifest. */
  image: string;
  rows: number;
  columns: number;
  /** [row, column] mm per pixel; null when the file does not say (PNG). */
  pixelSpacingMm: [number, number] | null;
  totalPixels: number;
  lvPixels: number;
  lvFraction: number;
  lvAreaMm2: number | null;
  /** Cine frame number from the file name (`IM-0001-<NNNN>`); null when absent. */
  frame: number | null;
  /** 0-based slice index, (frame − 1) div phasesPerSlice. */
  slice: number | null;
  /** Cine phase numbered from 1 as the data READMEs do: ((frame − 1) mod phasesPerSlice) + 1. */
  cinePhase: number | null;
  cardiacPhase: CardiacPhase;
  phaseUnknownReason?: UnknownPhaseReason;
}

export interface CollectOptions {
  /** Cine phases per slice position (Sunnybrook: 20). */
  phasesPerSlice: number;
  /** Bins over [0, 1] of the normalised-intensity histograms. */
  intensityBins: number;
}

export const DEFAULT_COLLECT_OPTIONS: CollectOptions = { phasesPerSlice: 20, intensityBins: 50 };

export interface CollectedData {
  manifest: Manifest;
  records: ImageRecord[];
  intensitySpec: BinSpec;
  /** Pixel counts per normalised-intensity bin, per case (manifest order). */
  intensityByCase: Map<string, Float64Array>;
  /** Pixel counts per bin inside and outside the expert mask, all images pooled. */
  intensityInsideLv: Float64Array;
  intensityOutsideLv: Float64Array;
}

/** Throws a clear not-found error unless `dir` is an existing folder with a manifest.csv (then returns it read). */
export function openDataFolder(dir: string): Manifest {
  if (!existsSync(dir)) throw new LvsegError('not-found', 'DATA_DIR_NOT_FOUND', `data folder ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new LvsegError('invalid-input', 'DATA_DIR_NOT_A_FOLDER', `${dir} is not a folder`);
  const manifest = readManifest(dir);
  if (manifest.rows.length === 0) throw new LvsegError('invalid-input', 'MANIFEST_NO_ROWS', `manifest.csv in ${dir} lists no images`);
  return manifest;
}

/** `loadRow`, with the offending file named in the error (a decoder's message alone does not say which file). */
export function loadRowNamed(manifest: Manifest, row: ManifestRow): LabelledImage {
  try {
    return loadRow(manifest, row);
  } catch (e) {
    const files = [row.image, row.label ?? row.contour].join(' + ');
    if (isLvsegError(e)) throw new LvsegError(e.kind, e.code, e.message.includes(row.image) ? e.message : `${files}: ${e.message}`, e.details);
    throw new LvsegError('invalid-input', 'DATA_FILE_UNREADABLE', `${files}: ${(e as Error).message}`);
  }
}

/** Loads and measures every image of the data folder `dir`. */
export function collectDataset(dir: string, options: CollectOptions = DEFAULT_COLLECT_OPTIONS): CollectedData {
  const manifest = openDataFolder(dir);
  const intensitySpec: BinSpec = { bins: options.intensityBins, min: 0, max: 1 };
  const intensityByCase = new Map<string, Float64Array>();
  const intensityInsideLv = new Float64Array(intensitySpec.bins);
  const intensityOutsideLv = new Float64Array(intensitySpec.bins);
  const records: ImageRecord[] = [];
  for (const row of manifest.rows) {
    const item = loadRowNamed(manifest, row);
    const { image, mask } = item;
    const lvPixels = countLvPixels(mask);
    const totalPixels = image.rows * image.columns;
    const spacing = image.pixelSpacingMm ? ([image.pixelSpacingMm[0], image.pixelSpacingMm[1]] as [number, number]) : null;
    records.push({
      id: item.id,
      case: row.case,
      split: row.split,
      image: row.image,
      rows: image.rows,
      columns: image.columns,
      pixelSpacingMm: spacing,
      totalPixels,
      lvPixels,
      lvFraction: totalPixels > 0 ? lvPixels / totalPixels : 0,
      lvAreaMm2: lvAreaMm2(lvPixels, spacing),
      frame: frameFromPaths(row.image, row.label, row.contour),
      slice: null,
      cinePhase: null,
      cardiacPhase: 'unknown',
    });
    const input = normalize(image);
    let perCase = intensityByCase.get(row.case);
    if (!perCase) intensityByCase.set(row.case, (perCase = new Float64Array(intensitySpec.bins)));
    accumulateHistogram(input, intensitySpec, perCase);
    accumulateSplitHistogram(input, mask.data, intensitySpec, intensityInsideLv, intensityOutsideLv);
  }
  const phases = assignCardiacPhases(records, options.phasesPerSlice);
  phases.forEach((p, i) => {
    const r = records[i];
    r.slice = p.slice;
    r.cinePhase = p.phaseIndex === null ? null : p.phaseIndex + 1;
    r.cardiacPhase = p.phase;
    if (p.reason) r.phaseUnknownReason = p.reason;
  });
  return { manifest, records, intensitySpec, intensityByCase, intensityInsideLv, intensityOutsideLv };
}

/** Up to `n` records per split, spread over the range of LV fraction (smallest, …, median, …, largest). */
export function pickExamples(records: readonly ImageRecord[], n: number): ImageRecord[] {
  const splits = [...new Set(records.map((r) => r.split))];
  return splits.flatMap((split) => {
    const sorted = records.filter((r) => r.split === split).sort((a, b) => a.lvFraction - b.lvFraction || a.id.localeCompare(b.id));
    const m = Math.min(n, sorted.length);
    if (m <= 0) return [];
    if (m === 1) return [sorted[Math.floor((sorted.length - 1) / 2)]];
    const idx = new Set(Array.from({ length: m }, (_, k) => Math.round((k * (sorted.length - 1)) / (m - 1))));
    return [...idx].map((i) => sorted[i]);
  });
}
