import { readCsvRecords } from './manifest';
import * as fs from 'fs';
import * as path from 'path';
import { PNG } from 'pngjs';
import { LvsegError, SeededRandom } from '@lvseg/common';
import { decodeDicom, decodeDicomImage, decodeDicomImageToNative, DicomErrorCode, DicomImage, readDicomMeta } from './dicom';
import { DicomWriteOptions, writeDicom } from './testing/dicom-writer';

const FIXTURES = path.join(__dirname, '..', 'test-fixtures');
const readFixture = (rel: string): Uint8Array => new Uint8Array(fs.readFileSync(path.join(FIXTURES, rel)));
const REAL = 'sunnybrook/SCD0000401/100.dcm';

/** Runs `decodeDicom` expecting an LvsegError of `kind` (and `code` when given); returns it. */
function expectDicomError(bytes: Uint8Array, kind: LvsegError['kind'], code?: string | string[]): LvsegError {
  let thrown: unknown;
  try {
    decodeDicom(bytes);
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(LvsegError);
  const err = thrown as LvsegError;
  expect({ kind: err.kind, code: err.code }).toEqual({ kind, code: Array.isArray(code) ? expect.stringMatching(new RegExp(`^(${code.join('|')})$`)) : code ?? expect.any(String) });
  return err;
}

/** Decodes, or returns the LvsegError; anything else thrown fails the test. */
function decodeOrError(bytes: Uint8Array): DicomImage | LvsegError {
  try {
    return decodeDicom(bytes);
  } catch (e) {
    if (!(e instanceof LvsegError)) throw new Error(`decodeDicom threw a non-LvsegError: ${String(e)}`);
    return e;
  }
}

/** Deterministic PRNG (mulberry32, the project's SeededRandom) so fuzz cases are reproducible. */
function prng(seed: number): () => number {
  const random = new SeededRandom(seed);
  return () => random.next();
}

function readPgm(bytes: Buffer): { width: number; height: number; pixels: Uint8Array } {
  const header = /^P5\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(bytes.subarray(0, 64).toString('latin1'));
  if (!header || header[3] !== '255') throw new Error('not an 8-bit binary PGM');
  const [width, height] = [Number(header[1]), Number(header[2])];
  return { width, height, pixels: new Uint8Array(bytes.subarray(header[0].length, header[0].length + width * height)) };
}

function minOf(a: ArrayLike<number>): number {
  let m = Infinity;
  for (let i = 0; i < a.length; i++) m = Math.min(m, a[i]);
  return m;
}
function maxOf(a: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < a.length; i++) m = Math.max(m, a[i]);
  return m;
}
const img = (rows: number, columns: number, f: (i: number) => number): number[] => Array.from({ length: rows * columns }, (_, i) => f(i));

