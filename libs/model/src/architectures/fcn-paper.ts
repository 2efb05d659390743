import * as tf from '@tensorflow/tfjs';

/**
 * The paper's FCN, layer for layer: conv 5×5/2 ×100 → maxpool 2 → conv 5×5/2 ×200 → maxpool 2 → conv 3×3 ×300 →
 * conv 3×3 ×300 → 1×1 score ×2 → transposed conv 31×31 stride 16 back to 256×256×2 (logits). ReLU after every
 * hidden conv, 'same' padding throughout (as the NVIDIA DLI TensorFlow version of the network).
 * Layer names are the heatmap names the API exposes. `variant`: the lab's initialiser (truncated normal, stddev 0.1)
 * and bias (none) choices, for reproducing the paper (issue 14); the defaults are Glorot uniform and zero biases.
 */
export function buildFcnPaper(seed = 1, size = 256, variant: { initializer: 'default' | 'truncated-normal-0.1'; bias: 'zero' | 'none' } = { initializer: 'default', bias: 'zero' }): tf.LayersModel {
  let i = 0;
  const init = () =>
    variant.initializer === 'truncated-normal-0.1' ? tf.initializers.truncatedNormal({ mean: 0, stddev: 0.1, seed: seed * 1000 + i++ }) : tf.initializers.glorotUniform({ seed: seed * 1000 + i++ });
  const useBias = variant.bias !== 'none';
  const input = tf.input({ shape: [size, size, 1], name: 'image' });
  let x = tf.layers.conv2d({ name: 'conv1', filters: 100, kernelSize: 5, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(), useBias }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2, strides: 2, padding: 'same' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ name: 'conv2', filters: 200, kernelSize: 5, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(), useBias }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2, strides: 2, padding: 'same' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ name: 'conv3', filters: 300, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(), useBias }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ name: 'conv4', filters: 300, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(), useBias }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ name: 'score', filters: 2, kernelSize: 1, padding: 'same', kernelInitializer: init(), useBias }).apply(x) as tf.SymbolicTensor;
  const logits = tf.layers
    .conv2dTranspose({ name: 'upscore', filters: 2, kernelSize: 31, strides: 16, padding: 'same', kernelInitializer: init(), useBias })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ name: 'fcn-paper', inputs: input, outputs: logits });
}
