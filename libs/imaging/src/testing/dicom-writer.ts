/**
 * A small DICOM Part 10 writer for specs and bad-input corpora: native (uncompressed) greyscale images in Explicit or
 * Implicit VR Little Endian, Explicit VR Big Endian or Deflated Explicit VR Little Endian, with chosen bits, signedness,
 * photometric interpretation, rescale, spacing and UIDs, plus knobs to omit tags, override elements, declare another
 * transfer syntax or encapsulate the pixel data. Its output is checked against DCMTK (`dicom-writer.spec.ts`).
 * Test code only: it trusts its caller and throws plain Errors on impossible options.
 */
import * as zlib from 'zlib';

export type DicomEncoding = 'explicit-le' | 'implicit-le' | 'explicit-be' | 'deflated-le';

/** A raw element to add or replace: text for string VRs, numbers for binary numeric VRs, bytes for OB/OW/UN. */
export interface RawDicomElement {
  /** 'GGGGEEEE' in hex, e.g. '00280010'. */
  tag: string;
  vr: string;
  value: string | number[] | Uint8Array;
}

export interface DicomWriteOptions {
  rows: number;
  columns: number;
  /** Stored values (before rescale), row-major, frame after frame; defaults to zeros. Negative values are written in two's complement. */
  pixels?: ArrayLike<number>;
  /** PixelData value bytes written verbatim (little-endian layout), instead of `pixels`: e.g. too short, or garbage. */
  pixelBytes?: Uint8Array;
  /** Byte layout of the file; default 'explicit-le'. */
  encoding?: DicomEncoding;
  /** TransferSyntaxUID to declare; defaults to the one matching `encoding` (set it to claim e.g. JPEG). */
  transferSyntaxUid?: string;
  /** Write PixelData as an encapsulated pixel sequence (empty offset table + one fragment), as compressed syntaxes do. */
  encapsulated?: boolean;
  /** Write the pixels as Float Pixel Data (7FE0,0008, OF) instead of integer PixelData; needs bitsAllocated 32. */
  floatPixels?: boolean;
  /** Without the 128-byte preamble, 'DICM' and meta header: a bare data set. Default true. */
  part10?: boolean;
  bitsAllocated?: number;
  bitsStored?: number;
  highBit?: number;
  pixelRepresentation?: number;
  photometricInterpretation?: string;
  samplesPerPixel?: number;
  numberOfFrames?: number;
  rescaleSlope?: number;
  rescaleIntercept?: number;
  pixelSpacing?: [number, number];
  imagerPixelSpacing?: [number, number];
  sliceThickness?: number;
  windowCenter?: number;
  windowWidth?: number;
  sopClassUid?: string;
  sopInstanceUid?: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  frameOfReferenceUid?: string;
  modality?: string;
  seriesDescription?: string;
  instanceNumber?: number;
  sliceLocation?: number;
  imagePositionPatient?: [number, number, number];
  imageOrientationPatient?: [number, number, number, number, number, number];
  patientName?: string;
  patientId?: string;
  patientBirthDate?: string;
  accessionNumber?: string;
  /** Tags to leave out ('GGGGEEEE' hex, any case), meta header included, e.g. ['00280010'] drops Rows. */
  omitTags?: string[];
  /** Elements added after the standard ones, replacing any with the same tag. */
  elements?: RawDicomElement[];
}

export const TRANSFER_SYNTAX_OF_ENCODING: Readonly<Record<DicomEncoding, string>> = {
  'implicit-le': '1.2.840.10008.1.2',
  'explicit-le': '1.2.840.10008.1.2.1',
  'deflated-le': '1.2.840.10008.1.2.1.99',
  'explicit-be': '1.2.840.10008.1.2.2',
};

export const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';

// VRs whose explicit encoding has 2 reserved bytes and a 32-bit length.
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const NUMERIC_VR_SIZE: Readonly<Record<string, number>> = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, AT: 2, OF: 4, OD: 8, OL: 4, OW: 2 };

