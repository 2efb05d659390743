import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as tf from '@tensorflow/tfjs';
import pino from 'pino';
import { isLvsegError } from '@lvseg/common';
import { loadConfig } from '@lvseg/config';
import { initBackend } from '@lvseg/model';
import { FileModelStore, ModelCard } from '@lvseg/model-store';
import { TfjsEngineFactory } from '../engine/tfjs-engine';
import { MetricsService } from '../metrics/metrics.service';
import { publishSeededModel } from '../testing/seeded-model';
import { ModelRegistry } from './model-registry.service';

/** The real file store, counting `load` calls (to see that a refused version is not fetched again). */
class CountingStore extends FileModelStore {
  loads: string[] = [];
  override async load(ref: string) {
    this.loads.push(ref);
    return super.load(ref);
  }
}

let seedRoot: string;

/** A fresh store holding v1 and v2 (copied in from the seed store, verified), with no `production` alias yet. */
function setup(extra: Record<string, string> = {}) {
  const store = new CountingStore({ root: mkdtempSync(join(tmpdir(), 'lvseg-registry-')), seedFrom: seedRoot });
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write: (c, _e, done) => (lines.push(c.toString()), done()) }));
  const config = loadConfig({ LVSEG_ALIAS_POLL_SECONDS: '3600', LVSEG_EXTRA_MODELS: '1', ...extra });
  const metrics = new MetricsService();
  const registry = new ModelRegistry(store, new TfjsEngineFactory(), config, logger, metrics);
  return { store, registry, metrics, logs: () => lines.join('') };
}

async function corrupt(store: FileModelStore, card: ModelCard): Promise<void> {
  const path = join(store.root, 'versions', card.version, 'weights.bin');
  const bytes = (await store.load(card.version)).files.get('weights.bin')!;
  bytes[100] ^= 0xff;
  writeFileSync(path, bytes);
}

async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isLvsegError(e) ? `${e.kind}/${e.code}` : `untyped ${String(e)}`;
  }
  return 'no error';
}

describe('ModelRegistry (real file store, real tfjs engines)', () => {
  let v1: ModelCard;
  let v2: ModelCard;
  beforeAll(async () => {
    await initBackend();
    seedRoot = mkdtempSync(join(tmpdir(), 'lvseg-registry-seed-'));
    const seedStore = new FileModelStore({ root: seedRoot });
    v1 = await publishSeededModel(seedStore, { seed: 1 });
    v2 = await publishSeededModel(seedStore, { seed: 2 });
    await seedStore.setAlias('seeded', v1.version); // seeding copies a store that has aliases
  });

  it('is not ready without the alias, then serves it once it appears', async () => {
    const { store, registry, metrics } = setup();
    await registry.poll();
    expect(registry.status().ready).toBe(false);
    expect(registry.status().lastPollError).toMatch(/production/);
    expect(await errorOf(registry.acquire())).toBe('unavailable/MODEL_NOT_READY');

    await store.setAlias('production', v1.version);
    await registry.poll();
    expect(registry.status()).toMatchObject({ ready: true, version: v1.version, architecture: 'fcn-paper' });
    expect(await metrics.registry.getSingleMetricAsString('lvseg_model_info')).toContain(`version="${v1.version}"`);
    await registry.onApplicationShutdown();
  });

  it('swaps when the alias moves; the old model is freed only after its last request', async () => {
    const { store, registry } = setup();
    await store.setAlias('production', v1.version);
    await registry.poll();
    const inFlight = await registry.acquire();
    const tensorsWithOne = tf.memory().numTensors;

    await store.setAlias('production', v2.version);
    await registry.poll();
    expect(registry.status().version).toBe(v2.version);
    const fresh = await registry.acquire();
    expect(fresh.version).toBe(v2.version);
    // The request that started on v1 still finishes on v1.
    expect(inFlight.isDisposed).toBe(false);
    const [still] = await inFlight.engine.segment([{ rows: 32, columns: 32, data: new Float32Array(1024) }]);
    expect(still.mask.rows).toBe(32);
    inFlight.release();
    expect(inFlight.isDisposed).toBe(true);
    fresh.release();
    expect(tf.memory().numTensors).toBe(tensorsWithOne); // v1's weights gone, v2's in: same architecture, same count
    await registry.onApplicationShutdown();
  });

  it('refuses a version that fails its sha256 check, keeps serving the old one, and does not fetch it again', async () => {
    const { store, registry, metrics, logs } = setup();
    await store.setAlias('production', v1.version);
    await registry.poll();
    await corrupt(store, v2);
    await store.setAlias('production', v2.version);
    await registry.poll();
    expect(registry.status().version).toBe(v1.version);
    expect(registry.status().refused).toEqual([expect.objectContaining({ version: v2.version, kind: 'integrity', code: 'MODEL_INTEGRITY' })]);
    expect(logs()).toContain('"event":"model.refused"');
    expect(await metrics.registry.getSingleMetricAsString('lvseg_model_swaps_total')).toContain('lvseg_model_swaps_total{outcome="refused"} 1');

    const loadsBefore = store.loads.length;
    await registry.poll();
    expect(store.loads.length).toBe(loadsBefore);
    expect(await errorOf(registry.acquire(v2.version))).toBe('integrity/MODEL_REFUSED');
    const h = await registry.acquire();
    expect(h.version).toBe(v1.version);
    h.release();
    await registry.onApplicationShutdown();
  });

  it('refuses a version whose files are not a model (load failure), keeping the old one', async () => {
    const { store, registry } = setup();
    await store.setAlias('production', v1.version);
    await registry.poll();
    const bad = await store.publish({ ...cardBody(v1), files: new Map([['model.json', Buffer.from('{"modelTopology":{"nope":1}}')], ['weights.bin', Buffer.alloc(8)]]) });
    await store.setAlias('production', bad.version);
    await registry.poll();
    expect(registry.status().version).toBe(v1.version);
    expect(registry.status().refused).toEqual([expect.objectContaining({ version: bad.version, code: 'MODEL_LOAD_FAILED' })]);
    expect(await errorOf(registry.acquire(bad.version))).toBe('unavailable/MODEL_REFUSED');
    await registry.onApplicationShutdown();
  });

  it('serves other refs on demand from a bounded LRU and answers unknown or malformed refs with typed errors', async () => {
    const { store, registry } = setup({ LVSEG_EXTRA_MODELS: '1' });
    await store.setAlias('production', v1.version);
    await store.setAlias('candidate', v2.version);
    await registry.poll();
    const c = await registry.acquire('candidate');
    expect(c.version).toBe(v2.version);
    c.release();
    const again = await registry.acquire(v2.version);
    expect(again).toBe(c); // cached
    again.release();
    const prod = await registry.acquire(v1.version);
    expect(prod.version).toBe(v1.version); // the served one, not a second copy
    prod.release();
    expect(await errorOf(registry.acquire('fcn-paper-20200101T000000-abcdef'))).toBe('not-found/MODEL_NOT_FOUND');
    expect(await errorOf(registry.acquire('../etc'))).toBe('invalid-input/MODEL_REF_INVALID');
    await registry.onApplicationShutdown();
    expect(c.isDisposed).toBe(true);
  });
});

function cardBody(card: ModelCard) {
  const { version: _v, createdAt: _c, files: _f, ...body } = card;
  return body;
}
