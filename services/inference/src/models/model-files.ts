/**
 * The files a browser needs to run a model version with tfjs (`tf.loadLayersModel('/models/<v>/files/model.json')`):
 * model.json and the weight files its manifest names. Pure, so the rules are tested without HTTP.
 */
import { LvsegError } from '@lvseg/common';
import { CASCADE_FILES } from '@lvseg/model';
import { LoadedModel, assertModelFileName } from '@lvseg/model-store';

/** One file of a version as served: bytes, content type, and the sha256 the store checked them against. */
export interface BrowserModelFile {
  bytes: Buffer;
  contentType: string;
  sha256: string;
}

/** The weight files a tfjs model.json's manifest names (in manifest order); none when it does not parse. */
function manifestPaths(json: Buffer): string[] {
  try {
    const manifest = (JSON.parse(json.toString('utf8')) as { weightsManifest?: Array<{ paths?: unknown }> }).weightsManifest ?? [];
    return manifest.flatMap((g) => (Array.isArray(g.paths) ? g.paths.filter((p): p is string => typeof p === 'string') : []));
  } catch {
    // A model.json that does not parse is still served as is; the browser reports the parse error.
    return [];
  }
}

/**
 * Names a browser may fetch: each network's model JSON (`model.json`, or a cascade's `localiser.model.json` and
 * `segmenter.model.json`) and the weight files its manifest lists, and a cascade's `cascade.json`.
 */
export function browserFileNames(loaded: LoadedModel): string[] {
  const models = ['model.json', CASCADE_FILES.localiser.model, CASCADE_FILES.segmenter.model].filter((n) => loaded.files.has(n));
  const names = models.flatMap((m) => [m, ...manifestPaths(loaded.files.get(m)!).filter((p) => !models.includes(p) && loaded.files.has(p))]);
  if (loaded.files.has(CASCADE_FILES.spec)) names.push(CASCADE_FILES.spec);
  return names;
}

/**
 * One browser file of a loaded (sha256-checked) version: 400 for a malformed name, 404 for a name that is not one
 * of `browserFileNames` (e.g. the training history), with the available names in the message.
 */
export function browserModelFile(loaded: LoadedModel, name: string): BrowserModelFile {
  assertModelFileName(name);
  const names = browserFileNames(loaded);
  const bytes = loaded.files.get(name);
  if (!names.includes(name) || !bytes) {
    throw new LvsegError('not-found', 'MODEL_FILE_NOT_FOUND', `model ${loaded.card.version} has no browser file "${name}"; available: ${names.join(', ') || '(none)'}`, {
      available: names,
    });
  }
  return {
    bytes,
    contentType: name.endsWith('.json') ? 'application/json' : 'application/octet-stream',
    sha256: loaded.card.files[name]?.sha256 ?? '',
  };
}
