/**
 * decodeFrame and the compressed paths of decodeDicomImage / decodeDicomFrames, against files made in this run by real
 * tools (GDCM's gdcmconv, DCMTK's dcmcrle/dcmcjpeg/dcmcjpls/dcmconv) from the real Sunnybrook fixtures: lossless variants
 * must give exactly the original's pixels, lossy ones stay within a measured bound (12-bit JPEG also gives exactly what
 * DCMTK's own dcmdjpeg decodes), damaged ones are typed 4xx errors.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LvsegError } from '@lvseg/common';
import { decodeDicom, decodeDicomFrames, decodeDicomImage, DicomErrorCode, DicomImage } from '../dicom';
import { writeDicom } from '../testing/dicom-writer';
import { COMPRESSED_TRANSFER_SYNTAX as TS, decodeFrame, FrameLayout } from './decode-frame';
import { decodeRleFrame, RleError } from './rle';

const FIXTURES = join(__dirname, '..', '..', 'test-fixtures');
const fixture = (rel: string): Buffer => readFileSync(join(FIXTURES, rel));
/** 256 × 256, signed 16-bit (BitsStored 16), Explicit VR Little Endian. */
const REAL_401 = 'sunnybrook/SCD0000401/100.dcm';
const REAL_101 = 'sunnybrook/SCD0000101/48.dcm';
/** 64 × 64 unsigned, BitsStored 10 (dcmscale of REAL_401; see test-fixtures/dicom/README.md). */
const SMALL = 'dicom/small-64.dcm';
/** 8-bit unsigned MONOCHROME2 (the source of the 8-bit lossy JPEG variants). */
const GRAY8 = 'dicom/gray8.dcm';

const TOOLS = ['gdcmconv', 'dcmcrle', 'dcmcjpeg', 'dcmcjpls', 'dcmconv', 'dcmdjpeg'];
const missingTools = TOOLS.filter((t) => {
  const r = spawnSync(t, ['--version'], { stdio: 'ignore' });
  return r.error !== undefined;
});
const toolsReason = missingTools.length ? `${missingTools.join(', ')} not installed (Debian packages libgdcm-tools and dcmtk)` : undefined;

/** `describe`, or with the tools missing: skipped with the reason printed, and a failure under CI. */
function describeWithTools(name: string, fn: () => void): void {
  if (!toolsReason) return describe(name, fn);
  if (process.env.CI === 'true') {
    describe(name, () => it(`needs ${TOOLS.join(', ')} under CI`, () => expect(toolsReason).toBeUndefined()));
    return;
  }
  // eslint-disable-next-line no-console
  console.warn(`skipping "${name}": ${toolsReason}`);
  describe.skip(name, fn);
}

let workDir: string;
beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'lvseg-codecs-'));
});
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