interface EncodedElement {
  tag: number;
  vr: string;
  /** Value in little-endian layout, padded to even length. */
  value: Uint8Array;
  /** Size of the words a big-endian file must byte-swap (1 = bytes, never swapped). */
  wordSize: number;
  /** Encapsulated pixel data: `value` is the single fragment, written with undefined length. */
  encapsulated?: boolean;
}

/** Writes a DICOM Part 10 file (or bare data set) from `opts`. */
export function writeDicom(opts: DicomWriteOptions): Uint8Array {
  const encoding = opts.encoding ?? 'explicit-le';
  const transferSyntaxUid = opts.transferSyntaxUid ?? TRANSFER_SYNTAX_OF_ENCODING[encoding];
  const bitsAllocated = opts.bitsAllocated ?? 16;
  const sopClassUid = opts.sopClassUid ?? MR_IMAGE_STORAGE;
  const sopInstanceUid = opts.sopInstanceUid ?? '2.25.1000000000000000000001';
  const omitted = new Set((opts.omitTags ?? []).map((t) => parseInt(t, 16)));

  const data = new Map<number, EncodedElement>();
  const put = (tag: string, vr: string, value: string | number[] | Uint8Array | undefined): void => {
    if (value === undefined) return;
    const el = encodeElement(tag, vr, value);
    data.set(el.tag, el);
  };
  put('00080016', 'UI', sopClassUid);
  put('00080018', 'UI', sopInstanceUid);
  put('00080050', 'SH', opts.accessionNumber);
  put('00080060', 'CS', opts.modality ?? 'MR');
  put('0008103E', 'LO', opts.seriesDescription);
  put('00100010', 'PN', opts.patientName);
  put('00100020', 'LO', opts.patientId);
  put('00100030', 'DA', opts.patientBirthDate);
  put('00180050', 'DS', num(opts.sliceThickness));
  put('00181164', 'DS', nums(opts.imagerPixelSpacing));
  put('0020000D', 'UI', opts.studyInstanceUid ?? '2.25.1000000000000000000002');
  put('0020000E', 'UI', opts.seriesInstanceUid ?? '2.25.1000000000000000000003');
  put('00200013', 'IS', num(opts.instanceNumber));
  put('00200032', 'DS', nums(opts.imagePositionPatient));
  put('00200037', 'DS', nums(opts.imageOrientationPatient));
  put('00200052', 'UI', opts.frameOfReferenceUid);
  put('00201041', 'DS', num(opts.sliceLocation));
  put('00280002', 'US', [opts.samplesPerPixel ?? 1]);
  put('00280004', 'CS', opts.photometricInterpretation ?? 'MONOCHROME2');
  put('00280008', 'IS', num(opts.numberOfFrames));
  put('00280010', 'US', [opts.rows]);
  put('00280011', 'US', [opts.columns]);
  put('00280030', 'DS', nums(opts.pixelSpacing));
  put('00280100', 'US', [bitsAllocated]);
  put('00280101', 'US', opts.floatPixels ? undefined : [opts.bitsStored ?? bitsAllocated]);
  put('00280102', 'US', opts.floatPixels ? undefined : [opts.highBit ?? (opts.bitsStored ?? bitsAllocated) - 1]);
  put('00280103', 'US', opts.floatPixels ? undefined : [opts.pixelRepresentation ?? 0]);
  put('00281050', 'DS', num(opts.windowCenter));
  put('00281051', 'DS', num(opts.windowWidth));
  put('00281052', 'DS', num(opts.rescaleIntercept));
  put('00281053', 'DS', num(opts.rescaleSlope));
  const pixel = encodePixelData(opts, bitsAllocated);
  data.set(pixel.tag, pixel);
  for (const el of opts.elements ?? []) put(el.tag, el.vr, el.value);
  for (const tag of omitted) data.delete(tag);

  const dataSetEncoding = encoding === 'deflated-le' ? 'explicit-le' : encoding;
  let dataSet = serialize([...data.values()], dataSetEncoding);
  if (encoding === 'deflated-le') dataSet = new Uint8Array(zlib.deflateRawSync(dataSet));
  if (opts.part10 === false) return dataSet;

  const meta = new Map<number, EncodedElement>();
  for (const [tag, vr, value] of [
    ['00020001', 'OB', new Uint8Array([0, 1])],
    ['00020002', 'UI', sopClassUid],
    ['00020003', 'UI', sopInstanceUid],
    ['00020010', 'UI', transferSyntaxUid],
    ['00020012', 'UI', '2.25.1000000000000000000099'],
    ['00020013', 'SH', 'LVSEG_TESTWRITER'],
  ] as const) {
    const el = encodeElement(tag, vr, value);
    if (!omitted.has(el.tag)) meta.set(el.tag, el);
  }
  let metaBytes = serialize([...meta.values()], 'explicit-le');
  if (!omitted.has(0x00020000)) {
    const groupLength = encodeElement('00020000', 'UL', [metaBytes.length]);
    metaBytes = concat([serialize([groupLength], 'explicit-le'), metaBytes]);
  }
  const preamble = new Uint8Array(132);
  preamble.set([0x44, 0x49, 0x43, 0x4d], 128); // 'DICM'
  return concat([preamble, metaBytes, dataSet]);
}

