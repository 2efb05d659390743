import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LvsegError } from '@lvseg/common';
import type { Manifest } from '@lvseg/imaging';
import { IMPORT_SUMMARY_FILE, ImportSummary } from './import-dataset';

/**
 * The `data.imported` part of a model card for a data set `lvseg dataset import` made: where the labels came from
 * (source, location, query), the counts and skip reasons, and the manifest hash the import wrote, with whether the
 * manifest trained on is still that one. Empty for any other data set (no `import.json`).
 */
export function importedDataProvenance(dataDir: string, manifest: Pick<Manifest, 'sha256'>): { imported?: Record<string, unknown> } {
  let text: string;
  try {
    text = readFileSync(join(dataDir, IMPORT_SUMMARY_FILE), 'utf8');
  } catch {
    return {};
  }
  let s: Partial<ImportSummary>;
  try {
    s = JSON.parse(text) as Partial<ImportSummary>;
  } catch {
    throw new LvsegError('invalid-input', 'IMPORT_SUMMARY_INVALID', `${IMPORT_SUMMARY_FILE} in the data folder is not JSON`);
  }
  if (typeof s !== 'object' || s === null || typeof s.manifestSha256 !== 'string' || typeof s.source !== 'string') {
    throw new LvsegError('invalid-input', 'IMPORT_SUMMARY_INVALID', `${IMPORT_SUMMARY_FILE} in the data folder lacks source or manifestSha256`);
  }
  return {
    imported: {
      source: s.source,
      location: s.location,
      query: s.query,
      importedAt: s.importedAt,
      lvSelection: s.lvSelection,
      includeLvsegUnreviewed: s.includeLvsegUnreviewed,
      labelObjects: s.labelObjects,
      images: s.images,
      cases: s.cases,
      splits: s.splits,
      labelSources: s.labelSources,
      skipped: s.skipped,
      manifestSha256: s.manifestSha256,
      // False when the folder's manifest was edited after the import: the card then says so.
      manifestUnchanged: s.manifestSha256 === manifest.sha256,
    },
  };
}
