import * as tf from '@tensorflow/tfjs';
import { type ModelCard, type ModelFolderReader, type ModelStore, fileModelFolders } from '@lvseg/model-store';
import { modelFromFiles } from './model-files';
import { CASCADE_FILES, LvModel, lvModelFromFiles } from './cascade/lv-model';

/**
 * A model by reference: a version id or alias in the store (sha256-checked by the store), or a path to a folder
 * holding `model.json` + `weights.bin` (and optionally `card.json`), e.g. an exported version, read by `folders`.
 */
export async function loadModelByRef(
  store: ModelStore,
  ref: string,
  folders: ModelFolderReader = fileModelFolders,
): Promise<{ model: tf.LayersModel; card?: ModelCard; source: string }> {
  const folder = folders.read(ref, ['model.json']);
  if (folder) return { model: await modelFromFiles(folder.files), card: folder.card, source: folder.source };
  const { card, files } = await store.load(ref);
  return { model: await modelFromFiles(files), card, source: `${store.uri}#${card.version}` };
}

/** A model of either kind (single network or cascade) by reference, as `loadModelByRef` finds it. */
export async function loadLvModelByRef(
  store: ModelStore,
  ref: string,
  folders: ModelFolderReader = fileModelFolders,
): Promise<{ model: LvModel; card?: ModelCard; source: string }> {
  const folder = folders.read(ref, ['model.json', CASCADE_FILES.spec]);
  if (folder) return { model: await lvModelFromFiles(folder.files, folder.card ?? 'unknown'), card: folder.card, source: folder.source };
  const { card, files } = await store.load(ref);
  return { model: await lvModelFromFiles(files, card), card, source: `${store.uri}#${card.version}` };
}
