/**
 * One replica of a data-parallel training step, run in a worker thread (`GradientWorkerPool`): it holds a copy of
 * the network, takes the current weights and a shard of the batch, and answers the shard's loss, the gradient of
 * that loss for every trainable weight, and the predicted classes (for the epoch's training metrics).
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { LossName, segmentationLoss } from './loss';

export interface GradientWorkerInit {
  /** `model.toJSON(null, false)`: the topology, without weights. */
  topology: string;
  loss: LossName;
  /** tfjs backend to ask for (the main thread's). */
  backend: string;
}

export interface GradientRequest {
  id: number;
  /** Trainable weights in `model.trainableWeights` order, or absent to keep the previous ones. */
  weights?: Float32Array[];
  xs: Float32Array;
  ys: Float32Array;
  /** [batch, side, side, 1] of `xs`; `ys` has 2 channels. */
  shape: [number, number, number, number];
}

export type GradientReply =
  | { id: number; ok: true; loss: number; grads: Float32Array[]; predicted: Uint8Array }
  | { id: number; ok: false; error: string };

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) return;
  const init = workerData as GradientWorkerInit;
  await initBackend({ prefer: init.backend as 'wasm' });
  const model = await tf.models.modelFromJSON(JSON.parse(init.topology) as tf.io.ModelJSON['modelTopology'] as never);
  const variables = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  port.postMessage({ ready: true });
  port.on('message', (req: GradientRequest) => {
    try {
      const weights = req.weights;
      if (weights) tf.tidy(() => weights.forEach((w, k) => variables[k].assign(tf.tensor(w, variables[k].shape))));
      const [b, h, w] = req.shape;
      const out = tf.tidy(() => {
        const x = tf.tensor4d(req.xs, req.shape);
        const y = tf.tensor4d(req.ys, [b, h, w, 2]);
        let predicted: tf.Tensor | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const logits = model.apply(x, { training: true }) as tf.Tensor4D;
          predicted = tf.keep(logits.argMax(-1));
          return segmentationLoss(logits, y, init.loss);
        }, variables);
        return { value, grads: variables.map((v) => grads[v.name]), predicted: predicted as tf.Tensor };
      });
      // Copies: the backend may keep its own buffers (the cpu backend hands out the tensor's storage).
      const grads = out.grads.map((g) => (g.dataSync() as Float32Array).slice());
      const loss = out.value.dataSync()[0];
      const predicted = Uint8Array.from(out.predicted.dataSync());
      out.grads.forEach((g) => g.dispose());
      out.value.dispose();
      out.predicted.dispose();
      const reply: GradientReply = { id: req.id, ok: true, loss, grads, predicted };
      port.postMessage(reply, [...grads.map((g) => g.buffer as ArrayBuffer), predicted.buffer as ArrayBuffer]);
    } catch (e) {
      const reply: GradientReply = { id: req.id, ok: false, error: String((e as Error)?.message ?? e) };
      port.postMessage(reply);
    }
  });
}

void main().catch((e) => parentPort?.postMessage({ ready: false, error: String((e as Error)?.stack ?? e) }));
