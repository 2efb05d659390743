/**
 * DICOM decoding (dicom-parser; compressed frames through `decodeFrame`, ./codecs) into a `GrayImage` in the modality's
 * rescaled units, plus the few non-identifying attributes later stages need. Anything unreadable becomes an `LvsegError`; messages never carry
 * patient-identifying values (they name tags, transfer syntaxes and sizes only).
 */
import * as zlib from 'zlib';
import * as dicomParser from 'dicom-parser';
import type { DataSet, Element } from 'dicom-parser';
import { finiteRange, LvsegError } from '@lvseg/common';
import { GrayImage } from './image';
import { COMPRESSED_TRANSFER_SYNTAX, decodeFrame, FrameCodecErrorCode, FrameLayout, isDecodableCompressedSyntax } from './codecs/decode-frame';

/** Non-identifying DICOM attributes of a decoded image (no patient name, id, birth date or accession number). */
export interface DicomMeta {
  transferSyntaxUid: string;
  sopClassUid?: string;
  sopInstanceUid?: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  frameOfReferenceUid?: string;
  modality?: string;
  rows: number;
  columns: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  /** 0 = unsigned, 1 = two's complement. */
  pixelRepresentation: number;
  /** As stored in the file; the decoded image is already inverted when this is MONOCHROME1. */
  photometricInterpretation: string;
  rescaleSlope: number;
  rescaleIntercept: number;
  /** [row spacing, column spacing] in mm from PixelSpacing, else ImagerPixelSpacing; undefined when absent or invalid. */
  pixelSpacingMm?: [number, number];
  sliceThicknessMm?: number;
  /** SpacingBetweenSlices (0018,0088), mm. */
  spacingBetweenSlicesMm?: number;
  /** TriggerTime (0018,1060): ms after the R wave, the frame's place in the cardiac cycle. */
  triggerTimeMs?: number;
  instanceNumber?: number;
  sliceLocation?: number;
  imagePositionPatient?: [number, number, number];
  imageOrientationPatient?: [number, number, number, number, number, number];
  seriesDescription?: string;
  numberOfFrames: number;
  /** First WindowCenter value, in the decoded image's units (mirrored like the pixels for MONOCHROME1). */
  windowCenter?: number;
  /** First WindowWidth value. */
  windowWidth?: number;
}

/** A decoded single-frame greyscale DICOM image: pixels in rescaled units (bright = high) and its metadata. */
export interface DicomImage {
  image: GrayImage;
  meta: DicomMeta;
  /** The data set as parsed here (dicom-parser), for readers of other attributes (libs/dicom's writer sources), so the file is parsed once. */
  dataSet: DataSet;
}

/** Stable error codes thrown by `decodeDicom`. */
export const DicomErrorCode = {
  NotPart10: 'DICOM_NOT_PART10',
  Truncated: 'DICOM_TRUNCATED',
  ParseFailed: 'DICOM_PARSE_FAILED',
  NoTransferSyntax: 'DICOM_NO_TRANSFER_SYNTAX',
  UnsupportedTransferSyntax: 'DICOM_UNSUPPORTED_TRANSFER_SYNTAX',
  InflateFailed: 'DICOM_INFLATE_FAILED',
  InflatedTooLarge: 'DICOM_INFLATED_TOO_LARGE',
  NoPixelData: 'DICOM_NO_PIXEL_DATA',
  InvalidPixelData: 'DICOM_INVALID_PIXEL_DATA',
  PixelDataTooShort: 'DICOM_PIXEL_DATA_TOO_SHORT',
  MissingAttribute: 'DICOM_MISSING_ATTRIBUTE',
  InvalidAttribute: 'DICOM_INVALID_ATTRIBUTE',
  MultiFrame: 'DICOM_MULTI_FRAME',
  Color: 'DICOM_COLOR',
  UnsupportedPhotometric: 'DICOM_UNSUPPORTED_PHOTOMETRIC',
  UnsupportedBitsAllocated: 'DICOM_UNSUPPORTED_BITS_ALLOCATED',
  ImageTooLarge: 'DICOM_IMAGE_TOO_LARGE',
  /** A compressed frame its codec could not read (damaged stream, wrong size): 422. */
  CodecFailed: FrameCodecErrorCode.CodecFailed,
  /** A compressed frame no installed codec handles (arithmetic-coded or 16-bit lossy JPEG): 415. */
  CodecUnavailable: FrameCodecErrorCode.CodecUnavailable,
  /** Fragments and Basic Offset Table of encapsulated pixel data that do not add up to NumberOfFrames frames: 422. */
  InvalidFragments: 'DICOM_INVALID_FRAGMENTS',
} as const;

export const TRANSFER_SYNTAX = {
  implicitLittleEndian: '1.2.840.10008.1.2',
  explicitLittleEndian: '1.2.840.10008.1.2.1',
  deflatedExplicitLittleEndian: '1.2.840.10008.1.2.1.99',
  explicitBigEndian: '1.2.840.10008.1.2.2',
} as const;

/** Native (uncompressed) transfer syntaxes; the compressed ones are `DECODABLE_COMPRESSED_TRANSFER_SYNTAXES`. */
export const SUPPORTED_TRANSFER_SYNTAXES: ReadonlyArray<string> = Object.values(TRANSFER_SYNTAX);

