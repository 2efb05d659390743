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

  it('honours the threshold and can skip post-processing', () => {
    const m = probabilityToMask(probMap(rows), 8, 8, { threshold: 0.95, keepLargestComponent: false, fillHoles: false });
    expect(m.data.reduce((a, b) => a + b, 0)).toBe(0);
    const all = probabilityToMask(probMap(rows), 8, 8, { threshold: 0.5, keepLargestComponent: false, fillHoles: false });
    expect(all.data.reduce((a, b) => a + b, 0)).toBe(4 + 10 + 1);
  });
});
