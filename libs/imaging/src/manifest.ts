import { basename, dirname } from 'node:path';
import { LvsegError, sha256Hex } from '@lvseg/common';
import { DataFolder, asDataFolder, fileDataFolder } from './data-folder';

/**
 * One row of a data set's `manifest.csv`: an image with a PNG label mask (`label`; the image a PNG, or a DICOM as
 * `lvseg dataset import` writes) or a DICOM with a Sunnybrook contour file (`contour`).
 */
export interface ManifestRow {
  case: string;
  image: string;
  label?: string;
  contour?: string;
  split: string;
}

export interface Manifest {
  dir: string;
  kind: 'png' | 'dicom-label' | 'dicom-contour';
  rows: ManifestRow[];
  /** sha256 of the manifest file's bytes: recorded on every model card so a model names the data it saw. */
  sha256: string;
}

function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((s) => s.trim());
}

/**
 * The records of a CSV file with a header row (quoted fields and "" escapes as in `manifest.csv`), each keyed by the
 * header's column names; blank lines are skipped. For the data folders' CSVs (manifests, case lists) anywhere.
 */
export function readCsvRecords(file: string): Array<Record<string, string>> {
  const bytes = fileDataFolder(dirname(file)).read(basename(file));
  if (!bytes) throw new LvsegError('not-found', 'CSV_NOT_FOUND', `no CSV file ${file}`);
  return parseCsvRecords(bytes.toString('utf8'));
}

/** `readCsvRecords` of CSV text. */
export function parseCsvRecords(text: string): Array<Record<string, string>> {
  const [header, ...lines] = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (header === undefined) return [];
  const cols = splitCsvLine(header);
  return lines.map((line) => {
    const values = splitCsvLine(line);
    return Object.fromEntries(cols.map((c, i) => [c, values[i] ?? '']));
  });
}

/** True for a manifest image path naming a DICOM file (`.dcm`). */
export function isDicomPath(path: string): boolean {
  return /\.dcm$/i.test(path);
}

/** Parse manifest CSV text (header `case,image,label,split` or `case,image,contour,split`; extra columns ignored). */
export function parseManifest(text: string, dir = '.'): Manifest {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new LvsegError('invalid-input', 'MANIFEST_EMPTY', `manifest in ${dir} is empty`);
  const header = splitCsvLine(lines[0]);
  const col = (name: string) => header.indexOf(name);
  const [ci, ii, li, ki, si] = [col('case'), col('image'), col('label'), col('contour'), col('split')];
  if (ci < 0 || ii < 0 || si < 0 || (li < 0 && ki < 0)) {
    throw new LvsegError(
      'invalid-input',
      'MANIFEST_COLUMNS',
      `manifest in ${dir} needs columns case,image,label,split or case,image,contour,split; found ${header.join(',')}`,
    );
  }
  const rows = lines.slice(1).map((line, n) => {
    const f = splitCsvLine(line);
    const row: ManifestRow = { case: f[ci], image: f[ii], split: f[si] };
    if (li >= 0) row.label = f[li];
    if (ki >= 0) row.contour = f[ki];
    if (!row.case || !row.image || !row.split || !(row.label || row.contour)) {
      throw new LvsegError('invalid-input', 'MANIFEST_ROW', `manifest in ${dir}, line ${n + 2}: missing a required field`);
    }
    for (const p of [row.image, row.label, row.contour]) {
      if (p && (p.startsWith('/') || p.split(/[\\/]/).includes('..'))) {
        throw new LvsegError('invalid-input', 'MANIFEST_PATH', `manifest in ${dir}, line ${n + 2}: paths must stay inside the data folder`);
      }
    }
    return row;
  });
  const kind = li < 0 ? 'dicom-contour' : rows.length > 0 && rows.every((r) => isDicomPath(r.image)) ? 'dicom-label' : 'png';
  return { dir, kind, rows, sha256: sha256Hex(text) };
}

/** Read `manifest.csv` of a data folder (a path on disk, or any `DataFolder`). */
export function readManifest(folder: string | DataFolder): Manifest {
  const data = asDataFolder(folder);
  const bytes = data.read('manifest.csv');
  if (!bytes) throw new LvsegError('not-found', 'MANIFEST_NOT_FOUND', `no manifest.csv in data folder ${data.location}`);
  return parseManifest(bytes.toString('utf8'), data.location);
}