describe('decodeDicom: real Sunnybrook files', () => {
  it('reads the image and the non-identifying metadata (expected values as printed by dcmdump)', () => {
    const { image, meta } = decodeDicom(readFixture(REAL));
    expect(image.rows).toBe(256);
    expect(image.columns).toBe(256);
    expect(image.data).toBeInstanceOf(Float32Array);
    expect(image.data.length).toBe(256 * 256);
    expect(image.pixelSpacingMm).toEqual([1.3672, 1.3672]);
    expect(meta).toEqual({
      transferSyntaxUid: '1.2.840.10008.1.2.1',
      sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
      sopInstanceUid: '2.16.124.113543.6006.99.2168816078229569375',
      studyInstanceUid: '2.16.124.113543.6006.99.06074982333824222391',
      seriesInstanceUid: '2.16.124.113543.6006.99.06078426290944001781',
      frameOfReferenceUid: '2.16.124.113543.6006.99.2160536919612619170',
      modality: 'MR',
      rows: 256,
      columns: 256,
      bitsAllocated: 16,
      bitsStored: 16,
      highBit: 15,
      pixelRepresentation: 1,
      photometricInterpretation: 'MONOCHROME2',
      rescaleSlope: 1,
      rescaleIntercept: 0,
      pixelSpacingMm: [1.3672, 1.3672],
      sliceThicknessMm: 8,
      spacingBetweenSlicesMm: 8,
      triggerTimeMs: 976,
      instanceNumber: 100,
      sliceLocation: -61.98104477,
      imagePositionPatient: [-62.7009, -221.903, 91.1184],
      imageOrientationPatient: [0.693252, 0.673689, 0.256017, 0.0220038, 0.335277, -0.941863],
      seriesDescription: undefined,
      numberOfFrames: 1,
      windowCenter: 319,
      windowWidth: 638,
    });
    // dcmdump reports SmallestImagePixelValue 0 and LargestImagePixelValue 638 for this frame.
    expect(minOf(image.data)).toBe(0);
    expect(maxOf(image.data)).toBe(638);
  });

  it('keeps patient name, id and birth date out of the metadata', () => {
    const { meta } = decodeDicom(readFixture(REAL));
    const json = JSON.stringify(meta);
    expect(json).not.toContain('SCD0000401'); // PatientName and PatientID of this file
    expect(json).not.toContain('00000000'); // PatientBirthDate
    expect(Object.keys(meta).some((k) => /^patient|birth|accession/i.test(k))).toBe(false);
  });

  const manifest = readCsvRecords(path.join(FIXTURES, 'sunnybrook', 'manifest.csv'));

  it.each(manifest.map((r) => [r.dicom, r.png_image]))('%s min-max scaled to 0..255 matches its PNG twin %s within rounding', (dicom, pngImage) => {
    const { image } = decodeDicom(readFixture(path.join('sunnybrook', dicom)));
    const png = PNG.sync.read(fs.readFileSync(path.join(FIXTURES, 'sunnybrook', pngImage)));
    expect([png.height, png.width]).toEqual([image.rows, image.columns]);
    const lo = minOf(image.data);
    const hi = maxOf(image.data);
    let maxDiff = 0;
    let exact = 0;
    for (let i = 0; i < image.data.length; i++) {
      const scaled = Math.round(((image.data[i] - lo) / (hi - lo)) * 255);
      const d = Math.abs(scaled - png.data[i * 4]);
      maxDiff = Math.max(maxDiff, d);
      if (d === 0) exact++;
    }
    // Over all 96 DICOMs of sunnybrook-dicom the largest difference is 1 grey level (the PNG exporter rounds differently).
    expect(maxDiff).toBeLessThanOrEqual(1);
    expect(exact / image.data.length).toBeGreaterThan(0.95);
  });

  it.each([
    ['implicit-le.dcm', '1.2.840.10008.1.2'],
    ['explicit-be.dcm', '1.2.840.10008.1.2.2'],
    ['deflated-le.dcm', '1.2.840.10008.1.2.1.99'],
  ])('dicom/%s (DCMTK re-encoding of the real file) decodes to identical pixels and metadata', (file, uid) => {
    const reference = decodeDicom(readFixture(REAL));
    const variant = decodeDicom(readFixture(path.join('dicom', file)));
    expect(variant.meta.transferSyntaxUid).toBe(uid);
    expect(variant.image.data).toEqual(reference.image.data);
    expect({ ...variant.meta, transferSyntaxUid: '' }).toEqual({ ...reference.meta, transferSyntaxUid: '' });
  });

  it('reads the same pixels from a Buffer, a copied Uint8Array and a view at a non-zero offset', () => {
    const buffer = fs.readFileSync(path.join(FIXTURES, REAL));
    const copy = new Uint8Array(buffer);
    const padded = new Uint8Array(copy.length + 7);
    padded.set(copy, 3);
    const view = padded.subarray(3, 3 + copy.length);
    const a = decodeDicom(buffer).image.data;
    expect(decodeDicom(copy).image.data).toEqual(a);
    expect(decodeDicom(view).image.data).toEqual(a);
  });
});

