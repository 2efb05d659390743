/** The stock tfjs kernel configs our registrations replace, kept so replacements can delegate and specs can restore. */
import * as tf from '@tensorflow/tfjs';

const saved = new Map<string, tf.KernelConfig | null>();
const key = (kernelName: string, backendName: string): string => `${backendName}/${kernelName}`;

/** Remembers the kernel registered now for (kernel, backend), once (later calls keep the first, i.e. stock, one). */
export function rememberStock(kernelName: string, backendName: string, config: tf.KernelConfig | undefined): void {
  if (!saved.has(key(kernelName, backendName))) saved.set(key(kernelName, backendName), config ?? null);
}

/** The stock config, or null when tfjs has none (undefined when never looked at). */
export function stockKernel(kernelName: string, backendName: string): tf.KernelConfig | null | undefined {
  return saved.get(key(kernelName, backendName));
}
