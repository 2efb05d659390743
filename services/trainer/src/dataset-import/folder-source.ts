import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { data as dcmjsData } from 'dcmjs';
import { LvsegError } from '@lvseg/common';
import { RT_STRUCTURE_SET_STORAGE_UID, SEGMENTATION_STORAGE_UID } from '@lvseg/dicom';
import type { LabelObjectSource } from './import-dataset';

function* filesUnder(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* filesUnder(p);
    else if (e.isFile()) yield p;
  }
}

/** SOP Class and Series Instance UID from a file's header (pixel data not parsed); undefined for a non-DICOM file. */
function headerOf(path: string): { sopClassUid?: string; seriesInstanceUid?: string } | undefined {
  const bytes = readFileSync(path);
  if (bytes.length < 132 || bytes.toString('latin1', 128, 132) !== 'DICM') return undefined;
  try {
    const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const ds = dcmjsData.DicomMetaDictionary.naturalizeDataset(dcmjsData.DicomMessage.readFile(copy, { untilTag: '7FE00010', includeUntilTagValue: false }).dict);
    return { sopClassUid: typeof ds.SOPClassUID === 'string' ? ds.SOPClassUID : undefined, seriesInstanceUid: typeof ds.SeriesInstanceUID === 'string' ? ds.SeriesInstanceUID : undefined };
  } catch {
    return undefined;
  }
}

/** Every DICOM Part 10 file under a folder (any depth, any name): SEGs and RTSTRUCTs, and images indexed by series. */
export function folderSource(dir: string): LabelObjectSource {
  const root = resolve(dir);
  if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new LvsegError('not-found', 'IMPORT_FOLDER_NOT_FOUND', `--from ${dir} is not a folder`);
  const labelPaths: string[] = [];
  const seriesPaths = new Map<string, string[]>();
  for (const path of filesUnder(root)) {
    const h = headerOf(path);
    if (!h?.sopClassUid) continue;
    if (h.sopClassUid === SEGMENTATION_STORAGE_UID || h.sopClassUid === RT_STRUCTURE_SET_STORAGE_UID) labelPaths.push(path);
    else if (h.seriesInstanceUid) seriesPaths.set(h.seriesInstanceUid, [...(seriesPaths.get(h.seriesInstanceUid) ?? []), path]);
  }
  return {
    description: { source: 'folder', location: root, query: 'all SEG and RTSTRUCT files under the folder' },
    async *labelObjects() {
      for (const p of labelPaths) yield readFileSync(p);
    },
    async seriesInstances(_study, series) {
      return (seriesPaths.get(series) ?? []).map((p) => readFileSync(p));
    },
  };
}
