import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NaturalDataset } from 'dcmjs';
import { isLvsegError, repoRoot } from '@lvseg/common';
import { DicomMeta, decodeDicom } from '@lvseg/imaging';
import { naturalizeDicom } from './dicom-seg-reader';
import { deterministicUid, lvFunctionSrUidsFor } from './uids';
import { readLvFunctionSr } from './lv-function-sr-reader';
import { LvFunctionSrImage, asciiText, reportLvFunction, writeLvFunctionSr } from './lv-function-sr-writer';
import { lvFunctionOfSeries } from './series-lv-function';
import { COMPREHENSIVE_SR_STORAGE, LV_MEASUREMENT_CODES, SR_CODES } from './sr-codes';

/** A real short-axis MR frame (Sunnybrook SCD0000401 frame 100), shipped as a fixture. */
const FIXTURE = join(repoRoot(), 'libs/imaging/test-fixtures/sunnybrook/SCD0000401/100.dcm');
const fixtureBytes = readFileSync(FIXTURE);
const base = naturalizeDicom(fixtureBytes);
const baseMeta = decodeDicom(fixtureBytes).meta;
const [sx, sy] = baseMeta.pixelSpacingMm!;

/**
 * A 3-slice × 2-phase cine stack built from the real frame: slices 8 mm apart along the slice normal, phase 0 at
 * TriggerTime 0 ms (ED, the larger LV) and phase 1 at 320 ms (ES); valid UIDs. Areas in mm² chosen so the answer is
 * known by hand: EDV = (1000 + 1200 + 800) mm² × 8 mm = 24 mL, ESV = (400 + 500 + 300) × 8 = 9.6 mL, SV = 14.4 mL,
 * EF = 14.4 / 24 = 60 %.
 */
const AREAS_MM2 = [
  [1000, 400],
  [1200, 500],
  [800, 300],
];
const iop = base.ImageOrientationPatient as number[];
const normal = [iop[1] * iop[5] - iop[2] * iop[4], iop[2] * iop[3] - iop[0] * iop[5], iop[0] * iop[4] - iop[1] * iop[3]];
const ipp = base.ImagePositionPatient as number[];

interface SpecImage {
  dataset: NaturalDataset;
  meta: DicomMeta;
  area: { pixels: number; mm2: number | null };
}

function stack(opts: { phases?: number; withSpacing?: boolean } = {}): SpecImage[] {
  const phases = opts.phases ?? 2;
  const out: SpecImage[] = [];
  for (let slice = 0; slice < 3; slice++) {
    for (let phase = 0; phase < phases; phase++) {
      const instance = slice * phases + phase + 1;
      const position = ipp.map((v, i) => Math.round((v + 8 * slice * normal[i]) * 1000) / 1000) as [number, number, number];
      const triggerTimeMs = phase * 320;
      const dataset: NaturalDataset = {
        ...base,
        StudyInstanceUID: deterministicUid('sr-spec-study'),
        SeriesInstanceUID: deterministicUid('sr-spec-series'),
        SOPInstanceUID: deterministicUid('sr-spec-sop', String(instance)),
        FrameOfReferenceUID: deterministicUid('sr-spec-for'),
        InstanceNumber: instance,
        ImagePositionPatient: position,
        TriggerTime: triggerTimeMs,
        PatientName: 'Spec^Patient',
        PatientID: 'SPEC-0001',
        PatientBirthDate: '19700101',
      };
      const mm2 = AREAS_MM2[slice][phase];
      const pixels = Math.round(mm2 / (sx * sy));
      out.push({
        dataset,
        meta: { ...baseMeta, sopInstanceUid: String(dataset.SOPInstanceUID), instanceNumber: instance, imagePositionPatient: position, triggerTimeMs },
        area: { pixels, mm2: opts.withSpacing === false ? null : mm2 },
      });
    }
  }
  return out;
}

