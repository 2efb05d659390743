import { isLvsegError } from '@lvseg/common';
import { euclideanDistanceTransform } from './distance-transform';
import { maskWith, randomMask, seededRandom } from './test-support/masks';

describe('euclideanDistanceTransform', () => {
  it('measures the distance to a single site, with anisotropic spacing', () => {
    const site = maskWith(6, 7, [[1, 2]]);
    const d = euclideanDistanceTransform(site);
    expect(d[1 * 7 + 2]).toBe(0);
    expect(d[4 * 7 + 6]).toBeCloseTo(5, 12); // 3 rows, 4 columns
    // [row, column] spacing = [2, 0.5] mm: 3 rows = 6 mm, 4 columns = 2 mm.
    const mm = euclideanDistanceTransform(site, [2, 0.5]);
    expect(mm[4 * 7 + 6]).toBeCloseTo(Math.sqrt(40), 12);
  });

  it('matches brute force on random sparse sites', () => {
    const random = seededRandom(3);
    for (let k = 0; k < 25; k++) {
      const rows = 5 + Math.floor(random() * 20);
      const columns = 5 + Math.floor(random() * 20);
      const sites = randomMask(rows, columns, 0.02 + 0.1 * random(), random);
      const spacing: [number, number] = [0.5 + random() * 2, 0.5 + random() * 2];
      const d = euclideanDistanceTransform(sites, spacing);
      for (let p = 0; p < d.length; p++) {
        let best = Infinity;
        for (let q = 0; q < d.length; q++) {
          if (!sites.data[q]) continue;
          const dr = (Math.floor(p / columns) - Math.floor(q / columns)) * spacing[0];
          const dc = ((p % columns) - (q % columns)) * spacing[1];
          best = Math.min(best, Math.hypot(dr, dc));
        }
        if (best === Infinity) expect(d[p]).toBe(Infinity);
        else expect(Math.abs(d[p] - best)).toBeLessThan(1e-9);
      }
    }
  });

  it('gives Infinity everywhere without sites and rejects a bad spacing', () => {
    expect(Array.from(euclideanDistanceTransform(maskWith(2, 3)))).toEqual(new Array(6).fill(Infinity));
    expect(euclideanDistanceTransform(maskWith(0, 0)).length).toBe(0);
    for (const spacing of [
      [0, 1],
      [1, -1],
      [NaN, 1],
    ] as Array<[number, number]>) {
      try {
        euclideanDistanceTransform(maskWith(2, 2, [[0, 0]]), spacing);
        throw new Error('expected a throw');
      } catch (e) {
        expect(isLvsegError(e, 'invalid-input')).toBe(true);
      }
    }
  });
});
