/**
 * A model's recorded input scaling (its card's `preprocessing.inputScaling`) reaches the network on both engines,
 * built by their real factories from a real file store, on the real Sunnybrook DICOM fixture.
 *
 * The network is a 1×1 convolution with logits (0, x): its LV probability is sigmoid(x), so the input tensor each
 * engine fed it is read back exactly as logit(p), with no second copy of the preprocessing in the test.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { repoRoot } from '@lvseg/common';
import { GrayImage, InputScaling, MODEL_INPUT_SIZE, decodeDicom, normalize } from '@lvseg/imaging';
import { initBackend, modelToFiles } from '@lvseg/model';
import { ModelCard, ModelStore, openModelStore } from '@lvseg/model-store';
import { OnnxEngineFactory, OnnxSegmentationEngine } from './onnx-engine';
import { SegmentationEngine } from './segmentation-engine';
import { TfjsEngineFactory } from './tfjs-engine';

/** 256 × 256 (so the map comes back at the model's own grid), pixel values 0..638. */
const DICOM = join(repoRoot(), 'libs', 'imaging', 'test-fixtures', 'sunnybrook', 'SCD0000401', '100.dcm');

/** logits (0, x) at every pixel: softmax channel 1 is sigmoid(x). */
function inputEchoNetwork(): tf.LayersModel {
  const input = tf.input({ shape: [MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, 1] });
  const conv = tf.layers.conv2d({ filters: 2, kernelSize: 1, useBias: false, name: 'echo' });
  const model = tf.model({ inputs: input, outputs: conv.apply(input) as tf.SymbolicTensor });
  conv.setWeights([tf.tensor4d([0, 1], [1, 1, 1, 2])]);
  return model;
}

/** The input tensor the network saw, from the engine's LV probability map. */
const echoedInput = (p: Float32Array): Float32Array => Float32Array.from(p, (v) => Math.log(v / (1 - v)));

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('input scaling from the model card, on the tfjs and onnxruntime engines (real DICOM)', () => {
  let dir: string;
  let store: ModelStore;
  let image: GrayImage;
  const engines: SegmentationEngine[] = [];
  beforeAll(async () => {
    await initBackend();
    dir = mkdtempSync(join(tmpdir(), 'lvseg-input-scaling-'));
    store = openModelStore(`file://${dir}`);
    image = decodeDicom(readFileSync(DICOM)).image;
  });
  afterAll(() => {
    engines.forEach((e) => e.dispose());
    rmSync(dir, { recursive: true, force: true });
  });

  /** The echo network published with `preprocessing` as its card's (no inputScaling: a card from before the option). */
  async function publish(preprocessing: Record<string, unknown>): Promise<ModelCard> {
    const net = inputEchoNetwork();
    try {
      return await store.publish({
        architecture: 'input-echo',
        parameterCount: net.countParams(),
        inputShape: [MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, 1],
        classes: ['background', 'lv'],
        preprocessing,
        hyperParameters: {},
        data: { manifestSha256: '0'.repeat(64), trainImages: 0, valImages: 0 },
        metrics: {},
        backend: tf.getBackend(),
        trainingTimeMs: 0,
        gitCommit: 'test',
        notes: 'a 1x1 convolution echoing its input into the LV logit: test fixture',
        files: await modelToFiles(net),
      });
    } finally {
      net.dispose();
    }
  }

  async function inputsSeen(card: ModelCard): Promise<{ tfjs: Float32Array; onnx: Float32Array }> {
    const { files } = await store.load(card.version);
    const tfjs = await new TfjsEngineFactory().create(card, files);
    const onnx = await new OnnxEngineFactory(ort, { threads: 1 }).create(card, files);
    engines.push(tfjs, onnx);
    expect(onnx).toBeInstanceOf(OnnxSegmentationEngine); // not a fallback to tfjs
    const [a] = await tfjs.segment([image]);
    const [b] = await onnx.segment([image]);
    return { tfjs: echoedInput(a.probability), onnx: echoedInput(b.probability) };
  }

  it.each<[string, Record<string, unknown>, InputScaling]>([
    ['raw-1024', { inputScaling: 'raw-1024', normalize: 'none: modality pixel value / 1024' }, 'raw-1024'],
    ['normalize', { inputScaling: 'normalize', normalize: 'per-image percentiles 0.5..99.5 -> [0,1], clipped' }, 'normalize'],
    ['no inputScaling (an old card)', { normalize: 'per-image percentiles 0.5..99.5 -> [0,1], clipped', resample: 'bilinear to 256x256' }, 'normalize'],
  ])('a card with %s: both engines feed the network the same input, the one that scaling makes', async (_, preprocessing, scaling) => {
    const seen = await inputsSeen(await publish(preprocessing));
    // Straight from the file: the pixel values / 1024, or normalize()'s percentile window.
    const expected = scaling === 'raw-1024' ? Float32Array.from(image.data, (v) => v / 1024) : normalize(image);
    expect(maxAbsDiff(seen.tfjs, expected)).toBeLessThan(1e-5);
    expect(maxAbsDiff(seen.onnx, expected)).toBeLessThan(1e-5);
    expect(maxAbsDiff(seen.tfjs, seen.onnx)).toBeLessThan(1e-5);
    // The two scalings differ where it shows: the brightest pixel (638) is 0.623 raw, 1 normalised.
    expect(Math.max(...seen.onnx)).toBeCloseTo(scaling === 'raw-1024' ? 638 / 1024 : 1, 4);
  });

  it('refuses to load a version whose card names a scaling this lvseg does not know', async () => {
    const card = await publish({ inputScaling: 'raw-4096' });
    const { files } = await store.load(card.version);
    await expect(new TfjsEngineFactory().create(card, files)).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED', message: expect.stringMatching(/inputScaling is "raw-4096"/) });
  });
});
