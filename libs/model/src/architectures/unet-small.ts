import * as tf from '@tensorflow/tfjs';

/**
 * A light U-Net (4 levels, 16→128 filters, 2×2 transposed-conv upsampling with skip connections). Batch norm is
 * optional and off in `unet-small`: on the wasm backend its gradient (Tile-heavy in tfjs 4.22) cost ~40 % of a step.
 * Fully convolutional: trains on crops and serves whole images whose sides are multiples of 16.
 * Layer names (`enc1`…`enc4`, `bottleneck`, `dec4`…`dec1`, `score`) are the heatmap names the API exposes.
 */
export function buildUnetSmall(seed = 1, size: number | null = 256, base = 16, batchNorm = false): tf.LayersModel {
  let i = 0;
  const init = () => tf.initializers.heNormal({ seed: seed * 1000 + i++ });
  const block = (x: tf.SymbolicTensor, filters: number, name: string): tf.SymbolicTensor => {
    for (const k of [1, 2]) {
      x = tf.layers.conv2d({ name: `${name}_conv${k}`, filters, kernelSize: 3, padding: 'same', useBias: !batchNorm, kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
      if (batchNorm) x = tf.layers.batchNormalization({ name: `${name}_bn${k}`, momentum: 0.9 }).apply(x) as tf.SymbolicTensor;
      x = tf.layers.reLU({ name: k === 2 ? name : `${name}_relu${k}` }).apply(x) as tf.SymbolicTensor;
    }
    return x;
  };
  const input = tf.input({ shape: [size, size, 1], name: 'image' });
  const skips: tf.SymbolicTensor[] = [];
  let x = input;
  const widths = [base, base * 2, base * 4, base * 8];
  widths.forEach((w, level) => {
    x = block(x, w, `enc${level + 1}`);
    skips.push(x);
    x = tf.layers.maxPooling2d({ name: `pool${level + 1}`, poolSize: 2, strides: 2 }).apply(x) as tf.SymbolicTensor;
  });
  x = block(x, base * 16, 'bottleneck');
  for (let level = widths.length - 1; level >= 0; level--) {
    const w = widths[level];
    x = tf.layers.conv2dTranspose({ name: `up${level + 1}`, filters: w, kernelSize: 2, strides: 2, padding: 'same', kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.concatenate({ name: `skip${level + 1}`, axis: -1 }).apply([x, skips[level]]) as tf.SymbolicTensor;
    x = block(x, w, `dec${level + 1}`);
  }
  const logits = tf.layers.conv2d({ name: 'score', filters: 2, kernelSize: 1, padding: 'same', kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
  return tf.model({ name: 'unet-small', inputs: input, outputs: logits });
}
