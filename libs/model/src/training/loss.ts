import * as tf from '@tensorflow/tfjs';

export type LossName = 'ce' | 'ce+dice';

/**
 * Segmentation loss on logits [B,H,W,2] against one-hot targets [B,H,W,2].
 * `ce`: mean softmax cross-entropy per pixel (the paper). `ce+dice`: plus (1 − soft Dice of the LV class), which
 * keeps the 1.6 % LV class from being drowned by background.
 */
export function segmentationLoss(logits: tf.Tensor4D, targets: tf.Tensor4D, loss: LossName): tf.Scalar {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits, -1);
    const ce = tf.neg(tf.mean(tf.sum(tf.mul(targets, logp), -1))) as tf.Scalar;
    if (loss === 'ce') return ce;
    const lvProb = tf.exp(logp).slice([0, 0, 0, 1], [-1, -1, -1, 1]);
    const lvTruth = targets.slice([0, 0, 0, 1], [-1, -1, -1, 1]);
    const inter = tf.sum(tf.mul(lvProb, lvTruth));
    const denom = tf.add(tf.sum(lvProb), tf.sum(lvTruth));
    const softDice = tf.div(tf.add(tf.mul(2, inter), 1), tf.add(denom, 1));
    return tf.add(ce, tf.sub(1, softDice)) as tf.Scalar;
  });
}
