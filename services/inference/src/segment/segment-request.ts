/**
 * Turning the parts of a POST /segment request into typed inputs: the query options, the DICOM bytes, the label.
 * Pure functions; every refusal is an LvsegError the HTTP layer maps to a 4xx.
 */
import { LvsegError } from '@lvseg/common';
import { BinaryMask, decodePngMask, parseContour, rasterizeContour } from '@lvseg/imaging';

/** Query options as sent (strings), before they are checked against the model's layers. */
export interface SegmentQuery {
  model?: string;
  heatmaps?: string;
  gradcam?: string;
}

export const SEGMENT_QUERY_KEYS: ReadonlyArray<keyof SegmentQuery> = ['model', 'heatmaps', 'gradcam'];

/** Checks the query has only known keys (by default those of POST /segment), each given once as a string. */
export function parseSegmentQuery(query: Record<string, unknown>, known: ReadonlyArray<keyof SegmentQuery> = SEGMENT_QUERY_KEYS): SegmentQuery {
  const unknown = Object.keys(query).filter((k) => !(known as string[]).includes(k));
  if (unknown.length > 0) {
    throw new LvsegError('invalid-input', 'UNKNOWN_QUERY_PARAMETER', `unknown query parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}; known: ${known.join(', ')}`);
  }
  const out: SegmentQuery = {};
  for (const key of known) {
    const v = query[key];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw new LvsegError('invalid-input', 'INVALID_QUERY_PARAMETER', `query parameter ${key} must be given once, as text`);
    out[key] = v.trim();
  }
  return out;
}

/** The heatmap layers asked for (`all` or a comma list), in network order, checked against the model's layers. */
export function heatmapLayersFor(value: string | undefined, valid: string[]): string[] {
  if (value === undefined) return [];
  if (valid.length === 0) throw new LvsegError('unsupported', 'HEATMAPS_UNSUPPORTED', 'the served model has no heatmap layers, so heatmaps are not available');
  if (value === '') throw new LvsegError('invalid-input', 'UNKNOWN_LAYER', `heatmaps is empty; use "all" or a comma list of: ${valid.join(', ')}`, { valid });
  if (value === 'all') return [...valid];
  const names = value.split(',').map((s) => s.trim());
  assertKnownLayers(names, valid, 'heatmaps');
  const asked = new Set(names);
  return valid.filter((n) => asked.has(n));
}

/** The Grad-CAM layer, checked against the model's layers. */
export function gradCamLayerFor(value: string | undefined, valid: string[]): string | undefined {
  if (value === undefined) return undefined;
  assertKnownLayers([value], valid, 'gradcam');
  return value;
}

function assertKnownLayers(names: string[], valid: string[], param: string): void {
  if (valid.length === 0) throw new LvsegError('unsupported', 'HEATMAPS_UNSUPPORTED', `the served model has no heatmap layers, so ${param} is not available`);
  const unknown = names.filter((n) => !valid.includes(n));
  if (unknown.length > 0) {
    const shown = unknown.map((n) => JSON.stringify(n.slice(0, 40))).join(', ');
    throw new LvsegError('invalid-input', 'UNKNOWN_LAYER', `${param}: unknown layer${unknown.length > 1 ? 's' : ''} ${shown}; valid layers: ${valid.join(', ')}${param === 'heatmaps' ? ' (or "all")' : ''}`, {
      unknown,
      valid,
    });
  }
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A label read at the image's size: a PNG mask (non-zero = LV) or a Sunnybrook contour file rasterised. */
export function readLabel(bytes: Buffer, rows: number, columns: number): { kind: 'png' | 'contour'; mask: BinaryMask } {
  if (bytes.length === 0) throw new LvsegError('invalid-input', 'LABEL_EMPTY', 'the label file is empty');
  if (bytes.subarray(0, 8).equals(PNG_SIGNATURE)) {
    const mask = decodePngMask(bytes);
    if (mask.rows !== rows || mask.columns !== columns) {
      throw new LvsegError('invalid-input', 'LABEL_SIZE_MISMATCH', `the label PNG is ${mask.columns}×${mask.rows} (columns×rows) but the image is ${columns}×${rows}`, {
        label: [mask.rows, mask.columns],
        image: [rows, columns],
      });
    }
    return { kind: 'png', mask };
  }
  if (bytes.includes(0)) {
    throw new LvsegError('invalid-input', 'LABEL_UNREADABLE', 'the label is neither a PNG nor a contour text file ("x y" per line)');
  }
  const points = parseContour(bytes.toString('latin1'));
  // A point far outside the image would make the outline walk millions of pixels; real contours sit inside it.
  const outside = points.findIndex(([x, y]) => !(x >= -columns && x <= 2 * columns && y >= -rows && y <= 2 * rows));
  if (outside >= 0) {
    throw new LvsegError('invalid-input', 'LABEL_CONTOUR_OUT_OF_RANGE', `contour point ${outside + 1} lies far outside the ${columns}×${rows} image`, { index: outside });
  }
  return { kind: 'contour', mask: rasterizeContour(points, rows, columns) };
}

/** A UID as it may appear in answers and logs: digits and dots only, else nothing (bytes of a damaged file never leak). */
export function safeUid(uid: string | undefined): string | null {
  return uid !== undefined && /^[0-9][0-9.]{0,63}$/.test(uid) ? uid : null;
}
