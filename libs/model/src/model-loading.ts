import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ModelCard, ModelStore } from '@lvseg/model-store';
import { modelFromFiles } from './training/serialize';
import { CASCADE_FILES, LvModel, lvModelFromFiles } from './cascade/lv-model';

/**
 * A model by reference: a version id or alias in the store (sha256-checked by the store), or a folder holding
 * `model.json` + `weights.bin` (and optionally `card.json`), e.g. an exported version.
 */
export async function loadModelByRef(store: ModelStore, ref: string): Promise<{ model: tf.LayersModel; card?: ModelCard; source: string }> {
  const asPath = resolve(ref);
  if ((ref.includes('/') || ref.startsWith('.')) && existsSync(join(asPath, 'model.json'))) {
    const files = new Map<string, Buffer>();
    for (const name of readdirSync(asPath)) files.set(name, readFileSync(join(asPath, name)));
    const card = files.has('card.json') ? (JSON.parse(files.get('card.json')!.toString('utf8')) as ModelCard) : undefined;
    return { model: await modelFromFiles(files), card, source: asPath };
  }
  const { card, files } = await store.load(ref);
  return { model: await modelFromFiles(files), card, source: `${store.uri}#${card.version}` };
}

/** A model of either kind (single network or cascade) by reference, as `loadModelByRef` finds it. */
export async function loadLvModelByRef(store: ModelStore, ref: string): Promise<{ model: LvModel; card?: ModelCard; source: string }> {
  const asPath = resolve(ref);
  if ((ref.includes('/') || ref.startsWith('.')) && (existsSync(join(asPath, 'model.json')) || existsSync(join(asPath, CASCADE_FILES.spec)))) {
    const files = new Map<string, Buffer>();
    for (const name of readdirSync(asPath)) files.set(name, readFileSync(join(asPath, name)));
    const card = files.has('card.json') ? (JSON.parse(files.get('card.json')!.toString('utf8')) as ModelCard) : undefined;
    return { model: await lvModelFromFiles(files, card?.architecture ?? 'unknown'), card, source: asPath };
  }
  const { card, files } = await store.load(ref);
  return { model: await lvModelFromFiles(files, card.architecture), card, source: `${store.uri}#${card.version}` };
}
