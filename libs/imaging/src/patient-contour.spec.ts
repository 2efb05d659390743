import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LvsegError } from '@lvseg/common';
import { parseContour } from './contour';
import { decodeDicom } from './dicom';
import { ImagePlane, distanceFromPlane, patientToPixel, planeNormal, rasterizePatientContours } from './patient-contour';
import { fillContoursByPixelCentre } from './pixel-centre-fill';

const FIXTURES = join(__dirname, '..', 'test-fixtures', 'sunnybrook');

/** [x, y] in lvseg's pixel coordinates (pixel (r, c) covers [c, c+1) × [r, r+1)) → patient coordinates: the inverse mapping, written independently. */
function toPatient(plane: ImagePlane, [x, y]: [number, number]): [number, number, number] {
  const [dr, dc] = plane.pixelSpacingMm;
  const o = plane.imageOrientationPatient;
  const p = plane.imagePositionPatient;
  const [u, v] = [(x - 0.5) * dc, (y - 0.5) * dr];
  return [p[0] + u * o[0] + v * o[3], p[1] + u * o[1] + v * o[4], p[2] + u * o[2] + v * o[5]];
}

describe('patient-coordinate contours on an image grid', () => {
  const axial: ImagePlane = { imagePositionPatient: [10, 20, 5], imageOrientationPatient: [1, 0, 0, 0, 1, 0], pixelSpacingMm: [2, 0.5], rows: 8, columns: 8 };

  it('puts a point at a pixel centre into that pixel (IPP is the centre of the first pixel; PixelSpacing is [row, column])', () => {
    // Centre of row 3, column 4: 4 columns × 0.5 mm along x, 3 rows × 2 mm along y.
    const [[x, y]] = patientToPixel([[12, 26, 5]], axial);
    expect([x, y]).toEqual([4.5, 3.5]);
    expect([Math.floor(x), Math.floor(y)]).toEqual([4, 3]);
    expect(planeNormal(axial)).toEqual([0, 0, 1]);
    expect(distanceFromPlane([[0, 0, 5], [3, 4, 5.25]], axial)).toBeCloseTo(0.25, 12);
  });

  it.each([
    ['SCD0000101/48.dcm', 'SCD0000101/IM-0001-0048-icontour-manual.txt'],
    ['SCD0000401/100.dcm', 'SCD0000401/IM-0001-0100-icontour-manual.txt'],
  ])('a real Sunnybrook contour moved into patient space (%s, oblique plane) maps back to its pixel coordinates and fills exactly as there', (dcm, txt) => {
    const { meta } = decodeDicom(readFileSync(join(FIXTURES, dcm)));
    const plane: ImagePlane = { imagePositionPatient: meta.imagePositionPatient!, imageOrientationPatient: meta.imageOrientationPatient!, pixelSpacingMm: meta.pixelSpacingMm!, rows: meta.rows, columns: meta.columns };
    const points = parseContour(readFileSync(join(FIXTURES, txt), 'utf8'));
    const patient = points.map((p) => toPatient(plane, p));
    expect(distanceFromPlane(patient, plane)).toBeLessThan(1e-9);
    const back = patientToPixel(patient, plane);
    back.forEach(([x, y], i) => {
      expect(x).toBeCloseTo(points[i][0], 9);
      expect(y).toBeCloseTo(points[i][1], 9);
    });
    const expected = fillContoursByPixelCentre([points], meta.rows, meta.columns);
    const got = rasterizePatientContours([patient], plane);
    expect(got.data.reduce((n, v) => n + v, 0)).toBeGreaterThan(100);
    // The mm round trip must not move a point across a pixel centre (the fill's boundary decisions are exact).
    const differing = got.data.reduce((n, v, i) => n + (v !== expected.data[i] ? 1 : 0), 0);
    expect(differing).toBe(0);
  });

  it('several contours of one ROI on one image are even-odd (a nested one is a hole); a zero PixelSpacing is refused', () => {
    const square = (x0: number, y0: number, side = 1) => [[x0, y0], [x0 + side, y0], [x0 + side, y0 + side], [x0, y0 + side]].map((p) => toPatient(axial, p as [number, number]));
    const m = rasterizePatientContours([square(1, 1), square(5, 5)], axial);
    expect(m.data[1 * 8 + 1]).toBe(1);
    expect(m.data[5 * 8 + 5]).toBe(1);
    expect(m.data[3 * 8 + 3]).toBe(0);
    expect(m.data.reduce((n, v) => n + v, 0)).toBe(2);
    const ring = rasterizePatientContours([square(1, 1, 6), square(3, 3, 2)], axial);
    expect(ring.data.reduce((n, v) => n + v, 0)).toBe(36 - 4);
    expect([ring.data[3 * 8 + 3], ring.data[4 * 8 + 4], ring.data[2 * 8 + 2], ring.data[6 * 8 + 6], ring.data[7 * 8 + 7]]).toEqual([0, 0, 1, 1, 0]);
    expect(() => patientToPixel([[0, 0, 0]], { ...axial, pixelSpacingMm: [0, 1] })).toThrow(LvsegError);
  });
});