// Names for error messages (PS3.6 table A-1).
const TRANSFER_SYNTAX_NAMES: Readonly<Record<string, string>> = {
  [TRANSFER_SYNTAX.implicitLittleEndian]: 'Implicit VR Little Endian',
  [TRANSFER_SYNTAX.explicitLittleEndian]: 'Explicit VR Little Endian',
  [TRANSFER_SYNTAX.deflatedExplicitLittleEndian]: 'Deflated Explicit VR Little Endian',
  [TRANSFER_SYNTAX.explicitBigEndian]: 'Explicit VR Big Endian',
  '1.2.840.10008.1.2.1.98': 'Encapsulated Uncompressed Explicit VR Little Endian',
  '1.2.840.10008.1.2.4.50': 'JPEG Baseline',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended',
  '1.2.840.10008.1.2.4.52': 'JPEG Extended (retired)',
  '1.2.840.10008.1.2.4.53': 'JPEG Spectral Selection (retired)',
  '1.2.840.10008.1.2.4.55': 'JPEG Full Progression (retired)',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless SV1',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-Lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 Lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.4.92': 'JPEG 2000 Part 2 Multi-component Lossless',
  '1.2.840.10008.1.2.4.93': 'JPEG 2000 Part 2 Multi-component',
  '1.2.840.10008.1.2.4.94': 'JPIP Referenced',
  '1.2.840.10008.1.2.4.95': 'JPIP Referenced Deflate',
  '1.2.840.10008.1.2.4.100': 'MPEG2 Main Profile @ Main Level',
  '1.2.840.10008.1.2.4.101': 'MPEG2 Main Profile @ High Level',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264 High Profile',
  '1.2.840.10008.1.2.4.103': 'MPEG-4 AVC/H.264 BD-compatible High Profile',
  '1.2.840.10008.1.2.4.104': 'MPEG-4 AVC/H.264 High Profile For 2D Video',
  '1.2.840.10008.1.2.4.105': 'MPEG-4 AVC/H.264 High Profile For 3D Video',
  '1.2.840.10008.1.2.4.106': 'MPEG-4 AVC/H.264 Stereo High Profile',
  '1.2.840.10008.1.2.4.107': 'HEVC/H.265 Main Profile',
  '1.2.840.10008.1.2.4.108': 'HEVC/H.265 Main 10 Profile',
  '1.2.840.10008.1.2.4.110': 'JPEG XL Lossless',
  '1.2.840.10008.1.2.4.111': 'JPEG XL JPEG Recompression',
  '1.2.840.10008.1.2.4.112': 'JPEG XL',
  '1.2.840.10008.1.2.4.201': 'High-Throughput JPEG 2000 Lossless',
  '1.2.840.10008.1.2.4.202': 'High-Throughput JPEG 2000 RPCL Lossless',
  '1.2.840.10008.1.2.4.203': 'High-Throughput JPEG 2000',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
  '1.2.840.10008.1.2.6.1': 'RFC 2557 MIME encapsulation (retired)',
  '1.2.840.10008.1.2.6.2': 'XML Encoding (retired)',
  '1.2.840.10008.1.2.7.1': 'SMPTE ST 2110-20 Uncompressed Progressive Active Video',
  '1.2.840.10008.1.2.8.1': 'Deflated Image Frame Compression',
};

// DICOM allows up to 65535; anything near that is not a cardiac MR slice and would cost gigabytes to decode.
// Rows/Columns above this are refused before any pixel buffer is allocated (8192² floats = 256 MiB).
const MAX_SIDE = 8192;
// A deflated data set larger than this once inflated is refused (a zip bomb, not an MR slice).
// 64 MiB holds a 4096×4096 16-bit frame; more from a small deflated upload is a decompression bomb.
const DEFAULT_MAX_INFLATED_BYTES = 64 * 1024 * 1024;

const TAG = {
  transferSyntaxUid: 'x00020010',
  mediaStorageSopClassUid: 'x00020002',
  mediaStorageSopInstanceUid: 'x00020003',
  sopClassUid: 'x00080016',
  sopInstanceUid: 'x00080018',
  modality: 'x00080060',
  seriesDescription: 'x0008103e',
  sliceThickness: 'x00180050',
  spacingBetweenSlices: 'x00180088',
  triggerTime: 'x00181060',
  imagerPixelSpacing: 'x00181164',
  studyInstanceUid: 'x0020000d',
  seriesInstanceUid: 'x0020000e',
  instanceNumber: 'x00200013',
  imagePositionPatient: 'x00200032',
  imageOrientationPatient: 'x00200037',
  frameOfReferenceUid: 'x00200052',
  sliceLocation: 'x00201041',
  samplesPerPixel: 'x00280002',
  photometricInterpretation: 'x00280004',
  numberOfFrames: 'x00280008',
  rows: 'x00280010',
  columns: 'x00280011',
  pixelSpacing: 'x00280030',
  bitsAllocated: 'x00280100',
  bitsStored: 'x00280101',
  highBit: 'x00280102',
  pixelRepresentation: 'x00280103',
  windowCenter: 'x00281050',
  windowWidth: 'x00281051',
  rescaleIntercept: 'x00281052',
  rescaleSlope: 'x00281053',
  floatPixelData: 'x7fe00008',
  doubleFloatPixelData: 'x7fe00009',
  pixelData: 'x7fe00010',
} as const;

export interface DecodeDicomOptions {
  /** Refuse a deflated data set that inflates to more bytes than this (default 256 MiB). */
  maxInflatedBytes?: number;
}

/**
 * Decodes one single-frame greyscale DICOM image with native (uncompressed) pixel data, synchronously; throws
 * `LvsegError` for anything it cannot read. Compressed files need a codec: use `decodeDicomImage` (async) for them.
 */
