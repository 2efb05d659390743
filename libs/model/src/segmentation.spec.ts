import { probabilityToMask } from './segmentation';

/** 8×8 map from a picture: '#' = 0.9, '+' = 0.6, '.' = 0.1. */
function probMap(rows: string[]): Float32Array {
  const v = { '#': 0.9, '+': 0.6, '.': 0.1 } as Record<string, number>;
  return Float32Array.from(rows.join('').split('').map((c) => v[c]));
}
const picture = (data: Uint8Array, n: number) => Array.from({ length: n }, (_, r) => Array.from(data.slice(r * n, (r + 1) * n)).map((x) => (x ? '#' : '.')).join(''));

describe('probabilityToMask', () => {
  const rows = [
    '##......',
    '##......',
    '........',
    '...####.',
    '...#..#.',
    '...####.',
    '........',
    '.......+',
  ];

  it('keeps the largest component and fills its holes by default', () => {
    const m = probabilityToMask(probMap(rows), 8, 8);
    expect(picture(m.data, 8)).toEqual(['........', '........', '........', '...####.', '...####.', '...####.', '........', '........']);
  });

  it('keeps the most probable component rather than the largest when asked to', () => {
    const confident = probMap(['##......', '##......', '........', '...++++.', '...+..+.', '...++++.', '........', '........']);
    const byMass = probabilityToMask(confident, 8, 8, { keepOneComponent: 'most-probable', fillHoles: false });
    expect(byMass.data.reduce((a, b) => a + b, 0)).toBe(10); // 10 × 0.6 = 6.0 beats 4 × 0.9 = 3.6
    const withStrong = Float32Array.from(confident, (p, i) => (i < 16 && p > 0.5 ? 0.99 : p));
    withStrong[2] = withStrong[3] = withStrong[10] = withStrong[11] = 0.99; // a 2×4 block of 0.99 = 7.9 > 6.0
    const strong = probabilityToMask(withStrong, 8, 8, { keepOneComponent: 'most-probable', fillHoles: false });
    expect(strong.data[0]).toBe(1);
    expect(probabilityToMask(withStrong, 8, 8, { keepOneComponent: 'largest', fillHoles: false }).data[0]).toBe(0);
  });

  it('honours the threshold and can skip post-processing', () => {
    const m = probabilityToMask(probMap(rows), 8, 8, { threshold: 0.95, keepOneComponent: 'all', fillHoles: false });
    expect(m.data.reduce((a, b) => a + b, 0)).toBe(0);
    const all = probabilityToMask(probMap(rows), 8, 8, { threshold: 0.5, keepOneComponent: 'all', fillHoles: false });
    expect(all.data.reduce((a, b) => a + b, 0)).toBe(4 + 10 + 1);
  });
});
