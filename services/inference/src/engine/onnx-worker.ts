import { Worker } from 'node:worker_threads';
import type * as Ort from 'onnxruntime-node';

/**
 * An onnxruntime session in its own worker thread. onnxruntime-node runs `session.run` synchronously on the calling
 * thread, so on the event loop it would stall HTTP, DICOM decoding and PNG encoding of every other request for the
 * whole forward pass; in a worker those overlap with it, which is what lets 2 cores serve more than 1 core's worth.
 */
export interface OnnxSessionRunner {
  /** Runs the graph on one float32 input; resolves with its only output. `input` is transferred (unusable after). */
  run(input: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: number[] }>;
  release(): Promise<void>;
}

// Plain JS (evaluated by the worker), so it runs the same from dist/ and under jest.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
let session;
parentPort.on('message', async (msg) => {
  try {
    if (msg.type === 'load') {
      session = await ort.InferenceSession.create(msg.bytes, msg.options);
      parentPort.postMessage({ id: msg.id, ok: true });
    } else if (msg.type === 'run') {
      const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', msg.input, msg.dims) });
      const t = out[session.outputNames[0]];
      const data = new Float32Array(t.data); // a copy we own, so it can be transferred
      parentPort.postMessage({ id: msg.id, ok: true, data, dims: Array.from(t.dims) }, [data.buffer]);
    } else if (msg.type === 'release') {
      if (session) await session.release();
      session = undefined;
      parentPort.postMessage({ id: msg.id, ok: true });
    }
  } catch (e) {
    parentPort.postMessage({ id: msg.id, ok: false, error: String((e && e.message) || e) });
  }
});
`;

interface Reply {
  id: number;
  ok: boolean;
  error?: string;
  data?: Float32Array;
  dims?: number[];
}

/** Starts a worker, loads `onnxBytes` into a session there with `options`; rejects when the session cannot be created. */
export async function startOnnxWorker(onnxBytes: Uint8Array, options: Ort.InferenceSession.SessionOptions): Promise<OnnxSessionRunner> {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ortPath: require.resolve('onnxruntime-node') } });
  const pending = new Map<number, { resolve(r: Reply): void; reject(e: Error): void }>();
  let nextId = 1;
  let failure: Error | undefined;
  worker.unref(); // held (ref) only while a call is pending: an idle engine never keeps the process alive
  const fail = (e: Error) => {
    failure = e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  worker.on('error', (e) => fail(new Error(`onnxruntime worker failed: ${e.message}`)));
  worker.on('exit', (code) => fail(new Error(`onnxruntime worker exited (${code})`)));
  worker.on('message', (r: Reply) => {
    const p = pending.get(r.id);
    if (!p) return;
    pending.delete(r.id);
    if (pending.size === 0) worker.unref();
    if (r.ok) p.resolve(r);
    else p.reject(new Error(r.error ?? 'onnxruntime worker error'));
  });
  const call = (msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Reply> => {
    if (failure) return Promise.reject(failure);
    const id = nextId++;
    return new Promise<Reply>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      if (pending.size === 1) worker.ref();
      worker.postMessage({ ...msg, id }, transfer);
    });
  };

  try {
    // A copy: the caller keeps its bytes (they are cached for the next load of the version).
    const bytes = onnxBytes.slice();
    await call({ type: 'load', bytes, options }, [bytes.buffer as ArrayBuffer]);
  } catch (e) {
    await worker.terminate();
    throw e;
  }
  let released = false;
  return {
    run: async (input, dims) => {
      const r = await call({ type: 'run', input, dims }, [input.buffer as ArrayBuffer]);
      return { data: r.data as Float32Array, dims: r.dims as number[] };
    },
    release: async () => {
      if (released) return;
      released = true;
      await call({ type: 'release' }).catch(() => undefined);
      failure = new Error('onnxruntime session released');
      await worker.terminate();
    },
  };
}
