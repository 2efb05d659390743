/**
 * Gradient parity: for every op the models train through, tfjs' gradient (through the kernels registered for the
 * backend, ours included) must match an independent float64 reference, on every backend this process has.
 */
import * as tf from '@tensorflow/tfjs';
import { PROJECT_KERNELS, registerProjectKernels, restoreStockKernel } from './kernels/register';
import { CASES, CONV_TRANSPOSE_FORWARD } from './testing/cases';
import { BackendsUnderTest, prepareBackends, runGradCase } from './testing/parity';
import { randomValues, relErr, rng, size } from './testing/reference';

/** float32 results vs float64 references: max|Δ| / max|ref|. Real kernel bugs give O(1). */
const TOL = 1e-4;

function hasNodeBackend(): boolean {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require.resolve(pkg);
      return true;
    } catch {
      // next
    }
  }
  return false;
}

const BACKENDS: { name: string; present: boolean; why?: string }[] = [
  { name: 'cpu', present: true },
  { name: 'wasm', present: true },
  { name: 'tensorflow', present: hasNodeBackend(), why: '@tensorflow/tfjs-node(-gpu) not installed here' },
];
for (const b of BACKENDS) {
  if (!b.present) console.log(`gradient parity on '${b.name}' skipped: ${b.why}`);
}

let prepared: BackendsUnderTest;
beforeAll(async () => {
  prepared = await prepareBackends();
});

for (const b of BACKENDS) {
  (b.present ? describe : describe.skip)(`gradient parity on ${b.name}`, () => {
    beforeAll(async () => {
      expect(prepared.available).toContain(b.name);
      await tf.setBackend(b.name);
    });

    for (const [group, cases] of Object.entries(CASES)) {
      describe(group, () => {
        for (const c of cases) {
          it(c.name, () => {
            const r = runGradCase(c);
            if (r.forward !== undefined) expect(r.forward).toBeLessThanOrEqual(TOL);
            const bad = r.grads.map((err, input) => ({ input, err })).filter((g) => !(g.err <= TOL));
            expect(bad).toEqual([]);
            expect({ leakedTensors: r.leakedTensors, leakedData: r.leakedData }).toEqual({ leakedTensors: 0, leakedData: 0 });
          });
        }
      });
    }
  });
}

/** The stock tfjs kernels our registrations replace for correctness: each must fail the same parity cases. */
describe('stock tfjs 4.22 kernels fail parity (why ours are registered)', () => {
  const stockCheck = (backend: string, kernel: string, group: string): void => {
    it(`${backend} ${kernel}: at least one ${group} case is wrong`, async () => {
      await tf.setBackend(backend);
      restoreStockKernel(kernel, backend);
      try {
        const errs = CASES[group].map((c) => {
          try {
            return Math.max(...runGradCase(c).grads);
          } catch {
            return Infinity; // e.g. cpu ResizeBilinearGrad returns dx of the wrong shape for non-square images
          }
        });
        const worst = Math.max(...errs);
        expect(worst).toBeGreaterThan(0.05);
      } finally {
        registerProjectKernels();
      }
    });
  };
  stockCheck('wasm', 'MaxPoolGrad', 'maxPool');
  stockCheck('cpu', 'ResizeNearestNeighborGrad', 'resizeNearestNeighbor');
  stockCheck('wasm', 'ResizeNearestNeighborGrad', 'resizeNearestNeighbor');
  stockCheck('cpu', 'ResizeBilinearGrad', 'resizeBilinear');
  stockCheck('wasm', 'ResizeBilinearGrad', 'resizeBilinear');

  it('wasm Conv2DBackpropFilter: tfjs-backend-wasm has none, so conv filters cannot train', async () => {
    await tf.setBackend('wasm');
    restoreStockKernel('Conv2DBackpropFilter', 'wasm');
    try {
      expect(() => runGradCase(CASES.conv2d[2])).toThrow(/Conv2DBackpropFilter/);
    } finally {
      registerProjectKernels();
    }
  });
});

describe('conv2dTranspose forward through our wasm Conv2DBackpropInput', () => {
  for (const c of CONV_TRANSPOSE_FORWARD) {
    it(`matches the cpu backend for in${JSON.stringify(c.input)} w${JSON.stringify(c.w)} s${c.s} ${c.pad}`, async () => {
      const rand = rng(7);
      const x = Float32Array.from(randomValues(size(c.input), rand));
      const w = Float32Array.from(randomValues(size(c.w), rand));
      const run = async (b: string): Promise<Float32Array> => {
        await tf.setBackend(b);
        return tf.tidy(() =>
          tf
            .conv2dTranspose(tf.tensor4d(x, c.input as never), tf.tensor4d(w, c.w as never), c.out as never, c.s, c.pad)
            .dataSync() as Float32Array,
        );
      };
      const ref = await run('cpu');
      const got = await run('wasm');
      expect(tf.getKernel('Conv2DBackpropInput', 'wasm')?.kernelFunc).toBe(
        PROJECT_KERNELS.find((k) => k.kernelName === 'Conv2DBackpropInput' && k.backendName === 'wasm')?.kernelFunc,
      );
      expect(relErr(got, ref)).toBeLessThanOrEqual(TOL);
    });
  }
});