export function decodeDicom(bytes: Uint8Array, options: DecodeDicomOptions = {}): DicomImage {
  try {
    const parsed = parseImage(bytes, options.maxInflatedBytes ?? DEFAULT_MAX_INFLATED_BYTES);
    refuseMultiFrame(parsed);
    if (parsed.compressed) {
      throw new LvsegError(
        'unsupported',
        DicomErrorCode.UnsupportedTransferSyntax,
        `compressed transfer syntax ${describeTransferSyntax(parsed.transferSyntaxUid)} needs a codec: decode it with decodeDicomImage, not the synchronous decodeDicom`,
        { transferSyntaxUid: safeUid(parsed.transferSyntaxUid) },
      );
    }
    return toDicomImage(parsed, readSamples(parsed.dataSet.byteArray, parsed.pixelElement.dataOffset, parsed.pixelCount, parsed.sampleLayout));
  } catch (e) {
    throw asLvsegError(e);
  }
}

/**
 * Decodes one single-frame greyscale DICOM image in any supported transfer syntax, compressed ones through
 * `decodeFrame` (the WebAssembly codecs load on first use). A multi-frame file is refused (`DICOM_MULTI_FRAME`): see
 * `decodeDicomFrames`. What the API, the PACS path and the viewer call.
 */
export async function decodeDicomImage(bytes: Uint8Array, options: DecodeDicomOptions = {}): Promise<DicomImage> {
  return (await decodeFrames(parseSingleFrame(bytes, options), [0]))[0];
}

function parseSingleFrame(bytes: Uint8Array, options: DecodeDicomOptions): ParsedImage {
  try {
    const parsed = parseImage(bytes, options.maxInflatedBytes ?? DEFAULT_MAX_INFLATED_BYTES);
    refuseMultiFrame(parsed);
    return parsed;
  } catch (e) {
    throw asLvsegError(e);
  }
}

/** Decodes every frame of a greyscale DICOM image (single- or multi-frame, any supported transfer syntax), in order. */
export async function decodeDicomFrames(bytes: Uint8Array, options: DecodeDicomOptions = {}): Promise<DicomImage[]> {
  let parsed: ParsedImage;
  try {
    parsed = parseImage(bytes, options.maxInflatedBytes ?? DEFAULT_MAX_INFLATED_BYTES);
  } catch (e) {
    throw asLvsegError(e);
  }
  return decodeFrames(
    parsed,
    Array.from({ length: parsed.numberOfFrames }, (_, i) => i),
  );
}

/**
 * The attributes `decodeDicom` gives (`DicomMeta`) without decoding the pixels, for any supported transfer syntax, single-
 * or multi-frame: the header and pixel module are checked as for decoding (the same `LvsegError`s), the compressed
 * stream is not. Only a MONOCHROME1 image of float samples reads its values (its window centre is mirrored by their range).
 */
export function readDicomMeta(bytes: Uint8Array, options: DecodeDicomOptions = {}): DicomMeta {
  try {
    const parsed = parseImage(bytes, options.maxInflatedBytes ?? DEFAULT_MAX_INFLATED_BYTES);
    const floatMono1 = parsed.photometricInterpretation === 'MONOCHROME1' && parsed.sampleLayout.kind !== 'integer';
    const stored = floatMono1 ? readSamples(parsed.dataSet.byteArray, parsed.pixelElement.dataOffset, parsed.pixelCount, parsed.sampleLayout) : undefined;
    return metaOf(parsed, mirrorOf(parsed, stored));
  } catch (e) {
    throw asLvsegError(e);
  }
}

/**
 * `decodeDicomImage`, plus for a compressed file its decoded frame as native pixel data: the stored samples,
 * little-endian, as PixelData holds them under Explicit VR Little Endian (for writers that turn a compressed file into
 * a native one). `nativePixelData` is undefined for a file that is native already.
 */
export async function decodeDicomImageToNative(bytes: Uint8Array, options: DecodeDicomOptions = {}): Promise<{ decoded: DicomImage; nativePixelData?: Uint8Array }> {
  const parsed = parseSingleFrame(bytes, options);
  if (!parsed.compressed) return { decoded: (await decodeFrames(parsed, [0]))[0] };
  try {
    return await decodeCompressedFrame(parsed, encapsulatedFrames(parsed)[0]);
  } catch (e) {
    throw asLvsegError(e);
  }
}

/** One compressed frame: its native (little-endian stored) bytes and the image they give. */
async function decodeCompressedFrame(parsed: ParsedImage, frame: Uint8Array): Promise<{ decoded: DicomImage; nativePixelData: Uint8Array }> {
  const nativePixelData = await decodeFrame(frame, parsed.transferSyntaxUid, parsed.layout);
  const decoded = toDicomImage(parsed, readSamples(nativePixelData, 0, parsed.pixelCount, { ...parsed.sampleLayout, littleEndian: true, swapBytePairs: false }));
  return { decoded, nativePixelData };
}

async function decodeFrames(parsed: ParsedImage, indices: number[]): Promise<DicomImage[]> {
  try {
    if (!parsed.compressed) {
      const frameBytes = parsed.pixelCount * (parsed.layout.bitsAllocated / 8);
      return indices.map((k) =>
        toDicomImage(parsed, readSamples(parsed.dataSet.byteArray, parsed.pixelElement.dataOffset + k * frameBytes, parsed.pixelCount, parsed.sampleLayout)),
      );
    }
    const frames = encapsulatedFrames(parsed);
    const images: DicomImage[] = [];
    for (const k of indices) images.push((await decodeCompressedFrame(parsed, frames[k])).decoded);
    return images;
  } catch (e) {
    throw asLvsegError(e);
  }
}

function refuseMultiFrame(parsed: ParsedImage): void {
  const n = parsed.numberOfFrames;
  if (n > 1) {
    throw new LvsegError(
      'unsupported',
      DicomErrorCode.MultiFrame,
      `multi-frame DICOM is not supported here (NumberOfFrames ${n}); send each frame as a single-frame file`,
      { numberOfFrames: n },
    );
  }
}

