/**
 * RT Structure Sets made by a real third-party tool, Debian's plastimatch: a mask volume on the images' own grid
 * (MetaImage, geometry read back from plastimatch's conversion of the DICOM folder) turned into an RTSTRUCT that
 * references those images (`--referenced-ct`). An independent writer for the importer's RTSTRUCT path.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { naturalizeDicom } from '@lvseg/dicom';
import { BinaryMask, decodeDicom } from '@lvseg/imaging';
import { editDicom } from './label-objects';

/** Why plastimatch cannot be used, or undefined. Under CI (`CI=true`) a missing plastimatch is a failure. */
export function plastimatchMissingReason(): string | undefined {
  const r = spawnSync('plastimatch', ['--version'], { stdio: 'ignore' });
  const reason = r.error || r.status !== 0 ? 'plastimatch is not installed (apt-get install -y plastimatch)' : undefined;
  if (reason && process.env.CI === 'true') throw new Error(`the RTSTRUCT tests need plastimatch under CI: ${reason}`);
  return reason;
}

/**
 * An RTSTRUCT with one ROI `roiName` drawn by plastimatch from `masks` (one per image file; the images must be one
 * volume: one image per slice position, evenly spaced). Returns the RTSTRUCT's bytes.
 */
export function plastimatchRtstruct(images: Array<{ path: string; mask: BinaryMask }>, roiName: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'lvseg-plastimatch-'));
  try {
    const ct = join(dir, 'images');
    mkdirSync(ct);
    // plastimatch splits a folder into volumes by exact ImageOrientationPatient; SCD0000301's frames differ in the 6th
    // decimal (-0.307716 / -0.307715), so its copies get the first frame's orientation (a 1e-6 change).
    const orientation = naturalizeDicom(readFileSync(images[0].path)).ImageOrientationPatient;
    for (const i of images) writeFileSync(join(ct, basename(i.path)), editDicom(readFileSync(i.path), (ds) => (ds.ImageOrientationPatient = orientation)));
    const run = (args: string[]) => execFileSync('plastimatch', args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
    run(['convert', '--input', ct, '--output-img', join(dir, 'volume.mha')]);
    const volume = readFileSync(join(dir, 'volume.mha')).toString('latin1');
    const header = volume.slice(0, volume.indexOf('ElementDataFile'));
    const field = (name: string) => new RegExp(`^${name} = (.*)$`, 'm').exec(header)![1].trim().split(/\s+/).map(Number);
    const [offset, matrix, spacing, dims] = [field('Offset'), field('TransformMatrix'), field('ElementSpacing'), field('DimSize')];
    const normal = [matrix[6], matrix[7], matrix[8]];
    const data = Buffer.alloc(dims[0] * dims[1] * dims[2]);
    for (const i of images) {
      const { meta } = decodeDicom(readFileSync(i.path));
      const p = meta.imagePositionPatient!;
      const k = Math.round(((p[0] - offset[0]) * normal[0] + (p[1] - offset[1]) * normal[1] + (p[2] - offset[2]) * normal[2]) / spacing[2]);
      if (!(k >= 0 && k < dims[2]) || i.mask.columns !== dims[0] || i.mask.rows !== dims[1]) throw new Error(`${basename(i.path)} is not on plastimatch's volume grid`);
      data.set(i.mask.data, k * dims[0] * dims[1]);
    }
    writeFileSync(join(dir, 'mask.mha'), Buffer.concat([Buffer.from(`${header.replace('MET_FLOAT', 'MET_UCHAR').replace(/ElementType = \S+/, 'ElementType = MET_UCHAR')}ElementDataFile = LOCAL\n`, 'latin1'), data]));
    writeFileSync(join(dir, 'structures.txt'), `0|255 0 0|${roiName}\n`);
    run(['convert', '--input-ss-img', join(dir, 'mask.mha'), '--input-ss-list', join(dir, 'structures.txt'), '--referenced-ct', ct, '--output-dicom', join(dir, 'out')]);
    const rtss = readdirSync(join(dir, 'out')).find((f) => f.startsWith('rtss'));
    if (!rtss) throw new Error('plastimatch wrote no rtss file');
    return readFileSync(join(dir, 'out', rtss));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