function encodePixelData(opts: DicomWriteOptions, bitsAllocated: number): EncodedElement {
  const frames = opts.numberOfFrames ?? 1;
  const count = opts.rows * opts.columns * (opts.samplesPerPixel ?? 1) * frames;
  if (opts.floatPixels) {
    if (bitsAllocated !== 32) throw new Error('floatPixels needs bitsAllocated 32');
    const bytes = opts.pixelBytes ?? new Uint8Array(new Float32Array(Array.from(valuesOf(opts, count))).buffer);
    return { tag: 0x7fe00008, vr: 'OF', value: padEven(bytes, 0), wordSize: 4 };
  }
  let bytes = opts.pixelBytes;
  if (!bytes) {
    if (![8, 16, 32].includes(bitsAllocated)) throw new Error(`cannot encode ${bitsAllocated}-bit pixels; pass pixelBytes`);
    const size = bitsAllocated / 8;
    bytes = new Uint8Array(count * size);
    const view = new DataView(bytes.buffer);
    const modulus = 2 ** bitsAllocated;
    const values = valuesOf(opts, count);
    for (let i = 0; i < count; i++) {
      const v = ((Math.round(values[i]) % modulus) + modulus) % modulus; // two's complement at the allocated width
      if (size === 1) view.setUint8(i, v);
      else if (size === 2) view.setUint16(i * 2, v, true);
      else view.setUint32(i * 4, v, true);
    }
  }
  if (opts.encapsulated) return { tag: 0x7fe00010, vr: 'OB', value: padEven(bytes, 0), wordSize: 1, encapsulated: true };
  if ((opts.encoding ?? 'explicit-le') === 'explicit-be' && bitsAllocated === 32) {
    throw new Error('the writer does not encode 32-bit pixel data in big endian');
  }
  // 8-bit pixels as OB (never swapped); wider as OW, swapped per 16-bit word in big endian.
  return bitsAllocated === 8
    ? { tag: 0x7fe00010, vr: 'OB', value: padEven(bytes, 0), wordSize: 1 }
    : { tag: 0x7fe00010, vr: 'OW', value: padEven(bytes, 0), wordSize: 2 };
}

function valuesOf(opts: DicomWriteOptions, count: number): ArrayLike<number> {
  if (!opts.pixels) return new Float64Array(count);
  if (opts.pixels.length !== count) throw new Error(`expected ${count} pixel values, got ${opts.pixels.length}`);
  return opts.pixels;
}

