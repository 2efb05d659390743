import { isLvsegError } from '@lvseg/common';
import { writeDicom } from '../../../../../libs/imaging/src/testing/dicom-writer';
import { assertServableImage, decodeServableImage, imageTooLarge } from './decode.stage';

const refusal = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    if (isLvsegError(e)) return { kind: e.kind, code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a refusal');
};

describe('decode stage', () => {
  it('decodes a DICOM that fits, pixels and spacing included', async () => {
    const bytes = Buffer.from(writeDicom({ rows: 4, columns: 6, pixels: Array.from({ length: 24 }, (_, i) => i * 10), pixelSpacing: [1.25, 1.5], sopInstanceUid: '1.2.3.4' }));
    const { image, meta } = await decodeServableImage(bytes, 16);
    expect([image.rows, image.columns]).toEqual([4, 6]);
    expect(Array.from(image.data.slice(0, 3))).toEqual([0, 10, 20]);
    expect(image.pixelSpacingMm).toEqual([1.25, 1.5]);
    expect(meta.sopInstanceUid).toBe('1.2.3.4');
  });

  it('refuses an image with a side over the limit (413 IMAGE_TOO_LARGE), either side, and takes one exactly at it', async () => {
    expect(await refusal(decodeServableImage(Buffer.from(writeDicom({ rows: 17, columns: 8 })), 16))).toEqual({
      kind: 'too-large',
      code: 'IMAGE_TOO_LARGE',
      message: 'the image is 8×17; this service takes images up to 16×16',
    });
    expect(imageTooLarge({ rows: 8, columns: 17 }, 16)?.code).toBe('IMAGE_TOO_LARGE');
    expect(imageTooLarge({ rows: 16, columns: 16 }, 16)).toBeUndefined();
    await expect(decodeServableImage(Buffer.from(writeDicom({ rows: 16, columns: 16 })), 16)).resolves.toBeDefined();
  });

  it('refuses NaN or infinite pixels (422) and what is not DICOM', async () => {
    expect(() => assertServableImage({ rows: 1, columns: 2, data: Float32Array.from([1, Number.NaN]) }, 16)).toThrow(/NaN or infinite/);
    expect(() => assertServableImage({ rows: 1, columns: 2, data: Float32Array.from([Number.POSITIVE_INFINITY, 0]) }, 16)).toThrow(/NaN or infinite/);
    const notDicom = await refusal(decodeServableImage(Buffer.from('just some text, not a DICOM file at all'), 16));
    expect(notDicom.kind).toBe('invalid-input');
    expect(notDicom.code).toMatch(/^DICOM_/);
  });
});
