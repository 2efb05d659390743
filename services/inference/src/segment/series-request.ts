/**
 * Turning the parts of a POST /segment/series request into checked inputs: the upload limits and what a broken upload
 * means, labels paired to DICOMs by file name, one series per request. Pure functions; every refusal is an LvsegError
 * the HTTP layer maps to a 4xx.
 */
import { LvsegError, isLvsegError } from '@lvseg/common';
import type { DicomMeta } from '@lvseg/imaging';
import type { SegmentQuery } from './segment-request';

/** POST /segment/series takes `?model=` only (no heatmaps or Grad-CAM for a whole series). */
export const SERIES_QUERY_KEYS: ReadonlyArray<keyof SegmentQuery> = ['model'];

/** The multipart field of the DICOMs and of the labels. */
export const SERIES_FILES_FIELD = 'files';
export const SERIES_LABELS_FIELD = 'labels';

/** One uploaded part: its file name (as the client sent it) and its bytes. */
export interface SeriesPart {
  fileName: string;
  bytes: Buffer;
}

export interface SeriesUploadLimits {
  /** Most `files` parts (and most `labels` parts). */
  maxFiles: number;
  /** Largest single part, bytes. */
  maxFileBytes: number;
  /** Most bytes of all parts together. */
  maxTotalBytes: number;
}

/** Bytes a body may declare beyond `maxTotalBytes` for the multipart framing (boundaries, part headers). */
export const MULTIPART_FRAMING_ALLOWANCE_BYTES = 1024 * 1024;

const mib = (bytes: number): string => `${Math.round((bytes / (1024 * 1024)) * 1000) / 1000} MiB`;

/** A client-sent name as it may appear in a message: quoted, control characters dropped, at most 80 characters. */
export function shownName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f]/g, '');
  return JSON.stringify(clean.length > 80 ? `${clean.slice(0, 77)}...` : clean);
}

export function tooManyFiles(limits: SeriesUploadLimits, field: string): LvsegError {
  return new LvsegError(
    'too-large',
    'SERIES_TOO_MANY_FILES',
    `more than ${limits.maxFiles} "${field}" parts: this service takes series of up to ${limits.maxFiles} images (LVSEG_SERIES_MAX_FILES)`,
    { maxFiles: limits.maxFiles },
  );
}

export function seriesTooLarge(limits: SeriesUploadLimits): LvsegError {
  return new LvsegError('too-large', 'SERIES_TOO_LARGE', `the parts together are over ${mib(limits.maxTotalBytes)}, the limit of one series (LVSEG_SERIES_MAX_MB)`, {
    maxTotalBytes: limits.maxTotalBytes,
  });
}

export function unexpectedField(detail: string): LvsegError {
  return new LvsegError('invalid-input', 'UNEXPECTED_FIELD', `${detail}: send each DICOM as a file part "${SERIES_FILES_FIELD}" and each label as a file part "${SERIES_LABELS_FIELD}"`);
}

/** Refuses a body whose declared length is over the total limit (plus framing) before any of it is read. */
export function assertDeclaredLength(contentLength: string | undefined, limits: SeriesUploadLimits): void {
  if (contentLength === undefined) return;
  const declared = Number(contentLength);
  if (Number.isFinite(declared) && declared > limits.maxTotalBytes + MULTIPART_FRAMING_ALLOWANCE_BYTES) throw seriesTooLarge(limits);
}

/**
 * What a failed multipart upload means for the client: multer's limit codes and busboy's parse errors become
 * LvsegErrors with stable codes (413 for limits, 400 for a malformed body or an unexpected field); LvsegErrors pass.
 */
export function uploadErrorToLvseg(e: unknown, limits: SeriesUploadLimits): unknown {
  if (isLvsegError(e)) return e;
  const err = e as { name?: unknown; code?: unknown; field?: unknown; message?: unknown } | null;
  const field = typeof err?.field === 'string' ? err.field : undefined;
  if (err?.name === 'MulterError') {
    switch (err.code) {
      case 'LIMIT_FILE_SIZE':
        return new LvsegError('too-large', 'FILE_TOO_LARGE', `a "${field ?? SERIES_FILES_FIELD}" part is over ${mib(limits.maxFileBytes)}, the limit of one file (LVSEG_MAX_BODY_MB)`, {
          maxFileBytes: limits.maxFileBytes,
        });
      case 'LIMIT_FILE_COUNT':
      case 'LIMIT_PART_COUNT':
        return tooManyFiles(limits, field ?? SERIES_FILES_FIELD);
      case 'LIMIT_FIELD_COUNT':
      case 'LIMIT_FIELD_KEY':
      case 'LIMIT_FIELD_VALUE':
        return unexpectedField('a text field was sent');
      case 'LIMIT_UNEXPECTED_FILE':
        return unexpectedField(`unexpected part ${shownName(field ?? '')}`);
      default:
        return new LvsegError('invalid-input', 'MULTIPART_MALFORMED', `malformed multipart body (${String(err.code).slice(0, 40)})`);
    }
  }
  // Busboy's parse errors ("Unexpected end of form", "Malformed part header", no boundary) and a request stream error.
  if (e instanceof Error) return new LvsegError('invalid-input', 'MULTIPART_MALFORMED', `malformed multipart body: ${e.message.slice(0, 120)}`);
  return e;
}