/** Everything read from the data set before any pixel is decoded. */
interface ParsedImage {
  transferSyntaxUid: string;
  compressed: boolean;
  dataSet: DataSet;
  read: AttributeReader;
  pixelElement: Element;
  numberOfFrames: number;
  pixelCount: number;
  layout: FrameLayout;
  sampleLayout: SampleLayout;
  photometricInterpretation: string;
  rescaleSlope: number;
  rescaleIntercept: number;
}

/** The transfer syntax and data set of a Part 10 file, or of a bare data set (no preamble, 'DICM' or meta header). */
function readDataSet(bytes: Uint8Array, maxInflatedBytes: number): { transferSyntaxUid: string; dataSet: DataSet } {
  if (!(bytes instanceof Uint8Array)) {
    throw invalid(DicomErrorCode.NotPart10, 'DICOM input must be a byte array');
  }
  if (bytes.length < 132 || readAscii(bytes, 128, 4) !== 'DICM') {
    // Archives often hold bare data sets (PS3.5 without the PS3.10 header): Implicit VR Little Endian unless the first
    // element carries an explicit VR. Anything that does not start like a data set is not DICOM.
    const bare = bareDataSetSyntax(bytes);
    if (!bare) {
      throw invalid(
        DicomErrorCode.NotPart10,
        "not a DICOM file: no 'DICM' prefix after the 128-byte preamble, and it does not start like a bare DICOM data set (a group 0008 element)",
      );
    }
    return { transferSyntaxUid: bare, dataSet: callParser(() => dicomParser.parseDicom(bytes, { TransferSyntaxUID: bare })) };
  }

  // Read the meta header alone first, so an unsupported syntax is refused before its data set is walked.
  const header = callParser(() => dicomParser.readPart10Header(bytes));
  const transferSyntaxUid = callParser(() => header.string(TAG.transferSyntaxUid));
  if (!transferSyntaxUid) {
    throw invalid(DicomErrorCode.NoTransferSyntax, 'DICOM meta header has no TransferSyntaxUID (0002,0010)');
  }
  if (!SUPPORTED_TRANSFER_SYNTAXES.includes(transferSyntaxUid) && !isDecodableCompressedSyntax(transferSyntaxUid)) {
    throw new LvsegError(
      'unsupported',
      DicomErrorCode.UnsupportedTransferSyntax,
      `unsupported transfer syntax ${describeTransferSyntax(transferSyntaxUid)}; lvseg reads uncompressed ` +
        'Implicit/Explicit VR Little Endian, Explicit VR Big Endian and Deflated Explicit VR Little Endian, and RLE, ' +
        'JPEG (baseline 8-bit, lossless), JPEG-LS, JPEG 2000 and HTJ2K compressed pixel data',
      { transferSyntaxUid: safeUid(transferSyntaxUid) },
    );
  }
  return {
    transferSyntaxUid,
    dataSet: callParser(() => dicomParser.parseDicom(bytes, { inflater: (b, at) => inflateDataSet(b, at, maxInflatedBytes) })),
  };
}

/** Implicit or Explicit VR Little Endian when `bytes` start with a plausible group 0008 element, else undefined. */
function bareDataSetSyntax(bytes: Uint8Array): string | undefined {
  if (!(bytes instanceof Uint8Array) || bytes.length < 16) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (view.getUint16(0, true) !== 0x0008) return undefined;
  const vr = readAscii(bytes, 4, 2);
  if (EXPLICIT_VRS.has(vr)) return TRANSFER_SYNTAX.explicitLittleEndian;
  const length = view.getUint32(4, true);
  return length !== 0xffffffff && length <= bytes.length - 8 ? TRANSFER_SYNTAX.implicitLittleEndian : undefined;
}