let made = 0;
/** Runs `tool ...args <in> <out>` (gdcmconv and the DCMTK tools share that shape) and returns the output's bytes. */
function convert(tool: string, args: string[], input: Uint8Array): Buffer {
  const k = made++;
  const inPath = join(workDir, `in-${k}.dcm`);
  const outPath = join(workDir, `out-${k}.dcm`);
  writeFileSync(inPath, input);
  execFileSync(tool, [...args, inPath, outPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  return readFileSync(outPath);
}

function errorOf(e: unknown): LvsegError {
  expect(e).toBeInstanceOf(LvsegError);
  return e as LvsegError;
}

async function decodeError(bytes: Uint8Array, all = false): Promise<LvsegError> {
  try {
    await (all ? decodeDicomFrames(bytes) : decodeDicomImage(bytes));
  } catch (e) {
    return errorOf(e);
  }
  throw new Error('expected the decode to fail');
}

/** Exactly equal pixels (a byte comparison: jest's deep equality takes seconds on 65536-element typed arrays). */
function expectSamePixels(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  let first = -1;
  for (let i = 0; i < actual.length && first < 0; i++) if (!Object.is(actual[i], expected[i])) first = i;
  expect({ firstDifferentPixel: first, actual: actual[first], expected: expected[first] }).toEqual({ firstDifferentPixel: -1, actual: undefined, expected: undefined });
}

/** Max and mean absolute difference of two images' pixels (same size asserted). */
function difference(a: DicomImage, b: DicomImage): { max: number; mean: number } {
  expect([a.image.rows, a.image.columns]).toEqual([b.image.rows, b.image.columns]);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.image.data.length; i++) {
    const d = Math.abs(a.image.data[i] - b.image.data[i]);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.image.data.length };
}

const measured: string[] = [];
afterAll(() => {
  // The lossy variants' errors, for the README's table (stored units of the 16-bit, resp. 8-bit, source).
  // eslint-disable-next-line no-console
  if (measured.length) console.log(`lossy codecs, |decoded - original|:\n${measured.join('\n')}`);
});

describe('decodeRleFrame (PackBits per byte plane)', () => {
  /** An RLE frame: header with the segments' offsets, then the segments. */
  const rleFrame = (segments: number[][]): Uint8Array => {
    const header = new Uint8Array(64);
    const view = new DataView(header.buffer);
    view.setUint32(0, segments.length, true);
    let at = 64;
    segments.forEach((s, k) => {
      view.setUint32(4 + 4 * k, at, true);
      at += s.length;
    });
    return Uint8Array.from([...header, ...segments.flat()]);
  };

  it('decodes literal runs, replicate runs and the -128 no-op, most significant byte plane first', () => {
    // 4 pixels of 16 bits: high bytes [1, 1, 1, 2] (replicate 3 × 1, then literal 2), low bytes [9, 8, 7, 6] (no-op, literal).
    const frame = rleFrame([
      [0xfe, 1, 0x00, 2],
      [0x80, 0x03, 9, 8, 7, 6],
    ]);
    const out = decodeRleFrame(frame, 4, 2);
    expect(Array.from(new Uint16Array(out.buffer, out.byteOffset, 4))).toEqual([0x0109, 0x0108, 0x0107, 0x0206]);
  });

  it('refuses a header whose segment count or offsets do not fit the frame, and a segment that ends early', () => {
    expect(() => decodeRleFrame(rleFrame([[0x03, 1, 2, 3, 4]]), 4, 2)).toThrow(/declares 1 segments, expected 2/);
    const lying = rleFrame([[0x03, 1, 2, 3, 4], [0xfd, 0]]);
    new DataView(lying.buffer).setUint32(8, 5000, true);
    expect(() => decodeRleFrame(lying, 4, 2)).toThrow(RleError);
    expect(() => decodeRleFrame(rleFrame([[0x01, 1, 2], [0xfd, 0]]), 4, 2)).toThrow(/ends after 2 of 4 bytes/);
    expect(() => decodeRleFrame(new Uint8Array(10), 4, 2)).toThrow(/shorter than its 64-byte header/);
  });

  it('is reached through decodeFrame, whose failures are typed DICOM_CODEC_FAILED', async () => {
    const layout: FrameLayout = { rows: 2, columns: 2, bitsAllocated: 16, bitsStored: 16, pixelRepresentation: 0, samplesPerPixel: 1 };
    await expect(decodeFrame(rleFrame([[0x03, 1, 2, 3, 4]]), TS.rleLossless, layout)).rejects.toMatchObject({ kind: 'invalid-input', code: DicomErrorCode.CodecFailed });
    await expect(decodeFrame(new Uint8Array(0), TS.jpeg2000, layout)).rejects.toMatchObject({ code: DicomErrorCode.CodecFailed });
  });
});

describeWithTools('decodeDicomImage: compressed files made by gdcmconv and DCMTK in this run', () => {
  const sources: Record<string, Buffer> = { [REAL_401]: fixture(REAL_401), [REAL_101]: fixture(REAL_101), [SMALL]: fixture(SMALL), [GRAY8]: fixture(GRAY8) };
  const originals = new Map(Object.entries(sources).map(([k, v]) => [k, decodeDicom(v)]));

  // [tool and options, source, transfer syntax the tool writes]
  const lossless: Array<[string, string[], string, string, ('split into 4 KiB fragments' | '')?]> = (<Array<[string, string[], string, string, ('split into 4 KiB fragments' | '')?]>>[
    ['gdcmconv', ['--rle'], REAL_401, TS.rleLossless],
    ['gdcmconv', ['--rle'], REAL_101, TS.rleLossless],
    ['gdcmconv', ['--jpeg'], REAL_401, TS.jpegLosslessSv1],
    ['gdcmconv', ['--jpeg'], REAL_101, TS.jpegLosslessSv1],
    ['gdcmconv', ['--jpegls'], REAL_401, TS.jpegLsLossless],
    ['gdcmconv', ['--jpegls'], REAL_101, TS.jpegLsLossless],
    ['gdcmconv', ['--j2k'], REAL_401, TS.jpeg2000Lossless],
    ['gdcmconv', ['--j2k'], REAL_101, TS.jpeg2000Lossless],
    // Then split by gdcmconv -S into several fragments per frame: the fragments are joined before decoding.
    ['gdcmconv', ['--jpegls'], REAL_401, TS.jpegLsLossless, 'split into 4 KiB fragments'],
    ['gdcmconv', ['--j2k'], REAL_401, TS.jpeg2000Lossless, 'split into 4 KiB fragments'],
    ['gdcmconv', ['--rle'], REAL_101, TS.rleLossless, 'split into 4 KiB fragments'],
    ['dcmcrle', [], REAL_401, TS.rleLossless],
    ['dcmcrle', [], SMALL, TS.rleLossless],
    ['dcmcjpeg', [], REAL_401, TS.jpegLosslessSv1],
    ['dcmcjpeg', ['+el', '+sv', '3'], REAL_401, TS.jpegLossless],
    ['dcmcjpeg', ['+el', '+sv', '7'], REAL_101, TS.jpegLossless],
    ['dcmcjpeg', [], SMALL, TS.jpegLosslessSv1],
    ['dcmcjpls', [], REAL_401, TS.jpegLsLossless],
    ['dcmcjpls', [], SMALL, TS.jpegLsLossless],
    ['dcmcjpeg', ['+fs', '2'], REAL_401, TS.jpegLosslessSv1],
  ]).map(([tool, args, source, syntax, split]) => [tool, args, source, syntax, split ?? '']);

  // A rest parameter: jest-each takes a callback with more parameters than the row has values for one wanting `done`.
  it.each(lossless)('%s %j of %s (%s) %s gives exactly the original pixels', async (...row) => {
    const [tool, args, source, syntax, split] = row;
    const compressed = convert(tool, args, sources[source]);
    const bytes = split ? convert('gdcmconv', ['-S', '4096'], compressed) : compressed;
    if (split) expect(fragmentCount(bytes)).toBeGreaterThan(3);
    const decoded = await decodeDicomImage(bytes);
    expect(decoded.meta.transferSyntaxUid).toBe(syntax);
    const original = originals.get(source)!;
    expectSamePixels(decoded.image.data, original.image.data);
    expect({ ...decoded.meta, transferSyntaxUid: '' }).toEqual({ ...original.meta, transferSyntaxUid: '' });
  });

  // [tool and options, source, transfer syntax, bound on the max error, bound on the mean error]
  const lossy: Array<[string, string[], string, string, number, number]> = [
    // JPEG-LS near-lossless guarantees |error| <= NEAR: an independent check of the decoder.
    ['gdcmconv', ['--jpegls', '--lossy', '-e', '2'], REAL_401, TS.jpegLsNearLossless, 2, 2],
    ['gdcmconv', ['--jpegls', '--lossy', '-e', '5'], REAL_101, TS.jpegLsNearLossless, 5, 5],
    ['dcmcjpls', ['+en', '+md', '3'], SMALL, TS.jpegLsNearLossless, 3, 3],
    // Measured here (stored units; SCD0000401/100 spans 0..638, SCD0000101/48 0..950): -r 10 max 17 mean 2.4, -r 20 max 54 mean 4.4;
    // 8-bit JPEG: GDCM default max 1 mean 0.06, DCMTK +eb max 3 mean 0.07, +eb +q 50 max 29 mean 3.6.
    ['gdcmconv', ['--j2k', '--lossy', '-r', '10'], REAL_401, TS.jpeg2000, 40, 5],
    ['gdcmconv', ['--j2k', '--lossy', '-r', '20'], REAL_101, TS.jpeg2000, 100, 8],
    ['gdcmconv', ['--jpeg', '--lossy'], GRAY8, TS.jpegBaseline, 8, 1],
    ['dcmcjpeg', ['+eb'], GRAY8, TS.jpegBaseline, 8, 1],
    ['dcmcjpeg', ['+eb', '+q', '50'], GRAY8, TS.jpegBaseline, 40, 6],
    // JPEG Extended (process 2+4) of 8-bit data: an 8-bit SOF1 stream, which the 8-bit codec decodes.
    ['dcmcjpeg', ['+ee'], GRAY8, TS.jpegExtended, 8, 1],
    // JPEG Extended of the 16-bit images: a 12-bit SOF1 stream (DCMTK keeps the stored values, 0..638 and 0..950, and
    // writes BitsStored 12), decoded by dcmjs-codecs. Measured: max 19 mean 1.76, max 17 mean 1.40; +q 50: max 56 mean 4.04.
    ['dcmcjpeg', ['+ee'], REAL_401, TS.jpegExtended, 40, 3],
    ['dcmcjpeg', ['+ee'], REAL_101, TS.jpegExtended, 40, 3],
    ['dcmcjpeg', ['+ee', '+q', '50'], REAL_401, TS.jpegExtended, 120, 8],
  ];

  it.each(lossy)('%s %j of %s (%s) is within its bounds of the original', async (tool, args, source, syntax, maxBound, meanBound) => {
    const bytes = convert(tool, args, sources[source]);
    const decoded = await decodeDicomImage(bytes);
    expect(decoded.meta.transferSyntaxUid).toBe(syntax);
    const { max, mean } = difference(decoded, originals.get(source)!);
    measured.push(`  ${tool} ${args.join(' ')} of ${source}: max ${max}, mean ${mean.toFixed(3)}`);
    expect(max).toBeLessThanOrEqual(maxBound);
    expect(mean).toBeLessThanOrEqual(meanBound);
    // A real decode, not the original passed through: lossy codecs at these settings change some pixels.
    expect(mean).toBeGreaterThan(0);
  });

  it.each([REAL_401, REAL_101])('12-bit JPEG Extended (dcmcjpeg +ee) of %s decodes to exactly what DCMTK\'s dcmdjpeg makes of it', async (source) => {
    const bytes = convert('dcmcjpeg', ['+ee'], sources[source]);
    const stream = firstFragment(bytes);
    expect(Array.from(bytes.subarray(stream.at, stream.at + 2))).toEqual([0xff, 0xd8]);
    const decoded = await decodeDicomImage(bytes);
    expect(decoded.meta.transferSyntaxUid).toBe(TS.jpegExtended);
    // The reference: the same file decompressed by dcmdjpeg (IJG 12-bit, in C), read as a native file.
    expectSamePixels(decoded.image.data, decodeDicom(convert('dcmdjpeg', [], bytes)).image.data);
  });

  it('checks a 12-bit stream against the frame layout before decoding it (size, components, BitsAllocated)', async () => {
    const bytes = convert('dcmcjpeg', ['+ee'], sources[REAL_401]);
    const { at, length } = firstFragment(bytes);
    const stream = bytes.subarray(at, at + length);
    const layout: FrameLayout = { rows: 256, columns: 256, bitsAllocated: 16, bitsStored: 12, pixelRepresentation: 0, samplesPerPixel: 1 };
    expect((await decodeFrame(stream, TS.jpegExtended, layout)).length).toBe(256 * 256 * 2);
    for (const [wrong, message] of [
      [{ rows: 128 }, /is 256x256 pixels but Columns x Rows is 256x128/],
      [{ samplesPerPixel: 3 }, /has 1 components but SamplesPerPixel is 3/],
      [{ bitsAllocated: 8 }, /12-bit samples but BitsAllocated is 8/],
    ] as const) {
      await expect(decodeFrame(stream, TS.jpegExtended, { ...layout, ...wrong })).rejects.toMatchObject({ code: DicomErrorCode.CodecFailed, message: expect.stringMatching(message) });
    }
    // A stream the codec itself rejects (its Huffman table's code counts overwritten: more than 256 codes), then the good
    // stream again: the failed instance is dropped and a fresh one gives the same pixels.
    const before = await decodeFrame(stream, TS.jpegExtended, layout);
    const dht = lastIndexOf(stream, Uint8Array.from([0xff, 0xc4]));
    expect(dht).toBeGreaterThan(0);
    const bogus = Uint8Array.from(stream); // a copy (Buffer#slice would be a view)
    bogus.fill(0xff, dht + 5, dht + 5 + 16);
    await expect(decodeFrame(bogus, TS.jpegExtended, layout)).rejects.toMatchObject({ kind: 'invalid-input', code: DicomErrorCode.CodecFailed, message: expect.stringMatching(/dcmjs-codecs: .*Huffman/i) });
    expect(Buffer.from(await decodeFrame(stream, TS.jpegExtended, layout)).equals(Buffer.from(before))).toBe(true);
    // Concurrently: the frames queued behind the failing one wait for the fresh instance instead of failing with it.
    const together = await Promise.allSettled([bogus, stream, stream].map((f) => decodeFrame(f, TS.jpegExtended, layout)));
    expect(together.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    for (const r of together.slice(1)) expect(Buffer.from((r as PromiseFulfilledResult<Uint8Array>).value).equals(Buffer.from(before))).toBe(true);
  });

  it('refuses 16-bit lossy JPEG (not a standard DCT precision; GDCM writes it) with 415 DICOM_CODEC_UNAVAILABLE and what to do', async () => {
    const err = await decodeError(convert('gdcmconv', ['--jpeg', '--lossy'], sources[REAL_401]));
    expect({ kind: err.kind, code: err.code }).toEqual({ kind: 'unsupported', code: DicomErrorCode.CodecUnavailable });
    expect(err.message).toMatch(/16-bit lossy JPEG .*uncompressed or losslessly compressed/);
  });

  it('reads a bare data set without the Part 10 header (dcmconv --write-dataset), implicit and explicit VR', async () => {
    for (const vr of ['+ti', '+te']) {
      const bare = convert('dcmconv', ['-F', vr], sources[REAL_401]);
      expect(bare.subarray(128, 132).toString('latin1')).not.toBe('DICM');
      const decoded = await decodeDicomImage(bare);
      expectSamePixels(decoded.image.data, originals.get(REAL_401)!.image.data);
      expect(decoded.meta.sopInstanceUid).toBe(originals.get(REAL_401)!.meta.sopInstanceUid);
      expectSamePixels(decodeDicom(bare).image.data, originals.get(REAL_401)!.image.data);
    }
  });

  describe('multi-frame', () => {
    // Three frames (SCD0000401/100, SCD0000101/48, SCD0000401/100 mirrored left-right), written natively, then compressed.
    const a = originals.get(REAL_401)!;
    const b = originals.get(REAL_101)!;
    const mirrored = Float32Array.from(a.image.data, (_, i) => a.image.data[Math.floor(i / 256) * 256 + (255 - (i % 256))]);
    const frames = [a.image.data, b.image.data, mirrored];
    const native = writeDicom({
      rows: 256,
      columns: 256,
      bitsAllocated: 16,
      pixelRepresentation: 1,
      numberOfFrames: 3,
      pixels: frames.flatMap((f) => Array.from(f)),
    });

    it('the native source holds the three frames', async () => {
      expect(a.meta).toMatchObject({ rescaleSlope: 1, rescaleIntercept: 0 });
      const decoded = await decodeDicomFrames(native);
      expect(decoded).toHaveLength(3);
      decoded.forEach((d, k) => expectSamePixels(d.image.data, frames[k]));
    });

    it.each([
      ['gdcmconv', ['--rle']],
      ['gdcmconv', ['--jpegls']],
      ['gdcmconv', ['--j2k']],
      ['gdcmconv', ['--jpeg']],
      ['dcmcrle', []],
      ['dcmcjpeg', []],
      ['dcmcjpls', []],
      // No Basic Offset Table and several fragments per frame: frames found by their end-of-image markers.
      ['dcmcjpeg', ['-ot', '+fs', '4']],
      ['dcmcjpls', ['-ot', '+fs', '4']],
    ])('%s %j: every frame decodes to exactly the original', async (tool, args) => {
      const bytes = convert(tool, args as string[], native);
      const decoded = await decodeDicomFrames(bytes);
      expect(decoded).toHaveLength(3);
      decoded.forEach((d, k) => expectSamePixels(d.image.data, frames[k]));
      expect(decoded.every((d) => d.meta.numberOfFrames === 3)).toBe(true);
      // The single-image entry point says what to do instead of decoding frame 1 alone.
      const err = await decodeError(bytes);
      expect({ kind: err.kind, code: err.code }).toEqual({ kind: 'unsupported', code: DicomErrorCode.MultiFrame });
      expect(err.message).toMatch(/NumberOfFrames 3.*single-frame file/);
    });

    it('refuses a Basic Offset Table that lies (422 DICOM_INVALID_FRAGMENTS), and RLE fragments it cannot group', async () => {
      const bytes = new Uint8Array(convert('dcmcrle', [], native));
      const table = basicOffsetTable(bytes);
      expect(table.entries).toHaveLength(3);
      const lie = (patch: (view: DataView, at: number) => void): Uint8Array => {
        const copy = bytes.slice();
        patch(new DataView(copy.buffer), table.at);
        return copy;
      };
      for (const bad of [
        lie((v, at) => v.setUint32(at + 4, table.entries[1] + 2, true)), // frame 2 starts inside a fragment
        lie((v, at) => v.setUint32(at + 4, table.entries[2], true)), // frames 2 and 3 start at the same fragment
        lie((v, at) => v.setUint32(at, 8, true)), // frame 1 does not start at the first fragment
      ]) {
        const err = await decodeError(bad, true);
        expect({ kind: err.kind, code: err.code }).toEqual({ kind: 'invalid-input', code: DicomErrorCode.InvalidFragments });
      }
      // RLE split into several fragments per frame (non-standard): the offset table groups them; without it, refused.
      const grouped = await decodeDicomFrames(new Uint8Array(convert('dcmcrle', ['+fs', '16'], native)));
      expect(grouped).toHaveLength(3);
      grouped.forEach((d, k) => expectSamePixels(d.image.data, frames[k]));
      const ungroupable = await decodeError(new Uint8Array(convert('dcmcrle', ['-ot', '+fs', '16'], native)), true);
      expect({ code: ungroupable.code, message: ungroupable.message }).toEqual({ code: DicomErrorCode.InvalidFragments, message: expect.stringMatching(/no Basic Offset Table to group them/) });
      // A two-frame file claiming three frames (NumberOfFrames "2 " patched to "3 "), without an offset table.
      const twoFrames = new Uint8Array(
        convert('dcmcrle', ['-ot'], writeDicom({ rows: 256, columns: 256, bitsAllocated: 16, pixelRepresentation: 1, numberOfFrames: 2, pixels: [...frames[0], ...frames[1]] })),
      );
      const claimed = replaceOnce(twoFrames, '\x28\x00\x08\x00IS\x02\x002 ', '\x28\x00\x08\x00IS\x02\x003 ');
      const err = await decodeError(claimed, true);
      expect({ kind: err.kind, code: err.code }).toEqual({ kind: 'invalid-input', code: DicomErrorCode.InvalidFragments });
    });
  });

  describe('damaged streams are typed 4xx errors, never a crash or a hang, and leave the codecs usable', () => {
    const variants: Array<[string, string[]]> = [
      ['gdcmconv', ['--rle']],
      ['gdcmconv', ['--jpeg']],
      ['gdcmconv', ['--jpegls']],
      ['gdcmconv', ['--j2k']],
      ['dcmcjpeg', ['+eb']],
      ['dcmcjpeg', ['+ee']],
    ];

    it.each(variants)('%s %j: a fragment of garbage, a truncated stream and flipped bytes', async (tool, args) => {
      const source = args.includes('+eb') ? GRAY8 : REAL_401;
      const good = new Uint8Array(convert(tool, args, sources[source]));
      const before = await decodeDicomImage(good);
      const fragment = firstFragment(good);
      // The stream replaced by zeros (its length kept): no codec can read it.
      const zeros = good.slice();
      zeros.fill(0, fragment.at, fragment.at + fragment.length);
      const err = await decodeError(zeros);
      expect({ kind: err.kind, code: err.code }).toEqual({ kind: 'invalid-input', code: DicomErrorCode.CodecFailed });
      // Truncated at many places, and bytes flipped: a typed error or (codecs tolerate some damage) an image; never anything else.
      const outcomes = new Map<string, number>();
      const cuts = [fragment.at + 8, fragment.at + 100, fragment.at + Math.floor(fragment.length / 2), good.length - 10];
      const flips = [0.1, 0.3, 0.5, 0.9].map((f) => {
        const copy = good.slice();
        const at = fragment.at + Math.floor(fragment.length * f);
        for (let i = 0; i < 16; i++) copy[at + i] ^= 0x5a;
        return copy;
      });
      for (const bytes of [...cuts.map((c) => good.subarray(0, c)), ...flips]) {
        try {
          const d = await decodeDicomImage(bytes);
          expect(d.image.data).toHaveLength(d.image.rows * d.image.columns);
          outcomes.set('decoded', (outcomes.get('decoded') ?? 0) + 1);
        } catch (e) {
          const lv = errorOf(e);
          expect(['invalid-input', 'unsupported']).toContain(lv.kind);
          outcomes.set(lv.code, (outcomes.get(lv.code) ?? 0) + 1);
        }
      }
      expect([...outcomes.values()].reduce((n, c) => n + c, 0)).toBe(8);
      // The codec still decodes a good stream afterwards.
      expectSamePixels((await decodeDicomImage(good)).image.data, before.image.data);
    });
  });
});

describe('decodeFrame: HTJ2K (no Debian tool writes it: encoded here with the same package\'s encoder)', () => {
  it('round-trips the real image exactly through a reversible HTJ2K stream in an encapsulated DICOM', async () => {
    const original = decodeDicom(fixture(REAL_401));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const factory = require('@cornerstonejs/codec-openjph') as () => Promise<Record<string, new () => HtEncoder>>;
    const codec = await factory();
    const encoder = new codec.HTJ2KEncoder();
    const samples = Int16Array.from(original.image.data);
    const raw = new Uint8Array(samples.buffer);
    encoder.getDecodedBuffer({ width: 256, height: 256, bitsPerSample: 16, componentCount: 1, isSigned: true, isUsingColorTransform: false }).set(raw);
    encoder.setQuality(true, 0);
    encoder.encode();
    const stream = encoder.getEncodedBuffer().slice();
    encoder.delete();
    for (const syntax of [TS.htj2kLossless, TS.htj2k]) {
      const bytes = writeDicom({ rows: 256, columns: 256, bitsAllocated: 16, pixelRepresentation: 1, transferSyntaxUid: syntax, encapsulated: true, pixelBytes: stream });
      const decoded = await decodeDicomImage(bytes);
      expectSamePixels(decoded.image.data, original.image.data);
    }
    // And a damaged one is a typed error.
    const damaged = stream.slice(0, 40);
    const bytes = writeDicom({ rows: 256, columns: 256, bitsAllocated: 16, pixelRepresentation: 1, transferSyntaxUid: TS.htj2kLossless, encapsulated: true, pixelBytes: damaged });
    const err = await decodeError(bytes);
    expect(err.code).toBe(DicomErrorCode.CodecFailed);
  });
});

interface HtEncoder {
  getDecodedBuffer(info: { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned: boolean; isUsingColorTransform: boolean }): Uint8Array;
  setQuality(lossless: boolean, quantizationStep: number): void;
  encode(): void;
  getEncodedBuffer(): Uint8Array;
  delete(): void;
}

/** Where the pixel data's first item (the Basic Offset Table) starts in an Explicit VR LE file, and its entries. */
function basicOffsetTable(bytes: Uint8Array): { at: number; entries: number[] } {
  const tag = Uint8Array.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff]);
  const start = lastIndexOf(bytes, tag);
  if (start < 0) throw new Error('no encapsulated pixel data');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const length = view.getUint32(start + 16, true);
  const at = start + 20;
  return { at, entries: Array.from({ length: length / 4 }, (_, k) => view.getUint32(at + 4 * k, true)) };
}

/** Offset and length of the first fragment after the Basic Offset Table. */
function firstFragment(bytes: Uint8Array): { at: number; length: number } {
  const table = basicOffsetTable(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const item = table.at + 4 * table.entries.length;
  return { at: item + 8, length: view.getUint32(item + 4, true) };
}

/** Items after the Basic Offset Table in the encapsulated pixel data. */
function fragmentCount(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  let { at, length } = firstFragment(bytes);
  let n = 0;
  while (view.getUint32(at - 8, true) === 0xe000fffe) {
    n++;
    at += length + 8;
    length = view.getUint32(at - 4, true);
  }
  return n;
}

function lastIndexOf(bytes: Uint8Array, pattern: Uint8Array): number {
  outer: for (let i = bytes.length - pattern.length; i >= 0; i--) {
    for (let j = 0; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue outer;
    return i;
  }
  return -1;
}

function replaceOnce(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const pattern = Uint8Array.from(from, (c) => c.charCodeAt(0));
  const at = lastIndexOf(bytes, pattern);
  if (at < 0) throw new Error('pattern not found');
  const copy = bytes.slice();
  copy.set(Uint8Array.from(to, (c) => c.charCodeAt(0)), at);
  return copy;
}
