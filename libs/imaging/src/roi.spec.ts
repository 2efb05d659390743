import { NOMINAL_FIELD_OF_VIEW_MM, cropToRoi, effectivePixelSpacingMm, maskCentroid, pasteFromRoi, roiAround } from './roi';

describe('region of interest', () => {
  it('takes the image spacing when present, else the nominal field of view', () => {
    expect(effectivePixelSpacingMm({ rows: 256, columns: 256, pixelSpacingMm: [1.2891, 1.2891] })).toEqual([1.2891, 1.2891]);
    expect(effectivePixelSpacingMm({ rows: 256, columns: 200 })).toEqual([NOMINAL_FIELD_OF_VIEW_MM / 256, NOMINAL_FIELD_OF_VIEW_MM / 200]);
    // 131.25 mm on a 256-px Sunnybrook PNG (no spacing): 96 px.
    const roi = roiAround({ rows: 256, columns: 256 }, 100, 120, 131.25);
    expect(roi.height).toBeCloseTo(96, 6);
    expect(roi.width).toBeCloseTo(96, 6);
    // Anisotropic pixels: equal mm, unequal pixels.
    const a = roiAround({ rows: 256, columns: 256, pixelSpacingMm: [2, 1] }, 0, 0, 100);
    expect([a.height, a.width]).toEqual([50, 100]);
  });

  it('crops exactly at integer alignment (ROI of 8 px to 8 px copies the pixels)', () => {
    const n = 16;
    const src = Float32Array.from({ length: n * n }, (_, i) => i);
    // ROI rows 4..11 and columns 2..9: centre 7.5 / 5.5 in pixel-centre coordinates, 8 px wide.
    const crop = cropToRoi(src, n, n, { centerRow: 7.5, centerColumn: 5.5, height: 8, width: 8 }, 8);
    for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) expect(crop[i * 8 + j]).toBeCloseTo((i + 4) * n + (j + 2), 4);
  });

  it('samples outside the image as 0', () => {
    const src = new Float32Array(16 * 16).fill(1);
    const crop = cropToRoi(src, 16, 16, { centerRow: -0.5, centerColumn: 7.5, height: 8, width: 8 }, 8);
    expect(crop[0]).toBe(0); // row −4
    expect(crop[7 * 8]).toBe(1); // row 3
  });

  it('pastes a crop back where it came from (linear ramps survive the round trip at 2× upsampling)', () => {
    const n = 64;
    const src = Float32Array.from({ length: n * n }, (_, i) => Math.floor(i / n) * 0.5 + (i % n) * 0.25);
    const roi = { centerRow: 30.3, centerColumn: 25.7, height: 24, width: 24 };
    const crop = cropToRoi(src, n, n, roi, 48);
    const back = pasteFromRoi(crop, 48, roi, n, n);
    // Inside the ROI (away from its one-pixel rim, where pasting clamps): the ramp; outside: 0.
    for (let r = 20; r <= 40; r++) for (let c = 16; c <= 36; c++) expect(back[r * n + c]).toBeCloseTo(src[r * n + c], 4);
    expect(back[0]).toBe(0);
    expect(back[60 * n + 60]).toBe(0);
  });

  it('finds the centroid of a mask, null when empty', () => {
    const m = new Uint8Array(10 * 10);
    m[2 * 10 + 3] = 1;
    m[4 * 10 + 5] = 1;
    expect(maskCentroid(m, 10, 10)).toEqual([3, 4]);
    expect(maskCentroid(new Uint8Array(4), 2, 2)).toBeNull();
  });
});
