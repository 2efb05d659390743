import { isLvsegError } from '@lvseg/common';
import { encodeMaskPng, parseContour, rasterizeContour } from '@lvseg/imaging';
import { gradCamLayerFor, heatmapLayersFor, parseSegmentQuery, readLabel, safeUid } from './segment-request';

const LAYERS = ['conv1', 'pool1', 'conv2', 'score'];

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isLvsegError(e) ? `${e.kind}/${e.code}` : `untyped: ${String(e)}`;
  }
  return undefined;
}

describe('parseSegmentQuery', () => {
  it('takes model, heatmaps and gradcam as trimmed strings', () => {
    expect(parseSegmentQuery({ model: ' production ', heatmaps: 'all', gradcam: 'conv2' })).toEqual({ model: 'production', heatmaps: 'all', gradcam: 'conv2' });
    expect(parseSegmentQuery({})).toEqual({});
  });

  it('refuses unknown and repeated parameters', () => {
    expect(codeOf(() => parseSegmentQuery({ heatmap: 'all' }))).toBe('invalid-input/UNKNOWN_QUERY_PARAMETER');
    expect(codeOf(() => parseSegmentQuery({ heatmaps: ['a', 'b'] }))).toBe('invalid-input/INVALID_QUERY_PARAMETER');
  });
});

describe('heatmap and Grad-CAM layers', () => {
  it('expands all, keeps network order, drops duplicates', () => {
    expect(heatmapLayersFor(undefined, LAYERS)).toEqual([]);
    expect(heatmapLayersFor('all', LAYERS)).toEqual(LAYERS);
    expect(heatmapLayersFor('score, conv1,conv1', LAYERS)).toEqual(['conv1', 'score']);
    expect(gradCamLayerFor('conv2', LAYERS)).toBe('conv2');
    expect(gradCamLayerFor(undefined, LAYERS)).toBeUndefined();
  });

  it('answers an unknown name with the valid ones', () => {
    let message = '';
    try {
      heatmapLayersFor('conv1,conv9', LAYERS);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toBe('heatmaps: unknown layer "conv9"; valid layers: conv1, pool1, conv2, score (or "all")');
    expect(codeOf(() => gradCamLayerFor('all', LAYERS))).toBe('invalid-input/UNKNOWN_LAYER');
    expect(codeOf(() => heatmapLayersFor('', LAYERS))).toBe('invalid-input/UNKNOWN_LAYER');
    expect(codeOf(() => heatmapLayersFor('all', []))).toBe('unsupported/HEATMAPS_UNSUPPORTED');
  });
});

describe('readLabel', () => {
  const contour = '10.5 10.5\n20.5 10.5\n20.5 20.5\n10.5 20.5\n';

  it('rasterises a contour file at the image size, as rasterizeContour does', () => {
    const label = readLabel(Buffer.from(contour), 32, 40);
    expect(label.kind).toBe('contour');
    expect(label.mask).toEqual(rasterizeContour(parseContour(contour), 32, 40));
  });

  it('reads a PNG mask (non-zero = LV) of the image size and refuses another size', () => {
    const mask = rasterizeContour(parseContour(contour), 32, 40);
    const png = encodeMaskPng(mask);
    expect(readLabel(png, 32, 40)).toEqual({ kind: 'png', mask });
    expect(codeOf(() => readLabel(png, 40, 32))).toBe('invalid-input/LABEL_SIZE_MISMATCH');
  });

  it('refuses empty, binary, malformed and far-away labels with typed errors', () => {
    expect(codeOf(() => readLabel(Buffer.alloc(0), 8, 8))).toBe('invalid-input/LABEL_EMPTY');
    expect(codeOf(() => readLabel(Buffer.from([1, 0, 2, 3]), 8, 8))).toBe('invalid-input/LABEL_UNREADABLE');
    expect(codeOf(() => readLabel(Buffer.from('1 2\nhello\n'), 8, 8))).toBe('invalid-input/CONTOUR_MALFORMED_LINE');
    expect(codeOf(() => readLabel(Buffer.from('1 1\n2 2\n1e9 1e9\n'), 8, 8))).toBe('invalid-input/LABEL_CONTOUR_OUT_OF_RANGE');
    expect(codeOf(() => readLabel(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]), 8, 8))).toBe('invalid-input/PNG_DECODE_FAILED');
  });
});

describe('safeUid', () => {
  it('passes UIDs and drops anything else', () => {
    expect(safeUid('1.2.840.113619.2.1')).toBe('1.2.840.113619.2.1');
    expect(safeUid('DOE^JOHN')).toBeNull();
    expect(safeUid(undefined)).toBeNull();
    expect(safeUid('1'.repeat(65))).toBeNull();
  });
});
