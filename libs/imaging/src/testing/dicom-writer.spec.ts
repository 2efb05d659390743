import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as dicomParser from 'dicom-parser';
import { decodeDicom } from '../dicom';
import { DicomEncoding, DicomWriteOptions, TRANSFER_SYNTAX_OF_ENCODING, writeDicom } from './dicom-writer';

const ENCODINGS: DicomEncoding[] = ['explicit-le', 'implicit-le', 'explicit-be', 'deflated-le'];
const signed12: DicomWriteOptions = {
  rows: 3,
  columns: 4,
  pixels: [-2048, -1000, -1, 0, 1, 2, 100, 1000, 2047, -5, 7, -300],
  bitsStored: 12,
  pixelRepresentation: 1,
  rescaleSlope: 1.5,
  rescaleIntercept: -10,
  pixelSpacing: [0.625, 0.75],
  sliceThickness: 8,
  sopInstanceUid: '2.25.123456789',
  seriesDescription: 'SAX CINE',
};
const gray8: DicomWriteOptions = { rows: 3, columns: 3, bitsAllocated: 8, pixels: [0, 1, 2, 3, 127, 128, 200, 254, 255] };

/** Little-endian bytes of stored values at the given width (the layout `dcmdump +W` writes). */
function leBytes(values: number[], bytesPerSample: number): Uint8Array {
  const out = new Uint8Array(values.length * bytesPerSample);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    const u = (v + 2 ** (8 * bytesPerSample)) % 2 ** (8 * bytesPerSample);
    if (bytesPerSample === 1) view.setUint8(i, u);
    else view.setUint16(i * 2, u, true);
  });
  return out;
}

describe('writeDicom (checked with dicom-parser)', () => {
  it('writes a Part 10 file: zero preamble, DICM, meta group length matching the meta header', () => {
    const bytes = writeDicom(signed12);
    expect(bytes.subarray(0, 128).every((b) => b === 0)).toBe(true);
    expect(Buffer.from(bytes.subarray(128, 132)).toString('latin1')).toBe('DICM');
    const meta = dicomParser.readPart10Header(bytes) as dicomParser.DataSet & { position: number };
    const groupLength = meta.uint32('x00020000');
    // The group length counts the bytes after its own 12-byte element up to the first data set element.
    expect(groupLength).toBe(meta.position - 132 - 12);
    expect(meta.string('x00020010')).toBe(TRANSFER_SYNTAX_OF_ENCODING['explicit-le']);
    expect(meta.string('x00020003')).toBe('2.25.123456789');
  });

  it('omits tags, replaces elements and can write a bare data set', () => {
    const parsed = dicomParser.parseDicom(
      writeDicom({ ...signed12, omitTags: ['00280030', '0008103e'], elements: [{ tag: '00280010', vr: 'US', value: [3] }, { tag: '00181020', vr: 'LO', value: 'v1' }] }),
    );
    expect(parsed.elements.x00280030).toBeUndefined();
    expect(parsed.elements.x0008103e).toBeUndefined();
    expect(parsed.string('x00181020')).toBe('v1');
    expect(parsed.uint16('x00280010')).toBe(3);
    const bare = writeDicom({ ...signed12, part10: false, encoding: 'implicit-le' });
    expect(Buffer.from(bare.subarray(128, 132)).toString('latin1')).not.toBe('DICM');
    const ds = dicomParser.parseDicom(bare, { TransferSyntaxUID: TRANSFER_SYNTAX_OF_ENCODING['implicit-le'] });
    expect(ds.uint16('x00280011')).toBe(4);
  });
});

const dcmtkAvailable = spawnSync('dcmdump', ['--version'], { encoding: 'utf8' }).status === 0;
if (!dcmtkAvailable) {
  // scripts/test.sh installs DCMTK: under CI its absence is a failure, not a skip.
  if (process.env.CI === 'true') throw new Error('dicom-writer.spec needs DCMTK (dcmdump, dcmconv) under CI (apt-get install dcmtk)');
  console.warn('dicom-writer.spec: DCMTK (dcmdump, dcmconv) not found on PATH; skipping the DCMTK cross-checks (apt-get install dcmtk).');
}