const EXPLICIT_VRS = new Set(['AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FL', 'FD', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV']);

function parseImage(bytes: Uint8Array, maxInflatedBytes: number): ParsedImage {
  const { transferSyntaxUid, dataSet } = readDataSet(bytes, maxInflatedBytes);
  const compressed = isDecodableCompressedSyntax(transferSyntaxUid);
  const read = new AttributeReader(dataSet);

  const pixelElement = dataSet.elements[TAG.pixelData] ?? dataSet.elements[TAG.floatPixelData] ?? dataSet.elements[TAG.doubleFloatPixelData];
  if (!pixelElement) {
    throw invalid(DicomErrorCode.NoPixelData, 'DICOM file has no pixel data (7FE0,0010): not an image');
  }

  const numberOfFrames = read.integer(TAG.numberOfFrames, 'NumberOfFrames (0028,0008)') ?? 1;
  if (numberOfFrames < 1) throw invalidAttribute('NumberOfFrames (0028,0008)', numberOfFrames);
  const samplesPerPixel = read.us(TAG.samplesPerPixel) ?? 1;
  const photometricInterpretation = (read.string(TAG.photometricInterpretation) ?? 'MONOCHROME2').toUpperCase();
  if (samplesPerPixel !== 1 || isColourPhotometric(photometricInterpretation)) {
    throw new LvsegError(
      'unsupported',
      DicomErrorCode.Color,
      `colour DICOM images are not supported (PhotometricInterpretation ${safeCs(photometricInterpretation)}, SamplesPerPixel ${samplesPerPixel}); lvseg needs greyscale MR`,
      { samplesPerPixel },
    );
  }
  if (photometricInterpretation !== 'MONOCHROME1' && photometricInterpretation !== 'MONOCHROME2') {
    throw new LvsegError(
      'unsupported',
      DicomErrorCode.UnsupportedPhotometric,
      `PhotometricInterpretation ${safeCs(photometricInterpretation)} is not supported (MONOCHROME1 or MONOCHROME2 only)`,
    );
  }

  const rows = read.requiredUs(TAG.rows, 'Rows (0028,0010)');
  const columns = read.requiredUs(TAG.columns, 'Columns (0028,0011)');
  for (const [name, v] of [['Rows (0028,0010)', rows], ['Columns (0028,0011)', columns]] as const) {
    if (v < 1) throw invalidAttribute(name, v);
    if (v > MAX_SIDE) {
      throw new LvsegError('too-large', DicomErrorCode.ImageTooLarge, `${name} is ${v}, above the limit of ${MAX_SIDE}`, { rows, columns });
    }
  }

  const bitsAllocated = read.requiredUs(TAG.bitsAllocated, 'BitsAllocated (0028,0100)');
  const sampleKind: SampleKind =
    pixelElement.tag === TAG.floatPixelData ? 'float32' : pixelElement.tag === TAG.doubleFloatPixelData ? 'float64' : 'integer';
  const allowedBits = sampleKind === 'float32' ? [32] : sampleKind === 'float64' ? [64] : [8, 16, 32];
  if (!allowedBits.includes(bitsAllocated)) {
    throw new LvsegError(
      'unsupported',
      DicomErrorCode.UnsupportedBitsAllocated,
      `BitsAllocated ${bitsAllocated} is not supported for ${sampleKind === 'integer' ? 'integer' : sampleKind} pixel data (supported: ${allowedBits.join(', ')})`,
      { bitsAllocated },
    );
  }
  const bitsStored = read.us(TAG.bitsStored) ?? bitsAllocated;
  const highBit = read.us(TAG.highBit) ?? bitsStored - 1;
  const pixelRepresentation = read.us(TAG.pixelRepresentation) ?? 0;
  if (sampleKind === 'integer') {
    if (bitsStored < 1 || bitsStored > bitsAllocated) throw invalidAttribute('BitsStored (0028,0101)', bitsStored, `must be 1..BitsAllocated (${bitsAllocated})`);
    if (highBit < bitsStored - 1 || highBit >= bitsAllocated) {
      throw invalidAttribute('HighBit (0028,0102)', highBit, `must be BitsStored-1 (${bitsStored - 1})..BitsAllocated-1 (${bitsAllocated - 1})`);
    }
    if (pixelRepresentation !== 0 && pixelRepresentation !== 1) throw invalidAttribute('PixelRepresentation (0028,0103)', pixelRepresentation, 'must be 0 or 1');
  }

  const bytesPerSample = bitsAllocated / 8;
  const pixelCount = rows * columns;
  const byteArray = dataSet.byteArray;
  if (compressed) {
    if (!pixelElement.encapsulatedPixelData || pixelElement.tag !== TAG.pixelData) {
      throw invalid(DicomErrorCode.InvalidPixelData, `pixel data is not encapsulated although the transfer syntax ${describeTransferSyntax(transferSyntaxUid)} is compressed`);
    }
  } else {
    if (pixelElement.encapsulatedPixelData || pixelElement.hadUndefinedLength) {
      throw invalid(
        DicomErrorCode.InvalidPixelData,
        `pixel data is encapsulated although the transfer syntax ${describeTransferSyntax(transferSyntaxUid)} is native`,
      );
    }
    const expectedBytes = pixelCount * bytesPerSample * numberOfFrames;
    if (pixelElement.dataOffset + pixelElement.length > byteArray.length) {
      throw invalid(
        DicomErrorCode.Truncated,
        `DICOM file is truncated: pixel data declares ${pixelElement.length} bytes but only ${Math.max(0, byteArray.length - pixelElement.dataOffset)} follow`,
      );
    }
    if (pixelElement.length < expectedBytes) {
      const frames = numberOfFrames > 1 ? ` x NumberOfFrames ${numberOfFrames}` : '';
      throw invalid(
        DicomErrorCode.PixelDataTooShort,
        `pixel data has ${pixelElement.length} bytes, fewer than Rows x Columns x BitsAllocated/8${frames} = ${rows} x ${columns} x ${bytesPerSample}${numberOfFrames > 1 ? ` x ${numberOfFrames}` : ''} = ${expectedBytes}`,
        { rows, columns, bitsAllocated, pixelDataBytes: pixelElement.length },
      );
    }
  }

  const rescaleSlope = read.decimal(TAG.rescaleSlope, 'RescaleSlope (0028,1053)') ?? 1;
  const rescaleIntercept = read.decimal(TAG.rescaleIntercept, 'RescaleIntercept (0028,1052)') ?? 0;
  if (rescaleSlope === 0) throw invalidAttribute('RescaleSlope (0028,1053)', 0, 'must not be 0');

  const littleEndian = transferSyntaxUid !== TRANSFER_SYNTAX.explicitBigEndian;
  // Big endian OW swaps bytes within each 16-bit word, which moves 8-bit samples too.
  const swapBytePairs = !littleEndian && bitsAllocated === 8 && pixelElement.vr === 'OW';
  return {
    transferSyntaxUid,
    compressed,
    dataSet,
    read,
    pixelElement,
    numberOfFrames,
    pixelCount,
    layout: { rows, columns, bitsAllocated, bitsStored, pixelRepresentation, samplesPerPixel },
    sampleLayout: { kind: sampleKind, bitsAllocated, bitsStored, highBit, signed: pixelRepresentation === 1, littleEndian, swapBytePairs },
    photometricInterpretation,
    rescaleSlope,
    rescaleIntercept,
  };
}

/**
 * MONOCHROME1 means low = bright: the value every pixel is mirrored around (the middle of the representable range, in
 * rescaled units, ×2), so each pixel keeps its own value independent of the rest of the image and bright ends up high.
 * Integer samples need only the header; float samples their values (their range is the data's).
 */
function mirrorOf(parsed: ParsedImage, stored?: Float32Array | Float64Array): number | undefined {
  if (parsed.photometricInterpretation !== 'MONOCHROME1') return undefined;
  const { rescaleSlope, rescaleIntercept } = parsed;
  const { bitsStored, pixelRepresentation } = parsed.layout;
  const [lo, hi] = parsed.sampleLayout.kind === 'integer' ? storedRange(bitsStored, pixelRepresentation === 1) : finiteRange(stored!);
  return rescaleSlope * lo + rescaleIntercept + (rescaleSlope * hi + rescaleIntercept);
}

/** Rescaled (and for MONOCHROME1 mirrored) pixels of one frame plus the data set's metadata. */
function toDicomImage(parsed: ParsedImage, stored: Float32Array | Float64Array): DicomImage {
  const { rescaleSlope, rescaleIntercept } = parsed;
  const { rows, columns } = parsed.layout;
  const mirror = mirrorOf(parsed, stored);
  // Stored values already in float32 that the rescale leaves alone are the image (a fresh array: no copy needed).
  const identity = stored instanceof Float32Array && mirror === undefined && rescaleSlope === 1 && rescaleIntercept === 0;
  const data = identity ? stored : new Float32Array(rows * columns);
  if (!identity) {
    for (let i = 0; i < data.length; i++) {
      const v = rescaleSlope * stored[i] + rescaleIntercept;
      data[i] = mirror === undefined ? v : mirror - v;
    }
  }
  const meta = metaOf(parsed, mirror);
  return { image: { rows, columns, data, pixelSpacingMm: meta.pixelSpacingMm }, meta, dataSet: parsed.dataSet };
}

/** The data set's metadata; `mirror` as `mirrorOf` gives it (the window centre of a MONOCHROME1 image is mirrored too). */
function metaOf(parsed: ParsedImage, mirror: number | undefined): DicomMeta {
  const { read, rescaleSlope, rescaleIntercept, photometricInterpretation, transferSyntaxUid, numberOfFrames } = parsed;
  const { rows, columns, bitsAllocated, bitsStored, pixelRepresentation } = parsed.layout;
  const { highBit } = parsed.sampleLayout;
  const windowCenter = read.firstDecimal(TAG.windowCenter);
  const pixelSpacingMm = read.decimals(TAG.pixelSpacing, 2, true) ?? read.decimals(TAG.imagerPixelSpacing, 2, true);
  return {
    transferSyntaxUid,
    sopClassUid: read.string(TAG.sopClassUid) ?? read.string(TAG.mediaStorageSopClassUid),
    sopInstanceUid: read.string(TAG.sopInstanceUid) ?? read.string(TAG.mediaStorageSopInstanceUid),
    studyInstanceUid: read.string(TAG.studyInstanceUid),
    seriesInstanceUid: read.string(TAG.seriesInstanceUid),
    frameOfReferenceUid: read.string(TAG.frameOfReferenceUid),
    modality: read.string(TAG.modality),
    rows,
    columns,
    bitsAllocated,
    bitsStored,
    highBit,
    pixelRepresentation,
    photometricInterpretation,
    rescaleSlope,
    rescaleIntercept,
    pixelSpacingMm: pixelSpacingMm as [number, number] | undefined,
    sliceThicknessMm: read.firstDecimal(TAG.sliceThickness),
    spacingBetweenSlicesMm: read.firstDecimal(TAG.spacingBetweenSlices),
    triggerTimeMs: read.firstDecimal(TAG.triggerTime),
    instanceNumber: read.integer(TAG.instanceNumber, 'InstanceNumber (0020,0013)', false),
    sliceLocation: read.firstDecimal(TAG.sliceLocation),
    imagePositionPatient: read.decimals(TAG.imagePositionPatient, 3) as DicomMeta['imagePositionPatient'],
    imageOrientationPatient: read.decimals(TAG.imageOrientationPatient, 6) as DicomMeta['imageOrientationPatient'],
    seriesDescription: read.string(TAG.seriesDescription),
    numberOfFrames,
    windowCenter: windowCenter === undefined || mirror === undefined ? windowCenter : mirror - windowCenter,
    windowWidth: read.firstDecimal(TAG.windowWidth),
  };
}

/**
 * The compressed bytes of each frame of encapsulated pixel data: fragments grouped by the Basic Offset Table when it has
 * one entry per frame, else one fragment per frame when the counts match, else (JPEG family) split at end-of-image
 * markers. A table or fragment list that does not add up to NumberOfFrames frames is `DICOM_INVALID_FRAGMENTS`.
 */
function encapsulatedFrames(parsed: ParsedImage): Uint8Array[] {
  const { pixelElement, numberOfFrames, dataSet } = parsed;
  const fragments = pixelElement.fragments ?? [];
  const table = pixelElement.basicOffsetTable ?? [];
  const bad = (why: string) =>
    invalid(DicomErrorCode.InvalidFragments, `encapsulated pixel data does not hold ${numberOfFrames} frame${numberOfFrames > 1 ? 's' : ''}: ${why}`, {
      numberOfFrames,
      fragments: fragments.length,
      basicOffsetTableEntries: table.length,
    });
  if (fragments.length === 0) throw bad('it has no fragment');
  for (const f of fragments) {
    if (f.position + f.length > dataSet.byteArray.length) throw invalid(DicomErrorCode.Truncated, 'DICOM file is truncated inside a pixel data fragment');
  }
  const join = (group: typeof fragments): Uint8Array => {
    if (group.length === 1) return dataSet.byteArray.subarray(group[0].position, group[0].position + group[0].length);
    const out = new Uint8Array(group.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of group) {
      out.set(dataSet.byteArray.subarray(f.position, f.position + f.length), at);
      at += f.length;
    }
    return out;
  };
  if (numberOfFrames === 1) return [join(fragments)];
  if (table.length > 0) {
    if (table.length !== numberOfFrames) throw bad(`its Basic Offset Table has ${table.length} entries`);
    const starts = table.map((offset, k) => {
      const i = fragments.findIndex((f) => f.offset === offset);
      if (i < 0) throw bad(`Basic Offset Table entry ${k + 1} (${offset}) is not the offset of a fragment`);
      return i;
    });
    if (starts[0] !== 0 || starts.some((i, k) => k > 0 && i <= starts[k - 1])) throw bad('its Basic Offset Table is not increasing from the first fragment');
    return starts.map((i, k) => join(fragments.slice(i, k + 1 < starts.length ? starts[k + 1] : fragments.length)));
  }
  if (fragments.length === numberOfFrames) return fragments.map((f) => join([f]));
  if (parsed.transferSyntaxUid === COMPRESSED_TRANSFER_SYNTAX.rleLossless || fragments.length < numberOfFrames) {
    throw bad(`it has ${fragments.length} fragments and no Basic Offset Table to group them`);
  }
  // JPEG, JPEG-LS and JPEG 2000 codestreams all end with FFD9: group fragments up to each such end.
  const starts = callParser(() => dicomParser.createJPEGBasicOffsetTable(dataSet, pixelElement));
  if (starts.length !== numberOfFrames) throw bad(`its ${fragments.length} fragments end ${starts.length} codestreams`);
  return starts.map((offset, k) => {
    const i = fragments.findIndex((f) => f.offset === offset);
    const next = k + 1 < starts.length ? fragments.findIndex((f) => f.offset === starts[k + 1]) : fragments.length;
    return join(fragments.slice(i, next));
  });
}

type SampleKind = 'integer' | 'float32' | 'float64';

interface SampleLayout {
  kind: SampleKind;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  signed: boolean;
  littleEndian: boolean;
  swapBytePairs: boolean;
}

/** Stored values (before rescale) of `count` samples, honouring BitsStored/HighBit (mask, then sign-extend). */
function readSamples(bytes: Uint8Array, offset: number, count: number, layout: SampleLayout): Float32Array | Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, bytes.length - offset);
  const le = layout.littleEndian;
  if (layout.kind === 'integer' && layout.bitsAllocated <= 16 && !layout.swapBytePairs) return readSmallIntegers(bytes, view, offset, count, layout);
  const out = new Float64Array(count);
  if (layout.kind === 'float32') {
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, le);
    return out;
  }
  if (layout.kind === 'float64') {
    for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, le);
    return out;
  }
  const { bitsAllocated, bitsStored, signed } = layout;
  const shift = layout.highBit + 1 - bitsStored;
  const range = 2 ** bitsStored;
  const signBit = 2 ** (bitsStored - 1);
  const available = bytes.length - offset;
  for (let i = 0; i < count; i++) {
    let raw: number;
    if (bitsAllocated === 8) {
      const j = layout.swapBytePairs && (i ^ 1) < available ? i ^ 1 : i;
      raw = view.getUint8(j);
    } else if (bitsAllocated === 16) {
      raw = view.getUint16(i * 2, le);
    } else {
      raw = view.getUint32(i * 4, le);
    }
    // Arithmetic rather than bit operators so 32-bit samples do not wrap.
    let v = Math.floor(raw / 2 ** shift) % range;
    if (signed && v >= signBit) v -= range;
    out[i] = v;
  }
  return out;
}

