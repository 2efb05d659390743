/**
 * The viewer at `/`: a DICOM in, the server's answer drawn (POST /segment: mask, LV area, Dice against an expert label,
 * every layer's activation heatmap and Grad-CAM), and the same model run in this browser with tfjs for comparison.
 * Its series mode (series-view.ts) sends the DICOMs of a whole series to POST /segment/series and shows volumes and EF.
 *
 * No second preprocessing: the DICOM is decoded, normalised, resampled and post-processed by the very lib files the
 * server runs (decodeDicomImage and its codecs, normalize, segmentImages → toModelInput, probabilityToMask), bundled by build-web.ts;
 * `@tensorflow/tfjs` here is the page's global `tf` from /vendor/tf.min.js (see browserLibs in build-web.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { BinaryMask, GrayImage } from '@lvseg/imaging/image';
import { decodeDicomImage } from '@lvseg/imaging/dicom';
import { inputScalingOf } from '@lvseg/imaging/model-input';
import { setCodecWasmBaseUrl } from '@lvseg/imaging/codecs/decode-frame';
import { maskOptionsOf, predictLvProbabilities, segmentImages } from '@lvseg/model/segmentation';
import { CascadeSpec, REQUIRED_CASCADE_SPEC, segmentCascade } from '@lvseg/model/cascade/cascade';
import { dice } from '@lvseg/model/metrics/overlap';
import type { ModelCardDto, ModelListDto } from '../../src/models/dto/model.dto';
import type { SegmentResponseDto } from '../../src/segment/dto/segment-response.dto';
import { apiJson, authHeaders, describeError } from './api-client';
import { OUTLINE, Outline, imageCanvas, labelMask, legendItem, maskFromBase64Png, paint } from './drawing';
import { PictureDialog, colourKeyElement } from './heatmap-view';
import { countLv, formatArea, formatMs, zoomRegion } from './mask-geometry';
import { SeriesMode, setUpSeriesMode } from './series-view';

/** Canvas pixels per image pixel: outlines along pixel edges stay crisp. */
const SCALE = 2;

interface Example {
  id: string;
  title: string;
  dicom: string;
  contour: string;
}

interface ViewerState {
  dicom?: { name: string; bytes: Uint8Array };
  label?: { name: string; bytes: Uint8Array };
  image?: GrayImage;
  response?: SegmentResponseDto;
  serverMask?: BinaryMask;
  labelMask?: BinaryMask;
  browserMask?: BinaryMask;
  card?: ModelCardDto;
  /** Bumped by every new image or model choice, so a late answer to an older request is dropped. */
  generation: number;
}

const state: ViewerState = { generation: 0 };
/** A version as this page runs it: one whole-image network, or a cascade's two networks and its spec. */
type BrowserModel = { kind: 'single'; model: tf.LayersModel } | { kind: 'cascade'; localiser: tf.LayersModel; segmenter: tf.LayersModel; spec: CascadeSpec };
const browserModels = new Map<string, Promise<BrowserModel>>();

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};

const ui = {
  modelSelect: $<HTMLSelectElement>('model-select'),
  modelInfo: $<HTMLParagraphElement>('model-info'),
  dicomInput: $<HTMLInputElement>('dicom-input'),
  dicomDrop: $<HTMLDivElement>('dicom-drop'),
  labelInput: $<HTMLInputElement>('label-input'),
  labelDrop: $<HTMLDivElement>('label-drop'),
  exampleSelect: $<HTMLSelectElement>('example-select'),
  exampleWithContour: $<HTMLInputElement>('example-with-contour'),
  exampleButton: $<HTMLButtonElement>('example-run'),
  gradcamSelect: $<HTMLSelectElement>('gradcam-select'),
  browserButton: $<HTMLButtonElement>('browser-run'),
  status: $<HTMLParagraphElement>('status'),
  error: $<HTMLDivElement>('error'),
  canvas: $<HTMLCanvasElement>('image-canvas'),
  canvasCaption: $<HTMLParagraphElement>('image-caption'),
  legend: $<HTMLUListElement>('legend'),
  stats: $<HTMLDListElement>('stats'),
  gradcam: $<HTMLDivElement>('gradcam'),
  explainStatus: $<HTMLParagraphElement>('explain-status'),
  zoom: $<HTMLCanvasElement>('zoom-canvas'),
  zoomFigure: $<HTMLElement>('zoom-figure'),
  heatmaps: $<HTMLDivElement>('heatmaps'),
  gradcamKey: $<HTMLDivElement>('gradcam-key'),
  heatmapsKey: $<HTMLDivElement>('heatmaps-key'),
  modeImage: $<HTMLInputElement>('mode-image'),
  modeSeries: $<HTMLInputElement>('mode-series'),
  imageControls: $<HTMLDivElement>('image-controls'),
  imageResult: $<HTMLElement>('image-result'),
  imageExplain: $<HTMLElement>('image-explain'),
  seriesControls: $<HTMLDivElement>('series-controls'),
  seriesResult: $<HTMLElement>('series-result'),
};