describe('decodeDicom: bits, sign, rescale and photometric (DCMTK-made variants)', () => {
  const small = decodeDicom(readFixture('dicom/small-64.dcm'));

  it('reads an unsigned BitsStored 10 image and its PixelSpacing', () => {
    expect(small.meta).toMatchObject({ rows: 64, columns: 64, bitsAllocated: 16, bitsStored: 10, highBit: 9, pixelRepresentation: 0 });
    expect(small.image.pixelSpacingMm).toEqual([5.4688, 5.4688]);
    expect(minOf(small.image.data)).toBeGreaterThanOrEqual(0);
    expect(maxOf(small.image.data)).toBeGreaterThanOrEqual(512); // so the signed variant below has negatives
    expect(maxOf(small.image.data)).toBeLessThan(1024);
  });

  it('sign-extends from BitsStored: the same words read as signed 10-bit', () => {
    const signed = decodeDicom(readFixture('dicom/signed10.dcm'));
    const expected = Float32Array.from(small.image.data, (v) => (v >= 512 ? v - 1024 : v));
    expect(signed.image.data).toEqual(expected);
    expect(minOf(signed.image.data)).toBeLessThan(0);
  });

  it('applies RescaleSlope and RescaleIntercept', () => {
    const rescaled = decodeDicom(readFixture('dicom/rescaled.dcm'));
    expect([rescaled.meta.rescaleSlope, rescaled.meta.rescaleIntercept]).toEqual([2.5, -1024]);
    expect(rescaled.image.data).toEqual(Float32Array.from(small.image.data, (v) => 2.5 * v - 1024));
  });

  it('inverts MONOCHROME1 so bright stays high: mirrored over the 10-bit stored range 0..1023', () => {
    const mono1 = decodeDicom(readFixture('dicom/monochrome1.dcm'));
    expect(mono1.meta.photometricInterpretation).toBe('MONOCHROME1');
    expect(mono1.image.data).toEqual(Float32Array.from(small.image.data, (v) => 1023 - v));
    expect(mono1.meta.windowCenter).toBe(1023 - 319);
    expect(mono1.meta.windowWidth).toBe(638);
  });

  it('reads 8-bit pixels as DCMTK renders them (dcm2pnm output)', () => {
    const gray8 = decodeDicom(readFixture('dicom/gray8.dcm'));
    const pgm = readPgm(fs.readFileSync(path.join(FIXTURES, 'dicom/gray8.pgm')));
    expect(gray8.meta.bitsAllocated).toBe(8);
    expect([gray8.image.rows, gray8.image.columns]).toEqual([pgm.height, pgm.width]);
    expect(gray8.image.data).toEqual(Float32Array.from(pgm.pixels));
    expect(new Set(pgm.pixels).size).toBeGreaterThan(50); // a real image, not a flat one
  });

  it('un-swaps 8-bit pixels stored in OW under Explicit VR Big Endian', () => {
    const be = decodeDicom(readFixture('dicom/gray8-be.dcm'));
    expect(be.meta.transferSyntaxUid).toBe('1.2.840.10008.1.2.2');
    expect(be.image.data).toEqual(decodeDicom(readFixture('dicom/gray8.dcm')).image.data);
  });
});

