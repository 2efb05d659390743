/**
 * Pure helpers of the viewer's series mode (no DOM), so jest checks them: which dropped files are sent as DICOMs or
 * labels, where each answered image sits in the slices × phases grid, moving between grid cells with the keyboard,
 * and number formatting. Nothing here measures anything: every number shown is the API's.
 */

/** How a dropped or chosen file is sent to POST /segment/series. */
export type SeriesFileKind = 'dicom' | 'label' | 'skip';

/**
 * `.txt` (a Sunnybrook contour) and `.png` (a mask) are labels; a file with the DICOM Part 10 marker ("DICM" after the
 * 128-byte preamble) or a `.dcm`/`.dicom`/`.ima` name is a DICOM (the API decodes it, and names the part if it is
 * not one); anything else in a dropped folder (hidden files, manifests, notes) is left out and listed.
 */
export function seriesFileKind(name: string, head: Uint8Array): SeriesFileKind {
  const base = name.split(/[\\/]/).pop() ?? name;
  if (base.startsWith('.')) return 'skip';
  const ext = base.includes('.') ? base.slice(base.lastIndexOf('.') + 1).toLowerCase() : '';
  if (ext === 'txt' || ext === 'png') return 'label';
  const part10 = head.length >= 132 && head[128] === 0x44 && head[129] === 0x49 && head[130] === 0x43 && head[131] === 0x4d;
  if (part10 || ext === 'dcm' || ext === 'dicom' || ext === 'ima') return 'dicom';
  return 'skip';
}

/** Names in the order people number them: `2.dcm` before `10.dcm`. */
export function compareFileNames(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** Where the answer placed an image (`sliceIndex`, `phaseIndex` of POST /segment/series). */
export interface GridPlacement {
  sliceIndex: number | null;
  phaseIndex: number | null;
}

export interface SeriesGridLayout {
  /** Row slice indices, lowest to highest, gaps included (a slice the series lacks is an empty row). */
  slices: number[];
  /** Column phase indices, ascending; null last when some placed images have no phase. */
  phases: Array<number | null>;
  /** Images (indices into the answer's `images`) at this slice and phase, in upload order. */
  at(slice: number, phase: number | null): number[];
  /** Images without a slice index, in upload order (they are listed, not drawn in the grid). */
  unplaced: number[];
}

export function seriesGridLayout(images: readonly GridPlacement[]): SeriesGridLayout {
  const cells = new Map<string, number[]>();
  const key = (slice: number, phase: number | null) => `${slice}:${phase ?? '-'}`;
  const sliceSet = new Set<number>();
  const phaseSet = new Set<number | null>();
  const unplaced: number[] = [];
  images.forEach((im, k) => {
    if (im.sliceIndex === null) {
      unplaced.push(k);
      return;
    }
    sliceSet.add(im.sliceIndex);
    phaseSet.add(im.phaseIndex);
    const c = key(im.sliceIndex, im.phaseIndex);
    cells.set(c, [...(cells.get(c) ?? []), k]);
  });
  const lowest = Math.min(...sliceSet);
  const slices = sliceSet.size ? Array.from({ length: Math.max(...sliceSet) - lowest + 1 }, (_, i) => lowest + i) : [];
  const numbered = [...phaseSet].filter((p): p is number => p !== null).sort((a, b) => a - b);
  return { slices, phases: phaseSet.has(null) ? [...numbered, null] : numbered, at: (s, p) => cells.get(key(s, p)) ?? [], unplaced };
}

/** A focusable grid cell: its row and column in the grid (several images in one cell share both). */
export interface GridCell {
  row: number;
  column: number;
}

/**
 * The cell a key moves to from `current` in `cells` (row-major order, as in the page): ←/→ the previous/next cell of
 * the row, ↑/↓ the nearest column in the nearest row above/below that has cells, Home/End the row's first/last cell;
 * undefined for other keys or at an edge.
 */
export function nextGridCell(cells: readonly GridCell[], current: number, key: string): number | undefined {
  const here = cells[current];
  if (!here) return undefined;
  const inRow = cells.map((c, i) => ({ c, i })).filter(({ c }) => c.row === here.row);
  const pos = inRow.findIndex(({ i }) => i === current);
  switch (key) {
    case 'ArrowRight':
      return inRow[pos + 1]?.i;
    case 'ArrowLeft':
      return inRow[pos - 1]?.i;
    case 'Home':
      return inRow[0].i;
    case 'End':
      return inRow[inRow.length - 1].i;
    case 'ArrowUp':
    case 'ArrowDown': {
      const rows = [...new Set(cells.map((c) => c.row))].sort((a, b) => a - b);
      const target = key === 'ArrowDown' ? rows.find((r) => r > here.row) : [...rows].reverse().find((r) => r < here.row);
      if (target === undefined) return undefined;
      let best: number | undefined;
      cells.forEach((c, i) => {
        if (c.row !== target) return;
        if (best === undefined || Math.abs(c.column - here.column) < Math.abs(cells[best].column - here.column)) best = i;
      });
      return best;
    }
    default:
      return undefined;
  }
}

const MINUS = '\u2212';

/** "123.4 mL", or "—" when the API has no volume. */
export function formatMl(ml: number | null): string {
  return ml === null ? '—' : `${ml.toFixed(1)} mL`;
}

/** An EF fraction (0..1, as the API answers it) in percent: "55.2 %". */
export function formatEf(ef: number): string {
  return `${(ef * 100).toFixed(1)} %`;
}

/** A signed difference with a real minus sign: "+4.1 mL", "−2.9 percentage points"; "—" for null. */
export function formatSigned(value: number | null, digits: number, unit: string): string {
  if (value === null) return '—';
  const text = Math.abs(value).toFixed(digits);
  const sign = Number(text) === 0 ? '±' : value > 0 ? '+' : MINUS;
  return `${sign}${text} ${unit}`;
}

/** A phase as the page names it: "phase 7 (ED)", "ES (slice-pair rule)". */
export function phaseName(phase: number | null, role: 'ED' | 'ES' | null): string {
  if (phase === null) return role ? `${role} (slice-pair rule)` : 'phase unknown';
  return `phase ${phase}${role ? ` (${role})` : ''}`;
}