const MODEL = { version: 'v-spec', architecture: 'unet-small' };
const srUids = lvFunctionSrUidsFor(deterministicUid('sr-spec-series'), MODEL.version);
const SEG = { seriesInstanceUid: deterministicUid('sr-spec-seg-series'), sopInstanceUid: deterministicUid('sr-spec-seg'), segmentNumber: 1 };

function writeFor(images: SpecImage[]) {
  const fn = lvFunctionOfSeries(images.map((im) => ({ sopInstanceUid: String(im.dataset.SOPInstanceUID), meta: im.meta, area: im.area })));
  if (!('lvFunction' in fn)) throw new Error(`no LV function: ${fn.reason.code}`);
  // The SEG's frame order (InstanceNumber), reversed here so frame numbers are not simply the list positions.
  const frameSources = images.map((im) => String(im.dataset.SOPInstanceUID)).reverse();
  const srImages: LvFunctionSrImage[] = images.map((im, k) => ({ dataset: im.dataset, area: im.area, frame: fn.frames[k] }));
  const written = writeLvFunctionSr(srImages, {
    ...srUids,
    seg: { ...SEG, frameSources },
    lvFunction: fn.lvFunction,
    model: MODEL,
    softwareVersion: '0.1.0',
    now: new Date('2024-05-06T07:08:09Z'),
  });
  return { fn: fn.lvFunction, frameSources, written };
}

describe('lvFunctionOfSeries', () => {
  it('places the images by their DICOM geometry and gives the hand-computed EDV/ESV/SV/EF', () => {
    const images = stack();
    const fn = lvFunctionOfSeries(images.map((im) => ({ sopInstanceUid: String(im.dataset.SOPInstanceUID), meta: im.meta, area: im.area })));
    if (!('lvFunction' in fn)) throw new Error(fn.reason.message);
    expect(fn.lvFunction.spacingSource).toBe('slice-positions');
    // (positions are stored to 0.001 mm, so the spacing is 8 mm to about 1e-5)
    expect(fn.lvFunction.spacingMm).toBeCloseTo(8, 3);
    expect(fn.lvFunction.edvMl).toBeCloseTo(24, 3);
    expect(fn.lvFunction.esvMl).toBeCloseTo(9.6, 3);
    expect(fn.lvFunction.svMl).toBeCloseTo(14.4, 3);
    expect(fn.lvFunction.ef).toBeCloseTo(0.6, 9);
    expect([fn.lvFunction.edPhase, fn.lvFunction.esPhase]).toEqual([0, 1]);
    expect(fn.frames.map((f) => [f.sliceIndex, f.phaseIndex])).toEqual([[0, 0], [0, 1], [1, 0], [1, 1], [2, 0], [2, 1]]);
  });

  it('says why there is no LV function for a single-phase series, instead of throwing', () => {
    const images = stack({ phases: 1 });
    const fn = lvFunctionOfSeries(images.map((im) => ({ sopInstanceUid: String(im.dataset.SOPInstanceUID), meta: im.meta, area: im.area })));
    expect(fn).toEqual({ reason: { code: 'LV_SINGLE_PHASE', message: expect.stringMatching(/single phase/) } });
  });
});

