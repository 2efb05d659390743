/**
 * `toModelInput`'s input scalings on real files: the Sunnybrook DICOM and its PNG twin (fixtures), and DCMTK-made
 * variants of it (see ../test-fixtures/dicom/README.md), so the expected values come from the files, not from the code.
 */
import * as fs from 'fs';
import * as path from 'path';
import { decodeDicom } from './dicom';
import { decodePngGray } from './png';
import { normalize } from './normalize';
import { resizeBilinear } from './resample';
import { INPUT_SCALINGS, MODEL_INPUT_SIZE, inputScalingOf, toModelInput } from './model-input';

const FIXTURES = path.join(__dirname, '..', 'test-fixtures');
const read = (rel: string): Uint8Array => new Uint8Array(fs.readFileSync(path.join(FIXTURES, rel)));
/** 256 × 256, signed 16-bit MR, pixel values 0..638 (dicom.spec.ts). */
const REAL = 'sunnybrook/SCD0000401/100.dcm';
const maxAbsDiff = (a: Float32Array, b: Float32Array): number => {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
};

describe('toModelInput with raw-1024 (the paper lab: modality value / 1024)', () => {
  it('gives each pixel value / 1024 of a real 256 × 256 DICOM, unclipped and without min-max', () => {
    const { image } = decodeDicom(read(REAL));
    expect([image.rows, image.columns]).toEqual([MODEL_INPUT_SIZE, MODEL_INPUT_SIZE]);
    const x = toModelInput(image, MODEL_INPUT_SIZE, 'raw-1024');
    let mismatches = 0;
    for (let i = 0; i < x.length; i++) if (x[i] !== Math.fround(image.data[i] / 1024)) mismatches++;
    expect(mismatches).toBe(0);
    // The file's brightest pixel is 638: 0.623, where normalize() maps everything from the 99.5th percentile up to 1.
    expect(Math.max(...x)).toBe(638 / 1024);
    expect(Math.min(...x)).toBe(0);
    expect(Math.max(...toModelInput(image))).toBe(1);
  });

  it('scales modality values: RescaleSlope 2.5 and RescaleIntercept -1024 are applied before the division', () => {
    // rescaled.dcm holds small-64.dcm's stored pixels with slope 2.5 and intercept -1024 (DCMTK dcmodify).
    const stored = decodeDicom(read('dicom/small-64.dcm')).image;
    const rescaled = decodeDicom(read('dicom/rescaled.dcm')).image;
    const x = toModelInput(rescaled, 64, 'raw-1024');
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - (2.5 * stored.data[i] - 1024) / 1024));
    expect(worst).toBeLessThan(1e-6);
    expect(Math.min(...x)).toBeLessThan(0); // no clipping: modality values below 0 stay negative
  });

  it('gives value / 1024 of the PNG twin (8-bit, already min-max scaled to 0..255 by the data set maker)', () => {
    const png = decodePngGray(read('sunnybrook/png/images/SC-HF-I-05-IM-0001-0100.png'));
    const x = toModelInput(png, MODEL_INPUT_SIZE, 'raw-1024');
    expect(Array.from(x.slice(0, 4096))).toEqual(Array.from(png.data.slice(0, 4096), (v) => Math.fround(v / 1024)));
    expect(Math.max(...x)).toBe(255 / 1024);
  });

  it('resamples like normalize does: a 64 × 64 image to 256 × 256, bilinear', () => {
    const small = decodeDicom(read('dicom/small-64.dcm')).image;
    const x = toModelInput(small, MODEL_INPUT_SIZE, 'raw-1024');
    expect(x.length).toBe(MODEL_INPUT_SIZE * MODEL_INPUT_SIZE);
    // Bilinear resampling is linear in the intensities: the raw-1024 input is the resampled image / 1024.
    const resampled = resizeBilinear(small.data, 64, 64, MODEL_INPUT_SIZE, MODEL_INPUT_SIZE);
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - resampled[i] / 1024));
    expect(worst).toBeLessThan(1e-6);
  });

  it('normalize stays the default, and an unknown scaling is refused', () => {
    const { image } = decodeDicom(read(REAL));
    expect(maxAbsDiff(toModelInput(image), normalize(image))).toBe(0);
    expect(maxAbsDiff(toModelInput(image, MODEL_INPUT_SIZE, 'normalize'), normalize(image))).toBe(0);
    expect(() => toModelInput(image, MODEL_INPUT_SIZE, 'raw-4096' as never)).toThrow(expect.objectContaining({ code: 'UNKNOWN_INPUT_SCALING' }));
  });
});

describe('inputScalingOf (a model card → the scaling every serving path uses)', () => {
  it('reads preprocessing.inputScaling; an old card without the field means normalize', () => {
    for (const s of INPUT_SCALINGS) expect(inputScalingOf({ preprocessing: { inputScaling: s } })).toBe(s);
    expect(inputScalingOf({ preprocessing: { normalize: 'per-image percentiles 0.5..99.5 -> [0,1], clipped', resample: 'bilinear to 256x256' } })).toBe('normalize');
    expect(inputScalingOf({})).toBe('normalize');
    expect(inputScalingOf(undefined)).toBe('normalize');
  });

  it('refuses a scaling this lvseg does not know rather than serving the wrong input', () => {
    expect(() => inputScalingOf({ preprocessing: { inputScaling: 'raw-4096' } })).toThrow(expect.objectContaining({ kind: 'unsupported', code: 'UNKNOWN_INPUT_SCALING' }));
  });
});
