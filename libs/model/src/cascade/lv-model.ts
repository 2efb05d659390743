/**
 * A servable LV model of any kind behind one set of functions: a single whole-image network (`fcn-paper`,
 * `unet-small`) or the two-stage `cascade`. Eval, training-time selection, both engines and the browser all go
 * through `segmentLv`, so each kind is segmented one way everywhere.
 */
import * as tf from '@tensorflow/tfjs';
import { LvsegError } from '@lvseg/common';
import { BinaryMask, GrayImage, InputScaling, MODEL_INPUT_SIZE, Roi, cropToRoi, inputScalingOf, normalize, pasteFromRoi, resizeMaskNearest, toModelInput } from '@lvseg/imaging';
import { ARCHITECTURES } from '../architectures';
import { GradCamMap, LayerMap, gradCam, layerActivationMaps } from '../explain';
import { DEFAULT_MASK_OPTIONS, MaskOptions, predictLvProbabilities, segmentWholeImages } from '../segmentation';
import { modelFromFiles, modelToFiles } from '../model-files';
import { CascadeOptions, CascadeRunners, CascadeSpec, REQUIRED_CASCADE_SPEC, cascadeSpecProblems, localiserInput, segmentCascade, segmenterInput } from './cascade';

export type LvModel =
  /** `inputScaling`: how its input is made from the image (its card's `preprocessing.inputScaling`); absent: `normalize`. */
  | { kind: 'single'; architecture: string; model: tf.LayersModel; inputScaling?: InputScaling }
  | { kind: 'cascade'; localiser: tf.LayersModel; segmenter: tf.LayersModel; spec: CascadeSpec };

/** One segmented image, whatever the model kind. */
export interface LvSegmentation {
  probability: Float32Array;
  mask: BinaryMask;
  /** False when the model found no LV (the mask is then empty). */
  lvFound: boolean;
  /** Cascade only: the region the segmenter saw, in image pixels. */
  roi: Roi | null;
  roiSource: 'localiser' | 'series' | null;
  /** Cascade only: the mask is the second look's at a small LV (`CascadeSpec.zoom`), on the smaller `roi`. */
  zoomed?: boolean;
}

/** The architecture name cards carry for a cascade. */
export const CASCADE_ARCHITECTURE = 'cascade';

/** File names of a cascade version in the model store (one path segment each). */
export const CASCADE_FILES = {
  spec: 'cascade.json',
  localiser: { model: 'localiser.model.json', weights: 'localiser.weights.bin' },
  segmenter: { model: 'segmenter.model.json', weights: 'segmenter.weights.bin' },
} as const;

/** Stage prefixes of a cascade's layer names in the API (`localiser.enc1`, `segmenter.dec1`). */
export const STAGE_PREFIX = { localiser: 'localiser.', segmenter: 'segmenter.' } as const;

/** Layer names worth a heat map in a stage network (the U-Net's named blocks that the model has). */
function stageLayers(model: tf.LayersModel): string[] {
  return ARCHITECTURES['unet-small'].heatmapLayers.filter((n) => model.layers.some((l) => l.name === n));
}

/** The layers `heatmaps` and `gradcam` accept, in network order (stage-prefixed for a cascade). */
export function lvHeatmapLayers(m: LvModel): string[] {
  if (m.kind === 'single') {
    const known = ARCHITECTURES[m.architecture]?.heatmapLayers ?? [];
    return known.filter((n) => m.model.layers.some((l) => l.name === n));
  }
  return [...stageLayers(m.localiser).map((n) => STAGE_PREFIX.localiser + n), ...stageLayers(m.segmenter).map((n) => STAGE_PREFIX.segmenter + n)];
}

export function lvParameterCount(m: LvModel): number {
  return m.kind === 'single' ? m.model.countParams() : m.localiser.countParams() + m.segmenter.countParams();
}

export function disposeLvModel(m: LvModel): void {
  if (m.kind === 'single') m.model.dispose();
  else {
    m.localiser.dispose();
    m.segmenter.dispose();
  }
}

