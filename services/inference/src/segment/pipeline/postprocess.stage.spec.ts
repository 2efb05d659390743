import type { BinaryMask, GrayImage } from '@lvseg/imaging';
import { decodePngMask } from '@lvseg/imaging';
import type { ImageSegmentation } from '../../engine/segmentation-engine';
import { labelMetricsOf, lvAreaOf, maskDtoOf, roiDtoOf } from './postprocess.stage';

/** A mask from a picture ('#' = LV). */
function maskOf(rows: string[]): BinaryMask {
  return { rows: rows.length, columns: rows[0].length, data: Uint8Array.from(rows.join('').split(''), (c) => (c === '#' ? 1 : 0)) };
}
const image = (rows: number, columns: number, pixelSpacingMm?: [number, number]): GrayImage => ({ rows, columns, data: new Float32Array(rows * columns), pixelSpacingMm });

describe('postprocess stage', () => {
  const mask = maskOf(['....', '.##.', '.##.', '...#']);

  it('gives the LV area in pixels, and in mm² with the pixel spacing', () => {
    expect(lvAreaOf(mask, image(4, 4, [0.5, 2]))).toEqual({ pixels: 5, mm2: 5 });
    expect(lvAreaOf(mask, image(4, 4))).toEqual({ pixels: 5, mm2: null, reason: 'the DICOM has no PixelSpacing (0028,0030) or ImagerPixelSpacing (0018,1164)' });
  });

  it('compares the mask with a label: Dice, Jaccard, pixel accuracy and the label LV pixels, counted by hand', () => {
    const label = maskOf(['....', '.###', '.##.', '....']);
    // mask 5 px, label 5 px, overlap 4: Dice 8/10, Jaccard 4/6, agreement (16 − 2 differing) / 16.
    const m = labelMetricsOf(mask, label, 'contour');
    expect(m.kind).toBe('contour');
    expect(m.dice).toBeCloseTo(0.8, 12);
    expect(m.jaccard).toBeCloseTo(4 / 6, 12);
    expect(m.pixelAccuracy).toBeCloseTo(14 / 16, 12);
    expect(m.labelPixels).toBe(5);
  });

  it('encodes the mask as a PNG that decodes to the same mask', () => {
    const dto = maskDtoOf(mask);
    expect([dto.rows, dto.columns]).toEqual([4, 4]);
    expect(decodePngMask(Buffer.from(dto.png, 'base64'))).toEqual(mask);
  });

  it("rounds a cascade's ROI to 0.01 px and gives none for a whole-image model", () => {
    const seg = (roi: ImageSegmentation['roi'], roiSource: ImageSegmentation['roiSource']): ImageSegmentation => ({ probability: new Float32Array(16), mask, lvFound: true, roi, roiSource });
    expect(roiDtoOf(seg({ centerRow: 10.123, centerColumn: 20.456, height: 96.0049, width: 95.999 }, 'series'))).toEqual({ centerRow: 10.12, centerColumn: 20.46, height: 96, width: 96, source: 'series', secondLook: false });
    expect(roiDtoOf({ ...seg({ centerRow: 10, centerColumn: 20, height: 40, width: 40 }, 'localiser'), zoomed: true })).toEqual({ centerRow: 10, centerColumn: 20, height: 40, width: 40, source: 'localiser', secondLook: true });
    expect(roiDtoOf(seg(null, null))).toBeNull();
  });
});
