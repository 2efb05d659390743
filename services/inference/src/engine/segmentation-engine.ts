import type { BinaryMask, GrayImage, Roi } from '@lvseg/imaging';
import type { GradCamMap, LayerMap } from '@lvseg/model';
import type { ModelCard } from '@lvseg/model-store';

/** The mask and LV probability of one image, both at the image's own size. */
export interface ImageSegmentation {
  probability: Float32Array;
  mask: BinaryMask;
  /** False when the model found no LV in the image (the mask is then empty). */
  lvFound: boolean;
  /** A cascade's region of interest (image pixels) and where its centre came from; null for whole-image models. */
  roi: Roi | null;
  roiSource: 'localiser' | 'series' | null;
  /** A cascade's second look at a small LV gave the mask (`roi` is then that smaller region). */
  zoomed?: boolean;
}

export interface SegmentOptions {
  /** The images are one series (one heart's slices and phases), segmented together. */
  series?: boolean;
}

/**
 * A loaded model that segments and explains. The tfjs implementation does both; a faster runtime (onnxruntime, a GPU
 * build) can implement `segment` and hand explanations to tfjs, without the service knowing.
 */
export interface SegmentationEngine {
  readonly version: string;
  readonly architecture: string;
  /** What runs the forward pass, e.g. `tfjs (wasm)` or `onnxruntime-node 1.30.0 (cpu, 1 intra-op thread)…`. */
  readonly runtime: string;
  /**
   * Engine calls that may usefully run at once (default 1). More than 1 only for engines whose forward pass runs off
   * the event loop, so one call's preprocessing and post-processing overlap another's forward pass.
   */
  readonly maxConcurrentCalls?: number;
  /** Layer names `heatmaps` and `gradcam` accept, in network order. */
  readonly heatmapLayers: string[];
  /** Segments a batch of images in one forward pass (any sizes: the shared preprocessing resamples them). */
  segment(images: GrayImage[], opts?: SegmentOptions): Promise<ImageSegmentation[]>;
  /** Channel-mean activation of each named layer for one image, at the layer's resolution. */
  activationMaps(image: GrayImage, layers: string[]): Promise<LayerMap[]>;
  /** Grad-CAM of the LV class over `mask` (the predicted region; image size) at `layer`. */
  gradCam(image: GrayImage, layer: string, mask: BinaryMask): Promise<GradCamMap>;
  /** Frees the model's memory; the engine is unusable afterwards. */
  dispose(): void;
}

/** Builds an engine from a verified model version (card + file bytes); throws when the files are not a usable model. */
export interface EngineFactory {
  create(card: ModelCard, files: Map<string, Buffer>): Promise<SegmentationEngine>;
}