/** True when the files are a cascade version. */
export function isCascadeFiles(files: Map<string, Buffer>): boolean {
  return files.has(CASCADE_FILES.spec);
}

function renamed(files: Map<string, Buffer>, model: string, weights: string): Map<string, Buffer> {
  const json = JSON.parse(files.get('model.json')!.toString('utf8'));
  json.weightsManifest[0].paths = [weights];
  return new Map([
    [model, Buffer.from(JSON.stringify(json))],
    [weights, files.get('weights.bin')!],
  ]);
}

/** The store files of a model: `model.json` + `weights.bin`, or for a cascade both stages and `cascade.json`. */
export async function lvModelToFiles(m: LvModel): Promise<Map<string, Buffer>> {
  if (m.kind === 'single') return modelToFiles(m.model);
  const out = new Map<string, Buffer>([[CASCADE_FILES.spec, Buffer.from(JSON.stringify(m.spec, null, 2))]]);
  for (const stage of ['localiser', 'segmenter'] as const) {
    const f = CASCADE_FILES[stage];
    for (const [name, bytes] of renamed(await modelToFiles(m[stage]), f.model, f.weights)) out.set(name, bytes);
  }
  return out;
}

/**
 * Load a model of either kind from its store files and its card (architecture, and the input scaling its
 * `preprocessing` records), or, for files without a card, an architecture name (then the input is `normalize`d).
 */