/** Opens a heat map or the Grad-CAM large. */
const pictureDialog = new PictureDialog($<HTMLDialogElement>('picture-dialog'));

function setStatus(text: string): void {
  ui.status.textContent = text;
}

function showError(text: string | null): void {
  ui.error.textContent = text ?? '';
  ui.error.hidden = text === null;
}

// ---------------------------------------------------------------- models

/** The ref sent as `?model=`: the select's value ('' = the served default). */
const chosenModel = (): string => ui.modelSelect.value;

async function loadModels(): Promise<void> {
  const list = await apiJson<ModelListDto>('/models');
  ui.modelSelect.replaceChildren();
  const served = list.models.find((m) => m.served);
  ui.modelSelect.append(new Option(`${list.defaultRef} (served${served ? `: ${served.version}` : ''})`, ''));
  for (const m of list.models) {
    const dice = m.metrics?.val?.dice;
    const aliases = m.aliases.length ? ` [${m.aliases.join(', ')}]` : '';
    ui.modelSelect.append(new Option(`${m.version}${aliases}${dice !== undefined ? ` — val Dice ${dice.toFixed(3)}` : ''}`, m.version));
  }
  await loadCard();
}

/** The chosen model's card: its heatmap layers fill the Grad-CAM select; its post-processing is the browser's too. */
async function loadCard(): Promise<void> {
  const ref = chosenModel() || (await apiJson<ModelListDto>('/models')).defaultRef;
  const card = await apiJson<ModelCardDto>(`/models/${encodeURIComponent(ref)}`);
  state.card = card;
  const previous = ui.gradcamSelect.value;
  ui.gradcamSelect.replaceChildren(...card.heatmapLayers.map((l) => new Option(l, l)));
  // Default: the last layer before the score (its units are class evidence at full resolution in both architectures).
  const fallback = card.heatmapLayers[Math.max(0, card.heatmapLayers.length - 2)] ?? '';
  ui.gradcamSelect.value = card.heatmapLayers.includes(previous) ? previous : fallback;
  const val = card.metrics?.val?.dice;
  ui.modelInfo.textContent = `${card.architecture}, ${card.parameterCount.toLocaleString('en')} parameters, ${card.heatmapLayers.length} explainable layers${
    val !== undefined ? `, val Dice ${val.toFixed(3)}` : ''
  }.`;
}

// ---------------------------------------------------------------- server segmentation

interface SegmentCall {
  response: SegmentResponseDto;
  roundTripMs: number;
}

async function postSegment(opts: { heatmaps: boolean; gradcam: boolean; withLabel: boolean }): Promise<SegmentCall> {
  const dicom = state.dicom;
  if (!dicom) throw new Error('no DICOM chosen');
  const params = new URLSearchParams();
  if (chosenModel()) params.set('model', chosenModel());
  if (opts.heatmaps) params.set('heatmaps', 'all');
  if (opts.gradcam && ui.gradcamSelect.value) params.set('gradcam', ui.gradcamSelect.value);
  const form = new FormData();
  form.append('file', new Blob([dicom.bytes], { type: 'application/dicom' }), dicom.name);
  if (opts.withLabel && state.label) form.append('label', new Blob([state.label.bytes]), state.label.name);
  const started = performance.now();
  const response = await apiJson<SegmentResponseDto>(`/segment${params.size ? `?${params}` : ''}`, { method: 'POST', body: form });
  return { response, roundTripMs: performance.now() - started };
}

/**
 * A new image (or model): first the mask, LV area and Dice (when a label is there), shown as soon as they come; then
 * every layer's heatmap and Grad-CAM in a second request, which takes much longer on a CPU server.
 */
