import * as tf from '@tensorflow/tfjs';

export const LOSS_NAMES = ['ce', 'ce+dice', 'ce+dice-image'] as const;
export type LossName = (typeof LOSS_NAMES)[number];

/**
 * Segmentation loss on logits [B,H,W,2] against one-hot targets [B,H,W,2].
 * `ce`: mean softmax cross-entropy per pixel (the paper). `ce+dice`: plus (1 − soft Dice of the LV class over the
 * whole batch), which keeps the 1.6 % LV class from being drowned by background. `ce+dice-image`: plus the mean over
 * the batch's images of (1 − each image's soft Dice), the per-image mean Dice that `lvseg eval` reports: a small
 * end-systolic or apical cavity weighs as much as a large one (pooled over the batch it hardly counts), and an image
 * without LV scores 1/(1 + Σp), so a blob predicted there costs the most.
 */
export function segmentationLoss(logits: tf.Tensor4D, targets: tf.Tensor4D, loss: LossName): tf.Scalar {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits, -1);
    const ce = tf.neg(tf.mean(tf.sum(tf.mul(targets, logp), -1))) as tf.Scalar;
    if (loss === 'ce') return ce;
    const lvProb = tf.exp(logp).slice([0, 0, 0, 1], [-1, -1, -1, 1]);
    const lvTruth = targets.slice([0, 0, 0, 1], [-1, -1, -1, 1]);
    const axes = loss === 'ce+dice-image' ? [1, 2, 3] : undefined;
    const inter = tf.sum(tf.mul(lvProb, lvTruth), axes);
    const denom = tf.add(tf.sum(lvProb, axes), tf.sum(lvTruth, axes));
    const softDice = tf.mean(tf.div(tf.add(tf.mul(2, inter), 1), tf.add(denom, 1)));
    return tf.add(ce, tf.sub(1, softDice)) as tf.Scalar;
  });
}
