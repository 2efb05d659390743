/**
 * No input reaches a 500: a corpus of broken and unusual requests against the real app (file store, real model,
 * real DICOMs). Variants are made by truncating and flipping bytes of a real file, re-writing it with tags dropped or
 * changed (the test DICOM writer), by DCMTK (transfer syntax conversions, compression, scaling, img2dcm), plus
 * non-DICOM bodies, wrong content types, bad options, bad labels and oversized bodies. Every answer must be 2xx, or
 * 4xx with `{ error: { code, message } }`; cases whose outcome is known are checked for status and code.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import request from 'supertest';
import { SeededRandom } from '@lvseg/common';
import { decodeDicom, encodeMaskPng } from '@lvseg/imaging';
import { initBackend } from '@lvseg/model';
import { openModelStore } from '@lvseg/model-store';
import { writeDicom } from '../libs/imaging/src/testing/dicom-writer';
import { dcmtk, dcmtkMissingReason } from './support/dcmtk';
import { resampledDicom, rewrittenDicom } from './support/dicom-variants';
import { startInferenceApp, RunningInferenceApp } from './support/inference-app';
import { publishSeededModel } from './support/models';
import { maskFromBase64Png } from './support/png';
import { describeWithSunnybrook, readContour, readDicom, scd401frame100 } from './support/sunnybrook';

type Body = { kind: 'raw'; contentType?: string; bytes: Buffer; headers?: Record<string, string> } | { kind: 'multipart'; parts: Array<{ field: string; bytes: Buffer; filename: string }> };

interface Case {
  name: string;
  body: () => Body;
  query?: string;
  /** Exact status (and code) when the outcome is known; otherwise any 2xx or 4xx. */
  status?: number;
  code?: string;
  /** A substring the error message must contain. */
  message?: string | RegExp;
}

const MAX_BODY_MB = 4;