async function segmentOnServer(): Promise<void> {
  const generation = ++state.generation;
  showError(null);
  clearResults();
  setStatus(`Segmenting ${state.dicom?.name ?? ''} on the server…`);
  let version: string;
  try {
    const call = await postSegment({ heatmaps: false, gradcam: false, withLabel: !!state.label });
    if (generation !== state.generation) return;
    await applyServerAnswer(call);
    version = call.response.model.version;
  } catch (e) {
    if (generation !== state.generation) return;
    showError(describeError(e));
    setStatus('Segmentation failed.');
    return;
  }
  await explainOnServer(generation, { heatmaps: true }, `Segmented with ${version}: LV ${formatArea(state.response!.lvArea.mm2, state.response!.lvArea.pixels)}.`);
}

/**
 * Every layer's heatmap (when asked) and Grad-CAM at the chosen layer, from POST /segment, as two requests sent
 * together: the server runs them one after the other, and each picture shows as soon as its answer is in.
 */
async function explainOnServer(generation: number, opts: { heatmaps: boolean }, done: string): Promise<void> {
  const layer = ui.gradcamSelect.value;
  const pending = new Set<string>([...(opts.heatmaps ? [`heatmaps of ${state.card?.heatmapLayers.length ?? 'all'} layers`] : []), `Grad-CAM at ${layer}`]);
  const showPending = () => {
    ui.explainStatus.textContent = pending.size ? `Computing ${[...pending].join(' and ')} on the server…` : '';
    setStatus(`${done}${done ? ' ' : ''}${pending.size ? ui.explainStatus.textContent : 'Explanations ready.'}`);
  };
  showPending();
  const ask = async (kind: 'heatmaps' | 'gradcam', label: string) => {
    try {
      const call = await postSegment({ heatmaps: kind === 'heatmaps', gradcam: kind === 'gradcam', withLabel: false });
      if (generation !== state.generation) return;
      const t = call.response.timings;
      if (kind === 'heatmaps') {
        renderHeatmaps(call.response);
        setStat('heatmaps-time', `${formatMs(call.roundTripMs)} (API: heatmaps ${formatMs(t.heatmapsMs ?? 0)} of ${formatMs(t.totalMs)})`, call.roundTripMs);
      } else {
        renderGradCam(call.response);
        setStat('gradcam-time', `${formatMs(call.roundTripMs)} (API: Grad-CAM ${formatMs(t.gradcamMs ?? 0)} of ${formatMs(t.totalMs)})`, call.roundTripMs);
      }
    } catch (e) {
      if (generation === state.generation) showError(describeError(e));
    } finally {
      pending.delete(label);
      if (generation === state.generation) showPending();
    }
  };
  await Promise.all([...(opts.heatmaps ? [ask('heatmaps', [...pending][0])] : []), ask('gradcam', `Grad-CAM at ${layer}`)]);
}

/** A label added to a segmented image: the API computes Dice; the explanations already shown stay. */
async function scoreLabelOnServer(): Promise<void> {
  if (!state.dicom) {
    setStatus(`Expert label ${state.label?.name} kept; it is scored when you choose a DICOM.`);
    return;
  }
  const generation = state.generation;
  showError(null);
  setStatus(`Scoring the expert label ${state.label?.name} against the server's mask…`);
  try {
    const call = await postSegment({ heatmaps: false, gradcam: false, withLabel: true });
    if (generation !== state.generation) return;
    await applyServerAnswer(call);
    const d = call.response.label?.dice;
    setStatus(d !== undefined ? `Dice against the expert label: ${d.toFixed(4)}.` : 'Segmented.');
  } catch (e) {
    if (generation !== state.generation) return;
    showError(describeError(e));
    setStatus('Scoring the label failed.');
  }
}

