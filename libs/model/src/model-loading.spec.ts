import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FileModelStore, type ModelFolderReader } from '@lvseg/model-store';
import { modelFromFiles, modelToFiles } from './model-files';
import { loadModelByRef } from './model-loading';

function tinyModel(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.dense({ inputShape: [3], units: 2, kernelInitializer: tf.initializers.randomNormal({ seed: 7 }) }));
  return m;
}

const predict = (m: tf.LayersModel): number[] => tf.tidy(() => Array.from((m.predict(tf.tensor2d([[1, 2, 3]])) as tf.Tensor).dataSync()));

describe('model files', () => {
  let original: tf.LayersModel;
  let files: Map<string, Buffer>;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    original = tinyModel();
    files = await modelToFiles(original);
  });
  afterAll(() => original.dispose());

  it('round-trips a layers model through model.json + weights.bin', async () => {
    expect([...files.keys()]).toEqual(['model.json', 'weights.bin']);
    const back = await modelFromFiles(files);
    expect(predict(back)).toEqual(predict(original));
    back.dispose();
  });

  it('loadModelByRef reads a model folder on disk, and any other ModelFolderReader', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvseg-model-ref-'));
    try {
      for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes);
      const store = new FileModelStore({ root: join(dir, 'store') });
      const fromDisk = await loadModelByRef(store, dir);
      expect([fromDisk.source, fromDisk.card]).toEqual([dir, undefined]);
      expect(predict(fromDisk.model)).toEqual(predict(original));
      fromDisk.model.dispose();

      const held: ModelFolderReader = { read: (ref) => (ref === 'held/v1' ? { files, source: 'memory:held/v1' } : undefined) };
      const fromReader = await loadModelByRef(store, 'held/v1', held);
      expect(fromReader.source).toBe('memory:held/v1');
      fromReader.model.dispose();
      // Not a folder the reader knows: a version or alias of the store, which has none.
      await expect(loadModelByRef(store, 'production', held)).rejects.toMatchObject({ kind: 'not-found' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