describeWithSunnybrook('bad input never reaches a 500', () => {
  let app: RunningInferenceApp;
  let real: Buffer;
  const seen: Array<{ name: string; status: number; code?: string }> = [];

  beforeAll(async () => {
    await initBackend();
    const store = openModelStore(`file://${mkdtempSync(join(tmpdir(), 'lvseg-bad-input-'))}`);
    const card = await publishSeededModel(store, { seed: 21 });
    await store.setAlias('production', card.version);
    app = await startInferenceApp(store, { LVSEG_MAX_BODY_MB: String(MAX_BODY_MB) });
    real = readDicom(scd401frame100());
  });

  afterAll(async () => {
    // The corpus at a glance (status and code of every case), for whoever reads the run.
    // eslint-disable-next-line no-console
    console.log(`bad-input corpus: ${seen.length} requests\n${seen.map((s) => `${String(s.status).padEnd(4)}${(s.code ?? '').padEnd(36)}${s.name}`).join('\n')}`);
    await app?.close();
  });

  async function send(c: Case): Promise<request.Response> {
    const b = c.body();
    const url = `/segment${c.query ?? ''}`;
    let req = request(app.url).post(url);
    if (b.kind === 'raw') {
      if (b.contentType) req = req.set('Content-Type', b.contentType);
      for (const [k, v] of Object.entries(b.headers ?? {})) req = req.set(k, v);
      return req.send(b.bytes);
    }
    for (const p of b.parts) req = req.attach(p.field, p.bytes, p.filename);
    return req;
  }

  async function check(c: Case): Promise<request.Response> {
    const res = await send(c);
    seen.push({ name: c.name, status: res.status, code: res.body?.error?.code });
    expect({ name: c.name, status: res.status >= 200 && res.status < 500 }).toEqual({ name: c.name, status: true });
    if (res.status >= 400) {
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(Object.keys(res.body)).toEqual(['error']);
      expect(typeof res.body.error.code).toBe('string');
      expect(typeof res.body.error.message).toBe('string');
      expect(res.body.error.message.length).toBeGreaterThan(0);
    } else {
      expect(typeof res.body.mask.png).toBe('string');
    }
    if (c.status !== undefined) expect({ name: c.name, status: res.status, code: res.body?.error?.code }).toEqual({ name: c.name, status: c.status, code: c.code });
    if (c.message !== undefined) expect(res.body.error.message).toMatch(c.message);
    return res;
  }

  const raw = (bytes: Buffer | Uint8Array, contentType = 'application/dicom'): Body => ({ kind: 'raw', contentType, bytes: Buffer.from(bytes) });

  describe('damaged copies of a real file', () => {
    it('truncated anywhere: 4xx, never 5xx', async () => {
      const cuts = [0, 1, 64, 127, 128, 131, 132, 140, 160, 200, 300, 400, 600, 800, 1000, 1500, real.length >> 1, real.length - 1000, real.length - 2, real.length - 1];
      for (const n of cuts) {
        const res = await check({ name: `truncated to ${n} bytes`, body: () => raw(real.subarray(0, n)) });
        expect(res.status).toBeGreaterThanOrEqual(400);
      }
    });

    it('bytes flipped in the header and anywhere: 2xx or 4xx', async () => {
      const rng = new SeededRandom(2024);
      for (let k = 0; k < 40; k++) {
        const bytes = Buffer.from(real);
        const flips = 1 + rng.int(6);
        // Most flips land in the first 1.5 kB (meta header and attributes), where they change how the file parses.
        for (let f = 0; f < flips; f++) bytes[k < 30 ? 128 + rng.int(1400) : rng.int(bytes.length)] ^= 1 << rng.int(8);
        await check({ name: `${flips} byte(s) flipped, variant ${k}`, body: () => raw(bytes) });
      }
    });

    it('tags dropped or damaged (re-written with the test writer): the expected 4xx, or 2xx where the tag is optional', async () => {
      const cases: Array<[string, Parameters<typeof rewrittenDicom>[1], number, string?]> = [
        ['no Rows', { omitTags: ['00280010'] }, 422, 'DICOM_MISSING_ATTRIBUTE'],
        ['no Columns', { omitTags: ['00280011'] }, 422, 'DICOM_MISSING_ATTRIBUTE'],
        ['no BitsAllocated', { omitTags: ['00280100'] }, 422, 'DICOM_MISSING_ATTRIBUTE'],
        ['no PixelData', { omitTags: ['7FE00010'] }, 422, 'DICOM_NO_PIXEL_DATA'],
        ['no TransferSyntaxUID', { omitTags: ['00020010'] }, 422, 'DICOM_NO_TRANSFER_SYNTAX'],
        ['pixel data too short', { pixelBytes: new Uint8Array(1000) }, 422, 'DICOM_PIXEL_DATA_TOO_SHORT'],
        ['BitsStored above BitsAllocated', { bitsStored: 20 }, 422, 'DICOM_INVALID_ATTRIBUTE'],
        ['RescaleSlope 0', { rescaleSlope: 0 }, 422, 'DICOM_INVALID_ATTRIBUTE'],
        ['RescaleSlope not a number', { elements: [{ tag: '00281053', vr: 'DS', value: 'abc' }] }, 422, 'DICOM_INVALID_ATTRIBUTE'],
        ['not Part 10 (bare data set, read as such)', { part10: false }, 200],
        ['no BitsStored / HighBit / PixelRepresentation (defaults apply)', { omitTags: ['00280101', '00280102', '00280103'] }, 200],
        ['no PhotometricInterpretation (MONOCHROME2 assumed)', { omitTags: ['00280004'] }, 200],
        ['no SOPInstanceUID', { omitTags: ['00080018', '00020003'] }, 200],
        ['no PixelSpacing', { omitTags: ['00280030'] }, 200],
        ['MONOCHROME1', { photometricInterpretation: 'MONOCHROME1' }, 200],
        ['implicit VR little endian', { encoding: 'implicit-le' }, 200],
        ['explicit VR big endian', { encoding: 'explicit-be' }, 200],
        ['deflated explicit VR little endian', { encoding: 'deflated-le' }, 200],
        // Raw pixels in a fragment under a compressed syntax: not a codestream the codec can read.
        ['JPEG Baseline declared', { transferSyntaxUid: '1.2.840.10008.1.2.4.50', encapsulated: true }, 422, 'DICOM_CODEC_FAILED'],
        ['JPEG 2000 declared', { transferSyntaxUid: '1.2.840.10008.1.2.4.90', encapsulated: true }, 422, 'DICOM_CODEC_FAILED'],
        ['RLE declared', { transferSyntaxUid: '1.2.840.10008.1.2.5', encapsulated: true }, 422, 'DICOM_CODEC_FAILED'],
        ['MPEG-4 declared', { transferSyntaxUid: '1.2.840.10008.1.2.4.102', encapsulated: true }, 415, 'DICOM_UNSUPPORTED_TRANSFER_SYNTAX'],
        ['unknown transfer syntax', { transferSyntaxUid: '1.2.3.4.5' }, 415, 'DICOM_UNSUPPORTED_TRANSFER_SYNTAX'],
        ['encapsulated pixel data under a native syntax', { encapsulated: true }, 422, 'DICOM_INVALID_PIXEL_DATA'],
        ['BitsAllocated 12', { bitsAllocated: 12, pixelBytes: new Uint8Array(256 * 256 * 2) }, 415, 'DICOM_UNSUPPORTED_BITS_ALLOCATED'],
      ];
      for (const [name, opts, status, code] of cases) {
        await check({ name, body: () => raw(rewrittenDicom(real, opts)), status, code });
      }
    });

    it('multi-frame and colour images: 415 naming why', async () => {
      const { image } = decodeDicom(real);
      const px = Array.from(image.data, (v) => Math.round(v));
      await check({ name: 'two frames', body: () => raw(writeDicom({ rows: 256, columns: 256, numberOfFrames: 2, pixels: [...px, ...px], bitsAllocated: 16, pixelRepresentation: 1 })), status: 415, code: 'DICOM_MULTI_FRAME', message: /multi-frame/ });
      await check({
        name: 'RGB',
        body: () => raw(writeDicom({ rows: 64, columns: 64, samplesPerPixel: 3, photometricInterpretation: 'RGB', bitsAllocated: 8, pixels: new Array(64 * 64 * 3).fill(9) })),
        status: 415,
        code: 'DICOM_COLOR',
      });
      await check({ name: 'YBR_FULL', body: () => raw(writeDicom({ rows: 8, columns: 8, samplesPerPixel: 3, photometricInterpretation: 'YBR_FULL', bitsAllocated: 8 })), status: 415, code: 'DICOM_COLOR' });
      await check({ name: 'PALETTE COLOR', body: () => raw(writeDicom({ rows: 8, columns: 8, photometricInterpretation: 'PALETTE COLOR', bitsAllocated: 8 })), status: 415, code: 'DICOM_COLOR' });
    });

    it('odd but valid images are answered 200: tiny, flat, 8-bit, float; and too large ones 413', async () => {
      await check({ name: '16×16 image', body: () => raw(resampledDicom(real, 16, 16)), status: 200 });
      await check({ name: '1×1 image', body: () => raw(writeDicom({ rows: 1, columns: 1, pixels: [5] })), status: 200 });
      await check({ name: 'constant image', body: () => raw(writeDicom({ rows: 64, columns: 64, pixels: new Array(4096).fill(300) })), status: 200 });
      await check({ name: 'all-zero 256×256', body: () => raw(writeDicom({ rows: 256, columns: 256 })), status: 200 });
      await check({ name: '8-bit unsigned', body: () => raw(writeDicom({ rows: 128, columns: 96, bitsAllocated: 8, pixels: Array.from({ length: 128 * 96 }, (_, i) => i % 251) })), status: 200 });
      await check({ name: '32-bit float pixels', body: () => raw(writeDicom({ rows: 64, columns: 64, bitsAllocated: 32, floatPixels: true, pixels: Array.from({ length: 4096 }, (_, i) => i / 7) })), status: 200 });
      await check({ name: 'float pixels with NaN', body: () => raw(writeDicom({ rows: 8, columns: 8, bitsAllocated: 32, floatPixels: true, pixels: [NaN, ...new Array(63).fill(1)] })), status: 422, code: 'DICOM_NON_FINITE_PIXELS' });
      await check({ name: '1025×1025 (over the 1024 limit)', body: () => raw(writeDicom({ rows: 1025, columns: 1025 })), status: 413, code: 'IMAGE_TOO_LARGE' });
      await check({ name: '2000×8 (one side over)', body: () => raw(writeDicom({ rows: 2000, columns: 8 })), status: 413, code: 'IMAGE_TOO_LARGE' });
    });
  });

  describe('real variants written by DCMTK', () => {
    const reason = dcmtkMissingReason();
    const itDcmtk = reason ? it.skip : it;
    if (reason) {
      // eslint-disable-next-line no-console
      console.warn(`skipping DCMTK corpus: ${reason}`);
    }

    itDcmtk('dcmconv +te/+tb/+ti/+td give the very same mask as the original file', async () => {
      const original = maskFromBase64Png((await check({ name: 'original', body: () => raw(real), status: 200 })).body.mask.png);
      for (const option of ['+te', '+tb', '+ti', '+td']) {
        const res = await check({ name: `dcmconv ${option}`, body: () => raw(dcmtk('dcmconv', [option], real)), status: 200 });
        expect(maskFromBase64Png(res.body.mask.png)).toEqual(original);
      }
    });

    // Compressed variants decode (test/inference-compressed.e2e-spec.ts checks their masks against the original's).
    itDcmtk('dcmcjpeg (lossless, 8-bit and 12-bit lossy), dcmcjpls, dcmcrle and img2dcm (JPEG): 200', async () => {
      const original = maskFromBase64Png((await check({ name: 'original', body: () => raw(real), status: 200 })).body.mask.png);
      for (const [name, tool, args] of [
        ['dcmcjpeg (JPEG Lossless SV1)', 'dcmcjpeg', []],
        ['dcmcjpls (JPEG-LS)', 'dcmcjpls', []],
        ['dcmcrle (RLE)', 'dcmcrle', []],
      ] as const) {
        const res = await check({ name, body: () => raw(dcmtk(tool, [...args], real)), status: 200 });
        expect(maskFromBase64Png(res.body.mask.png)).toEqual(original);
      }
      await check({ name: 'dcmcjpeg +eb (JPEG Baseline, 8-bit)', body: () => raw(dcmtk('dcmcjpeg', ['+eb'], real)), status: 200 });
      await check({ name: 'dcmcjpeg +ee (JPEG Extended, 12-bit)', body: () => raw(dcmtk('dcmcjpeg', ['+ee'], real)), status: 200 });
      const jpeg = dcmtk('dcmj2pnm', ['+oj', '+Wm'], real, '.dcm', '.jpg');
      await check({ name: 'img2dcm from a JPEG (JPEG Baseline)', body: () => raw(dcmtk('img2dcm', [], jpeg, '.jpg')), status: 200 });
    });

    itDcmtk('img2dcm from a BMP and dcmscale to 160×160 and 512×512 are segmented at their own size', async () => {
      const bmp = dcmtk('dcmj2pnm', ['+ob', '+Wm'], real, '.dcm', '.bmp');
      const fromBmp = await check({ name: 'img2dcm -i BMP (8-bit secondary capture)', body: () => raw(dcmtk('img2dcm', ['-i', 'BMP'], bmp, '.bmp')), status: 200 });
      expect(fromBmp.body.lvArea).toMatchObject({ mm2: null });
      for (const side of [160, 512]) {
        const scaled = dcmtk('dcmscale', ['+Sxv', String(side)], real);
        const res = await check({ name: `dcmscale to ${side}×${side}`, body: () => raw(scaled), status: 200 });
        expect([res.body.image.rows, res.body.image.columns, res.body.mask.rows, res.body.mask.columns]).toEqual([side, side, side, side]);
      }
    });
  });

  describe('not DICOM at all, or not sent right', () => {
    it('non-DICOM bodies: 422 DICOM_NOT_PART10', async () => {
      const rng = new SeededRandom(7);
      const bodies: Array<[string, Buffer]> = [
        ['a PNG', encodeMaskPng({ rows: 4, columns: 4, data: new Uint8Array(16) })],
        ['text', Buffer.from('hello, this is not an image')],
        ['JSON', Buffer.from('{"image": "x"}')],
        ['10 kB of random bytes', Buffer.from(Array.from({ length: 10000 }, () => rng.int(256)))],
        ['200 zero bytes', Buffer.alloc(200)],
        ['DICM at the wrong offset', Buffer.concat([Buffer.from('DICM'), real.subarray(132)])],
        ['a contour file', Buffer.from(readContour(scd401frame100()))],
      ];
      for (const [name, bytes] of bodies) await check({ name, body: () => raw(bytes), status: 422, code: 'DICOM_NOT_PART10' });
    });

    it('empty body: 400; wrong or missing content type: 415', async () => {
      await check({ name: 'empty application/dicom body', body: () => raw(Buffer.alloc(0)), status: 400, code: 'EMPTY_BODY' });
      await check({ name: 'text/plain', body: () => raw(real, 'text/plain'), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
      await check({ name: 'application/json with a broken JSON body', body: () => raw(Buffer.from('{"a":'), 'application/json'), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
      await check({ name: 'image/png', body: () => raw(real, 'image/png'), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
      await check({ name: 'no content type', body: () => ({ kind: 'raw', bytes: real }), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
      await check({ name: 'application/octet-stream is accepted', body: () => raw(real, 'application/octet-stream'), status: 200 });
      await check({ name: 'gzip content-encoding with garbage', body: () => ({ kind: 'raw', contentType: 'application/dicom', bytes: Buffer.from('not gzip at all'), headers: { 'Content-Encoding': 'gzip' } }) });
      await check({ name: 'unknown content-encoding', body: () => ({ kind: 'raw', contentType: 'application/dicom', bytes: real, headers: { 'Content-Encoding': 'br2' } }), status: 415, code: 'BODY_ENCODING_UNSUPPORTED' });
    });

    it('multipart mistakes: 400', async () => {
      const contour = Buffer.from(readContour(scd401frame100()));
      await check({ name: 'multipart without file', body: () => ({ kind: 'multipart', parts: [{ field: 'label', bytes: contour, filename: 'c.txt' }] }), status: 400, code: 'MISSING_FILE' });
      await check({ name: 'multipart with an unknown field', body: () => ({ kind: 'multipart', parts: [{ field: 'image', bytes: real, filename: 'x.dcm' }] }), status: 400, code: 'BAD_REQUEST' });
      await check({ name: 'two files', body: () => ({ kind: 'multipart', parts: [{ field: 'file', bytes: real, filename: 'a.dcm' }, { field: 'file', bytes: real, filename: 'b.dcm' }] }), status: 400, code: 'BAD_REQUEST' });
      await check({ name: 'empty file part', body: () => ({ kind: 'multipart', parts: [{ field: 'file', bytes: Buffer.alloc(0), filename: 'x.dcm' }] }), status: 400, code: 'EMPTY_BODY' });
      await check({ name: 'multipart without a boundary', body: () => raw(real, 'multipart/form-data'), status: 400, code: 'BAD_REQUEST' });
      await check({ name: 'multipart cut short', body: () => raw(Buffer.from('--xyz\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc'), 'multipart/form-data; boundary=xyz'), status: 400, code: 'BAD_REQUEST' });
    });

    it('bad options: 400 naming the valid ones; unknown model: 404', async () => {
      const body = () => raw(real);
      const r = await check({ name: 'unknown heatmap layer', query: '?heatmaps=conv1,nope', body, status: 400, code: 'UNKNOWN_LAYER' });
      expect(r.body.error.message).toBe('heatmaps: unknown layer "nope"; valid layers: conv1, pool1, conv2, pool2, conv3, conv4, score, upscore (or "all")');
      await check({ name: 'unknown gradcam layer', query: '?gradcam=enc1', body, status: 400, code: 'UNKNOWN_LAYER', message: /valid layers: conv1, pool1/ });
      await check({ name: 'empty heatmaps', query: '?heatmaps=', body, status: 400, code: 'UNKNOWN_LAYER' });
      await check({ name: 'heatmaps given twice', query: '?heatmaps=conv1&heatmaps=conv2', body, status: 400, code: 'INVALID_QUERY_PARAMETER' });
      await check({ name: 'unknown query parameter', query: '?heatmap=all', body, status: 400, code: 'UNKNOWN_QUERY_PARAMETER' });
      await check({ name: 'malformed model ref', query: '?model=../../etc/passwd', body, status: 400, code: 'MODEL_REF_INVALID' });
      await check({ name: 'unknown model', query: '?model=fcn-paper-20200101T000000-000000', body, status: 404, code: 'MODEL_NOT_FOUND' });
    });

    it('bad labels: 422', async () => {
      const file = { field: 'file', bytes: real, filename: 'x.dcm' };
      const label = (bytes: Buffer, filename = 'label') => (): Body => ({ kind: 'multipart', parts: [file, { field: 'label', bytes, filename }] });
      await check({ name: 'PNG label of another size', body: label(encodeMaskPng({ rows: 128, columns: 128, data: new Uint8Array(128 * 128) }), 'l.png'), status: 422, code: 'LABEL_SIZE_MISMATCH', message: /128×128.*256×256/ });
      await check({ name: 'damaged PNG label', body: label(encodeMaskPng({ rows: 256, columns: 256, data: new Uint8Array(65536) }).subarray(0, 60), 'l.png'), status: 422, code: 'PNG_DECODE_FAILED' });
      await check({ name: 'binary label', body: label(Buffer.from([1, 2, 0, 3, 4])), status: 422, code: 'LABEL_UNREADABLE' });
      await check({ name: 'empty label', body: label(Buffer.alloc(0)), status: 422, code: 'LABEL_EMPTY' });
      await check({ name: 'contour with a bad line', body: label(Buffer.from('10 10\n20 x\n')), status: 422, code: 'CONTOUR_MALFORMED_LINE' });
      await check({ name: 'contour with two points', body: label(Buffer.from('10 10\n20 20\n')), status: 422, code: 'CONTOUR_TOO_FEW_POINTS' });
      await check({ name: 'contour far outside the image', body: label(Buffer.from('10 10\n20 20\n1e12 5\n')), status: 422, code: 'LABEL_CONTOUR_OUT_OF_RANGE' });
      await check({ name: 'DICOM as label', body: label(real), status: 422, code: 'LABEL_UNREADABLE' });
    });

    it('bodies over the limit: 413 (raw and multipart), and the service goes on', async () => {
      const huge = Buffer.alloc(MAX_BODY_MB * 1024 * 1024 + 1024, 1);
      await check({ name: `raw body over ${MAX_BODY_MB} MB`, body: () => raw(huge), status: 413, code: 'BODY_TOO_LARGE' });
      await check({ name: `multipart file over ${MAX_BODY_MB} MB`, body: () => ({ kind: 'multipart', parts: [{ field: 'file', bytes: huge, filename: 'x.dcm' }] }), status: 413, code: 'BODY_TOO_LARGE' });
      await check({ name: 'a good request afterwards', body: () => raw(real), status: 200 });
    });

    it('other routes and methods answer the JSON error shape too', async () => {
      const notFound = await request(app.url).get('/nope').expect(404);
      expect(notFound.body.error.code).toBe('ROUTE_NOT_FOUND');
      const getSegment = await request(app.url).get('/segment').expect(404);
      expect(getSegment.body.error.code).toBe('ROUTE_NOT_FOUND');
      const badEscape = await request(app.url).get('/models/%E0%A4%A').expect(400);
      expect(badEscape.body.error.code).toBe('BAD_REQUEST');
    });
  });

  it('after the whole corpus: still ready, and no tfjs tensor was leaked', async () => {
    await request(app.url).post('/segment').set('Content-Type', 'application/dicom').send(real).expect(200);
    const before = tf.memory().numTensors;
    await check({ name: 'truncated once more', body: () => raw(real.subarray(0, 500)) });
    await check({ name: 'good once more', body: () => raw(real), status: 200 });
    await check({ name: 'heatmaps once more', query: '?heatmaps=score&gradcam=score', body: () => raw(real), status: 200 });
    expect(tf.memory().numTensors).toBe(before);
    await request(app.url).get('/health/ready').expect(200);
    expect(seen.every((s) => s.status < 500)).toBe(true);
  });
});