async function applyServerAnswer(call: SegmentCall): Promise<void> {
  const r = call.response;
  state.response = r;
  state.serverMask = await maskFromBase64Png(r.mask.png, r.mask.rows, r.mask.columns);
  if (!state.image) {
    try {
      // The same decoder as the server; only for display (the mask above is the server's).
      const dicom = state.dicom!;
      const image = (await decodeDicomImage(dicom.bytes)).image;
      // Compressed files decode asynchronously (codecs load on first use): keep it only if the file is still the one shown.
      if (state.dicom === dicom) state.image = image;
    } catch (e) {
      showError(`The server segmented this file, but this browser could not decode it for display: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  state.labelMask = undefined;
  if (state.label && r.label) state.labelMask = await labelMask(state.label.bytes, r.image.rows, r.image.columns);
  if (state.browserMask && (state.browserMask.rows !== r.mask.rows || state.browserMask.columns !== r.mask.columns)) state.browserMask = undefined;
  ui.browserButton.disabled = !state.image;
  renderStats(call);
  draw();
}

// ---------------------------------------------------------------- in-browser inference

let tfReady: Promise<string> | undefined;

/** tfjs on its wasm backend (binaries from /vendor/), else WebGL, else plain JS; says which. */
function initTf(): Promise<string> {
  tfReady ??= (async () => {
    const wasm = (tf as unknown as { wasm?: { setWasmPaths(prefix: string): void } }).wasm;
    wasm?.setWasmPaths('/vendor/');
    for (const backend of ['wasm', 'webgl', 'cpu']) {
      try {
        if (await tf.setBackend(backend)) {
          await tf.ready();
          return backend;
        }
      } catch {
        // try the next backend
      }
    }
    throw new Error('no tfjs backend initialised in this browser');
  })();
  return tfReady;
}

/** The version's tfjs files, fetched from GET /models/:version/files/* (checked against the card's sha256 by the store). */
function browserModel(version: string, card: ModelCardDto): Promise<BrowserModel> {
  let p = browserModels.get(version);
  if (!p) {
    const base = `/models/${encodeURIComponent(version)}/files`;
    // model.json and its weight files go through the API too, so they carry the API key.
    const withKey = { requestInit: { headers: authHeaders() } };
    p = card.files['cascade.json']
      ? Promise.all([tf.loadLayersModel(`${base}/localiser.model.json`, withKey), tf.loadLayersModel(`${base}/segmenter.model.json`, withKey), apiJson<Partial<CascadeSpec>>(`${base}/cascade.json`)]).then(
          ([localiser, segmenter, spec]): BrowserModel => ({ kind: 'cascade', localiser, segmenter, spec: { ...REQUIRED_CASCADE_SPEC, ...spec } }),
        )
      : tf.loadLayersModel(`${base}/model.json`, withKey).then((model): BrowserModel => ({ kind: 'single', model }));
    p.catch(() => browserModels.delete(version));
    browserModels.set(version, p);
  }
  return p;
}

async function runInBrowser(): Promise<void> {
  const r = state.response;
  const image = state.image;
  if (!r || !image) return;
  const generation = state.generation;
  showError(null);
  ui.browserButton.disabled = true;
  try {
    setStatus('Loading tfjs and the model into this browser…');
    const loadStarted = performance.now();
    const backend = await initTf();
    // The very version the server answered with (an alias could have moved since).
    const card = state.card?.version === r.model.version ? state.card : await apiJson<ModelCardDto>(`/models/${encodeURIComponent(r.model.version)}`);
    const model = await browserModel(r.model.version, card);
    const loadMs = performance.now() - loadStarted;
    setStatus(`Running ${r.model.version} in this browser (tfjs ${backend})…`);
    // Let the status paint before the synchronous forward pass.
    await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    // The input scaling the model was trained with and the post-processing it was evaluated with, read from its card
    // as the server's engines do.
    const maskOptions = maskOptionsOf(card);
    const inputScaling = inputScalingOf(card);
    const tensorsBefore = tf.memory().numTensors;
    const started = performance.now();
    const [{ mask }] =
      model.kind === 'single'
        ? segmentImages(model.model, [image], maskOptions, 1, inputScaling)
        : await segmentCascade(
            [image],
            { localiser: async (x, size) => predictLvProbabilities(model.localiser, x, size, 1), segmenter: async (x, size) => predictLvProbabilities(model.segmenter, x, size, 1) },
            model.spec,
            maskOptions,
          );
    const inferenceMs = performance.now() - started;
    const leaked = tf.memory().numTensors - tensorsBefore;
    if (generation !== state.generation) return;
    state.browserMask = mask;
    const agreement = dice(mask, state.serverMask!);
    setStat('browser-time', `${formatMs(inferenceMs)} (tfjs ${backend}; preprocessing, forward pass and post-processing; model load ${formatMs(loadMs)})`, inferenceMs);
    // For tests and tooling: tfjs tensors left behind by the run (segmentImages tidies everything; 0 expected).
    document.getElementById('browser-time')!.dataset.tensorsLeaked = String(leaked);
    setStat('browser-dice', `${agreement.toFixed(4)} (browser ${countLv(mask)} px, server ${countLv(state.serverMask!)} px)`, agreement);
    setStat('browser-area', formatArea(image.pixelSpacingMm ? countLv(mask) * image.pixelSpacingMm[0] * image.pixelSpacingMm[1] : null, countLv(mask)), countLv(mask));
    if (leaked !== 0) console.warn(`tfjs tensors grew by ${leaked} across the browser inference`);
    draw();
    setStatus(`In-browser inference done in ${formatMs(inferenceMs)}; Dice with the server's mask ${agreement.toFixed(4)}.`);
  } catch (e) {
    if (generation === state.generation) {
      showError(`In-browser inference failed: ${e instanceof Error ? e.message : String(e)}`);
      setStatus('In-browser inference failed.');
    }
  } finally {
    ui.browserButton.disabled = !state.image;
  }
}

// ---------------------------------------------------------------- rendering

function clearResults(): void {
  state.response = undefined;
  state.serverMask = undefined;
  state.labelMask = undefined;
  state.browserMask = undefined;
  ui.stats.replaceChildren();
  ui.gradcam.replaceChildren();
  ui.heatmaps.replaceChildren();
  ui.gradcamKey.hidden = true;
  ui.heatmapsKey.hidden = true;
  ui.explainStatus.textContent = '';
  ui.browserButton.disabled = true;
  draw();
}

function draw(): void {
  const image = state.image;
  const rows = image?.rows ?? state.response?.image.rows ?? 256;
  const columns = image?.columns ?? state.response?.image.columns ?? 256;
  // Displayed with the shared normalize() window (0.5th–99.5th percentile), the model's own view of the image.
  const source = image ? imageCanvas(image) : undefined;
  // Drawn wide to thin, so a thinner outline on the same pixel edges leaves the one below it visible on both sides.
  const outlines: Outline[] = [
    { mask: state.serverMask, colour: OUTLINE.server, width: 3.5, dash: [], name: 'server mask' },
    { mask: state.labelMask, colour: OUTLINE.label, width: 2, dash: [], name: 'expert label' },
    { mask: state.browserMask, colour: OUTLINE.browser, width: 1.5, dash: [4, 3], name: 'in-browser mask' },
  ];
  const shown = outlines.filter((o) => o.mask).map((o) => o.name);
  paint(ui.canvas, source, { top: 0, left: 0, height: rows, width: columns }, SCALE, outlines);
  // The zoomed view: outlines a pixel apart are told apart here.
  const region = zoomRegion(outlines.flatMap((o) => (o.mask ? [o.mask] : [])), 10);
  ui.zoomFigure.hidden = !region;
  if (region) paint(ui.zoom, source, region, Math.max(2, Math.floor(320 / region.width)), outlines);
  for (const li of Array.from(ui.legend.children) as HTMLElement[]) li.hidden = !shown.includes(li.dataset.name ?? '');
  const described = shown.length ? `, with outlines: ${shown.join(', ')}` : '';
  ui.canvas.setAttribute('aria-label', image ? `Short-axis MR image, ${columns}×${rows} pixels${described}` : 'No image yet');
  ui.zoom.setAttribute('aria-label', region ? `Zoomed view of the left ventricle, ${region.width}×${region.height} pixels${described}` : 'No outline yet');
  ui.canvasCaption.textContent = image
    ? `${state.dicom?.name ?? ''}: ${columns}×${rows} px${image.pixelSpacingMm ? `, ${image.pixelSpacingMm[0].toFixed(3)}×${image.pixelSpacingMm[1].toFixed(3)} mm pixels` : ''}`
    : '';
}

/** Sets (or adds) a stat row; `value` (the full-precision number) goes to data-value for tests and tooling. */
function setStat(id: string, text: string, value?: number): void {
  let dd = document.getElementById(id);
  if (!dd) {
    const dt = document.createElement('dt');
    dt.textContent = STAT_TITLES[id] ?? id;
    dd = document.createElement('dd');
    dd.id = id;
    ui.stats.append(dt, dd);
  }
  dd.textContent = text;
  if (value !== undefined) dd.dataset.value = String(value);
}

const STAT_TITLES: Record<string, string> = {
  'lv-area': 'LV area (server)',
  'model-version': 'Model version',
  'label-dice': 'Dice vs expert label (API)',
  'server-time': 'Server round trip (mask)',
  'api-time': 'API’s own time (mask)',
  'heatmaps-time': 'Server round trip (all layer heatmaps)',
  'gradcam-time': 'Server round trip (Grad-CAM)',
  'browser-time': 'In-browser inference',
  'browser-dice': 'Dice browser vs server mask',
  'browser-area': 'LV area (browser)',
};

function renderStats(call: SegmentCall): void {
  const r = call.response;
  setStat('lv-area', formatArea(r.lvArea.mm2, r.lvArea.pixels), r.lvArea.mm2 ?? r.lvArea.pixels);
  document.getElementById('lv-area')!.dataset.pixels = String(r.lvArea.pixels);
  setStat('model-version', `${r.model.version} (${r.model.architecture})`);
  if (r.label) {
    setStat('label-dice', `${r.label.dice.toFixed(4)} (Jaccard ${r.label.jaccard.toFixed(4)}; ${r.label.kind === 'png' ? 'PNG mask' : 'contour'}, ${r.label.labelPixels} px)`, r.label.dice);
  } else {
    document.getElementById('label-dice')?.previousElementSibling?.remove();
    document.getElementById('label-dice')?.remove();
  }
  setStat('server-time', `${formatMs(call.roundTripMs)} (upload, queue, inference${r.label ? ', Dice' : ''}, download)`, call.roundTripMs);
  const t = r.timings;
  setStat('api-time', `${formatMs(t.totalMs)} (inference ${formatMs(t.inferenceMs)}, queue ${formatMs(t.queueMs)}, decode ${formatMs(t.decodeMs)})`, t.totalMs);
}

function renderGradCam(r: SegmentResponseDto): void {
  ui.gradcam.replaceChildren();
  const g = r.gradcam;
  ui.gradcamKey.hidden = !g;
  if (!g) return;
  ui.gradcam.append(
    pictureDialog.figure(
      {
        src: `data:image/png;base64,${g.overlayPng}`,
        alt: `Grad-CAM of the LV class at layer ${g.layer} (${g.layerShape.join('×')}), over the image`,
        caption: `Grad-CAM at ${g.layer} (${g.layerShape.join('×')}), ${g.region === 'predicted' ? 'LV score over the predicted region' : 'LV score over the whole image (empty mask)'}`,
        kind: 'gradcam',
      },
      'gradcam-image',
    ),
  );
}

function renderHeatmaps(r: SegmentResponseDto): void {
  const heatmaps = r.heatmaps ?? [];
  ui.heatmapsKey.hidden = heatmaps.length === 0;
  ui.heatmaps.replaceChildren(
    ...heatmaps.map((h) =>
      pictureDialog.figure(
        {
          src: `data:image/png;base64,${h.overlayPng}`,
          alt: `Activation heatmap of layer ${h.layer} (${h.layerShape.join('×')}), channel mean over the image`,
          caption: `${h.layer} · ${h.layerShape.join('×')}`,
          kind: 'activation',
        },
        `heatmap-${h.layer}`,
      ),
    ),
  );
}

// ---------------------------------------------------------------- inputs

async function readFile(file: File): Promise<Uint8Array> {
  return new Uint8Array(await file.arrayBuffer());
}

/** A new image; a label chosen for the previous image does not belong to it, so it goes unless one comes with it. */
async function chooseDicom(name: string, bytes: Uint8Array, label?: { name: string; bytes: Uint8Array }): Promise<void> {
  state.dicom = { name, bytes };
  state.image = undefined;
  state.label = label;
  if (!label) ui.labelInput.value = '';
  await segmentOnServer();
}

async function chooseLabel(name: string, bytes: Uint8Array): Promise<void> {
  state.label = { name, bytes };
  await scoreLabelOnServer();
}

/** A drop zone: the labelled file input inside is the keyboard path; dropping a file on the zone does the same. */
function dropZone(zone: HTMLElement, input: HTMLInputElement, onFile: (name: string, bytes: Uint8Array) => Promise<void>): void {
  input.addEventListener('change', () => {
    const f = input.files?.[0];
    if (f) void readFile(f).then((b) => onFile(f.name, b));
  });
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const f = e.dataTransfer?.files?.[0];
    if (f) void readFile(f).then((b) => onFile(f.name, b));
  });
}

