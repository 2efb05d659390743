/**
 * Plain-JS float64 references for the gradient-parity specs. Each is written from the op's forward definition (direct
 * loops, TF padding rules), deliberately not from the decompositions the project kernels use, so a spec compares two
 * independent derivations.
 */
import { SeededRandom } from '@lvseg/common';

/** Deterministic PRNG (mulberry32, the project's SeededRandom) so failures reproduce. */
export function rng(seed: number): () => number {
  const random = new SeededRandom(seed);
  return () => random.next();
}

/** `n` values uniform in [lo, hi), rounded to float32 so tfjs and the reference see identical inputs. */
export function randomValues(n: number, rand: () => number, lo = -1, hi = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.fround(lo + (hi - lo) * rand());
  return out;
}

export const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Output length and leading pad of one spatial dim, by TF's rules. */
export function convDim(
  inSize: number,
  k: number,
  s: number,
  pad: 'same' | 'valid' | [number, number],
): { out: number; before: number } {
  if (pad === 'valid') return { out: Math.ceil((inSize - k + 1) / s), before: 0 };
  if (pad === 'same') {
    const out = Math.ceil(inSize / s);
    const total = Math.max((out - 1) * s + k - inSize, 0);
    return { out, before: Math.floor(total / 2) };
  }
  return { out: Math.floor((inSize + pad[0] + pad[1] - k) / s) + 1, before: pad[0] };
}

/** Geometry of an NHWC conv with filter [kh, kw, ci, co]. */
export interface ConvGeom {
  n: number; h: number; w: number; ci: number;
  kh: number; kw: number; co: number;
  sh: number; sw: number;
  ho: number; wo: number; pt: number; pl: number;
}

export function convGeom(
  xShape: readonly number[],
  wShape: readonly number[],
  strides: number | [number, number],
  pad: 'same' | 'valid' | [[number, number], [number, number]],
): ConvGeom {
  const [n, h, w, ci] = xShape;
  const [kh, kw, , co] = wShape;
  const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
  const dh = convDim(h, kh, sh, typeof pad === 'string' ? pad : pad[0]);
  const dw = convDim(w, kw, sw, typeof pad === 'string' ? pad : pad[1]);
  return { n, h, w, ci, kh, kw, co, sh, sw, ho: dh.out, wo: dw.out, pt: dh.before, pl: dw.before };
}

/** Visits every (output position, tap) pair of the conv whose input position is inside the image. */
function forEachTap(
  g: ConvGeom,
  visit: (xBase: number, wBase: number, yBase: number) => void,
): void {
  for (let n = 0; n < g.n; n++)
    for (let i = 0; i < g.ho; i++)
      for (let j = 0; j < g.wo; j++)
        for (let a = 0; a < g.kh; a++) {
          const y = i * g.sh + a - g.pt;
          if (y < 0 || y >= g.h) continue;
          for (let b = 0; b < g.kw; b++) {
            const x = j * g.sw + b - g.pl;
            if (x < 0 || x >= g.w) continue;
            visit(((n * g.h + y) * g.w + x) * g.ci, (a * g.kw + b) * g.ci * g.co, ((n * g.ho + i) * g.wo + j) * g.co);
          }
        }
}

/** conv2d forward: y[n,i,j,co] = Σ x[n, i·sh+a−pt, j·sw+b−pl, ci] · w[a,b,ci,co]. */
export function conv2dRef(x: Float64Array, w: Float64Array, g: ConvGeom): Float64Array {
  const y = new Float64Array(g.n * g.ho * g.wo * g.co);
  forEachTap(g, (xb, wb, yb) => {
    for (let c = 0; c < g.ci; c++) {
      const xv = x[xb + c];
      for (let o = 0; o < g.co; o++) y[yb + o] += xv * w[wb + c * g.co + o];
    }
  });
  return y;
}

/** Gradients of conv2dRef w.r.t. x and w for upstream dy. */
export function conv2dGradRef(x: Float64Array, w: Float64Array, dy: Float64Array, g: ConvGeom): { dx: Float64Array; dw: Float64Array } {
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  forEachTap(g, (xb, wb, yb) => {
    for (let c = 0; c < g.ci; c++) {
      for (let o = 0; o < g.co; o++) {
        const d = dy[yb + o];
        dx[xb + c] += w[wb + c * g.co + o] * d;
        dw[wb + c * g.co + o] += x[xb + c] * d;
      }
    }
  });
  return { dx, dw };
}

