import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NaturalDataset } from 'dcmjs';
import { isLvsegError, repoRoot } from '@lvseg/common';
import { BinaryMask, naturalizeDicom, readDicomSeg } from '@lvseg/imaging';
import { LV_BLOOD_POOL_SEGMENT, SEGMENTATION_STORAGE, packFrames, writeLvSegmentation } from './dicom-seg-writer';
import { deterministicUid, isDicomUid, segUidsFor } from './uids';

/** A real short-axis MR frame (Sunnybrook SCD0000401 frame 100), shipped as a fixture. */
const FIXTURE = join(repoRoot(), 'libs/imaging/test-fixtures/sunnybrook/SCD0000401/100.dcm');

/**
 * A 3-image "series" from the real frame: same pixels and geometry, positions 8 mm apart along the slice normal, and
 * valid UIDs (the Sunnybrook UIDs have leading zeros, which a validator rightly flags in anything that copies them).
 */
function series(opts: { sharedFrameOfReference?: boolean } = {}): NaturalDataset[] {
  const base = naturalizeDicom(readFileSync(FIXTURE));
  const iop = base.ImageOrientationPatient as number[];
  const normal = [iop[1] * iop[5] - iop[2] * iop[4], iop[2] * iop[3] - iop[0] * iop[5], iop[0] * iop[4] - iop[1] * iop[3]];
  const ipp = base.ImagePositionPatient as number[];
  return [3, 1, 2].map((k) => ({
    ...base,
    StudyInstanceUID: deterministicUid('spec-study'),
    SeriesInstanceUID: deterministicUid('spec-series'),
    SOPInstanceUID: deterministicUid('spec-sop', String(k)),
    FrameOfReferenceUID: deterministicUid('spec-for', opts.sharedFrameOfReference === false ? String(k) : ''),
    InstanceNumber: k,
    ImagePositionPatient: ipp.map((v, i) => Math.round((v + 8 * k * normal[i]) * 1000) / 1000),
    PatientName: 'Spec^Patient',
    PatientBirthDate: '19700101',
  }));
}

const mask = (seed: number): BinaryMask => ({ rows: 256, columns: 256, data: Uint8Array.from({ length: 256 * 256 }, (_, i) => ((i * 31 + seed * 7) % 11 < 3 ? 1 : 0)) });
const uids = segUidsFor(deterministicUid('spec-series'), 'v-spec');
const options = { ...uids, model: { version: 'v-spec', architecture: 'fcn-paper' }, softwareVersion: '0.1.0', now: new Date('2024-05-06T07:08:09Z') };