describe('writeLvFunctionSr', () => {
  it('writes a TID 1500 Comprehensive SR that dcmjs reads back with the same numbers and references', () => {
    const images = stack();
    const { fn, frameSources, written } = writeFor(images);
    expect(written.reported).toMatchObject({ edvMl: 24, esvMl: 9.6, svMl: 14.4, efPercent: 60, edPhase: 0, esPhase: 1, areaUnit: 'mm2', spacingMm: 8, spacingSource: 'slice-positions' });
    expect(written.reported).toEqual(reportLvFunction(fn));

    const back = readLvFunctionSr(written.bytes);
    expect(back).toMatchObject({
      sopClassUid: COMPREHENSIVE_SR_STORAGE,
      sopInstanceUid: srUids.sopInstanceUid,
      seriesInstanceUid: srUids.seriesInstanceUid,
      studyInstanceUid: images[0].dataset.StudyInstanceUID,
      modality: 'SR',
      templateId: '1500',
      title: SR_CODES.imagingMeasurementReport,
      procedureReported: SR_CODES.mriUnspecifiedBodyRegion,
    });
    expect(back.lvFunction).toMatchObject({ edvMl: 24, esvMl: 9.6, svMl: 14.4, efPercent: 60, segSopInstanceUid: SEG.sopInstanceUid });
    expect(back.lvFunction!.units).toEqual({
      [LV_MEASUREMENT_CODES.lvEdVolume.CodeValue]: 'ml',
      [LV_MEASUREMENT_CODES.lvEsVolume.CodeValue]: 'ml',
      [LV_MEASUREMENT_CODES.strokeVolume.CodeValue]: 'ml',
      [LV_MEASUREMENT_CODES.lvEjectionFractionByMr.CodeValue]: '%',
    });
    // The method, as text (ASCII), says disc summation and where the slice spacing came from.
    expect(back.lvFunction!.method).toMatch(/^Disc summation over a short-axis stack/);
    expect(back.lvFunction!.method).toMatch(/spacing from the median distance between neighbouring slice positions/);
    expect(back.lvFunction!.method).toBe(asciiText(fn.method));

    // One measurement group per image, by InstanceNumber: its area, its source image, its SEG frame.
    expect(back.images).toHaveLength(6);
    back.images.forEach((g, k) => {
      const im = images[k];
      expect(g.sourceSopInstanceUid).toBe(im.dataset.SOPInstanceUID);
      expect(g.sourceSopClassUid).toBe(im.dataset.SOPClassUID);
      expect(g.segSopInstanceUid).toBe(SEG.sopInstanceUid);
      expect(g.segFrameNumber).toBe(frameSources.indexOf(String(im.dataset.SOPInstanceUID)) + 1);
      expect(g.value).toBe(AREAS_MM2[Math.floor(k / 2)][k % 2]);
      expect(g.unit).toBe('mm2');
    });
    expect(back.images[0].trackingIdentifier).toBe('LV blood pool area, image 1 (slice 0, phase 0 = ED)');
    expect(back.images[1].trackingIdentifier).toBe('LV blood pool area, image 2 (slice 0, phase 1 = ES)');
    expect(back.evidence.current.sort()).toEqual(images.map((im) => String(im.dataset.SOPInstanceUID)).sort());
    expect(back.evidence.other).toEqual([SEG.sopInstanceUid]);

    // Patient and study copied from the sources, so the SR files beside them.
    const ds = naturalizeDicom(written.bytes);
    expect(ds.PatientID).toBe('SPEC-0001');
    expect(ds.PatientBirthDate).toBe('19700101');
    expect(ds.StudyInstanceUID).toBe(images[0].dataset.StudyInstanceUID);
    expect(ds.SeriesNumber).toBe(Number(base.SeriesNumber) + 2000);
    expect(ds.ContentDate).toBe('20240506');
    expect(ds.CompletionFlag).toBe('COMPLETE');
    expect(ds.VerificationFlag).toBe('UNVERIFIED');
  });

  it('reports EF alone (areas in pixels) when the images have no pixel spacing, and says why there are no volumes', () => {
    const images = stack({ withSpacing: false });
    const { written } = writeFor(images);
    // EF from the pixel sums (the areas above in whole pixels of the fixture's spacing): 60 % give or take the rounding.
    const sum = (phase: number) => images.filter((_, k) => k % 2 === phase).reduce((n, im) => n + im.area.pixels, 0);
    const efPercent = Math.round(((sum(0) - sum(1)) / sum(0)) * 10000) / 100;
    expect(efPercent).toBeCloseTo(60, 0);
    expect(written.reported).toMatchObject({ edvMl: null, esvMl: null, svMl: null, efPercent, areaUnit: 'px' });
    const back = readLvFunctionSr(written.bytes);
    expect(back.lvFunction).toMatchObject({ edvMl: null, esvMl: null, svMl: null, efPercent });
    expect(back.lvFunction!.units).toEqual({ [LV_MEASUREMENT_CODES.lvEjectionFractionByMr.CodeValue]: '%' });
    expect(back.lvFunction!.comments[0]).toMatch(/^No volumes: 6 frame\(s\) have no PixelSpacing/);
    expect(back.images.map((g) => [g.value, g.unit])).toEqual(images.map((im) => [im.area.pixels, '{pixels}']));
  });

  it('refuses inputs it cannot write correctly', () => {
    const images = stack();
    const { fn } = writeFor(images);
    const opts = { ...srUids, seg: { ...SEG, frameSources: images.map((im) => String(im.dataset.SOPInstanceUID)) }, lvFunction: fn, model: MODEL, softwareVersion: '0.1.0' };
    const codeOf = (f: () => unknown): string | undefined => {
      try {
        f();
        return undefined;
      } catch (e) {
        return isLvsegError(e) ? e.code : 'not an LvsegError';
      }
    };
    const srImage = (im: SpecImage): LvFunctionSrImage => ({ dataset: im.dataset, area: im.area });
    expect(codeOf(() => writeLvFunctionSr([], opts))).toBe('SR_NO_SOURCES');
    expect(codeOf(() => writeLvFunctionSr([srImage(images[0]), { ...srImage(images[1]), dataset: { ...images[1].dataset, SeriesInstanceUID: '1.2.3' } }], opts))).toBe('SR_MIXED_SERIES');
    expect(codeOf(() => writeLvFunctionSr(images.map(srImage), { ...opts, seg: { ...opts.seg, frameSources: [] } }))).toBe('SR_IMAGE_NOT_IN_SEG');
  });

  it('spells typography out in ASCII', () => {
    expect(asciiText('the phases’ lowest – Σ area (mm²) × 8 mm; SV = EDV − ESV')).toBe("the phases' lowest - sum of area (mm2) x 8 mm; SV = EDV - ESV");
    expect(asciiText('Ω')).toBe('?');
  });
});

