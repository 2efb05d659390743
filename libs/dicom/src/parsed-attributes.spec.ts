import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NaturalDataset } from 'dcmjs';
import { repoRoot } from '@lvseg/common';
import { decodeDicomImage } from '@lvseg/imaging';
import { writeDicom } from '../../imaging/src/testing/dicom-writer';
import { naturalizeDicom } from './dicom-seg-reader';
import { writeLvSegmentation } from './dicom-seg-writer';
import { WRITER_SOURCE_ATTRIBUTES, naturalizeParsed, writerSourceOf } from './parsed-attributes';
import { segUidsFor } from './uids';

const FIXTURES = join(repoRoot(), 'libs/imaging/test-fixtures');
const fixture = (name: string) => readFileSync(join(FIXTURES, name));
/** Raw bytes of a string, for writeDicom (which writes string values as latin1). */
const utf8Bytes = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

const pixelBytes = (ds: NaturalDataset) => (Array.isArray(ds.PixelData) ? (ds.PixelData as ArrayBuffer[]) : []).reduce((n, b) => n + b.byteLength, 0);

// The oracle: dcmjs reading the whole file (naturalizeDicom), as the writers' sources were read before.
const cases: Array<[string, () => Uint8Array]> = [
  ['Sunnybrook MR (Explicit VR LE, ISO_IR 100)', () => fixture('sunnybrook/SCD0000401/100.dcm')],
  ['Sunnybrook MR, another patient', () => fixture('sunnybrook/SCD0000101/48.dcm')],
  ['Implicit VR LE (DCMTK)', () => fixture('dicom/implicit-le.dcm')],
  ['Explicit VR Big Endian (DCMTK)', () => fixture('dicom/explicit-be.dcm')],
  ['Deflated Explicit VR LE (DCMTK)', () => fixture('dicom/deflated-le.dcm')],
  ['JPEG Baseline (lossy, encapsulated)', () => fixture('dicom/jpeg-baseline.dcm')],
  ['JPEG-LS lossless', () => fixture('dicom/jpeg-ls.dcm')],
  ['RLE', () => fixture('dicom/rle.dcm')],
  [
    'UTF-8 names with ideographic components, empty type 2 attributes, a lossy ratio and method',
    () =>
      writeDicom({
        rows: 4,
        columns: 4,
        patientName: utf8Bytes('Müller^Jürgen=山田^太郎'),
        patientId: utf8Bytes('Zoë-17'),
        elements: [
          { tag: '00080005', vr: 'CS', value: 'ISO_IR 192' },
          { tag: '00080090', vr: 'PN', value: '' },
          { tag: '00081030', vr: 'LO', value: utf8Bytes('Cœur IRM ') },
          { tag: '00282110', vr: 'CS', value: '01' },
          { tag: '00282112', vr: 'DS', value: '10.5\\2.25' },
          { tag: '00282114', vr: 'CS', value: 'ISO_10918_1\\ISO_14495_1' },
          { tag: '00181060', vr: 'DS', value: '412.5 ' },
        ],
      }),
  ],
  ['latin-1 names (ISO_IR 100), Implicit VR LE', () => writeDicom({ rows: 4, columns: 4, encoding: 'implicit-le', patientName: 'Ørsted^Åse', elements: [{ tag: '00080005', vr: 'CS', value: 'ISO_IR 100' }] })],
  ['no SpecificCharacterSet, several person names', () => writeDicom({ rows: 4, columns: 4, patientName: 'Doe^Jane', patientBirthDate: '19700101', elements: [{ tag: '00080090', vr: 'PN', value: 'Roe^Rick\\Poe^Pat' }] })],
];

describe('naturalizeParsed: the writers\' source attributes from the data set the pixel decode parsed', () => {
  it.each(cases)('%s: every attribute equals what dcmjs reads from the whole file', async (_name, bytesOf) => {
    const bytes = bytesOf();
    const decoded = await decodeDicomImage(bytes);
    const parsed = naturalizeParsed(decoded.dataSet, decoded.meta.transferSyntaxUid, WRITER_SOURCE_ATTRIBUTES)!;
    const full = naturalizeDicom(bytes);
    expect(parsed).toBeDefined();
    let compared = 0;
    for (const k of WRITER_SOURCE_ATTRIBUTES) {
      if (k === 'PixelData') continue;
      expect({ [k]: parsed[k] }).toEqual({ [k]: full[k] });
      if (full[k] !== undefined) compared++;
    }
    expect(compared).toBeGreaterThanOrEqual(8);
    expect(pixelBytes(parsed)).toBe(pixelBytes(full));
    expect(pixelBytes(parsed)).toBeGreaterThan(0);
  });

  it('writes the same SEG, byte for byte, from either source (geometry, patient and study copied; a lossy source\'s ratio from its pixel data)', async () => {
    for (const name of ['sunnybrook/SCD0000401/100.dcm', 'dicom/jpeg-baseline.dcm']) {
      const bytes = fixture(name);
      const decoded = await decodeDicomImage(bytes);
      const mask = { rows: decoded.image.rows, columns: decoded.image.columns, data: new Uint8Array(decoded.image.rows * decoded.image.columns).fill(1, 0, 40) };
      const options = { ...segUidsFor('2.25.1', 'v1'), model: { version: 'v1', architecture: 'unet-small' }, softwareVersion: '0.1.0', now: new Date('2026-01-01T00:00:00Z') };
      const write = (dataset: NaturalDataset) => writeLvSegmentation([{ dataset, mask, transferSyntaxUid: decoded.meta.transferSyntaxUid }], options);
      const once = write(writerSourceOf(decoded, bytes));
      const twice = write(naturalizeDicom(bytes));
      expect(once.warnings).toEqual(twice.warnings);
      expect(Buffer.compare(once.bytes, twice.bytes)).toBe(0);
    }
  });

  it('leaves several or unknown character sets to dcmjs, which refuses them as before', async () => {
    for (const charset of ['ISO 2022 IR 6\\ISO 2022 IR 87', 'ISO_IR 999']) {
      const bytes = writeDicom({ rows: 4, columns: 4, patientName: 'Doe^Jane', elements: [{ tag: '00080005', vr: 'CS', value: charset }] });
      const decoded = await decodeDicomImage(bytes);
      expect(naturalizeParsed(decoded.dataSet, decoded.meta.transferSyntaxUid, WRITER_SOURCE_ATTRIBUTES)).toBeUndefined();
      expect(() => naturalizeDicom(bytes)).toThrow(/character set/i);
      expect(() => writerSourceOf(decoded, bytes)).toThrow(/character set/i);
    }
  });
});