function encodeElement(tagHex: string, vr: string, value: string | number[] | Uint8Array): EncodedElement {
  const tag = parseInt(tagHex, 16);
  if (!/^[0-9a-fA-F]{8}$/.test(tagHex)) throw new Error(`bad tag ${tagHex}`);
  if (value instanceof Uint8Array) return { tag, vr, value: padEven(value, 0), wordSize: NUMERIC_VR_SIZE[vr] ?? 1 };
  if (typeof value === 'string') {
    const bytes = Uint8Array.from(Buffer.from(value, 'latin1'));
    return { tag, vr, value: padEven(bytes, vr === 'UI' ? 0 : 0x20), wordSize: 1 };
  }
  const size = NUMERIC_VR_SIZE[vr];
  if (!size) throw new Error(`VR ${vr} takes a string or bytes, not numbers`);
  const bytes = new Uint8Array(value.length * size);
  const view = new DataView(bytes.buffer);
  value.forEach((v, i) => {
    const at = i * size;
    if (vr === 'US' || vr === 'AT' || vr === 'OW') view.setUint16(at, v, true);
    else if (vr === 'SS') view.setInt16(at, v, true);
    else if (vr === 'UL' || vr === 'OL') view.setUint32(at, v, true);
    else if (vr === 'SL') view.setInt32(at, v, true);
    else if (vr === 'FL' || vr === 'OF') view.setFloat32(at, v, true);
    else view.setFloat64(at, v, true);
  });
  return { tag, vr, value: bytes, wordSize: size };
}

function serialize(elements: EncodedElement[], encoding: 'explicit-le' | 'implicit-le' | 'explicit-be'): Uint8Array {
  const le = encoding !== 'explicit-be';
  const explicit = encoding !== 'implicit-le';
  const parts: Uint8Array[] = [];
  const header = (tag: number, vr: string | undefined, length: number): Uint8Array => {
    const long = vr === undefined || LONG_VRS.has(vr);
    const out = new Uint8Array(explicit && vr !== undefined ? (long ? 12 : 8) : 8);
    const view = new DataView(out.buffer);
    view.setUint16(0, tag >>> 16, le);
    view.setUint16(2, tag & 0xffff, le);
    if (!explicit || vr === undefined) {
      view.setUint32(4, length, le);
    } else if (long) {
      out.set([vr.charCodeAt(0), vr.charCodeAt(1), 0, 0], 4);
      view.setUint32(8, length, le);
    } else {
      if (length > 0xffff) throw new Error(`value of ${tag.toString(16)} too long for VR ${vr}`);
      out.set([vr.charCodeAt(0), vr.charCodeAt(1)], 4);
      view.setUint16(6, length, le);
    }
    return out;
  };
  for (const el of [...elements].sort((a, b) => a.tag - b.tag)) {
    const value = le ? el.value : swapWords(el.value, el.wordSize);
    if (el.encapsulated) {
      parts.push(header(el.tag, el.vr, 0xffffffff));
      parts.push(header(0xfffee000, undefined, 0)); // empty basic offset table
      parts.push(header(0xfffee000, undefined, value.length), value);
      parts.push(header(0xfffee0dd, undefined, 0));
    } else {
      parts.push(header(el.tag, el.vr, value.length), value);
    }
  }
  return concat(parts);
}

function swapWords(bytes: Uint8Array, wordSize: number): Uint8Array {
  if (wordSize <= 1) return bytes;
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i + wordSize <= bytes.length; i += wordSize) {
    for (let k = 0; k < wordSize; k++) out[i + k] = bytes[i + wordSize - 1 - k];
  }
  return out;
}

function padEven(bytes: Uint8Array, pad: number): Uint8Array {
  if (bytes.length % 2 === 0) return bytes;
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  out[bytes.length] = pad;
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// DS/IS values as DICOM strings: plain decimal, within the 16-character DS limit for the values specs use.
function num(v: number | undefined): string | undefined {
  return v === undefined ? undefined : formatDecimal(v);
}

function nums(v: ReadonlyArray<number> | undefined): string | undefined {
  return v === undefined ? undefined : v.map(formatDecimal).join('\\');
}

function formatDecimal(v: number): string {
  const s = String(v);
  return s.length <= 16 ? s : v.toPrecision(10).replace(/\.?0+$/, '');
}