// dicom3tools is installed by scripts/test.sh; without it the validity check is skipped with the reason (a failure under CI).
const dciodvfyMissing = spawnSync('dciodvfy', [], { stdio: 'ignore' }).error ? 'dciodvfy (dicom3tools) is not installed (apt-get install dicom3tools)' : undefined;
describe('the written SR under dciodvfy (dicom3tools) and dsrdump (dcmtk)', () => {
  if (dciodvfyMissing) {
    if (process.env.CI === 'true') it('needs dciodvfy under CI', () => expect(dciodvfyMissing).toBeUndefined());
    // eslint-disable-next-line no-console
    else console.warn(`skipping the dciodvfy check of the LV function SR: ${dciodvfyMissing}`);
  }
  (dciodvfyMissing ? it.skip : it)('is a valid Comprehensive SR: no error, and no warning but those about values copied from the source', () => {
    const { written } = writeFor(stack());
    const dir = mkdtempSync(join(tmpdir(), 'lvseg-sr-'));
    try {
      const file = join(dir, 'sr.dcm');
      writeFileSync(file, written.bytes);
      const out = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
      const text = `${out.stdout}${out.stderr}`;
      expect(text).toMatch(/^ComprehensiveSR$/m); // the IOD it recognised
      expect(text.split('\n').filter((l) => l.startsWith('Error'))).toEqual([]);
      // The fixture's Patient's Name (no ^) and empty Study ID are copied as they are.
      const warnings = text.split('\n').filter((l) => l.startsWith('Warning'));
      expect(warnings.filter((l) => !/Patient's Name|Study ID/.test(l))).toEqual([]);

      const dsrdump = spawnSync('dsrdump', [file], { encoding: 'utf8' });
      if (!dsrdump.error) {
        expect(dsrdump.status).toBe(0);
        expect(dsrdump.stderr.split('\n').filter((l) => /^E:/.test(l))).toEqual([]);
        expect(dsrdump.stdout).toContain('Comprehensive SR Document');
        expect(dsrdump.stdout).toContain('"Left ventricular ejection fraction by MR")="60" (%,UCUM,"Percent")');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
