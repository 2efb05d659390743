import { compareFileNames, formatEf, formatMl, formatSigned, nextGridCell, phaseName, seriesFileKind, seriesGridLayout } from './series-layout';

/** The first 132 bytes of a DICOM Part 10 file: a zero preamble and "DICM". */
const part10 = (): Uint8Array => {
  const head = new Uint8Array(132);
  head.set([0x44, 0x49, 0x43, 0x4d], 128);
  return head;
};
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('seriesFileKind', () => {
  it('sends contours and PNG masks as labels and DICOMs by their marker or name', () => {
    expect(seriesFileKind('100.txt', text('120.5 88.25\n'))).toBe('label');
    expect(seriesFileKind('IM-0001-0100-icontour-manual.TXT', text(''))).toBe('label');
    expect(seriesFileKind('100.png', new Uint8Array([0x89, 0x50, 0x4e, 0x47]))).toBe('label');
    expect(seriesFileKind('IM00017', part10())).toBe('dicom');
    expect(seriesFileKind('case/100.dcm', part10())).toBe('dicom');
    // A .dcm that is not one still goes: the API names the part and says what is wrong with it.
    expect(seriesFileKind('broken.dcm', text('not a dicom'))).toBe('dicom');
  });

  it('leaves out what a dropped folder holds besides: hidden files, manifests, notes', () => {
    expect(seriesFileKind('.DS_Store', part10())).toBe('skip');
    expect(seriesFileKind('manifest.csv', text('case,image\n'))).toBe('skip');
    expect(seriesFileKind('README', text('Sunnybrook'))).toBe('skip');
  });
});

describe('compareFileNames', () => {
  it('orders numbered names as people do', () => {
    expect(['100.dcm', '27.dcm', '7.dcm', 'a/20.dcm'].sort(compareFileNames)).toEqual(['7.dcm', '27.dcm', '100.dcm', 'a/20.dcm']);
  });
});

describe('seriesGridLayout', () => {
  it('puts images at their slice and phase, keeps slice gaps as rows, and lists images without a slice', () => {
    const layout = seriesGridLayout([
      { sliceIndex: 3, phaseIndex: 1 },
      { sliceIndex: 0, phaseIndex: 0 },
      { sliceIndex: 0, phaseIndex: 1 },
      { sliceIndex: 3, phaseIndex: 0 },
      { sliceIndex: null, phaseIndex: null },
    ]);
    expect(layout.slices).toEqual([0, 1, 2, 3]);
    expect(layout.phases).toEqual([0, 1]);
    expect(layout.at(3, 1)).toEqual([0]);
    expect(layout.at(0, 0)).toEqual([1]);
    expect(layout.at(1, 0)).toEqual([]);
    expect(layout.unplaced).toEqual([4]);
  });

  it('gives frames without a phase their own last column, several to a cell', () => {
    const layout = seriesGridLayout([
      { sliceIndex: 1, phaseIndex: null },
      { sliceIndex: 1, phaseIndex: null },
      { sliceIndex: 2, phaseIndex: 0 },
    ]);
    expect(layout.phases).toEqual([0, null]);
    expect(layout.at(1, null)).toEqual([0, 1]);
    expect(seriesGridLayout([]).slices).toEqual([]);
  });
});

describe('nextGridCell', () => {
  // Row 0: columns 0, 1, 2; row 1 has no cells; row 2: columns 0 and 2.
  const cells = [
    { row: 0, column: 0 },
    { row: 0, column: 1 },
    { row: 0, column: 2 },
    { row: 2, column: 0 },
    { row: 2, column: 2 },
  ];

  it('moves along a row, to its ends, and stops at the edges', () => {
    expect(nextGridCell(cells, 0, 'ArrowRight')).toBe(1);
    expect(nextGridCell(cells, 2, 'ArrowRight')).toBeUndefined();
    expect(nextGridCell(cells, 1, 'ArrowLeft')).toBe(0);
    expect(nextGridCell(cells, 1, 'Home')).toBe(0);
    expect(nextGridCell(cells, 3, 'End')).toBe(4);
    expect(nextGridCell(cells, 0, 'Enter')).toBeUndefined();
  });

  it('moves up and down over rows without cells, to the nearest column', () => {
    expect(nextGridCell(cells, 2, 'ArrowDown')).toBe(4);
    expect(nextGridCell(cells, 1, 'ArrowDown')).toBe(3); // columns 0 and 2 are as near; the first wins
    expect(nextGridCell(cells, 4, 'ArrowUp')).toBe(2);
    expect(nextGridCell(cells, 0, 'ArrowUp')).toBeUndefined();
  });
});

describe('formatting', () => {
  it('writes volumes, EF in percent, signed differences and phase names', () => {
    expect(formatMl(182.44)).toBe('182.4 mL');
    expect(formatMl(null)).toBe('—');
    expect(formatEf(0.3312)).toBe('33.1 %');
    expect(formatSigned(4.06, 1, 'mL')).toBe('+4.1 mL');
    expect(formatSigned(-2.94, 1, 'percentage points')).toBe('\u22122.9 percentage points');
    expect(formatSigned(-0.01, 1, 'mL')).toBe('±0.0 mL');
    expect(formatSigned(null, 1, 'mL')).toBe('—');
    expect(phaseName(7, 'ES')).toBe('phase 7 (ES)');
    expect(phaseName(3, null)).toBe('phase 3');
    expect(phaseName(null, 'ED')).toBe('ED (slice-pair rule)');
  });
});
