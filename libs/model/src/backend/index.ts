/** Backend selection and the project's tfjs kernels (fixes for wrong stock gradients, fast wasm replacements). */
export { initBackend } from './backend';
export type { BackendInfo, InitBackendOptions } from './backend';
export { registerProjectKernels, restoreStockKernel, PROJECT_KERNELS } from './kernels/register';
export type { ProjectKernel } from './kernels/register';
