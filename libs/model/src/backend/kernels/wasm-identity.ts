/**
 * Identity (tf.clone) for the wasm backend without the copy: the clone shares the data and holds a reference, as the
 * cpu backend does (tensors are immutable). tfjs' custom gradients clone every saved activation, and tf.layers clones
 * too: ~40 full-size copies per U-Net training step on wasm.
 */
import * as tf from '@tensorflow/tfjs';

/** KernelFunc registered for ('Identity', 'wasm'). */
export const wasmIdentity: tf.KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: tf.TensorInfo };
  (backend as tf.KernelBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
};
