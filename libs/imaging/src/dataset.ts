import { basename, extname } from 'node:path';
import { LvsegError, SeededRandom } from '@lvseg/common';
import { DataFolder, asDataFolder, fileDataFolder } from './data-folder';
import { DicomMeta, decodeDicom } from './dicom';
import { parseContour, rasterizeContour } from './contour';
import { FrameAcquisition, LabelledImage } from './image';
import { Manifest, ManifestRow, isDicomPath, readManifest } from './manifest';
import { decodePngGray, decodePngMask } from './png';

export interface DatasetSelection {
  /** Only rows of these splits (e.g. ['train']); all when omitted. */
  splits?: string[];
}

function readBytes(folder: DataFolder, rel: string): Buffer {
  const bytes = folder.read(rel);
  if (!bytes) throw new LvsegError('not-found', 'DATA_FILE_NOT_FOUND', `data file ${rel} listed in ${folder.location}/manifest.csv is missing`);
  return bytes;
}

function imageId(row: ManifestRow): string {
  return `${row.case}/${basename(row.image, extname(row.image))}`;
}

function acquisitionOf(meta: DicomMeta): FrameAcquisition {
  const { imagePositionPatient, imageOrientationPatient, sliceLocation, sliceThicknessMm, spacingBetweenSlicesMm, triggerTimeMs, instanceNumber } = meta;
  return { imagePositionPatient, imageOrientationPatient, sliceLocation, sliceThicknessMm, spacingBetweenSlicesMm, triggerTimeMs, instanceNumber };
}

/**
 * Load one manifest row: a PNG image + PNG label, a DICOM + PNG label (what `lvseg dataset import` writes), or a
 * DICOM + Sunnybrook contour rasterised to a mask. Files come from `folder` (default: the manifest's folder on disk).
 */
export function loadRow(manifest: Manifest, row: ManifestRow, folder: DataFolder = fileDataFolder(manifest.dir)): LabelledImage {
  const id = imageId(row);
  if (row.label) {
    const dicom = isDicomPath(row.image) ? decodeDicom(readBytes(folder, row.image)) : undefined;
    const image = dicom ? dicom.image : decodePngGray(readBytes(folder, row.image));
    const mask = decodePngMask(readBytes(folder, row.label));
    if (mask.rows !== image.rows || mask.columns !== image.columns) {
      throw new LvsegError('invalid-input', 'LABEL_SIZE_MISMATCH', `${id}: label is ${mask.columns}x${mask.rows}, image ${image.columns}x${image.rows}`);
    }
    return { id, case: row.case, split: row.split, image, mask, ...(dicom ? { acquisition: acquisitionOf(dicom.meta) } : {}) };
  }
  const { image, meta } = decodeDicom(readBytes(folder, row.image));
  const points = parseContour(readBytes(folder, row.contour as string).toString('utf8'));
  const mask = rasterizeContour(points, image.rows, image.columns);
  return { id, case: row.case, split: row.split, image, mask, acquisition: acquisitionOf(meta) };
}

/** Load a data set folder (with `manifest.csv`; a path on disk or any `DataFolder`) into memory, optionally only some splits. */
export function loadDataset(source: string | DataFolder, selection: DatasetSelection = {}): { manifest: Manifest; items: LabelledImage[] } {
  const folder = asDataFolder(source);
  const manifest = readManifest(folder);
  const rows = selection.splits ? manifest.rows.filter((r) => selection.splits!.includes(r.split)) : manifest.rows;
  return { manifest, items: rows.map((r) => loadRow(manifest, r, folder)) };
}

/** A seeded per-image split (the paper's protocol: shuffle all images, hold out a fraction). */
export function perImageSplit<T>(items: T[], holdoutFraction: number, seed: number): { fit: T[]; holdout: T[] } {
  const shuffled = new SeededRandom(seed).shuffle([...items]);
  const k = Math.round(items.length * holdoutFraction);
  return { holdout: shuffled.slice(0, k), fit: shuffled.slice(k) };
}
