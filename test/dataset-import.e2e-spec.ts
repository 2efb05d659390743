/**
 * `lvseg dataset import` from a folder, on the real Sunnybrook DICOMs: lvseg's own SEGs come back as the masks lvseg
 * wrote; RT Structure Sets written by plastimatch from the expert masks come back as the same masks (Dice measured and
 * printed); bad input is skipped with each reason counted; no PatientID reaches the output; the folder is all or nothing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { NaturalDataset } from 'dcmjs';
import { naturalizeDicom } from '@lvseg/dicom';
import { isLvsegError } from '@lvseg/common';
import { BinaryMask, decodeDicom, decodeDicomImage, decodePngMask, loadDataset, readDicomMeta, readManifest } from '@lvseg/imaging';
import { ImportSummary, importDataset } from '../services/trainer/src/dataset-import/import-dataset';
import { folderSource } from '../services/trainer/src/dataset-import/folder-source';
import { caseIdFor } from '../services/trainer/src/dataset-import/pseudonym';
import { ExpertFrame, editDicom, expertFrames, lvsegSeg, phases, reviewedCopy } from './support/label-objects';
import { plastimatchMissingReason, plastimatchRtstruct } from './support/plastimatch';
import { describeWithSunnybrook, sunnybrookCases } from './support/sunnybrook';

const SECRET = 'test-site-secret-0123456789abcdef';
const PATIENTS = ['SCD0000101', 'SCD0000201', 'SCD0000301', 'SCD0000401', 'SCD0000501'];

function dice(a: BinaryMask, b: BinaryMask): number {
  let inter = 0;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < a.data.length; i++) {
    inter += a.data[i] & b.data[i];
    sa += a.data[i];
    sb += b.data[i];
  }
  return sa + sb === 0 ? 1 : (2 * inter) / (sa + sb);
}

/** SOP Instance UID → imported mask, read back through the manifest (as train/eval read it). */
function importedMasks(dir: string): Map<string, { mask: BinaryMask; case: string; split: string }> {
  const m = readManifest(dir);
  const out = new Map<string, { mask: BinaryMask; case: string; split: string }>();
  for (const r of m.rows) out.set(readDicomMeta(readFileSync(join(dir, r.image))).sopInstanceUid!, { mask: decodePngMask(readFileSync(join(dir, r.label!))), case: r.case, split: r.split });
  return out;
}

function allFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? allFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

function folderWith(root: string, name: string, files: Array<{ name: string; bytes?: Buffer; from?: string }>): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const f of files) {
    mkdirSync(join(dir, f.name, '..'), { recursive: true });
    if (f.from) copyFileSync(f.from, join(dir, f.name));
    else writeFileSync(join(dir, f.name), f.bytes!);
  }
  return dir;
}

const imageFiles = (frames: ExpertFrame[]) => frames.map((f) => ({ name: `images/${f.c.case}/${basename(f.path)}`, from: f.path }));

