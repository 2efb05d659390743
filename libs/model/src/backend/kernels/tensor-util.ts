/**
 * Small helpers shared by the project's kernels: wrapping kernel inputs as Tensors so that ordinary tfjs ops can be
 * composed inside a kernel, and an im2col copy that reads the wasm heap in place.
 */
import * as tf from '@tensorflow/tfjs';

/** The part of tfjs-backend-wasm's BackendWasm that the row copy needs (kept structural so no wasm import is needed). */
export interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/**
 * The whole wasm heap as one Float32Array and a float32 tensor's element offset in it. Copies between tensors are
 * then `heap.copyWithin` (a memmove): 2-6× faster than subarray().set() or an element loop for the 8-128-value runs
 * of im2col and channel concat (measured). Take it after every allocation: malloc may grow (detach) the heap.
 */
export function heapF32(backend: WasmHeapBackend, t: tf.TensorInfo): { heap: Float32Array; offset: number } {
  const view = backend.typedArrayFromHeap(t) as Float32Array;
  return { heap: new Float32Array(view.buffer), offset: view.byteOffset / 4 };
}

/** True when `b` exposes the wasm heap API (tfjs-backend-wasm's BackendWasm). */
export function isWasmHeapBackend(b: unknown): b is WasmHeapBackend {
  return (
    typeof (b as WasmHeapBackend | null)?.makeOutput === 'function' &&
    typeof (b as WasmHeapBackend | null)?.typedArrayFromHeap === 'function'
  );
}

/**
 * Kernel inputs are normally the caller's Tensors; a backend may also pass bare TensorInfos. Returns a Tensor and
 * whether it is a wrapper the caller must dispose (a wrapper shares the data, it does not copy it).
 */
export function asTensor(info: tf.TensorInfo): { t: tf.Tensor; wrapper: boolean } {
  if (info instanceof tf.Tensor) return { t: info, wrapper: false };
  const e = tf.engine();
  e.backend.incRef(info.dataId); // the wrapper owns one reference, released by its dispose
  return { t: e.makeTensorFromTensorInfo(info), wrapper: true };
}

/**
 * Runs `fn` on Tensor views of kernel inputs inside a tidy and returns its result as the kernel output. Wrappers made
 * for bare TensorInfo inputs are released; the caller's tensors are untouched.
 */
export function composeKernel<T extends Record<string, tf.TensorInfo>>(
  inputs: T,
  fn: (t: { [K in keyof T]: tf.Tensor }) => tf.Tensor,
): tf.Tensor {
  const made: tf.Tensor[] = [];
  const ts = {} as { [K in keyof T]: tf.Tensor };
  for (const k of Object.keys(inputs) as (keyof T)[]) {
    const { t, wrapper } = asTensor(inputs[k]);
    if (wrapper) made.push(t);
    ts[k] = t;
  }
  try {
    return tf.tidy(() => fn(ts));
  } finally {
    for (const t of made) t.dispose();
  }
}

/** A block of `count` consecutive channel rows of a [R, N, H, W] source, read at spatial offset (dy, dx). */
export interface WindowSegment {
  row: number;
  count: number;
  dy: number;
  dx: number;
}

/**
 * im2col without padding waste: for every segment row ρ, the [N, ho, wo] window of `src` [R, N, H, W] at offset
 * (dy, dx) becomes one output row of length N·ho·wo. Wasm moves runs of wo values within its heap, cpu copies its JS
 * arrays the same way; other backends compose slice + concat.
 */
export function gatherWindows(src: tf.Tensor4D, segments: WindowSegment[], ho: number, wo: number): tf.Tensor2D {
  const [rows, n, h, w] = src.shape;
  let total = 0;
  for (const s of segments) {
    if (s.row < 0 || s.count < 0 || s.row + s.count > rows || s.dy < 0 || s.dy + ho > h || s.dx < 0 || s.dx + wo > w) {
      throw new Error(`gatherWindows: segment ${JSON.stringify(s)} (window ${ho}x${wo}) outside [${src.shape}]`);
    }
    total += s.count;
  }
  const len = n * ho * wo;
  const backend = tf.backend();
  if (src.dtype === 'float32' && isWasmHeapBackend(backend) && tf.getBackend() === 'wasm') {
    const outInfo = backend.makeOutput([total, len], 'float32');
    const { heap, offset: from } = heapF32(backend, src);
    let o = heapF32(backend, outInfo).offset;
    for (const s of segments) {
      for (let r = s.row; r < s.row + s.count; r++) {
        for (let b = 0; b < n; b++) {
          let i0 = from + ((r * n + b) * h + s.dy) * w + s.dx;
          for (let i = 0; i < ho; i++, i0 += w, o += wo) heap.copyWithin(o, i0, i0 + wo);
        }
      }
    }
    return tf.engine().makeTensorFromTensorInfo(outInfo) as tf.Tensor2D;
  }
  if (src.dtype === 'float32' && tf.getBackend() === 'cpu') {
    // cpu keeps values in JS arrays: copy runs directly (tf.slice per tap is ~10× slower there).
    const cpu = backend as tf.KernelBackend & {
      makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
    };
    const from = cpu.readSync(src.dataId) as Float32Array;
    const to = new Float32Array(total * len);
    let o = 0;
    for (const s of segments) {
      for (let r = s.row; r < s.row + s.count; r++) {
        for (let b = 0; b < n; b++) {
          let i0 = ((r * n + b) * h + s.dy) * w + s.dx;
          for (let i = 0; i < ho; i++, i0 += w, o += wo) to.set(from.subarray(i0, i0 + wo), o);
        }
      }
    }
    return tf.engine().makeTensorFromTensorInfo(cpu.makeTensorInfo([total, len], 'float32', to)) as tf.Tensor2D;
  }
  return tf.tidy(() =>
    tf.concat(
      segments.map((s) => tf.reshape(tf.slice(src, [s.row, 0, s.dy, s.dx], [s.count, n, ho, wo]), [s.count, len])),
      0,
    ),
  ) as tf.Tensor2D;
}