describe('decodeDicom: variants written by the test writer', () => {
  const base: DicomWriteOptions = { rows: 3, columns: 4 };
  const values = [-32768, -1000, -1, 0, 1, 2, 100, 1000, 32767, -5, 7, -20000];

  it.each(['explicit-le', 'implicit-le', 'explicit-be', 'deflated-le'] as const)('reads signed 16-bit with negative values (%s)', (encoding) => {
    const { image, meta } = decodeDicom(writeDicom({ ...base, encoding, pixels: values, pixelRepresentation: 1 }));
    expect(Array.from(image.data)).toEqual(values);
    expect(meta.pixelRepresentation).toBe(1);
  });

  it('reads the same words as unsigned when PixelRepresentation is 0', () => {
    const { image } = decodeDicom(writeDicom({ ...base, pixels: values, pixelRepresentation: 0 }));
    expect(Array.from(image.data)).toEqual(values.map((v) => (v < 0 ? v + 65536 : v)));
  });

  it('masks bits above BitsStored (unsigned 12-bit with junk in the top nibble)', () => {
    const stored = img(3, 4, (i) => i * 300);
    const junk = stored.map((v, i) => v + (i % 16) * 4096);
    const { image } = decodeDicom(writeDicom({ ...base, pixels: junk, bitsStored: 12 }));
    expect(Array.from(image.data)).toEqual(stored);
  });

  it('honours a HighBit above BitsStored-1 (12 bits stored in bits 2..13)', () => {
    const stored = [-2048, -1, 0, 1, 2047, 5, -7, 100, -100, 0, 3, 4];
    const words = stored.map((v) => (((v + 4096) % 4096) << 2) | 0b11); // junk in bits 0-1
    const { image } = decodeDicom(writeDicom({ ...base, pixels: words, bitsStored: 12, highBit: 13, pixelRepresentation: 1 }));
    expect(Array.from(image.data)).toEqual(stored);
  });

  it('reads signed 8-bit', () => {
    const v = [-128, -1, 0, 1, 127, -50, 50, 3, -3, 9, 10, 11];
    expect(Array.from(decodeDicom(writeDicom({ ...base, bitsAllocated: 8, pixels: v, pixelRepresentation: 1 })).image.data)).toEqual(v);
  });

  it('reads 8-bit images with an odd pixel count in every encoding', () => {
    const v = img(3, 3, (i) => i * 28);
    for (const encoding of ['explicit-le', 'implicit-le', 'explicit-be', 'deflated-le'] as const) {
      expect(Array.from(decodeDicom(writeDicom({ rows: 3, columns: 3, bitsAllocated: 8, pixels: v, encoding })).image.data)).toEqual(v);
    }
  });

  it('reads signed and unsigned 32-bit integers', () => {
    const v = [-2147483648, -1, 0, 1, 2147483647, 5, 6, 7, 8, 9, 10, 11];
    // Float32 keeps 24 significant bits: the extremes round exactly as storing those numbers in a Float32Array does.
    expect(decodeDicom(writeDicom({ ...base, bitsAllocated: 32, pixels: v, pixelRepresentation: 1 })).image.data).toEqual(Float32Array.from(v));
    const u = [0, 1, 4294967295, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    expect(decodeDicom(writeDicom({ ...base, bitsAllocated: 32, pixels: u })).image.data).toEqual(Float32Array.from(u));
  });

  it('reads Float Pixel Data (7FE0,0008)', () => {
    const v = [-1.5, 0, 0.25, 1e6, 3, 4, 5, 6, 7, 8, 9, 10];
    const { image, meta } = decodeDicom(writeDicom({ ...base, bitsAllocated: 32, floatPixels: true, pixels: v }));
    expect(Array.from(image.data)).toEqual(v);
    expect(meta.bitsAllocated).toBe(32);
  });

  it('applies rescale then MONOCHROME1 inversion for signed 16-bit: mirror over rescaled -32768..32767', () => {
    const v = [-100, 0, 100, 200, 1, 2, 3, 4, 5, 6, 7, 8];
    const { image, meta } = decodeDicom(
      writeDicom({ ...base, pixels: v, pixelRepresentation: 1, photometricInterpretation: 'MONOCHROME1', rescaleSlope: 2, rescaleIntercept: 10, windowCenter: 50 }),
    );
    const mirror = 2 * -32768 + 10 + (2 * 32767 + 10);
    expect(Array.from(image.data)).toEqual(v.map((s) => mirror - (2 * s + 10)));
    expect(meta.windowCenter).toBe(mirror - 50);
    // Bright stays high: the stored minimum (brightest in MONOCHROME1) is now the largest value.
    expect(image.data[0]).toBe(maxOf(image.data));
  });

  it('falls back to ImagerPixelSpacing and ignores an unusable PixelSpacing', () => {
    expect(decodeDicom(writeDicom({ ...base, imagerPixelSpacing: [0.7, 0.8] })).image.pixelSpacingMm).toEqual([0.7, 0.8]);
    expect(decodeDicom(writeDicom({ ...base, pixelSpacing: [0.5, 0.6], imagerPixelSpacing: [0.7, 0.8] })).image.pixelSpacingMm).toEqual([0.5, 0.6]);
    const bad = writeDicom({ ...base, elements: [{ tag: '00280030', vr: 'DS', value: 'abc\\1' }] });
    expect(decodeDicom(bad).image.pixelSpacingMm).toBeUndefined();
    expect(decodeDicom(writeDicom({ ...base, pixelSpacing: [0, 1] })).meta.pixelSpacingMm).toBeUndefined();
    expect(decodeDicom(writeDicom(base)).meta.pixelSpacingMm).toBeUndefined();
  });

  it('defaults what a minimal file leaves out', () => {
    const { meta } = decodeDicom(
      writeDicom({ ...base, omitTags: ['00280002', '00280004', '00280101', '00280102', '00280103', '00200013', '00080060'] }),
    );
    expect(meta).toMatchObject({ photometricInterpretation: 'MONOCHROME2', bitsStored: 16, highBit: 15, pixelRepresentation: 0, numberOfFrames: 1 });
    expect(meta.instanceNumber).toBeUndefined();
    expect(meta.modality).toBeUndefined();
    expect(meta.windowCenter).toBeUndefined();
  });
});

describe('decodeDicom: errors are typed, with stable codes', () => {
  const real = readFixture(REAL);
  const base: DicomWriteOptions = { rows: 4, columns: 4, pixels: img(4, 4, (i) => i) };

  it('refuses bytes that are not a DICOM Part 10 file', () => {
    const rand = prng(1);
    for (const n of [0, 1, 10, 131, 132, 133, 1000, 70000]) {
      const junk = Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
      expectDicomError(junk, 'invalid-input', DicomErrorCode.NotPart10);
    }
    const png = new Uint8Array(fs.readFileSync(path.join(FIXTURES, 'sunnybrook/png/labels/SC-HF-I-05-IM-0001-0100.png')));
    expectDicomError(png, 'invalid-input', DicomErrorCode.NotPart10);
    expectDicomError('DICM' as unknown as Uint8Array, 'invalid-input', DicomErrorCode.NotPart10);
    // Starts like a bare data set (group 0008) but is not one.
    expectDicomError(Uint8Array.from([0x08, 0x00, 0x16, 0x00, 0xff, 0xff, 0xff, 0x7f, ...new Array(40).fill(0)]), 'invalid-input', DicomErrorCode.NotPart10);
  });

  it.each(['explicit-le', 'implicit-le'] as const)('reads a bare %s data set (no preamble, DICM or meta header)', (encoding) => {
    const { image, meta } = decodeDicom(writeDicom({ ...base, encoding, part10: false }));
    expect(Array.from(image.data)).toEqual(base.pixels);
    expect(meta.transferSyntaxUid).toBe(encoding === 'implicit-le' ? '1.2.840.10008.1.2' : '1.2.840.10008.1.2.1');
  });

  it('refuses random bytes after a valid preamble and DICM prefix', () => {
    const rand = prng(2);
    for (let k = 0; k < 50; k++) {
      const junk = Uint8Array.from({ length: 132 + Math.floor(rand() * 4000) }, () => Math.floor(rand() * 256));
      junk.set([0x44, 0x49, 0x43, 0x4d], 128);
      expectDicomError(junk, 'invalid-input');
    }
  });

  const parseCodes = [DicomErrorCode.NotPart10, DicomErrorCode.Truncated, DicomErrorCode.ParseFailed, DicomErrorCode.NoTransferSyntax, DicomErrorCode.NoPixelData];

  it.each(['sunnybrook/SCD0000401/100.dcm', 'dicom/implicit-le.dcm', 'dicom/explicit-be.dcm', 'dicom/small-64.dcm'])(
    'refuses %s truncated at any of many offsets',
    (file) => {
      const bytes = readFixture(file);
      const offsets = new Set<number>([0, 100, 131, 132, 133, 140, 200, bytes.length - 1, bytes.length - 2, bytes.length - 1000]);
      for (let at = 132; at < 4000; at += 37) offsets.add(at);
      for (const at of offsets) expectDicomError(bytes.subarray(0, at), 'invalid-input', parseCodes);
      // Cut inside the pixel data: always reported as truncation.
      expectDicomError(bytes.subarray(0, bytes.length - 1000), 'invalid-input', DicomErrorCode.Truncated);
    },
  );

  it('refuses a truncated or corrupt deflated data set', () => {
    const deflated = readFixture('dicom/deflated-le.dcm');
    for (const at of [400, 1000, 30000, deflated.length - 10]) {
      expectDicomError(deflated.subarray(0, at), 'invalid-input', [DicomErrorCode.InflateFailed, ...parseCodes]);
    }
    const corrupt = deflated.slice();
    corrupt.fill(0xff, 400, 420);
    expectDicomError(corrupt, 'invalid-input', [DicomErrorCode.InflateFailed, ...parseCodes]);
  });

  it('refuses a deflated data set that inflates past the limit', () => {
    let thrown: unknown;
    try {
      decodeDicom(readFixture('dicom/deflated-le.dcm'), { maxInflatedBytes: 10000 });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toMatchObject({ kind: 'too-large', code: DicomErrorCode.InflatedTooLarge });
  });

  it('never throws anything but an LvsegError for flipped bytes (fuzz, seeded)', () => {
    const rand = prng(3);
    const sources = [real, readFixture('dicom/implicit-le.dcm'), readFixture('dicom/explicit-be.dcm'), readFixture('dicom/small-64.dcm')];
    let failures = 0;
    for (let k = 0; k < 400; k++) {
      const bytes = sources[k % sources.length].slice();
      const flips = 1 + Math.floor(rand() * 8);
      // Mostly in the header (before the pixel data), where a flip changes structure rather than a pixel value.
      const region = k % 4 === 3 ? bytes.length : Math.min(bytes.length, 3500);
      for (let f = 0; f < flips; f++) bytes[Math.floor(rand() * region)] ^= 1 << Math.floor(rand() * 8);
      const result = decodeOrError(bytes);
      if (result instanceof LvsegError) {
        failures++;
        expect(result.message).not.toMatch(/SCD0000|undefined/);
      }
    }
    expect(failures).toBeGreaterThan(0); // the fuzz does reach error paths
  });

  it('refuses a file without pixel data', () => {
    expectDicomError(writeDicom({ ...base, omitTags: ['7FE00010'] }), 'invalid-input', DicomErrorCode.NoPixelData);
  });

  it('refuses a file without a transfer syntax in its meta header', () => {
    expectDicomError(writeDicom({ ...base, omitTags: ['00020010'] }), 'invalid-input', DicomErrorCode.NoTransferSyntax);
  });

  it.each([
    ['Rows', '00280010'],
    ['Columns', '00280011'],
    ['BitsAllocated', '00280100'],
  ])('refuses a file without %s', (name, tag) => {
    const err = expectDicomError(writeDicom({ ...base, omitTags: [tag] }), 'invalid-input', DicomErrorCode.MissingAttribute);
    expect(err.message).toContain(name);
  });

  it.each<[string, DicomWriteOptions]>([
    ['Rows 0', { ...base, rows: 0, pixels: [] }],
    ['Columns 0', { ...base, columns: 0, pixels: [] }],
    ['BitsStored above BitsAllocated', { ...base, bitsStored: 17, highBit: 15 }],
    ['BitsStored 0', { ...base, bitsStored: 0, highBit: 0 }],
    ['HighBit beyond BitsAllocated', { ...base, bitsStored: 12, highBit: 16 }],
    ['HighBit below BitsStored-1', { ...base, bitsStored: 12, highBit: 10 }],
    ['PixelRepresentation 2', { ...base, pixelRepresentation: 2 }],
    ['RescaleSlope not a number', { ...base, elements: [{ tag: '00281053', vr: 'DS', value: 'abc' }] }],
    ['RescaleSlope 0', { ...base, rescaleSlope: 0 }],
    ['NumberOfFrames 0', { ...base, numberOfFrames: 0, pixels: [] }],
  ])('refuses inconsistent attributes: %s', (_, opts) => {
    expectDicomError(writeDicom(opts), 'invalid-input', DicomErrorCode.InvalidAttribute);
  });

  it('refuses pixel data shorter than Rows x Columns x BitsAllocated/8', () => {
    const err = expectDicomError(writeDicom({ ...base, pixelBytes: new Uint8Array(30) }), 'invalid-input', DicomErrorCode.PixelDataTooShort);
    expect(err.message).toContain('32');
    expectDicomError(writeDicom({ ...base, rows: 300, columns: 300, pixels: undefined, pixelBytes: new Uint8Array(64) }), 'invalid-input', DicomErrorCode.PixelDataTooShort);
  });

  it('refuses absurd image sizes before decoding', () => {
    expectDicomError(writeDicom({ ...base, rows: 60000, pixels: undefined, pixelBytes: new Uint8Array(32) }), 'too-large', DicomErrorCode.ImageTooLarge);
  });

  it('refuses encapsulated pixel data under a native transfer syntax', () => {
    expectDicomError(writeDicom({ ...base, encapsulated: true }), 'invalid-input', DicomErrorCode.InvalidPixelData);
  });

  it.each([
    ['dicom/jpeg-baseline.dcm', 'JPEG Baseline (1.2.840.10008.1.2.4.50)'],
    ['dicom/jpeg-lossless.dcm', 'JPEG Lossless SV1 (1.2.840.10008.1.2.4.70)'],
    ['dicom/jpeg-ls.dcm', 'JPEG-LS Lossless (1.2.840.10008.1.2.4.80)'],
    ['dicom/rle.dcm', 'RLE Lossless (1.2.840.10008.1.2.5)'],
  ])('the synchronous decodeDicom refuses the compressed DCMTK file %s, naming %s and decodeDicomImage', (file, name) => {
    const err = expectDicomError(readFixture(file), 'unsupported', DicomErrorCode.UnsupportedTransferSyntax);
    expect(err.message).toContain(name);
    expect(err.message).toContain('decodeDicomImage');
  });

  it.each([
    ['dicom/jpeg-lossless.dcm', 'dicom/small-64.dcm'],
    ['dicom/jpeg-ls.dcm', 'dicom/small-64.dcm'],
    ['dicom/rle.dcm', 'dicom/small-64.dcm'],
  ])('decodeDicomImage decodes the checked-in DCMTK file %s to exactly the pixels of %s', async (file, source) => {
    expect((await decodeDicomImage(readFixture(file))).image.data).toEqual(decodeDicom(readFixture(source)).image.data);
  });

  it.each([
    ['1.2.840.10008.1.2.4.90', 'JPEG 2000 Lossless (1.2.840.10008.1.2.4.90)'],
    ['1.2.840.10008.1.2.4.91', 'JPEG 2000 (1.2.840.10008.1.2.4.91)'],
    ['1.2.840.10008.1.2.4.201', 'High-Throughput JPEG 2000 Lossless'],
    ['1.2.840.10008.1.2.4.51', 'JPEG Extended'],
    ['1.2.3.4.5', '(1.2.3.4.5), not a known DICOM transfer syntax'],
    ['not a uid', '<not a valid UID>'],
  ])('the synchronous decodeDicom refuses transfer syntax %s (encapsulated pixel data)', (uid, name) => {
    const err = expectDicomError(writeDicom({ ...base, transferSyntaxUid: uid, encapsulated: true }), 'unsupported', DicomErrorCode.UnsupportedTransferSyntax);
    expect(err.message).toContain(name);
  });

  it('refuses multi-frame images', () => {
    const err = expectDicomError(writeDicom({ ...base, numberOfFrames: 3, pixels: img(4, 12, (i) => i) }), 'unsupported', DicomErrorCode.MultiFrame);
    expect(err.message).toContain('3');
  });

  it('refuses colour images', () => {
    expectDicomError(readFixture('dicom/rgb.dcm'), 'unsupported', DicomErrorCode.Color);
    expectDicomError(writeDicom({ ...base, bitsAllocated: 8, samplesPerPixel: 3, photometricInterpretation: 'YBR_FULL', pixels: img(4, 12, () => 1) }), 'unsupported', DicomErrorCode.Color);
    expectDicomError(writeDicom({ ...base, bitsAllocated: 8, photometricInterpretation: 'PALETTE COLOR', pixels: img(4, 4, () => 1) }), 'unsupported', DicomErrorCode.Color);
    expectDicomError(writeDicom({ ...base, photometricInterpretation: 'RGB' }), 'unsupported', DicomErrorCode.Color);
  });

  it('refuses an unknown photometric interpretation', () => {
    expectDicomError(writeDicom({ ...base, photometricInterpretation: 'MONOCHROME3' }), 'unsupported', DicomErrorCode.UnsupportedPhotometric);
  });

  it.each([1, 12, 24, 64])('refuses BitsAllocated %i for integer pixel data', (bits) => {
    expectDicomError(
      writeDicom({ ...base, bitsAllocated: bits, bitsStored: Math.min(bits, 12), highBit: Math.min(bits, 12) - 1, pixels: undefined, pixelBytes: new Uint8Array(128) }),
      'unsupported',
      DicomErrorCode.UnsupportedBitsAllocated,
    );
  });

  it('never puts patient name, id, birth date or accession number into an error', () => {
    const patient = { patientName: 'DOE^JANE^Q', patientId: 'PID-55512345', patientBirthDate: '19610704', accessionNumber: 'ACC-99887766' };
    const secrets = Object.values(patient);
    const broken: DicomWriteOptions[] = [
      { ...base, omitTags: ['7FE00010'] },
      { ...base, omitTags: ['00280010'] },
      { ...base, bitsStored: 20 },
      { ...base, transferSyntaxUid: '1.2.840.10008.1.2.4.50', encapsulated: true },
      { ...base, numberOfFrames: 2, pixels: img(4, 8, () => 0) },
      { ...base, photometricInterpretation: 'RGB' },
      { ...base, pixelBytes: new Uint8Array(2) },
      { ...base, rescaleSlope: 0 },
    ];
    const errors: LvsegError[] = [];
    for (const opts of broken) {
      for (const encoding of ['explicit-le', 'implicit-le'] as const) {
        const bytes = writeDicom({ ...opts, ...patient, encoding });
        errors.push(decodeOrError(bytes) as LvsegError);
        // Truncated just after the patient module, and with the patient values as the only text the parser meets.
        for (const cut of [400, 500, 600]) errors.push(decodeOrError(bytes.subarray(0, cut)) as LvsegError);
      }
    }
    for (const err of errors) {
      expect(err).toBeInstanceOf(LvsegError);
      const text = `${err.message} ${JSON.stringify(err.details ?? {})}`;
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
  });
});

describe('readDicomMeta: the header without the pixels', () => {
  const base = { rows: 3, columns: 4, bitsAllocated: 16 as const, bitsStored: 16, pixelRepresentation: 0 as const };

  it('gives the metadata decoding gives, for every fixture (native and compressed) and the real Sunnybrook file', async () => {
    const files = [REAL, ...fs.readdirSync(path.join(FIXTURES, 'dicom')).filter((f) => f.endsWith('.dcm') && f !== 'rgb.dcm').map((f) => `dicom/${f}`)];
    expect(files.length).toBe(14);
    for (const f of files) {
      const bytes = readFixture(f);
      expect({ f, meta: readDicomMeta(bytes) }).toEqual({ f, meta: (await decodeDicomImage(bytes)).meta });
    }
    // Compressed files are read without their codec: no frame is decoded.
    expect(readDicomMeta(readFixture('dicom/jpeg-ls.dcm')).transferSyntaxUid).toBe('1.2.840.10008.1.2.4.80');
  });

  it('mirrors a MONOCHROME1 window centre as decoding does: integer samples by the stored range, float samples by their values', () => {
    const int = writeDicom({ ...base, pixels: [-100, 0, 100, 200, 1, 2, 3, 4, 5, 6, 7, 8], pixelRepresentation: 1, photometricInterpretation: 'MONOCHROME1', rescaleSlope: 2, rescaleIntercept: 10, windowCenter: 50 });
    expect(readDicomMeta(int)).toEqual(decodeDicom(int).meta);
    expect(readDicomMeta(int).windowCenter).toBe(2 * -32768 + 10 + (2 * 32767 + 10) - 50);
    const float = writeDicom({ ...base, bitsAllocated: 32, floatPixels: true, pixels: [-1.5, 0, 0.25, 7, 3, 4, 5, 6, 7, 8, 9, 10], photometricInterpretation: 'MONOCHROME1', windowCenter: 2 });
    expect(readDicomMeta(float)).toEqual(decodeDicom(float).meta);
    expect(readDicomMeta(float).windowCenter).toBe(-1.5 + 10 - 2);
  });

  it('refuses what decoding refuses, with the same codes (bad header, no pixel data, short pixel data, colour)', () => {
    const cases: Uint8Array[] = [
      new Uint8Array(200),
      writeDicom({ ...base, pixels: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], omitTags: ['7FE00010'] }),
      writeDicom({ ...base, pixels: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], pixelBytes: new Uint8Array(6) }),
      readFixture('dicom/rgb.dcm'),
    ];
    for (const bytes of cases) {
      const a = decodeOrError(bytes);
      let b: unknown;
      try {
        b = readDicomMeta(bytes);
      } catch (e) {
        b = e;
      }
      expect(a).toBeInstanceOf(LvsegError);
      expect(b).toBeInstanceOf(LvsegError);
      expect((b as LvsegError).code).toBe((a as LvsegError).code);
    }
  });
});

describe('decodeDicomImageToNative', () => {
  it("gives a lossless file's decoded frame as the native pixel data it was compressed from (DCMTK's small-64.dcm)", async () => {
    const original = decodeDicom(readFixture('dicom/small-64.dcm'));
    const el = original.dataSet.elements.x7fe00010;
    const nativeBytes = Buffer.from(original.dataSet.byteArray.buffer, original.dataSet.byteArray.byteOffset + el.dataOffset, el.length);
    for (const f of ['jpeg-ls', 'jpeg-lossless', 'rle']) {
      const { decoded, nativePixelData } = await decodeDicomImageToNative(readFixture(`dicom/${f}.dcm`));
      expect({ f, same: Buffer.from(nativePixelData!).equals(nativeBytes) }).toEqual({ f, same: true });
      expect(Array.from(decoded.image.data)).toEqual(Array.from(original.image.data));
    }
  });

  it('decodes a native file as decodeDicomImage does, with no native copy to give', async () => {
    const bytes = readFixture(REAL);
    const { decoded, nativePixelData } = await decodeDicomImageToNative(bytes);
    expect(nativePixelData).toBeUndefined();
    expect(decoded.meta).toEqual((await decodeDicomImage(bytes)).meta);
  });
});