/**
 * conv2dTranspose(input [n,ho,wo,co], w [kh,kw,ci,co]) → [n,h,w,ci] is the x-gradient map of the conv with geometry g:
 * out[x-position] = Σ input[y-position] · w. Returns its forward and its gradients w.r.t. input and w.
 */
export function conv2dTransposeRef(inp: Float64Array, w: Float64Array, g: ConvGeom): Float64Array {
  const out = new Float64Array(g.n * g.h * g.w * g.ci);
  forEachTap(g, (xb, wb, yb) => {
    for (let c = 0; c < g.ci; c++) for (let o = 0; o < g.co; o++) out[xb + c] += inp[yb + o] * w[wb + c * g.co + o];
  });
  return out;
}

export function conv2dTransposeGradRef(
  inp: Float64Array,
  w: Float64Array,
  dOut: Float64Array,
  g: ConvGeom,
): { dInput: Float64Array; dw: Float64Array } {
  const dInput = new Float64Array(inp.length);
  const dw = new Float64Array(w.length);
  forEachTap(g, (xb, wb, yb) => {
    for (let c = 0; c < g.ci; c++)
      for (let o = 0; o < g.co; o++) {
        dInput[yb + o] += w[wb + c * g.co + o] * dOut[xb + c];
        dw[wb + c * g.co + o] += inp[yb + o] * dOut[xb + c];
      }
  });
  return { dInput, dw };
}

/**
 * maxPool forward and gradient: each window's first maximum in row-major window order (TF's choice on ties) receives
 * the window's upstream gradient; padded positions never win.
 */
export function maxPoolRef(
  x: Float64Array,
  shape: readonly number[],
  k: [number, number],
  s: [number, number],
  pad: 'same' | 'valid',
  dy?: Float64Array,
): { y: Float64Array; dx: Float64Array; outShape: number[] } {
  const [n, h, w, c] = shape;
  const dh = convDim(h, k[0], s[0], pad);
  const dw = convDim(w, k[1], s[1], pad);
  const y = new Float64Array(n * dh.out * dw.out * c);
  const dx = new Float64Array(x.length);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < dh.out; i++)
      for (let j = 0; j < dw.out; j++)
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let at = -1;
          for (let a = 0; a < k[0]; a++) {
            const yy = i * s[0] + a - dh.before;
            if (yy < 0 || yy >= h) continue;
            for (let bb = 0; bb < k[1]; bb++) {
              const xx = j * s[1] + bb - dw.before;
              if (xx < 0 || xx >= w) continue;
              const idx = ((b * h + yy) * w + xx) * c + ch;
              if (x[idx] > best) {
                best = x[idx];
                at = idx;
              }
            }
          }
          const o = ((b * dh.out + i) * dw.out + j) * c + ch;
          y[o] = best;
          if (dy && at >= 0) dx[at] += dy[o];
        }
  return { y, dx, outShape: [n, dh.out, dw.out, c] };
}

/** Gradient of a linear map given as `source index of each output element` (e.g. nearest-neighbour resize). */
export function gatherMapGrad(sourceOf: ArrayLike<number>, dy: Float64Array, inSize: number): Float64Array {
  const dx = new Float64Array(inSize);
  for (let o = 0; o < dy.length; o++) dx[sourceOf[o]] += dy[o];
  return dx;
}

/**
 * Central finite differences of Σ dy · f(x) w.r.t. every element of input `which`, in float64 (h = 1e-6 on
 * float64 forward functions gives ~1e-9 relative error on smooth ops).
 */
export function finiteDiffGrad(
  f: (xs: Float64Array[]) => Float64Array,
  xs: Float64Array[],
  dy: Float64Array,
  which: number,
  h = 1e-6,
): Float64Array {
  const x = xs[which];
  const g = new Float64Array(x.length);
  const dot = (v: Float64Array): number => {
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i] * dy[i];
    return s;
  };
  for (let k = 0; k < x.length; k++) {
    const keep = x[k];
    x[k] = keep + h;
    const up = dot(f(xs));
    x[k] = keep - h;
    const down = dot(f(xs));
    x[k] = keep;
    g[k] = (up - down) / (2 * h);
  }
  return g;
}

/** max |a − b| / max |b| (0 when both are all zero). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const diff = Math.abs(a[i] - b[i]);
    if (Number.isNaN(diff)) return Infinity;
    d = Math.max(d, diff);
    m = Math.max(m, Math.abs(b[i]));
  }
  return m === 0 ? d : d / m;
}
