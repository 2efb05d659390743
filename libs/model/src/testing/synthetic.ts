import { SeededRandom } from '@lvseg/common';
import { LabelledImage } from '@lvseg/imaging';

/** Synthetic short-axis-like images: a bright disc (the "LV") on a noisy darker background, at a random place. */
export function syntheticSet(count: number, seed: number): LabelledImage[] {
  const rng = new SeededRandom(seed);
  const n = 256;
  return Array.from({ length: count }, (_, k) => {
    const data = new Float32Array(n * n);
    const mask = new Uint8Array(n * n);
    const cr = 100 + rng.int(56);
    const cc = 100 + rng.int(56);
    const radius = 12 + rng.int(10);
    for (let r = 0; r < n; r++)
      for (let c = 0; c < n; c++) {
        const inside = (r - cr) ** 2 + (c - cc) ** 2 <= radius * radius;
        mask[r * n + c] = inside ? 1 : 0;
        data[r * n + c] = (inside ? 900 : 300) + rng.uniform(-150, 150);
      }
    return { id: `synthetic/${k}`, case: `S${k % 3}`, split: 'train', image: { rows: n, columns: n, data }, mask: { rows: n, columns: n, data: mask } };
  });
}