export async function lvModelFromFiles(files: Map<string, Buffer>, card: string | { architecture: string; preprocessing?: unknown }): Promise<LvModel> {
  const architecture = typeof card === 'string' ? card : card.architecture;
  const inputScaling = inputScalingOf(typeof card === 'string' ? undefined : card);
  if (!isCascadeFiles(files)) {
    if (!files.has('model.json') || !files.has('weights.bin')) throw new LvsegError('unsupported', 'MODEL_FILES_MISSING', 'model.json and weights.bin are required (or cascade.json with both stages)');
    return { kind: 'single', architecture, model: await modelFromFiles(files), inputScaling };
  }
  // The cascade's stages take crops of one normalize()d image; no other scaling is implemented for them.
  if (inputScaling !== 'normalize') throw new LvsegError('unsupported', 'UNSUPPORTED_INPUT_SCALING', `a cascade takes normalize()d input only; its card says preprocessing.inputScaling ${inputScaling}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(files.get(CASCADE_FILES.spec)!.toString('utf8'));
  } catch {
    throw new LvsegError('unsupported', 'INVALID_CASCADE_SPEC', `${CASCADE_FILES.spec} is not JSON`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new LvsegError('unsupported', 'INVALID_CASCADE_SPEC', `${CASCADE_FILES.spec} must hold a JSON object`);
  const spec = { ...REQUIRED_CASCADE_SPEC, ...(parsed as Partial<CascadeSpec>) };
  const problems = cascadeSpecProblems(spec);
  if (problems.length) throw new LvsegError('unsupported', 'INVALID_CASCADE_SPEC', `${CASCADE_FILES.spec}: ${problems.join('; ')}`);
  const stage = async (s: 'localiser' | 'segmenter') => {
    const f = CASCADE_FILES[s];
    if (!files.has(f.model) || !files.has(f.weights)) throw new LvsegError('unsupported', 'MODEL_FILES_MISSING', `a cascade needs ${f.model} and ${f.weights}`);
    return modelFromFiles(new Map([['model.json', files.get(f.model)!], ['weights.bin', files.get(f.weights)!]]));
  };
  const localiser = await stage('localiser');
  try {
    return { kind: 'cascade', localiser, segmenter: await stage('segmenter'), spec };
  } catch (e) {
    localiser.dispose();
    throw e;
  }
}

/** tfjs stage runners of a cascade (synchronous forward passes, batched by 8). */
export function tfjsCascadeRunners(m: Extract<LvModel, { kind: 'cascade' }>): CascadeRunners {
  return {
    localiser: async (inputs, size) => predictLvProbabilities(m.localiser, inputs, size, 8),
    segmenter: async (inputs, size) => predictLvProbabilities(m.segmenter, inputs, size, 8),
  };
}

/** Segment images with a model of either kind on tfjs (the path `lvseg eval` measures). */
export async function segmentLv(m: LvModel, images: GrayImage[], mask: MaskOptions, opts: CascadeOptions & { batchSize?: number } = {}): Promise<LvSegmentation[]> {
  if (m.kind === 'cascade') return segmentCascade(images, tfjsCascadeRunners(m), m.spec, mask, opts);
  // The same whole-image path as the onnxruntime engine, with the forward pass on tfjs.
  const batchSize = opts.batchSize ?? 4;
  return segmentWholeImages(images, async (inputs, size) => predictLvProbabilities(m.model, inputs, size, batchSize), mask, m.inputScaling);
}

/**
 * The ROI the segmenter saw for one image alone, as `segmentCascade` decides it on tfjs (the localiser's, or with
 * `spec.zoom` the second look's where its mask is kept), or null when no LV was found.
 */
async function cascadeRoi(m: Extract<LvModel, { kind: 'cascade' }>, image: GrayImage, mask: MaskOptions): Promise<Roi | null> {
  const [seg] = await segmentCascade([image], tfjsCascadeRunners(m), m.spec, mask);
  return seg.roi;
}

function splitLayer(m: Extract<LvModel, { kind: 'cascade' }>, layer: string): { stage: 'localiser' | 'segmenter'; name: string } {
  for (const stage of ['localiser', 'segmenter'] as const) {
    if (layer.startsWith(STAGE_PREFIX[stage])) return { stage, name: layer.slice(STAGE_PREFIX[stage].length) };
  }
  throw new LvsegError('invalid-input', 'UNKNOWN_LAYER', `unknown layer ${JSON.stringify(layer)}; valid layers: ${lvHeatmapLayers(m).join(', ')}`, { unknown: [layer], valid: lvHeatmapLayers(m) });
}

/** A map over the ROI (any square resolution) brought to the image grid, 0 outside. */
function roiMapToImage(map: LayerMap, roi: Roi, image: GrayImage, layer: string): LayerMap {
  return { ...map, layer, rows: image.rows, columns: image.columns, data: pasteFromRoi(map.data, map.rows, roi, image.rows, image.columns, 0) };
}

/**
 * Channel-mean activation maps of named layers for one image. A cascade's localiser layers are at their own
 * resolution over the whole image; its segmenter layers (ROI only) are brought back to the image grid, 0 outside.
 */
export async function lvActivationMaps(m: LvModel, image: GrayImage, layers: string[], mask: MaskOptions = DEFAULT_MASK_OPTIONS): Promise<LayerMap[]> {
  if (m.kind === 'single') return layerActivationMaps(m.model, toModelInput(image, MODEL_INPUT_SIZE, m.inputScaling), layers);
  const parts = layers.map((l) => ({ layer: l, ...splitLayer(m, l) }));
  const normalized = normalize(image);
  const out = new Map<string, LayerMap>();
  const loc = parts.filter((p) => p.stage === 'localiser');
  if (loc.length) {
    const maps = layerActivationMaps(m.localiser, localiserInput(normalized, image, m.spec), loc.map((p) => p.name), { size: m.spec.localiserSize });
    maps.forEach((map, k) => out.set(loc[k].layer, { ...map, layer: loc[k].layer }));
  }
  const seg = parts.filter((p) => p.stage === 'segmenter');
  if (seg.length) {
    const roi = await cascadeRoi(m, image, mask);
    const maps = roi ? layerActivationMaps(m.segmenter, segmenterInput(normalized, image, roi, m.spec), seg.map((p) => p.name), { size: m.spec.segmenterSize }) : [];
    seg.forEach((p, k) => out.set(p.layer, roi ? roiMapToImage(maps[k], roi, image, p.layer) : { layer: p.layer, rows: image.rows, columns: image.columns, channels: 0, data: new Float32Array(image.rows * image.columns) }));
  }
  return layers.map((l) => out.get(l)!);
}

/** Grad-CAM of the LV class over `mask` (image size) at `layer`, for a model of either kind. */
export async function lvGradCam(m: LvModel, image: GrayImage, layer: string, mask: BinaryMask, classIndex = 1, maskOptions: MaskOptions = DEFAULT_MASK_OPTIONS): Promise<GradCamMap> {
  if (m.kind === 'single') {
    const region = resizeMaskNearest(mask, MODEL_INPUT_SIZE, MODEL_INPUT_SIZE).data;
    return gradCam(m.model, toModelInput(image, MODEL_INPUT_SIZE, m.inputScaling), layer, region, { classIndex });
  }
  const { stage, name } = splitLayer(m, layer);
  const normalized = normalize(image);
  if (stage === 'localiser') {
    const s = m.spec.localiserSize;
    const region = resizeMaskNearest(mask, s, s).data;
    return { ...gradCam(m.localiser, localiserInput(normalized, image, m.spec), name, region, { classIndex, size: s }), layer };
  }
  const roi = await cascadeRoi(m, image, maskOptions);
  if (!roi) throw new LvsegError('invalid-input', 'NO_LV_FOUND', `no LV was found in this image, so the segmenter did not run and layer ${layer} has no Grad-CAM`);
  const s = m.spec.segmenterSize;
  const regionProb = cropToRoi(mask.data, mask.rows, mask.columns, roi, s);
  const region = Uint8Array.from(regionProb, (v) => (v >= 0.5 ? 1 : 0));
  const cam = gradCam(m.segmenter, segmenterInput(normalized, image, roi, m.spec), name, region, { classIndex, size: s });
  return { ...cam, ...roiMapToImage(cam, roi, image, layer) };
}

/**
 * The heat-map layer names of an architecture as a card names it, without loading the model: a cascade's are its
 * stages' U-Net layers, prefixed (`localiser.enc1 … segmenter.score`); unknown architectures have none.
 */
export function heatmapLayersOfArchitecture(architecture: string): string[] {
  if (architecture === CASCADE_ARCHITECTURE) {
    const unet = ARCHITECTURES['unet-small'].heatmapLayers;
    return [...unet.map((n) => STAGE_PREFIX.localiser + n), ...unet.map((n) => STAGE_PREFIX.segmenter + n)];
  }
  return ARCHITECTURES[architecture]?.heatmapLayers ?? [];
}

/** Images per call when `segmentCases` segments each image alone. */
export const SEGMENT_CASES_CHUNK = 16;

/**
 * Segment labelled images in their order: each alone (batched 16 at a time), or with `series` each case's images
 * together as one series (what the PACS path and POST /segment/series do); `onProgress` after each batch or case.
 */
export async function segmentCases(
  m: LvModel,
  items: Array<{ case: string; image: GrayImage }>,
  mask: MaskOptions,
  opts: CascadeOptions & { onProgress?: (done: number, total: number) => void } = {},
): Promise<LvSegmentation[]> {
  // Alone, in pieces of SEGMENT_CASES_CHUNK images (each image is segmented on its own, so the pieces give the same
  // masks as one call); as series, one piece per case. Progress is reported after each piece.
  const pieces: number[][] = [];
  if (opts.series) {
    const byCase = new Map<string, number[]>();
    items.forEach((it, k) => byCase.set(it.case, [...(byCase.get(it.case) ?? []), k]));
    pieces.push(...byCase.values());
  } else {
    for (let k = 0; k < items.length; k += SEGMENT_CASES_CHUNK) pieces.push(Array.from({ length: Math.min(SEGMENT_CASES_CHUNK, items.length - k) }, (_, j) => k + j));
  }
  const out: LvSegmentation[] = new Array(items.length);
  let done = 0;
  opts.onProgress?.(0, items.length);
  for (const idx of pieces) {
    (await segmentLv(m, idx.map((k) => items[k].image), mask, { series: opts.series })).forEach((r, j) => (out[idx[j]] = r));
    done += idx.length;
    opts.onProgress?.(done, items.length);
  }
  return out;
}

