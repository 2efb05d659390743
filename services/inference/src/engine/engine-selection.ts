import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import type { Logger } from 'pino';
import { LvsegError } from '@lvseg/common';
import { OnnxEngineFactory, OnnxRuntime } from './onnx-engine';
import type { EngineFactory } from './segmentation-engine';
import { TfjsEngineFactory } from './tfjs-engine';

/** Which runtime serves the mask path (`LVSEG_ENGINE`), and its threads (`LVSEG_ORT_THREADS`). */
export interface EngineSettings {
  engine: 'auto' | 'onnx' | 'tfjs';
  ortThreads: number;
}

/** What serves the mask path in this process, and why (logged at start, shown by GET /health/ready). */
export interface EngineChoice {
  engine: 'onnx' | 'tfjs' | 'custom';
  reason: string;
  /** onnx: intra-op threads of each session. */
  ortThreads?: number;
  /** The tfjs backend (heatmaps and Grad-CAM always run on it; the mask path too when `engine` is tfjs). */
  tfjsBackend: string;
}

/**
 * Default intra-op threads: 2 (1 on a 1-core machine). Measured on this 2-core machine with the forward pass in a
 * worker thread: 2 beat 1 at concurrency 1 and 8, for fcn-paper and unet-small (BENCHMARKS.md, "Inference"); only when
 * higher-priority processes already saturate both cores did 1 do better.
 */
export const DEFAULT_ORT_THREADS = Math.min(2, availableParallelism());

/** Reads and validates LVSEG_ENGINE (auto | onnx | tfjs, default auto) and LVSEG_ORT_THREADS (1..64, default DEFAULT_ORT_THREADS). */
export function readEngineSettings(env: NodeJS.ProcessEnv = process.env): EngineSettings {
  const engine = (env.LVSEG_ENGINE?.trim() || 'auto') as EngineSettings['engine'];
  if (engine !== 'auto' && engine !== 'onnx' && engine !== 'tfjs') {
    throw new LvsegError('config', 'CONFIG_INFERENCE_SETTING', `LVSEG_ENGINE must be auto, onnx or tfjs, got ${JSON.stringify(env.LVSEG_ENGINE)}`, { setting: 'LVSEG_ENGINE' });
  }
  const rawThreads = env.LVSEG_ORT_THREADS?.trim();
  const ortThreads = rawThreads ? Number(rawThreads) : DEFAULT_ORT_THREADS;
  if (!Number.isInteger(ortThreads) || ortThreads < 1 || ortThreads > 64) {
    throw new LvsegError('config', 'CONFIG_INFERENCE_SETTING', `LVSEG_ORT_THREADS must be an integer in [1, 64], got ${JSON.stringify(env.LVSEG_ORT_THREADS)}`, { setting: 'LVSEG_ORT_THREADS' });
  }
  return { engine, ortThreads };
}

/** onnxruntime-node, or why it cannot be used (not installed, native binding fails to load). */
export function loadOnnxRuntime(): OnnxRuntime | string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const ort = require('onnxruntime-node') as OnnxRuntime;
    if (typeof ort.InferenceSession?.create !== 'function') return 'onnxruntime-node has no InferenceSession';
    return ort;
  } catch (e) {
    return `onnxruntime-node does not load (${String((e as Error).message ?? e).split('\n')[0].slice(0, 200)})`;
  }
}

/**
 * auto: tfjs when its backend is 'tensorflow' (tfjs-node or tfjs-node-gpu: the native TensorFlow serves directly,
 * on the GPU where there is one); else onnx when onnxruntime-node loads; else tfjs. A forced `onnx` that cannot
 * load is a configuration error. Call after `initBackend()`.
 */
export function chooseEngine(
  settings: EngineSettings,
  opts: { tfjsBackend?: string; logger?: Logger; loadOrt?: () => OnnxRuntime | string } = {},
): { choice: EngineChoice; factory: EngineFactory } {
  const tfjsBackend = opts.tfjsBackend ?? tf.getBackend();
  const tfjs = (reason: string) => ({ choice: { engine: 'tfjs' as const, reason, tfjsBackend }, factory: new TfjsEngineFactory() });
  if (settings.engine === 'tfjs') return tfjs('LVSEG_ENGINE=tfjs');
  if (settings.engine === 'auto' && tfjsBackend === 'tensorflow') return tfjs("auto: the tfjs backend is 'tensorflow' (tfjs-node), which serves directly");
  const ort = (opts.loadOrt ?? loadOnnxRuntime)();
  if (typeof ort === 'string') {
    if (settings.engine === 'onnx') throw new LvsegError('config', 'ENGINE_UNAVAILABLE', `LVSEG_ENGINE=onnx but ${ort}`);
    return tfjs(`auto: ${ort}`);
  }
  const why = settings.engine === 'onnx' ? 'LVSEG_ENGINE=onnx' : `auto: the tfjs backend is '${tfjsBackend}' and onnxruntime-node loads`;
  return {
    choice: { engine: 'onnx', reason: why, ortThreads: settings.ortThreads, tfjsBackend },
    factory: new OnnxEngineFactory(ort, { threads: settings.ortThreads, logger: opts.logger }),
  };
}