describeWithSunnybrook('lvseg dataset import from a folder (real Sunnybrook DICOMs)', () => {
  let root: string;
  let frames: Map<string, ExpertFrame[]>;
  const logs: string[] = [];
  const log = (l: string) => logs.push(l);

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'lvseg-import-'));
    frames = new Map(PATIENTS.map((p) => [p, expertFrames(p)]));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  function expectNoPatientIds(dir: string, summary: ImportSummary): void {
    const ids = [...new Set(sunnybrookCases().map((c) => c.case))];
    for (const f of allFiles(dir)) {
      const text = readFileSync(f).toString('latin1');
      for (const id of ids) expect({ file: basename(f), has: text.includes(id) }).toEqual({ file: basename(f), has: false });
    }
    for (const id of ids) {
      expect(JSON.stringify(summary)).not.toContain(id);
      expect(logs.join('\n')).not.toContain(id);
    }
  }

  it("lvseg's own SEGs imported back give exactly the masks lvseg wrote (with --include-lvseg-unreviewed), and are excluded by default", async () => {
    const all = PATIENTS.flatMap((p) => frames.get(p)!);
    const segs = PATIENTS.map((p, i) => ({ name: `seg/${i}.dcm`, bytes: lvsegSeg(frames.get(p)!) }));
    const src = folderWith(root, 'own-segs', [...imageFiles(all), ...segs]);

    const out = join(root, 'own-segs-imported');
    const summary = await importDataset(folderSource(src), { out, siteSecret: SECRET, includeLvsegUnreviewed: true, log });
    expect(summary).toMatchObject({ images: 96, cases: 5, labelObjects: { seg: 5, rtstruct: 0, used: 5 }, labelSources: { seg: 96, rtstruct: 0 } });
    expect(summary.skipped).toEqual({});
    const back = importedMasks(out);
    expect(back.size).toBe(96);
    let identical = 0;
    for (const f of all) {
      const got = back.get(f.sopInstanceUid)!;
      if (got && Buffer.compare(Buffer.from(got.mask.data), Buffer.from(f.mask.data)) === 0) identical++;
      expect(got.case).toBe(caseIdFor(f.c.case, SECRET));
    }
    expect(identical).toBe(96);
    // Split by patient: every image of a case in one split, both splits present.
    const splitOf = new Map<string, Set<string>>();
    for (const v of back.values()) splitOf.set(v.case, new Set([...(splitOf.get(v.case) ?? []), v.split]));
    expect([...splitOf.values()].every((s) => s.size === 1)).toBe(true);
    expect(new Set([...splitOf.values()].flatMap((s) => [...s]))).toEqual(new Set(['train', 'val']));
    // train/eval read the folder: DICOM images with their acquisition, PNG labels.
    const { manifest, items } = loadDataset(out);
    expect(manifest.kind).toBe('dicom-label');
    expect(items).toHaveLength(96);
    expect(items.every((i) => i.acquisition?.imagePositionPatient !== undefined && i.acquisition.triggerTimeMs !== undefined)).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'import.json'), 'utf8')).manifestSha256).toBe(manifest.sha256);
    expectNoPatientIds(out, summary);

    // The same import twice: the same folder byte for byte (deterministic ids, split and order).
    const again = join(root, 'own-segs-imported-again');
    await importDataset(folderSource(src), { out: again, siteSecret: SECRET, includeLvsegUnreviewed: true });
    expect(readFileSync(join(again, 'manifest.csv'), 'utf8')).toBe(readFileSync(join(out, 'manifest.csv'), 'utf8'));

    // By default lvseg's unreviewed SEGs are not expert labels: nothing to import, and no folder left behind.
    const none = join(root, 'own-segs-default');
    const err = await importDataset(folderSource(src), { out: none, siteSecret: SECRET }).catch((e) => e);
    expect(isLvsegError(err) && err.code).toBe('IMPORT_NOTHING');
    expect(String(err.message)).toContain('"lvseg-unreviewed":5');
    expect(existsSync(none)).toBe(false);
    expect(readdirSync(root).filter((n) => n.includes('.partial-'))).toEqual([]);
  });

  const gdcmMissing = spawnSync('gdcmconv', ['--version']).error ? 'gdcmconv not installed (apt-get install libgdcm-tools; scripts/test.sh does)' : undefined;
  if (gdcmMissing) console.warn(`skipping the compressed-source import: ${gdcmMissing}`);
  (gdcmMissing ? it.skip : it)('compressed source images (gdcmconv JPEG-LS, JPEG 2000, RLE, lossy JPEG-LS) import decompressed, with the same pixels, and train reads them', async () => {
    const p = frames.get('SCD0000301')!;
    const variants = [
      ['jpegls', ['--jpegls']],
      ['j2k', ['--j2k']],
      ['rle', ['--rle']],
      ['jpegls-near2', ['--jpegls', '--lossy', '-e', '2']],
    ] as const;
    // A lossy conversion is a new image: gdcmconv gives it a new SOP Instance UID, so the SEG is made from the files as stored.
    const stored = p.map((f, k) => {
      const [name, args] = variants[k % variants.length];
      const path = join(root, `gdcm-${k}.dcm`);
      execFileSync('gdcmconv', [...args, f.path, path], { stdio: ['ignore', 'ignore', 'pipe'] });
      const bytes = readFileSync(path);
      return { name: `images/${name}/${k}.dcm`, bytes, path, mask: f.mask, sop: readDicomMeta(bytes).sopInstanceUid! };
    });
    const src = folderWith(root, 'compressed', [...stored, { name: 'seg/0.dcm', bytes: lvsegSeg(stored) }]);
    const out = join(root, 'compressed-imported');
    const summary = await importDataset(folderSource(src), { out, siteSecret: SECRET, includeLvsegUnreviewed: true, log });
    expect(summary).toMatchObject({ images: p.length, cases: 1, labelSources: { seg: p.length, rtstruct: 0 } });
    expect(summary.skipped).toEqual({});
    const bySop = new Map(stored.map((f) => [f.sop, f]));
    const lossy: string[] = [];
    for (const r of readManifest(out).rows) {
      const copy = readFileSync(join(out, r.image));
      const got = decodeDicom(copy);
      const want = await decodeDicomImage(bySop.get(got.meta.sopInstanceUid!)!.bytes);
      expect(got.meta).toEqual({ ...want.meta, transferSyntaxUid: '1.2.840.10008.1.2.1' });
      expect(Buffer.from(got.image.data.buffer).equals(Buffer.from(want.image.data.buffer))).toBe(true);
      if (want.meta.transferSyntaxUid === '1.2.840.10008.1.2.4.81') lossy.push(String(naturalizeDicom(copy).LossyImageCompression));
    }
    expect(lossy).toEqual(['01', '01', '01', '01', '01']);
    expect(loadDataset(out).items).toHaveLength(p.length);
    const back = importedMasks(out);
    for (const f of stored) expect(Buffer.from(back.get(f.sop)!.mask.data).equals(Buffer.from(f.mask.data))).toBe(true);
    expectNoPatientIds(out, summary);
  });

  it('a reviewed SEG (a newer one from another author) is used, and supersedes lvseg’s own for the same images', async () => {
    const p = frames.get('SCD0000201')!;
    const own = lvsegSeg(p);
    // The expert's correction: drop the LV in the first frame (as a reviewer might) in a copy saved by a viewer.
    const corrected = lvsegSeg(p.map((f, i) => (i === 0 ? { ...f, mask: { ...f.mask, data: f.mask.data.map((v, k) => (k % 256 < 128 ? 0 : v)) } } : f)));
    const src = folderWith(root, 'reviewed', [...imageFiles(p), { name: 'a.dcm', bytes: own }, { name: 'b.dcm', bytes: reviewedCopy(corrected, '1') }]);
    const out = join(root, 'reviewed-imported');
    const summary = await importDataset(folderSource(src), { out, siteSecret: SECRET, includeLvsegUnreviewed: true });
    expect(summary.skipped['superseded-by-newer-label']).toBe(p.length);
    const back = importedMasks(out);
    const first = [...p].sort((a, b) => a.c.instanceNumber - b.c.instanceNumber)[0];
    expect(dice(back.get(first.sopInstanceUid)!.mask, first.mask)).toBeLessThan(1);
    expect(back.get(first.sopInstanceUid)!.mask.data.slice(0, 128).every((v) => v === 0)).toBe(true);
  });

  it('a FRACTIONAL SEG that references only the series is matched to its images by plane position (fractions below one half left out)', async () => {
    const all = frames.get('SCD0000301')!;
    const [ph0] = phases(all);
    /** An expert's fractional SEG over `fs`: 200/255 inside the expert mask, 100/255 on the ring around it; frames name no source image. */
    const fractional = (fs: ExpertFrame[], suffix: string, listInstances: boolean) =>
      editDicom(reviewedCopy(lvsegSeg(fs), suffix), (ds) => {
        const perFrame = ds.PerFrameFunctionalGroupsSequence as NaturalDataset[];
        // The frame's source (which lvseg's writer names) picks its mask; then the reference is removed.
        const order = perFrame.map((item) => {
          const source = ((item.DerivationImageSequence as NaturalDataset[])[0].SourceImageSequence as NaturalDataset[])[0].ReferencedSOPInstanceUID;
          delete item.DerivationImageSequence;
          const frame = fs.find((f) => f.sopInstanceUid === source)!;
          // Such a SEG places each frame by its plane position (lvseg's writer leaves positions out when, as on
          // Sunnybrook, every image has a Frame of Reference of its own).
          item.PlanePositionSequence = [{ ImagePositionPatient: decodeDicom(readFileSync(frame.path)).meta.imagePositionPatient }];
          return frame;
        });
        const pixels = new Uint8Array(order.length * 256 * 256);
        order.forEach((f, k) => {
          for (let i = 0; i < 256 * 256; i++) {
            const [r, c] = [Math.floor(i / 256), i % 256];
            const ring = !f.mask.data[i] && [[r - 1, c], [r + 1, c], [r, c - 1], [r, c + 1]].some(([y, x]) => f.mask.data[y * 256 + x] === 1);
            pixels[k * 256 * 256 + i] = f.mask.data[i] ? 200 : ring ? 100 : 0;
          }
        });
        Object.assign(ds, { BitsAllocated: 8, BitsStored: 8, HighBit: 7, SegmentationType: 'FRACTIONAL', SegmentationFractionalType: 'PROBABILITY', MaximumFractionalValue: 255, PixelData: [pixels.buffer] });
        ds._vrMap = { ...(ds._vrMap ?? {}), PixelData: 'OB' };
        delete ds.ReferencedSeriesSequence;
        const listed = listInstances ? fs.map((f) => ({ ReferencedSOPClassUID: '1.2.840.10008.5.1.4.1.1.4', ReferencedSOPInstanceUID: f.sopInstanceUid })) : [];
        ds.ReferencedSeriesSequence = [{ SeriesInstanceUID: naturalSeries(fs[0].path), ReferencedInstanceSequence: listed }];
      });
    const naturalSeries = (path: string) => decodeDicom(readFileSync(path)).meta.seriesInstanceUid!;

    // Only the series is referenced, and it holds one image per position.
    for (const [name, images, listInstances] of [['fractional', ph0, false], ['fractional-listed', all, true]] as const) {
      // With both cine phases present, the instances the SEG lists (Common Instance Reference) narrow the choice.
      const src = folderWith(root, name, [...imageFiles(images), { name: 'frac.dcm', bytes: fractional(ph0, '3', listInstances) }]);
      const out = join(root, `${name}-imported`);
      const summary = await importDataset(folderSource(src), { out, siteSecret: SECRET });
      expect(summary).toMatchObject({ images: ph0.length, labelSources: { seg: ph0.length, rtstruct: 0 } });
      expect(summary.skipped).toEqual({});
      const back = importedMasks(out);
      for (const f of ph0) expect(Buffer.compare(Buffer.from(back.get(f.sopInstanceUid)!.mask.data), Buffer.from(f.mask.data))).toBe(0);
    }

    // Over both cine phases with no instance list, each position holds two images: the frames are skipped, not guessed.
    const both = folderWith(root, 'fractional-cine', [...imageFiles(all), { name: 'frac.dcm', bytes: fractional(all, '4', false) }]);
    const err = await importDataset(folderSource(both), { out: join(root, 'fractional-cine-imported'), siteSecret: SECRET }).catch((e) => e);
    expect(isLvsegError(err) && err.code).toBe('IMPORT_NOTHING');
    expect(String(err.message)).toContain(`"frame-position-ambiguous":${all.length}`);
  });

  const describeRtstruct = plastimatchMissingReason() ? describe.skip : describe;
  if (plastimatchMissingReason()) console.warn(`skipping the RTSTRUCT round trip: ${plastimatchMissingReason()}`);
  describeRtstruct('RT Structure Sets written by plastimatch', () => {
    it('imported back give exactly the expert masks (pixel-centre rule; Dice measured over all 96 frames)', async () => {
      const all = PATIENTS.flatMap((p) => frames.get(p)!);
      const rtss = PATIENTS.flatMap((p) => phases(frames.get(p)!).map((ph, k) => ({ name: `rtss/${p}-${k}.dcm`, bytes: plastimatchRtstruct(ph, 'LV') })));
      const src = folderWith(root, 'rtss', [...imageFiles(all), ...rtss]);
      const out = join(root, 'rtss-imported');
      const summary = await importDataset(folderSource(src), { out, siteSecret: SECRET, log });
      expect(summary).toMatchObject({ images: 96, cases: 5, labelObjects: { seg: 0, rtstruct: 10, used: 10 }, labelSources: { seg: 0, rtstruct: 96 } });
      expect(summary.skipped).toEqual({});
      const back = importedMasks(out);
      const dices: number[] = [];
      let identical = 0;
      let missed = 0;
      let extra = 0;
      for (const f of all) {
        const got = back.get(f.sopInstanceUid)!.mask;
        dices.push(dice(got, f.mask));
        if (Buffer.compare(Buffer.from(got.data), Buffer.from(f.mask.data)) === 0) identical++;
        for (let i = 0; i < got.data.length; i++) {
          if (f.mask.data[i] && !got.data[i]) missed++;
          if (got.data[i] && !f.mask.data[i]) extra++;
        }
      }
      const min = Math.min(...dices);
      const mean = dices.reduce((a, b) => a + b, 0) / dices.length;
      // eslint-disable-next-line no-console
      console.log(`plastimatch RTSTRUCT → import vs expert masks: ${identical}/96 identical; Dice min ${min.toFixed(4)} mean ${mean.toFixed(4)}; expert pixels missed ${missed}, extra pixels ${extra}`);
      // plastimatch's polygons run along pixel edges, so the pixel-centre rule (DICOM RT) gives back exactly the pixels
      // the mask had. (The Sunnybrook rule, points' pixels and outline included, added a one-pixel ring on the right and
      // bottom sides: Dice min 0.9082, mean 0.9705.)
      expect(dices.every((d) => d >= 0.98)).toBe(true);
      expect({ identical, missed, extra }).toEqual({ identical: 96, missed: 0, extra: 0 });
      expectNoPatientIds(out, summary);
    });

    it('bad input is skipped with each reason counted; the good labels still import', async () => {
      const p = frames.get('SCD0000401')!;
      const [ph0] = phases(p);
      const missing = new Set([p[0].sopInstanceUid, p[1].sopInstanceUid]);
      // An expert SEG over all frames, but two of its source images are not in the folder.
      const expertSeg = reviewedCopy(lvsegSeg(p), '7');
      const rtss = plastimatchRtstruct(ph0, 'LV');
      // The same RTSTRUCT on another frame of reference.
      const otherFor = editDicom(rtss, (ds) => {
        ds.SOPInstanceUID = `${ds.SOPInstanceUID}.1`;
        for (const f of ds.ReferencedFrameOfReferenceSequence as NaturalDataset[]) f.FrameOfReferenceUID = '1.2.826.0.1.3680043.8.498.1';
        for (const r of ds.StructureSetROISequence as NaturalDataset[]) r.ReferencedFrameOfReferenceUID = '1.2.826.0.1.3680043.8.498.1';
      });
      // An LV ROI without a single contour.
      const emptyRoi = editDicom(rtss, (ds) => {
        ds.SOPInstanceUID = `${ds.SOPInstanceUID}.2`;
        for (const c of ds.ROIContourSequence as NaturalDataset[]) delete c.ContourSequence;
      });
      // A SEG over a CT series (the 401 images relabelled CT, with new UIDs).
      const ctFrames = p.slice(0, 3).map((f, i) => ({ ...f, name: `ct/${i}.dcm`, bytes: editDicom(readFileSync(f.path), (ds) => {
        ds.Modality = 'CT';
        ds.SeriesInstanceUID = `${ds.SeriesInstanceUID}.9`;
        ds.SOPInstanceUID = `${ds.SOPInstanceUID}.9`;
      }) }));
      const ctSeg = reviewedCopy(lvsegSeg(ctFrames.map((f, i) => { const path = join(root, `ct-${i}.dcm`); writeFileSync(path, f.bytes); return { path, mask: f.mask }; })), '8');
      const files = [
        ...imageFiles(p.filter((f) => !missing.has(f.sopInstanceUid))),
        ...ctFrames.map((f) => ({ name: f.name, bytes: f.bytes })),
        { name: 'labels/expert-seg.dcm', bytes: expertSeg },
        { name: 'labels/other-for.dcm', bytes: otherFor },
        { name: 'labels/empty-roi.dcm', bytes: emptyRoi },
        { name: 'labels/ct-seg.dcm', bytes: ctSeg },
        { name: 'labels/lvseg-own.dcm', bytes: lvsegSeg(p) },
        { name: 'labels/not-dicom.txt', bytes: Buffer.from('not a DICOM file') },
      ];
      const src = folderWith(root, 'bad', files);
      const out = join(root, 'bad-imported');
      const summary = await importDataset(folderSource(src), { out, siteSecret: SECRET });
      expect(summary.skipped).toEqual({
        'seg-frame-source-missing': 2,
        'rtstruct-other-frame-of-reference': 1,
        'empty-roi': 1,
        'non-mr-series': 1,
        'lvseg-unreviewed': 1,
      });
      expect(summary).toMatchObject({ images: p.length - 2, cases: 1, labelObjects: { seg: 3, rtstruct: 2, used: 1 } });
      const back = importedMasks(out);
      for (const f of p) {
        if (missing.has(f.sopInstanceUid)) expect(back.has(f.sopInstanceUid)).toBe(false);
        else expect(Buffer.compare(Buffer.from(back.get(f.sopInstanceUid)!.mask.data), Buffer.from(f.mask.data))).toBe(0);
      }
    });
  });

  it('never leaves a half-written folder: an existing --out is refused, a failing import removes its temp folder', async () => {
    const existing = join(root, 'exists');
    mkdirSync(existing);
    const err = await importDataset(folderSource(join(root, 'own-segs')), { out: existing, siteSecret: SECRET }).catch((e) => e);
    expect(isLvsegError(err) && err.code).toBe('IMPORT_OUT_EXISTS');
    expect(readdirSync(existing)).toEqual([]);
    const empty = folderWith(root, 'only-images', imageFiles(frames.get('SCD0000101')!.slice(0, 2)));
    const out = join(root, 'only-images-imported');
    const err2 = await importDataset(folderSource(empty), { out, siteSecret: SECRET }).catch((e) => e);
    expect(isLvsegError(err2) && err2.code).toBe('IMPORT_NOTHING');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(root).filter((n) => n.includes('.partial-'))).toEqual([]);
  });
});