async function loadExamples(): Promise<Example[]> {
  const res = await fetch('/examples/examples.json');
  if (!res.ok) return [];
  const { examples } = (await res.json()) as { examples: Example[] };
  ui.exampleSelect.replaceChildren(...examples.map((e) => new Option(e.title, e.id)));
  ui.exampleButton.disabled = examples.length === 0;
  return examples;
}

async function runExample(examples: Example[]): Promise<void> {
  const ex = examples.find((e) => e.id === ui.exampleSelect.value);
  if (!ex) return;
  const fetchBytes = async (file: string) => {
    const res = await fetch(`/examples/${file}`);
    if (!res.ok) throw new Error(`example ${file}: ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  };
  const label = ui.exampleWithContour.checked ? { name: ex.contour, bytes: await fetchBytes(ex.contour) } : undefined;
  ui.labelInput.value = '';
  await chooseDicom(ex.dicom, await fetchBytes(ex.dicom), label);
}

// ---------------------------------------------------------------- modes

type Mode = 'image' | 'series';
const currentMode = (): Mode => (ui.modeSeries.checked ? 'series' : 'image');

/** One image (POST /segment) or a whole series (POST /segment/series): each mode keeps its own input and answer. */
function showMode(mode: Mode): void {
  ui.modeSeries.checked = mode === 'series';
  ui.modeImage.checked = mode === 'image';
  for (const el of [ui.imageControls, ui.imageResult, ui.imageExplain]) el.hidden = mode !== 'image';
  for (const el of [ui.seriesControls, ui.seriesResult]) el.hidden = mode !== 'series';
  // The mode is in the address (`/#series`), so it can be linked to and survives a reload.
  history.replaceState(null, '', mode === 'series' ? '#series' : `${location.pathname}${location.search}`);
}

async function main(): Promise<void> {
  // The DICOM codecs' .wasm files (JPEG, JPEG-LS, JPEG 2000, HTJ2K) are served beside tfjs's; fetched on first use.
  setCodecWasmBaseUrl('/vendor/');
  const series: SeriesMode = setUpSeriesMode({ chosenModel });
  /** Modes whose shown answer is from a model other than the chosen one (chosen while the other mode was shown). */
  const stale = new Set<Mode>();
  const refresh = (mode: Mode) => (mode === 'series' ? series.resubmit() : state.dicom ? void segmentOnServer() : undefined);
  for (const radio of [ui.modeImage, ui.modeSeries]) {
    radio.addEventListener('change', () => {
      const mode = currentMode();
      showMode(mode);
      if (stale.delete(mode)) refresh(mode);
    });
  }
  showMode(location.hash === '#series' ? 'series' : 'image');
  dropZone(ui.dicomDrop, ui.dicomInput, (name, bytes) => chooseDicom(name, bytes));
  dropZone(ui.labelDrop, ui.labelInput, chooseLabel);
  ui.browserButton.addEventListener('click', () => void runInBrowser());
  ui.modelSelect.addEventListener('change', () => {
    // The shown mode is segmented again with the chosen version now; the other one when it is shown next.
    const mode = currentMode();
    stale.add(mode === 'image' ? 'series' : 'image');
    if (mode === 'series') refresh('series');
    void loadCard()
      .then(() => (mode === 'image' ? refresh('image') : undefined))
      .catch((e: unknown) => showError(describeError(e)));
  });
  ui.gradcamSelect.addEventListener('change', () => {
    if (state.response) void explainOnServer(state.generation, { heatmaps: false }, '');
  });
  const legendItems: Array<[keyof typeof OUTLINE, string, string]> = [
    ['server', 'server mask', 'Server mask (POST /segment)'],
    ['label', 'expert label', 'Expert label'],
    ['browser', 'in-browser mask', 'In-browser mask (tfjs, dashed)'],
  ];
  ui.legend.replaceChildren(
    ...legendItems.map(([key, name, text]) => {
      const li = legendItem(OUTLINE[key], text, key === 'browser');
      li.dataset.name = name;
      li.hidden = true;
      return li;
    }),
  );
  ui.gradcamKey.replaceChildren(colourKeyElement('gradcam'));
  ui.heatmapsKey.replaceChildren(colourKeyElement('activation'));
  showError(null);
  draw();
  try {
    const [examples] = await Promise.all([loadExamples(), loadModels()]);
    ui.exampleButton.addEventListener('click', () => void runExample(examples).catch((e: unknown) => showError(describeError(e))));
    setStatus('Ready: choose a DICOM, drop one on the box, or pick an example.');
  } catch (e) {
    showError(describeError(e));
    setStatus('The API did not answer as expected.');
  }
}

void main();