/**
 * The common case (8/16-bit integer samples, no byte-pair swap) with 32-bit integer operations, into float32: every
 * value up to 16 bits is exact in float32, so this is the same image as a float64 read at half the memory (served
 * images are all this case; `toDicomImage` can then keep the array as the image without a copy).
 */
function readSmallIntegers(bytes: Uint8Array, view: DataView, offset: number, count: number, layout: SampleLayout): Float32Array {
  const out = new Float32Array(count);
  const { bitsAllocated, bitsStored, signed } = layout;
  const shift = layout.highBit + 1 - bitsStored;
  const range = 2 ** bitsStored;
  const signBit = 2 ** (bitsStored - 1);
  const mask = range - 1;
  if (bitsAllocated === 8) {
    for (let i = 0; i < count; i++) {
      let v = (bytes[offset + i] >>> shift) & mask;
      if (signed && v >= signBit) v -= range;
      out[i] = v;
    }
  } else {
    const le = layout.littleEndian;
    for (let i = 0; i < count; i++) {
      let v = (view.getUint16(i * 2, le) >>> shift) & mask;
      if (signed && v >= signBit) v -= range;
      out[i] = v;
    }
  }
  return out;
}

function storedRange(bitsStored: number, signed: boolean): [number, number] {
  return signed ? [-(2 ** (bitsStored - 1)), 2 ** (bitsStored - 1) - 1] : [0, 2 ** bitsStored - 1];
}

