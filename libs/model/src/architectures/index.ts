import * as tf from '@tensorflow/tfjs';
import { LvsegError } from '@lvseg/common';
import { buildFcnPaper } from './fcn-paper';
import { buildUnetSmall } from './unet-small';

/**
 * How fresh weights are drawn. `default`: each architecture's own (Glorot uniform). `truncated-normal-0.1`: a normal
 * with stddev 0.1 cut at 2 stddev, as the NVIDIA DLI Sunnybrook lab the paper follows initialised every layer.
 */
export type InitializerName = 'default' | 'truncated-normal-0.1';
export const INITIALIZERS: InitializerName[] = ['default', 'truncated-normal-0.1'];

/** Biases of the convolutions: `zero` (zero-initialised, trained; the default) or `none` (no bias terms at all). */
export type BiasVariant = 'zero' | 'none';
export const BIAS_VARIANTS: BiasVariant[] = ['zero', 'none'];

export interface BuildOptions {
  seed?: number;
  /** Input side; null builds a size-agnostic model (fully convolutional nets only). */
  size?: number | null;
  /** fcn-paper only (the lab's variants); other architectures refuse anything but the defaults. */
  initializer?: InitializerName;
  bias?: BiasVariant;
}

interface Architecture {
  description: string;
  build(opts: BuildOptions): tf.LayersModel;
  /** Layers whose activations are worth a heatmap, in network order. */
  heatmapLayers: string[];
  /** Whether `BuildOptions.initializer` / `bias` variants are implemented. */
  variants?: boolean;
}

export const ARCHITECTURES: Record<string, Architecture> = {
  'fcn-paper': {
    description: "The paper's FCN: 2 strided 5×5 convs with pooling, two 3×3 convs, 1×1 score, 31×31/16 transposed conv.",
    build: (o) => buildFcnPaper(o.seed ?? 1, o.size ?? 256, { initializer: o.initializer ?? 'default', bias: o.bias ?? 'zero' }),
    variants: true,
    heatmapLayers: ['conv1', 'pool1', 'conv2', 'pool2', 'conv3', 'conv4', 'score', 'upscore'],
  },
  'unet-small': {
    description: 'A light 4-level U-Net (16-256 filters) with skip connections and transposed-conv upsampling.',
    build: (o) => buildUnetSmall(o.seed ?? 1, o.size === undefined ? 256 : o.size),
    heatmapLayers: ['enc1', 'enc2', 'enc3', 'enc4', 'bottleneck', 'dec4', 'dec3', 'dec2', 'dec1', 'score'],
  },
  'unet-tiny': {
    description: "unet-small's layout at half the width (8-128 filters): the cascade's localiser on a 64² image.",
    build: (o) => buildUnetSmall(o.seed ?? 1, o.size === undefined ? 64 : o.size, 8),
    heatmapLayers: ['enc1', 'enc2', 'enc3', 'enc4', 'bottleneck', 'dec4', 'dec3', 'dec2', 'dec1', 'score'],
  },
};

/** Build an architecture by name with fresh, seeded weights. */
export function buildModel(arch: string, opts: BuildOptions = {}): tf.LayersModel {
  const a = ARCHITECTURES[arch];
  if (!a) throw new LvsegError('invalid-input', 'UNKNOWN_ARCHITECTURE', `unknown architecture "${arch}"; known: ${Object.keys(ARCHITECTURES).join(', ')}`);
  if (!a.variants && ((opts.initializer ?? 'default') !== 'default' || (opts.bias ?? 'zero') !== 'zero')) {
    throw new LvsegError('invalid-input', 'UNSUPPORTED_VARIANT', `${arch} is built with its default initializer and zero biases only (got initializer ${opts.initializer ?? 'default'}, bias ${opts.bias ?? 'zero'})`);
  }
  return a.build(opts);
}

/** The heatmap layer names of an architecture. */
export function heatmapLayers(arch: string): string[] {
  const a = ARCHITECTURES[arch];
  if (!a) throw new LvsegError('invalid-input', 'UNKNOWN_ARCHITECTURE', `unknown architecture "${arch}"`);
  return a.heatmapLayers;
}
