import { isAbsolute, join, resolve } from 'node:path';
import { repoRoot } from '@lvseg/common';

/**
 * The store tests seed from as "the shipped models": `<repo>/models`, or `LVSEG_SHIPPED_MODELS` when set (as the
 * service reads it), so the same specs can be run against a candidate store before it is shipped, e.g. one whose
 * `production` is an INT8-calibrated version (`lvseg models quantize`).
 */
export function shippedModelsDir(): string {
  const dir = process.env.LVSEG_SHIPPED_MODELS?.trim();
  if (!dir) return join(repoRoot(), 'models');
  return isAbsolute(dir) ? dir : resolve(repoRoot(), dir);
}
