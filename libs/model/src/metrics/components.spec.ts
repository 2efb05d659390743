import { isLvsegError } from '@lvseg/common';
import type { BinaryMask } from '@lvseg/imaging';
import { fillHoles, labelComponents, largestComponent, selectComponent } from './components';
import { maskFromPicture, maskWith, randomMask, seededRandom } from './test-support/masks';
import { readAllLabels, sunnybrookDataDir } from './test-support/sunnybrook-png-labels';

const picture = (m: BinaryMask): string[] => {
  const lines: string[] = [];
  for (let r = 0; r < m.rows; r++) {
    let line = '';
    for (let c = 0; c < m.columns; c++) line += m.data[r * m.columns + c] ? '#' : '.';
    lines.push(line);
  }
  return lines;
};

/** Oracle: union-find over right/down(/diagonal) neighbour pairs, a different algorithm from the BFS under test. */
function unionFindPartition(m: BinaryMask, connectivity: 4 | 8): number[] {
  const parent = Array.from({ length: m.data.length }, (_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const unite = (a: number, b: number) => (parent[find(a)] = find(b));
  const on = (r: number, c: number) => r >= 0 && r < m.rows && c >= 0 && c < m.columns && m.data[r * m.columns + c] === 1;
  for (let r = 0; r < m.rows; r++) {
    for (let c = 0; c < m.columns; c++) {
      if (!on(r, c)) continue;
      const p = r * m.columns + c;
      if (on(r, c + 1)) unite(p, p + 1);
      if (on(r + 1, c)) unite(p, p + m.columns);
      if (connectivity === 8 && on(r + 1, c + 1)) unite(p, p + m.columns + 1);
      if (connectivity === 8 && on(r + 1, c - 1)) unite(p, p + m.columns - 1);
    }
  }
  return parent.map((_, i) => (m.data[i] ? find(i) : -1));
}

describe('labelComponents', () => {
  it('joins diagonal neighbours under 8-connectivity only', () => {
    const m = maskFromPicture([
      '#...#', //
      '.#..#',
      '..#..',
      '.....',
      '##..#',
    ]);
    // 8-components, numbered by first pixel in raster order: the diagonal (0,0)-(1,1)-(2,2); (0,4)-(1,4) (no 8-neighbour
    // of (1,4) is in the diagonal); (4,0)-(4,1); (4,4).
    const eight = labelComponents(m, 8);
    expect(eight.count).toBe(4);
    expect(eight.sizes).toEqual([3, 2, 2, 1]);
    // 4-components: the diagonal splits into 3 singletons, the rest as above.
    const four = labelComponents(m, 4);
    expect(four.count).toBe(6);
    expect(four.sizes).toEqual([1, 2, 1, 1, 2, 1]);
    expect(Array.from(eight.labels.slice(0, 5))).toEqual([1, 0, 0, 0, 2]);
  });

  it('partitions random masks exactly as a union-find oracle does', () => {
    const random = seededRandom(11);
    for (let k = 0; k < 40; k++) {
      const m = randomMask(13, 17, 0.2 + 0.5 * random(), random);
      for (const connectivity of [4, 8] as const) {
        const { labels, count, sizes } = labelComponents(m, connectivity);
        const oracle = unionFindPartition(m, connectivity);
        // Same partition: two pixels share a label iff they share an oracle root.
        const labelOfRoot = new Map<number, number>();
        for (let i = 0; i < labels.length; i++) {
          if (oracle[i] === -1) {
            expect(labels[i]).toBe(0);
            continue;
          }
          const seen = labelOfRoot.get(oracle[i]);
          if (seen === undefined) labelOfRoot.set(oracle[i], labels[i]);
          else expect(labels[i]).toBe(seen);
        }
        expect(new Set(labelOfRoot.values()).size).toBe(labelOfRoot.size);
        expect(count).toBe(labelOfRoot.size);
        expect(sizes.reduce((a, b) => a + b, 0)).toBe(m.data.reduce((a, b) => a + b, 0));
      }
    }
  });

  it('handles a 512 x 512 all-LV mask without recursion', () => {
    const m = maskWith(512, 512);
    m.data.fill(1);
    const { count, sizes } = labelComponents(m);
    expect(count).toBe(1);
    expect(sizes).toEqual([512 * 512]);
  });

  it('rejects a connectivity other than 4 or 8', () => {
    expect(() => labelComponents(maskWith(2, 2), 6 as 4)).toThrow(/connectivity/);
  });
});

describe('largestComponent / selectComponent', () => {
  const twoBlobs = maskFromPicture([
    '##....', //
    '##..##',
    '.....#',
    '....##',
  ]);

  it('keeps the largest component and leaves the input untouched', () => {
    const before = Array.from(twoBlobs.data);
    expect(picture(largestComponent(twoBlobs))).toEqual(['......', '....##', '.....#', '....##']);
    expect(Array.from(twoBlobs.data)).toEqual(before);
  });

  it('keeps a diagonally connected blob whole under 8-connectivity but not under 4', () => {
    const m = maskFromPicture(['##..', '##..', '..#.', '...#']);
    expect(picture(largestComponent(m, 8))).toEqual(['##..', '##..', '..#.', '...#']);
    expect(picture(largestComponent(m, 4))).toEqual(['##..', '##..', '....', '....']);
  });

  it('prefers a smaller but confident blob when given a probability map', () => {
    // Left blob 4 px at p = 0.9 (sum 3.6); right blob 5 px at p = 0.6 (sum 3.0).
    const probability = new Float32Array(twoBlobs.data.length);
    for (let i = 0; i < probability.length; i++) {
      if (!twoBlobs.data[i]) continue;
      probability[i] = i % 6 < 3 ? 0.9 : 0.6;
    }
    expect(picture(selectComponent(twoBlobs, { probability }))).toEqual(['##....', '##....', '......', '......']);
    expect(picture(selectComponent(twoBlobs))).toEqual(picture(largestComponent(twoBlobs)));
  });

  it('breaks ties by raster order and returns empty for empty', () => {
    const m = maskFromPicture(['#.#', '...', '#..']);
    expect(picture(largestComponent(m))).toEqual(['#..', '...', '...']);
    expect(Array.from(largestComponent(maskWith(3, 3)).data)).toEqual(new Array(9).fill(0));
    expect(largestComponent(maskWith(0, 0)).data.length).toBe(0);
    expect(picture(largestComponent(maskWith(3, 3, [[1, 1]])))).toEqual(['...', '.#.', '...']);
  });

  it('rejects a probability map of the wrong length or with NaN', () => {
    const wrong = () => selectComponent(twoBlobs, { probability: new Float32Array(3) });
    expect(wrong).toThrow(/probability/);
    try {
      wrong();
    } catch (e) {
      expect(isLvsegError(e, 'invalid-input')).toBe(true);
    }
    const nan = new Float32Array(twoBlobs.data.length).fill(NaN);
    expect(() => selectComponent(twoBlobs, { probability: nan })).toThrow(/non-finite/);
  });
});

describe('fillHoles', () => {
  it('fills the inside of a closed ring, including one closed only diagonally', () => {
    const ring = maskFromPicture(['.....', '.###.', '.#.#.', '.###.', '.....']);
    expect(picture(fillHoles(ring))).toEqual(['.....', '.###.', '.###.', '.###.', '.....']);
    // An 8-connected contour (diagonal steps), as a rasterised polygon is: its inside is a hole in 4-connectivity.
    const diamond = maskFromPicture(['.......', '...#...', '..#.#..', '.#...#.', '..#.#..', '...#...', '.......']);
    expect(picture(fillHoles(diamond))).toEqual([
      '.......',
      '...#...',
      '..###..',
      '.#####.',
      '..###..',
      '...#...',
      '.......',
    ]);
  });

  it('does not fill background that reaches the border, and keeps full/empty masks', () => {
    const open = maskFromPicture(['.#.#.', '.#.#.', '.###.']);
    expect(picture(fillHoles(open))).toEqual(['.#.#.', '.#.#.', '.###.']);
    expect(Array.from(fillHoles(maskWith(3, 3)).data)).toEqual(new Array(9).fill(0));
    const full = maskWith(3, 3);
    full.data.fill(1);
    expect(Array.from(fillHoles(full).data)).toEqual(new Array(9).fill(1));
    expect(fillHoles(maskWith(0, 0)).data.length).toBe(0);
  });

  it('matches a brute-force relaxation on random masks', () => {
    const random = seededRandom(5);
    for (let k = 0; k < 30; k++) {
      const m = randomMask(12, 9, 0.3 + 0.4 * random(), random);
      // Oracle: grow "reaches the border" over 4-neighbour background until nothing changes.
      const reach = new Uint8Array(m.data.length);
      for (let r = 0; r < m.rows; r++)
        for (let c = 0; c < m.columns; c++)
          if (!m.data[r * m.columns + c] && (r === 0 || c === 0 || r === m.rows - 1 || c === m.columns - 1))
            reach[r * m.columns + c] = 1;
      let changed = true;
      while (changed) {
        changed = false;
        for (let r = 0; r < m.rows; r++)
          for (let c = 0; c < m.columns; c++) {
            const p = r * m.columns + c;
            if (m.data[p] || reach[p]) continue;
            const nb = [
              [r - 1, c],
              [r + 1, c],
              [r, c - 1],
              [r, c + 1],
            ].some(([rr, cc]) => reach[rr * m.columns + cc]);
            if (nb) {
              reach[p] = 1;
              changed = true;
            }
          }
      }
      const expected = Array.from(reach, (v) => 1 - v);
      expect(Array.from(fillHoles(m).data)).toEqual(expected);
    }
  });
});

describe('components on the real Sunnybrook PNG labels', () => {
  const dataDir = sunnybrookDataDir();
  const maybe = dataDir ? it : it.skip;

  maybe('every label is one component with no holes (measured: 526 of 526, under 4- and 8-connectivity)', () => {
    const labels = readAllLabels(dataDir as string);
    expect(labels.length).toBe(526);
    let unchanged = 0;
    for (const { name, mask, oddPixels } of labels) {
      expect({ name, oddPixels }).toEqual({ name, oddPixels: 0 });
      const same =
        labelComponents(mask, 8).count === 1 &&
        labelComponents(mask, 4).count === 1 &&
        Buffer.compare(largestComponent(mask).data, mask.data) === 0 &&
        Buffer.compare(fillHoles(mask).data, mask.data) === 0;
      if (same) unchanged++;
    }
    expect(unchanged).toBe(526);
  });
});
