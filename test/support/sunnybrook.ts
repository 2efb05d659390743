/** The real Sunnybrook DICOMs and expert contours (`../shared/data/sunnybrook-dicom`), for end-to-end tests. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataRoot } from '@lvseg/common';
import { readCsvRecords } from '@lvseg/imaging';

export const SUNNYBROOK_DICOM_DIR = join(dataRoot(), 'sunnybrook-dicom');
export const SUNNYBROOK_PNG_DIR = join(dataRoot(), 'sunnybrook-png');

export interface SunnybrookDicomCase {
  case: string;
  /** Path relative to the data folder, e.g. `SCD0000401/100.dcm`. */
  image: string;
  contour: string;
  split: string;
  originalId: string;
  instanceNumber: number;
}

/**
 * Why the data cannot be used, or undefined when it can. Under CI (`CI=true`) missing data is a failure, not a skip:
 * a suite skipped for it would pass having checked nothing.
 */
export function sunnybrookMissingReason(): string | undefined {
  const manifest = join(SUNNYBROOK_DICOM_DIR, 'manifest.csv');
  const reason = existsSync(manifest) ? undefined : `no ${manifest} (set LVSEG_DATA_DIR to the folder holding sunnybrook-dicom/)`;
  if (reason && process.env.CI === 'true') throw new Error(`this test needs the Sunnybrook DICOMs under CI: ${reason}`);
  return reason;
}

/** `describe`, or `describe.skip` with the reason printed when the data folder is missing. */
export function describeWithSunnybrook(name: string, fn: () => void): void {
  const reason = sunnybrookMissingReason();
  if (reason) {
    // eslint-disable-next-line no-console
    console.warn(`skipping "${name}": ${reason}`);
    describe.skip(name, fn);
  } else {
    describe(name, fn);
  }
}

export function sunnybrookCases(): SunnybrookDicomCase[] {
  return readCsvRecords(join(SUNNYBROOK_DICOM_DIR, 'manifest.csv')).map((v) => ({
    case: v.case,
    image: v.image,
    contour: v.contour,
    split: v.split,
    originalId: v.original_id,
    instanceNumber: Number(v.instance_number),
  }));
}

export function readDicom(c: SunnybrookDicomCase): Buffer {
  return readFileSync(join(SUNNYBROOK_DICOM_DIR, c.image));
}

export function readContour(c: SunnybrookDicomCase): string {
  return readFileSync(join(SUNNYBROOK_DICOM_DIR, c.contour), 'utf8');
}

/** The expert label PNG of the same frame in `sunnybrook-png` (e.g. SC-HF-I-5 frame 100 → SC-HF-I-05-IM-0001-0100.png), if present. */
export function pngTwinLabel(c: SunnybrookDicomCase): Buffer | undefined {
  const twinCase = c.originalId.replace(/-(\d)$/, '-0$1');
  const path = join(SUNNYBROOK_PNG_DIR, 'labels', `${twinCase}-IM-0001-${String(c.instanceNumber).padStart(4, '0')}.png`);
  return existsSync(path) ? readFileSync(path) : undefined;
}

/** The case the "done when" uses: SCD0000401/100.dcm. */
export function scd401frame100(): SunnybrookDicomCase {
  const c = sunnybrookCases().find((x) => x.image === 'SCD0000401/100.dcm');
  if (!c) throw new Error('SCD0000401/100.dcm is not in the manifest');
  return c;
}