function isColourPhotometric(p: string): boolean {
  return p === 'RGB' || p === 'PALETTE COLOR' || p === 'ARGB' || p === 'CMYK' || p === 'HSV' || p.startsWith('YBR');
}

/** Reads attributes through dicom-parser with strict number parsing; every call is guarded by `decodeDicom`'s catch. */
class AttributeReader {
  constructor(private readonly dataSet: DataSet) {}

  private element(tag: string): Element | undefined {
    const el = this.dataSet.elements[tag];
    if (el && el.length > 0 && el.dataOffset + el.length > this.dataSet.byteArray.length) {
      throw invalid(DicomErrorCode.Truncated, `DICOM file is truncated inside element (${tag.slice(1, 5)},${tag.slice(5)})`);
    }
    return el && el.length > 0 ? el : undefined;
  }

  us(tag: string): number | undefined {
    const el = this.element(tag);
    if (!el) return undefined;
    if (el.length < 2) throw invalid(DicomErrorCode.InvalidAttribute, `element (${tag.slice(1, 5)},${tag.slice(5)}) is too short for an unsigned short`);
    return this.dataSet.uint16(tag);
  }

  requiredUs(tag: string, name: string): number {
    const v = this.us(tag);
    if (v === undefined) throw invalid(DicomErrorCode.MissingAttribute, `DICOM image has no ${name}`, { attribute: name });
    return v;
  }