(dcmtkAvailable ? describe : describe.skip)('writeDicom (checked with DCMTK)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvseg-dicom-writer-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const run = (cmd: string, args: string[]): { stdout: string; stderr: string } => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return { stdout: r.stdout, stderr: r.stderr };
  };

  const cases = ENCODINGS.flatMap((encoding) => [
    [encoding, '16-bit signed, 12 stored', signed12] as const,
    [encoding, '8-bit unsigned', gray8] as const,
  ]);

  it.each(cases)('%s %s: dcmdump reads it without warnings, with the attributes and pixel bytes written', (encoding, _, opts) => {
    const file = path.join(dir, `w-${encoding}-${opts.bitsAllocated ?? 16}.dcm`);
    fs.writeFileSync(file, writeDicom({ ...opts, encoding }));
    const { stdout, stderr } = run('dcmdump', ['+L', file]);
    expect(stderr).toBe('');
    const tsName = { 'explicit-le': 'LittleEndianExplicit', 'implicit-le': 'LittleEndianImplicit', 'explicit-be': 'BigEndianExplicit', 'deflated-le': 'DeflatedLittleEndianExplicit' }[encoding];
    expect(stdout).toContain(`(0002,0010) UI =${tsName}`);
    expect(stdout).toMatch(new RegExp(`\\(0028,0010\\) US ${opts.rows} `));
    expect(stdout).toMatch(new RegExp(`\\(0028,0011\\) US ${opts.columns} `));
    expect(stdout).toMatch(new RegExp(`\\(0028,0100\\) US ${opts.bitsAllocated ?? 16} `));
    expect(stdout).toMatch(new RegExp(`\\(0028,0101\\) US ${opts.bitsStored ?? opts.bitsAllocated ?? 16} `));
    expect(stdout).toMatch(new RegExp(`\\(0028,0103\\) US ${opts.pixelRepresentation ?? 0} `));
    expect(stdout).toContain('(0028,0004) CS [MONOCHROME2]');
    expect(stdout).toContain('(0008,0016) UI =MRImageStorage');
    if (opts.pixelSpacing) {
      expect(stdout).toContain('(0028,0030) DS [0.625\\0.75]');
      expect(stdout).toContain('(0028,1053) DS [1.5]');
      expect(stdout).toContain('(0028,1052) DS [-10]');
      expect(stdout).toContain('(0008,103e) LO [SAX CINE]');
    }
    const rawDir = path.join(dir, `raw-${encoding}-${opts.bitsAllocated ?? 16}`);
    fs.mkdirSync(rawDir);
    run('dcmdump', ['-q', '+W', rawDir, file]);
    const [rawFile] = fs.readdirSync(rawDir);
    const raw = new Uint8Array(fs.readFileSync(path.join(rawDir, rawFile)));
    const bytesPerSample = (opts.bitsAllocated ?? 16) / 8;
    const expected = leBytes(Array.from(opts.pixels as number[]), bytesPerSample);
    expect(raw.subarray(0, expected.length)).toEqual(expected);
    expect(raw.length - expected.length).toBeLessThanOrEqual(1); // at most the even-length pad byte
  });

  it.each(cases)('%s %s: after DCMTK re-encodes it (dcmconv +te) it decodes to the values written', (encoding, _, opts) => {
    const file = path.join(dir, `c-${encoding}-${opts.bitsAllocated ?? 16}.dcm`);
    const out = `${file}.te.dcm`;
    fs.writeFileSync(file, writeDicom({ ...opts, encoding }));
    run('dcmconv', ['+te', file, out]);
    const { image, meta } = decodeDicom(new Uint8Array(fs.readFileSync(out)));
    expect(meta.transferSyntaxUid).toBe(TRANSFER_SYNTAX_OF_ENCODING['explicit-le']);
    const slope = opts.rescaleSlope ?? 1;
    const intercept = opts.rescaleIntercept ?? 0;
    expect(Array.from(image.data)).toEqual(Array.from(opts.pixels as number[], (v) => slope * v + intercept));
    expect(image.pixelSpacingMm).toEqual(opts.pixelSpacing);
  });

  it('writes multi-frame, MONOCHROME1 and encapsulated files DCMTK accepts', () => {
    const multi = path.join(dir, 'multi.dcm');
    fs.writeFileSync(multi, writeDicom({ rows: 2, columns: 2, numberOfFrames: 3, pixels: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] }));
    const m = run('dcmdump', [multi]);
    expect(m.stderr).toBe('');
    expect(m.stdout).toContain('(0028,0008) IS [3]');
    expect(m.stdout).toMatch(/\(7fe0,0010\) OW .*# +24, 1 PixelData/);

    const mono1 = path.join(dir, 'mono1.dcm');
    fs.writeFileSync(mono1, writeDicom({ rows: 2, columns: 2, photometricInterpretation: 'MONOCHROME1', encoding: 'implicit-le' }));
    expect(run('dcmdump', [mono1]).stdout).toContain('(0028,0004) CS [MONOCHROME1]');

    const jpeg = path.join(dir, 'jpeg.dcm');
    fs.writeFileSync(jpeg, writeDicom({ rows: 2, columns: 2, transferSyntaxUid: '1.2.840.10008.1.2.4.50', encapsulated: true }));
    const j = run('dcmdump', [jpeg]);
    expect(j.stdout).toContain('(0002,0010) UI =JPEGBaseline');
    expect(j.stdout).toContain('(7fe0,0010) OB (PixelSequence #=2)');
  });
});