describe('writeLvSegmentation', () => {
  it('writes a binary SEG that dcmjs reads back: one frame per source (ordered by InstanceNumber), its mask, its reference, the coded segment', () => {
    const sources = series().map((dataset) => ({ dataset, mask: mask(Number(dataset.InstanceNumber)) }));
    const seg = writeLvSegmentation(sources, options);
    expect(seg.warnings).toEqual([]);
    expect(seg.frames).toBe(3);

    const back = readDicomSeg(seg.bytes);
    expect(back).toMatchObject({
      sopClassUid: SEGMENTATION_STORAGE,
      sopInstanceUid: uids.sopInstanceUid,
      seriesInstanceUid: uids.seriesInstanceUid,
      studyInstanceUid: sources[0].dataset.StudyInstanceUID,
      frameOfReferenceUid: sources[0].dataset.FrameOfReferenceUID,
      segmentationType: 'BINARY',
      rows: 256,
      columns: 256,
    });
    expect(back.segments).toEqual([
      {
        number: 1,
        label: 'Left ventricle blood pool',
        category: LV_BLOOD_POOL_SEGMENT.category,
        type: LV_BLOOD_POOL_SEGMENT.type,
        algorithmType: 'AUTOMATIC',
        algorithmName: 'lvseg fcn-paper v-spec',
      },
    ]);
    const byInstance = [...sources].sort((a, b) => Number(a.dataset.InstanceNumber) - Number(b.dataset.InstanceNumber));
    expect(back.frames.map((f) => f.referencedSopInstanceUid)).toEqual(byInstance.map((s) => s.dataset.SOPInstanceUID));
    expect(seg.frameSources).toEqual(byInstance.map((s) => s.dataset.SOPInstanceUID));
    back.frames.forEach((f, k) => {
      expect(f.referencedSegmentNumber).toBe(1);
      expect(Buffer.from(f.mask.data).equals(Buffer.from(byInstance[k].mask.data))).toBe(true);
      expect(f.imagePositionPatient).toEqual(byInstance[k].dataset.ImagePositionPatient);
    });
    expect(back.referencedSeries).toEqual([{ seriesInstanceUid: sources[0].dataset.SeriesInstanceUID, sopInstanceUids: byInstance.map((s) => s.dataset.SOPInstanceUID) }]);

    // Patient and study attributes copied, so the SEG files under the same patient and study.
    const ds = naturalizeDicom(seg.bytes);
    expect(ds.PatientID).toBe(sources[0].dataset.PatientID);
    expect(ds.Modality).toBe('SEG');
    expect(ds.ContentDate).toBe('20240506');
    expect(ds.ContentTime).toBe('070809');
    expect(isDicomUid(ds.SOPInstanceUID)).toBe(true);
  });

  it('passes dciodvfy (dicom3tools) without errors, or at least parses cleanly with dcmdump', () => {
    const seg = writeLvSegmentation(
      series().map((dataset) => ({ dataset, mask: mask(1) })),
      options,
    );
    const dir = mkdtempSync(join(tmpdir(), 'lvseg-seg-'));
    try {
      const file = join(dir, 'seg.dcm');
      writeFileSync(file, seg.bytes);
      const dciodvfy = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
      if (!dciodvfy.error) {
        const out = `${dciodvfy.stdout}${dciodvfy.stderr}`;
        expect(out).toMatch(/^Segmentation$/m); // the IOD it recognised
        expect(out.split('\n').filter((l) => l.startsWith('Error'))).toEqual([]);
        return;
      }
      const dcmdump = spawnSync('dcmdump', ['-E', file], { encoding: 'utf8' });
      if (dcmdump.error) {
        // eslint-disable-next-line no-console
        console.warn('neither dciodvfy (dicom3tools) nor dcmdump (dcmtk) is installed: SEG checked with dcmjs only');
        return;
      }
      expect(dcmdump.status).toBe(0);
      expect(dcmdump.stderr).toBe('');
      expect(dcmdump.stdout).toContain('SegmentationStorage');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uses the first frame’s Frame of Reference and says so when the sources have several (as the Sunnybrook series do)', () => {
    const sources = series({ sharedFrameOfReference: false }).map((dataset) => ({ dataset, mask: mask(2) }));
    const seg = writeLvSegmentation(sources, options);
    const first = sources.find((s) => s.dataset.InstanceNumber === 1)!;
    expect(seg.frameOfReferenceUid).toBe(first.dataset.FrameOfReferenceUID);
    expect(readDicomSeg(seg.bytes).frameOfReferenceUid).toBe(first.dataset.FrameOfReferenceUID);
    expect(seg.warnings.join(' ')).toMatch(/3 different Frame of Reference UIDs/);
  });

  it('refuses inputs it cannot write correctly', () => {
    const [a, b] = series();
    const codeOf = (fn: () => unknown): string | undefined => {
      try {
        fn();
        return undefined;
      } catch (e) {
        return isLvsegError(e) ? e.code : 'not an LvsegError';
      }
    };
    expect(codeOf(() => writeLvSegmentation([], options))).toBe('SEG_NO_SOURCES');
    expect(codeOf(() => writeLvSegmentation([{ dataset: a, mask: { rows: 128, columns: 128, data: new Uint8Array(128 * 128) } }], options))).toBe('SEG_MASK_SIZE');
    expect(codeOf(() => writeLvSegmentation([{ dataset: a, mask: mask(1) }, { dataset: { ...b, Rows: 128 }, mask: mask(1) }], options))).toBe('SEG_MIXED_SIZES');
    expect(codeOf(() => writeLvSegmentation([{ dataset: a, mask: mask(1) }, { dataset: { ...b, SeriesInstanceUID: '1.2.3' }, mask: mask(1) }], options))).toBe('SEG_MIXED_SERIES');
    expect(codeOf(() => writeLvSegmentation([{ dataset: a, mask: mask(1) }, { dataset: a, mask: mask(2) }], options))).toBe('SEG_DUPLICATE_SOURCE');
  });
});

describe('packFrames', () => {
  it('packs bits least significant first, frames back to back without padding, to an even length', () => {
    // Two 3×3 frames = 18 bits: frame 1 sets bits 0 and 8, frame 2 sets its first pixel (bit 9) and last (bit 17).
    const f1: BinaryMask = { rows: 3, columns: 3, data: Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 1]) };
    const f2: BinaryMask = { rows: 3, columns: 3, data: Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 1]) };
    expect([...new Uint8Array(packFrames([f1, f2]))]).toEqual([0b00000001, 0b00000011, 0b00000010, 0]);
  });
});