  string(tag: string): string | undefined {
    if (!this.element(tag)) return undefined;
    const s = this.dataSet.string(tag);
    return s === undefined || s === '' ? undefined : s;
  }

  /** All backslash-separated numbers of a DS/IS element, or NaN entries for unparsable ones. */
  private numbers(tag: string): number[] | undefined {
    const s = this.string(tag);
    if (s === undefined) return undefined;
    return s.split('\\').map((part) => {
      const t = part.trim();
      return t === '' ? NaN : Number(t);
    });
  }

  /** First value of a DS element; undefined when absent or unparsable (informational attributes). */
  firstDecimal(tag: string): number | undefined {
    const v = this.numbers(tag)?.[0];
    return v !== undefined && Number.isFinite(v) ? v : undefined;
  }

  /** A DS element the pixels depend on: absent = undefined, present but unparsable = typed error. */
  decimal(tag: string, name: string): number | undefined {
    const values = this.numbers(tag);
    if (values === undefined) return undefined;
    if (!Number.isFinite(values[0])) throw invalid(DicomErrorCode.InvalidAttribute, `${name} is not a number`, { attribute: name });
    return values[0];
  }

  /** Exactly `count` finite values (and positive if asked), else undefined. */
  decimals(tag: string, count: number, positive = false): number[] | undefined {
    const values = this.numbers(tag);
    if (!values || values.length !== count) return undefined;
    return values.every((v) => Number.isFinite(v) && (!positive || v > 0)) ? values : undefined;
  }

  /** An IS element; `strict` makes an unparsable value a typed error instead of undefined. */
  integer(tag: string, name: string, strict = true): number | undefined {
    const v = this.numbers(tag)?.[0];
    if (v === undefined) return undefined;
    if (Number.isInteger(v)) return v;
    if (strict) throw invalid(DicomErrorCode.InvalidAttribute, `${name} is not an integer`, { attribute: name });
    return undefined;
  }
}

/** dicom-parser's inflater hook: the header bytes followed by the inflated data set, bounded in size. */
function inflateDataSet(bytes: Uint8Array, position: number, maxInflatedBytes: number): Uint8Array {
  let inflated: Buffer;
  try {
    inflated = zlib.inflateRawSync(bytes.subarray(position), { maxOutputLength: maxInflatedBytes });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
      throw new LvsegError('too-large', DicomErrorCode.InflatedTooLarge, `deflated DICOM data set inflates to more than ${maxInflatedBytes} bytes`);
    }
    throw invalid(DicomErrorCode.InflateFailed, `deflated DICOM data set could not be inflated (${code ?? 'zlib error'})`);
  }
  const full = new Uint8Array(position + inflated.length);
  full.set(bytes.subarray(0, position), 0);
  full.set(inflated, position);
  return full;
}

/** Runs a dicom-parser call; its exceptions (strings, `{exception, dataSet}` objects, Errors) become typed errors. */
function callParser<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw asLvsegError(e);
  }
}

function asLvsegError(e: unknown): LvsegError {
  if (e instanceof LvsegError) return e;
  const inner = typeof e === 'object' && e !== null && 'exception' in e ? (e as { exception: unknown }).exception : e;
  if (inner instanceof LvsegError) return inner;
  const text = inner instanceof Error ? inner.message : typeof inner === 'string' ? inner : 'unknown parser error';
  // Parser messages are fixed strings naming functions and tags, never element values; cut them short anyway.
  const reason = text.slice(0, 160);
  if (/past end|overread|overrun|beyond|end of buffer|greater than or equal to|maxP ?osition/i.test(text)) {
    return invalid(DicomErrorCode.Truncated, `DICOM file is truncated or has an element longer than the file (${reason})`);
  }
  return invalid(DicomErrorCode.ParseFailed, `DICOM file could not be parsed (${reason})`);
}

function invalid(code: string, message: string, details?: Record<string, unknown>): LvsegError {
  return new LvsegError('invalid-input', code, message, details);
}

function invalidAttribute(name: string, value: number, why?: string): LvsegError {
  return invalid(DicomErrorCode.InvalidAttribute, `${name} is ${value}${why ? `: ${why}` : ''}`, { attribute: name, value });
}

function describeTransferSyntax(uid: string): string {
  const name = TRANSFER_SYNTAX_NAMES[uid];
  const shown = safeUid(uid);
  return name ? `${name} (${shown})` : `(${shown}), not a known DICOM transfer syntax`;
}

/** A UID is only echoed when it looks like one (digits and dots), so arbitrary file bytes never reach a message. */
function safeUid(uid: string): string {
  return /^[0-9.]{1,64}$/.test(uid) ? uid : '<not a valid UID>';
}

function safeCs(value: string): string {
  return /^[A-Z0-9 _]{1,16}$/.test(value) ? value : '<invalid code string>';
}

function readAscii(bytes: Uint8Array, offset: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + length));
}