/** A file name without folders and without its last extension (`a/100.dcm` → `100`); what pairs a label to a DICOM. */
export function baseName(fileName: string): string {
  const last = fileName.split(/[\\/]/).pop() ?? '';
  const dot = last.lastIndexOf('.');
  return dot > 0 ? last.slice(0, dot) : last;
}

/**
 * For each DICOM, the index of its label (same base name: `100.dcm` ↔ `100.txt` or `100.png`), or undefined. Refuses a
 * label no DICOM has the base name of, two labels for one DICOM, and (with labels) two DICOMs of one base name.
 */
export function pairLabels(dicomNames: readonly string[], labelNames: readonly string[]): Array<number | undefined> {
  const pairing: Array<number | undefined> = dicomNames.map(() => undefined);
  if (labelNames.length === 0) return pairing;
  const dicomByBase = new Map<string, number>();
  dicomNames.forEach((name, k) => {
    const base = baseName(name);
    if (dicomByBase.has(base)) {
      throw new LvsegError(
        'invalid-input',
        'SERIES_DUPLICATE_FILE_NAME',
        `two "${SERIES_FILES_FIELD}" parts are named ${shownName(base)} (without extension), so labels cannot be paired to them by name`,
      );
    }
    dicomByBase.set(base, k);
  });
  const unmatched: string[] = [];
  labelNames.forEach((name, l) => {
    const k = dicomByBase.get(baseName(name));
    if (k === undefined) {
      unmatched.push(name);
      return;
    }
    if (pairing[k] !== undefined) {
      throw new LvsegError('invalid-input', 'SERIES_DUPLICATE_LABEL', `two labels (${shownName(labelNames[pairing[k] as number])}, ${shownName(name)}) pair with the DICOM ${shownName(dicomNames[k])}`);
    }
    pairing[k] = l;
  });
  if (unmatched.length > 0) {
    const shown = unmatched.slice(0, 5).map(shownName).join(', ');
    throw new LvsegError(
      'invalid-input',
      'SERIES_LABEL_WITHOUT_DICOM',
      `${unmatched.length} label${unmatched.length > 1 ? 's have' : ' has'} no DICOM of the same base name: ${shown}${unmatched.length > 5 ? ', …' : ''} ` +
        `(a label pairs with the DICOM of its name without extension, e.g. 100.dcm ↔ 100.txt or 100.png)`,
      { unmatched: unmatched.length },
    );
  }
  return pairing;
}

/**
 * Refuses images of more than one series (SeriesInstanceUID; a missing one counts as its own value) and the same
 * SOP Instance sent twice. Messages name files, never a DICOM value.
 */
export function assertOneSeries(metas: ReadonlyArray<Pick<DicomMeta, 'seriesInstanceUid' | 'sopInstanceUid'>>, fileNames: readonly string[]): void {
  const series = new Map<string, number[]>();
  metas.forEach((m, k) => series.set(m.seriesInstanceUid ?? '', [...(series.get(m.seriesInstanceUid ?? '') ?? []), k]));
  if (series.size > 1) {
    const groups = [...series.values()].sort((a, b) => b.length - a.length);
    const other = groups.slice(1).flat();
    throw new LvsegError(
      'invalid-input',
      'DICOM_MIXED_SERIES',
      `the DICOMs belong to ${series.size} series (SeriesInstanceUID${series.has('') ? ', or none' : ''}): ${shownName(fileNames[other[0]])}` +
        `${other.length > 1 ? ` and ${other.length - 1} more` : ''} differ from ${shownName(fileNames[groups[0][0]])}; send one series per request`,
      { series: series.size },
    );
  }
  const seen = new Map<string, number>();
  metas.forEach((m, k) => {
    if (!m.sopInstanceUid) return;
    const first = seen.get(m.sopInstanceUid);
    if (first !== undefined) {
      throw new LvsegError('invalid-input', 'DICOM_DUPLICATE_INSTANCE', `${shownName(fileNames[first])} and ${shownName(fileNames[k])} are the same image (one SOP Instance UID)`);
    }
    seen.set(m.sopInstanceUid, k);
  });
}

/** Runs `fn`; an LvsegError it throws gets the part it is about in front of its message (same kind and code). */
export function aboutPart<T>(field: string, fileName: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (!isLvsegError(e)) throw e;
    throw new LvsegError(e.kind, e.code, `${field} part ${shownName(fileName)}: ${e.message}`, { ...e.details, part: fileName.slice(0, 80) });
  }
}

/** `aboutPart` for an async step (e.g. decoding a compressed DICOM). */
export async function aboutPartAsync<T>(field: string, fileName: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    return aboutPart(field, fileName, () => {
      throw e;
    });
  }
}
