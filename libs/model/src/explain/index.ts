/** Explanations of a segmentation: activation heatmaps, Grad-CAM, and their rendering as colour-mapped PNGs. */
export { layerActivationMaps, assertLayerNames } from './activations';
export type { LayerMap, ChannelReduction } from './activations';
export { gradCam } from './grad-cam';
export type { GradCamMap, GradCamOptions } from './grad-cam';
export { scaleToUnit, jetColor, colorizeRgba, overlayRgba } from './colormap';
export { renderHeatmap } from './render';
export type { RenderedHeatmap } from './render';
