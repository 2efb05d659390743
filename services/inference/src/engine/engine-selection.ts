import * as tf from '@tensorflow/tfjs';
import type { Logger } from 'pino';
import { LvsegError } from '@lvseg/common';
import type { EngineSettings } from '@lvseg/config';
import { OnnxEngineFactory, OnnxRuntime } from './onnx-engine';
import type { EngineFactory } from './segmentation-engine';
import { TfjsEngineFactory } from './tfjs-engine';

export type { EngineSettings } from '@lvseg/config';
export { DEFAULT_ORT_THREADS } from '@lvseg/config';

/** What serves the mask path in this process, and why (logged at start, shown by GET /health/ready). */
export interface EngineChoice {
  engine: 'onnx' | 'tfjs' | 'custom';
  reason: string;
  /** onnx: intra-op threads of each session. */
  ortThreads?: number;
  /** onnx: whether versions carrying `int8-calibration.json` are served as INT8 graphs (`LVSEG_ONNX_INT8`). */
  onnxInt8?: boolean;
  /** The tfjs backend (heatmaps and Grad-CAM always run on it; the mask path too when `engine` is tfjs). */
  tfjsBackend: string;
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
  const int8 = settings.onnxInt8 !== false;
  return {
    choice: { engine: 'onnx', reason: why, ortThreads: settings.ortThreads, onnxInt8: int8, tfjsBackend },
    factory: new OnnxEngineFactory(ort, { threads: settings.ortThreads, int8, logger: opts.logger }),
  };
}
