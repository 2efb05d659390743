/**
 * The one place a compressed DICOM frame becomes pixels (`decodeFrame`), for the API, the PACS path and the viewer's
 * browser bundle alike. Codecs: RLE Lossless (./rle.ts), JPEG Lossless processes 14/14 SV1 (jpeg-lossless-decoder-js),
 * 8-bit JPEG baseline/extended/progressive (@cornerstonejs/codec-libjpeg-turbo-8bit), 12-bit JPEG extended (dcmjs-codecs:
 * DCMTK's 12-bit IJG library in WebAssembly), JPEG-LS (@cornerstonejs/codec-charls), JPEG 2000 (@cornerstonejs/codec-openjpeg)
 * and HTJ2K (@cornerstonejs/codec-openjph). The WebAssembly codecs are instantiated on first use, once per process (page),
 * and dropped after a crash (dcmjs-codecs: after any failure) so the next frame gets a fresh instance.
 * Failures are `LvsegError`s: a stream the codec cannot read is `DICOM_CODEC_FAILED` (invalid input → 422), a frame no
 * installed codec handles (arithmetic coding, 16-bit lossy JPEG) is `DICOM_CODEC_UNAVAILABLE` (unsupported → 415).
 */
import { LvsegError } from '@lvseg/common';
import { decodeRleFrame, RleError } from './rle';

/** What a frame's pixels must look like once decoded (from the data set's Image Pixel module). */
export interface FrameLayout {
  rows: number;
  columns: number;
  bitsAllocated: number;
  bitsStored: number;
  /** 0 = unsigned, 1 = two's complement. */
  pixelRepresentation: number;
  samplesPerPixel: number;
}

/** Encapsulated (compressed) transfer syntaxes `decodeFrame` reads. */
export const COMPRESSED_TRANSFER_SYNTAX = {
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  jpegExtended: '1.2.840.10008.1.2.4.51',
  jpegLossless: '1.2.840.10008.1.2.4.57',
  jpegLosslessSv1: '1.2.840.10008.1.2.4.70',
  jpegLsLossless: '1.2.840.10008.1.2.4.80',
  jpegLsNearLossless: '1.2.840.10008.1.2.4.81',
  jpeg2000Lossless: '1.2.840.10008.1.2.4.90',
  jpeg2000: '1.2.840.10008.1.2.4.91',
  htj2kLossless: '1.2.840.10008.1.2.4.201',
  htj2kRpclLossless: '1.2.840.10008.1.2.4.202',
  htj2k: '1.2.840.10008.1.2.4.203',
  rleLossless: '1.2.840.10008.1.2.5',
} as const;

export const DECODABLE_COMPRESSED_TRANSFER_SYNTAXES: ReadonlyArray<string> = Object.values(COMPRESSED_TRANSFER_SYNTAX);

/** Stable codes of `decodeFrame`'s errors (also listed in `DicomErrorCode`). */
export const FrameCodecErrorCode = {
  CodecFailed: 'DICOM_CODEC_FAILED',
  CodecUnavailable: 'DICOM_CODEC_UNAVAILABLE',
} as const;

type CodecFamily = 'rle' | 'jpeg' | 'jpeg-ls' | 'jpeg2000' | 'htj2k';

const FAMILY_OF: Readonly<Record<string, CodecFamily>> = {
  [COMPRESSED_TRANSFER_SYNTAX.jpegBaseline]: 'jpeg',
  [COMPRESSED_TRANSFER_SYNTAX.jpegExtended]: 'jpeg',
  [COMPRESSED_TRANSFER_SYNTAX.jpegLossless]: 'jpeg',
  [COMPRESSED_TRANSFER_SYNTAX.jpegLosslessSv1]: 'jpeg',
  [COMPRESSED_TRANSFER_SYNTAX.jpegLsLossless]: 'jpeg-ls',
  [COMPRESSED_TRANSFER_SYNTAX.jpegLsNearLossless]: 'jpeg-ls',
  [COMPRESSED_TRANSFER_SYNTAX.jpeg2000Lossless]: 'jpeg2000',
  [COMPRESSED_TRANSFER_SYNTAX.jpeg2000]: 'jpeg2000',
  [COMPRESSED_TRANSFER_SYNTAX.htj2kLossless]: 'htj2k',
  [COMPRESSED_TRANSFER_SYNTAX.htj2kRpclLossless]: 'htj2k',
  [COMPRESSED_TRANSFER_SYNTAX.htj2k]: 'htj2k',
  [COMPRESSED_TRANSFER_SYNTAX.rleLossless]: 'rle',
};

/** True for the transfer syntaxes whose pixel data is encapsulated and decoded by `decodeFrame`. */
export function isDecodableCompressedSyntax(transferSyntaxUid: string): boolean {
  return Object.prototype.hasOwnProperty.call(FAMILY_OF, transferSyntaxUid);
}

/**
 * Decodes one compressed frame into its samples in native little-endian layout (Rows × Columns × SamplesPerPixel
 * samples of BitsAllocated/8 bytes each), ready to be read as if the file were uncompressed.
 */
export async function decodeFrame(frame: Uint8Array, transferSyntaxUid: string, layout: FrameLayout): Promise<Uint8Array> {
  const family = FAMILY_OF[transferSyntaxUid];
  if (!family) throw new LvsegError('unsupported', 'DICOM_UNSUPPORTED_TRANSFER_SYNTAX', `transfer syntax ${transferSyntaxUid} has no frame codec`);
  if (layout.bitsAllocated !== 8 && layout.bitsAllocated !== 16) {
    throw new LvsegError('unsupported', 'DICOM_UNSUPPORTED_BITS_ALLOCATED', `compressed pixel data with BitsAllocated ${layout.bitsAllocated} is not supported (8 or 16)`, {
      bitsAllocated: layout.bitsAllocated,
    });
  }
  if (frame.length === 0) throw codecFailed('the frame has no bytes');
  switch (family) {
    case 'rle':
      try {
        return decodeRleFrame(frame, layout.rows * layout.columns, layout.bitsAllocated / 8, layout.samplesPerPixel);
      } catch (e) {
        if (e instanceof RleError) throw codecFailed(e.message);
        throw e;
      }
    case 'jpeg':
      return decodeJpeg(frame, layout);
    case 'jpeg-ls':
      return decodeWithWasm(CODECS.charls, frame, layout);
    case 'jpeg2000':
      return decodeWithWasm(CODECS.openjpeg, frame, layout);
    case 'htj2k':
      return decodeWithWasm(CODECS.openjph, frame, layout);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// JPEG (ISO 10918): which codec depends on the frame's own start-of-frame marker, not only on the declared UID, so a
// lossless stream labelled baseline still decodes, and a 12-bit lossy stream goes to the 12-bit codec instead of being
// misread by the 8-bit one.

/** The first start-of-frame marker of a JPEG stream and its sample precision, or undefined when none is found. */
export function jpegStartOfFrame(frame: Uint8Array): { marker: number; precision: number } | undefined {
  const sof = jpegFrameHeader(frame);
  return sof && { marker: sof.marker, precision: sof.precision };
}

/** The first start-of-frame header: marker, precision and (when the segment holds them) lines, samples per line, components. */
function jpegFrameHeader(frame: Uint8Array): { marker: number; precision: number; lines?: number; samplesPerLine?: number; components?: number } | undefined {
  if (frame.length < 4 || frame[0] !== 0xff || frame[1] !== 0xd8) return undefined;
  let i = 2;
  while (i + 4 <= frame.length) {
    if (frame[i] !== 0xff) return undefined;
    const marker = frame[i + 1];
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    const length = (frame[i + 2] << 8) | frame[i + 3];
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (i + 4 >= frame.length) return undefined;
      const header = { marker, precision: frame[i + 4] };
      if (i + 9 >= frame.length) return header;
      return { ...header, lines: (frame[i + 5] << 8) | frame[i + 6], samplesPerLine: (frame[i + 7] << 8) | frame[i + 8], components: frame[i + 9] };
    }
    if (marker === 0xda || marker === 0xd9 || length < 2) return undefined;
    i += 2 + length;
  }
  return undefined;
}

async function decodeJpeg(frame: Uint8Array, layout: FrameLayout): Promise<Uint8Array> {
  const sof = jpegFrameHeader(frame);
  if (!sof) throw codecFailed('not a JPEG stream (no SOI and start-of-frame marker)');
  const kind = `SOF${(sof.marker - 0xc0).toString()} ${sof.precision}-bit`;
  if (sof.marker === 0xc3 || sof.marker === 0xc7) return decodeJpegLossless(frame, layout);
  if (sof.marker >= 0xc9) {
    throw codecUnavailable(`arithmetic-coded JPEG (${kind}) has no codec in lvseg; convert it to JPEG Lossless, JPEG 2000 or uncompressed (e.g. dcmdjpeg or gdcmconv --raw)`);
  }
  if (sof.precision === 12) return decodeJpeg12(frame, sof, layout);
  if (sof.precision !== 8) {
    // ISO 10918 DCT processes have 8- or 12-bit samples only; GDCM's "lossy JPEG" of 16-bit data writes a 16-bit SOF1.
    throw codecUnavailable(
      `${sof.precision}-bit lossy JPEG (${kind}) is not standard JPEG (DCT precision is 8 or 12 bits) and has no codec in lvseg; ` +
        'send the images uncompressed or losslessly compressed (e.g. dcmdjpeg or gdcmconv --raw, then dcmcjpeg or gdcmconv --j2k)',
    );
  }
  return decodeWithWasm(CODECS.libjpegTurbo, frame, layout);
}

// ---------------------------------------------------------------------------------------------------------------
// 12-bit JPEG (Extended, process 4; Huffman, sequential or progressive): dcmjs-codecs, a WebAssembly build of DCMTK's
// 12-bit IJG library (the decoder dcmdjpeg uses). Its NativeCodecs is a static singleton over one wasm instance; a codec
// error is thrown by a JavaScript import through the wasm frames, which leaves the IJG state and the wasm stack
// unreleased, so after any failure the instance is dropped and the next 12-bit frame starts a fresh one.

interface Jpeg12Context {
  getDecodedBuffer(): Uint8Array | undefined;
}
interface Jpeg12Codecs {
  NativeCodecs: {
    initializeAsync(opts?: { webAssemblyModulePathOrUrl?: string }): Promise<void>;
    release(): void;
    decodeJpeg(context: Jpeg12Context, parameters?: { convertColorspaceToRgb?: boolean }): Jpeg12Context;
  };
  Context: new (attrs: {
    width: number;
    height: number;
    bitsAllocated: number;
    bitsStored: number;
    samplesPerPixel: number;
    pixelRepresentation: number;
    planarConfiguration: number;
    photometricInterpretation: string;
    encodedBuffer: Uint8Array;
  }) => Jpeg12Context;
}

const JPEG12 = {
  name: 'dcmjs-codecs',
  wasmFile: 'dcmjs-native-codecs.wasm',
  /** In the browser bundle, build-web's browserLibs() resolves the package's `dcmjs` import to an empty stand-in (unused by NativeCodecs). */
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  load: () => require('dcmjs-codecs') as Jpeg12Codecs,
  instance: undefined as Promise<Jpeg12Codecs> | undefined,
};

function startJpeg12(): Promise<Jpeg12Codecs> {
  if (!JPEG12.instance) {
    const base = codecWasmBaseUrl;
    JPEG12.instance = (async () => {
      let codecs: Jpeg12Codecs;
      try {
        codecs = JPEG12.load();
      } catch (e) {
        throw codecUnavailable(`the ${JPEG12.name} codec could not be loaded (${describe(e)})`);
      }
      try {
        // In Node it reads the .wasm beside its own script; a browser fetches it from the base URL.
        await codecs.NativeCodecs.initializeAsync(base === undefined ? {} : { webAssemblyModulePathOrUrl: `${base}${JPEG12.wasmFile}` });
      } catch (e) {
        throw codecUnavailable(`the ${JPEG12.name} codec could not be started (${describe(e)})${base === undefined ? '' : `; its .wasm is expected at ${base}${JPEG12.wasmFile}`}`);
      }
      return codecs;
    })();
    JPEG12.instance.catch(() => {
      JPEG12.instance = undefined;
    });
  }
  return JPEG12.instance;
}

async function decodeJpeg12(frame: Uint8Array, sof: NonNullable<ReturnType<typeof jpegFrameHeader>>, layout: FrameLayout): Promise<Uint8Array> {
  // The header is checked before the codec sizes its output from it (a forged 65535 x 65535 header, or 12-bit samples
  // written into an 8-bit frame, would otherwise be the codec's problem).
  if (layout.bitsAllocated !== 16) throw codecFailed(`the compressed frame has 12-bit samples but BitsAllocated is ${layout.bitsAllocated}`);
  if (sof.samplesPerLine !== layout.columns || sof.lines !== layout.rows) {
    throw codecFailed(`the compressed frame is ${sof.samplesPerLine ?? '?'}x${sof.lines ?? '?'} pixels but Columns x Rows is ${layout.columns}x${layout.rows}`);
  }
  if (sof.components !== layout.samplesPerPixel) {
    throw codecFailed(`the compressed frame has ${sof.components ?? '?'} components but SamplesPerPixel is ${layout.samplesPerPixel}`);
  }
  // A frame that waited for the instance while another frame's failure dropped it waits for the fresh one instead.
  let started = startJpeg12();
  let codecs = await started;
  while (JPEG12.instance !== started) {
    started = startJpeg12();
    codecs = await started;
  }
  let decoded: Uint8Array | undefined;
  try {
    const context = new codecs.Context({
      width: layout.columns,
      height: layout.rows,
      bitsAllocated: layout.bitsAllocated,
      bitsStored: layout.bitsStored,
      samplesPerPixel: layout.samplesPerPixel,
      pixelRepresentation: layout.pixelRepresentation,
      planarConfiguration: 0,
      photometricInterpretation: layout.samplesPerPixel === 1 ? 'MONOCHROME2' : 'RGB',
      encodedBuffer: frame,
    });
    decoded = codecs.NativeCodecs.decodeJpeg(context, { convertColorspaceToRgb: layout.samplesPerPixel === 3 }).getDecodedBuffer()?.slice();
  } catch (e) {
    codecs.NativeCodecs.release();
    JPEG12.instance = undefined;
    throw codecFailed(`${JPEG12.name}: ${describe(e)}`);
  }
  if (!decoded) throw codecFailed(`${JPEG12.name} returned no pixels`);
  return toLayout(decoded, 12, layout);
}

interface LosslessJpegDecoder {
  decode(buffer: ArrayBuffer, offset: number, length: number, numBytes: number): Uint8Array | Uint16Array;
}
let losslessJpeg: { Decoder: new () => LosslessJpegDecoder } | undefined;

function decodeJpegLossless(frame: Uint8Array, layout: FrameLayout): Uint8Array {
  // Pure JavaScript, loaded on first use like the others (no instantiation to wait for).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  losslessJpeg ??= require('jpeg-lossless-decoder-js') as { Decoder: new () => LosslessJpegDecoder };
  const bytesPerSample = layout.bitsAllocated / 8;
  let samples: Uint8Array | Uint16Array;
  try {
    samples = new losslessJpeg.Decoder().decode(frame.buffer as ArrayBuffer, frame.byteOffset, frame.length, bytesPerSample);
  } catch (e) {
    throw codecFailed(`JPEG Lossless: ${describe(e)}`);
  }
  const expected = layout.rows * layout.columns * layout.samplesPerPixel;
  if (!samples || samples.length !== expected) throw codecFailed(`JPEG Lossless decoded ${samples?.length ?? 0} samples, expected ${expected} (Rows x Columns x SamplesPerPixel)`);
  return new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength).slice();
}

// ---------------------------------------------------------------------------------------------------------------
// WebAssembly codecs (emscripten + embind). Each exposes a decoder class with getEncodedBuffer / decode /
// getFrameInfo / getDecodedBuffer; the buffers are views into the module's memory, so the result is copied out.

interface EmbindDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned?: boolean };
  getDecodedBuffer(): Uint8Array;
  delete(): void;
}
type EmscriptenModule = Record<string, new () => EmbindDecoder>;
type EmscriptenFactory = (options?: { locateFile?: (file: string, prefix: string) => string; print?: (s: string) => void; printErr?: (s: string) => void }) => Promise<EmscriptenModule>;

interface WasmCodec {
  /** The package, for messages and the README's table. */
  name: string;
  /** Its .wasm file, which a browser fetches from `codecWasmBaseUrl` (the server serves them under /vendor/). */
  wasmFile: string;
  decoderClass: string;
  /** The emscripten factory; `require` with a literal so esbuild bundles the glue code into the viewer. */
  factory: () => EmscriptenFactory;
  instance?: Promise<EmscriptenModule>;
}

/* eslint-disable @typescript-eslint/no-require-imports */
const CODECS = {
  libjpegTurbo: {
    name: '@cornerstonejs/codec-libjpeg-turbo-8bit',
    wasmFile: 'libjpegturbowasm_decode.wasm',
    decoderClass: 'JPEGDecoder',
    factory: () => require('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs') as EmscriptenFactory,
  },
  charls: {
    name: '@cornerstonejs/codec-charls',
    wasmFile: 'charlswasm_decode.wasm',
    decoderClass: 'JpegLSDecoder',
    factory: () => require('@cornerstonejs/codec-charls/decodewasmjs') as EmscriptenFactory,
  },
  openjpeg: {
    name: '@cornerstonejs/codec-openjpeg',
    wasmFile: 'openjpegwasm_decode.wasm',
    decoderClass: 'J2KDecoder',
    factory: () => require('@cornerstonejs/codec-openjpeg/decodewasmjs') as EmscriptenFactory,
  },
  openjph: {
    name: '@cornerstonejs/codec-openjph',
    wasmFile: 'openjphjs.wasm',
    decoderClass: 'HTJ2KDecoder',
    factory: () => require('@cornerstonejs/codec-openjph') as EmscriptenFactory,
  },
} satisfies Record<string, WasmCodec>;
/* eslint-enable @typescript-eslint/no-require-imports */

/** The .wasm files the WebAssembly codecs load (a browser page must be able to fetch them from `setCodecWasmBaseUrl`). */
export const CODEC_WASM_FILES: ReadonlyArray<{ pkg: string; file: string }> = [
  ...Object.values(CODECS).map((c) => ({ pkg: c.name, file: `dist/${c.wasmFile}` })),
  { pkg: JPEG12.name, file: `build/${JPEG12.wasmFile}` },
];

let codecWasmBaseUrl: string | undefined;

/**
 * Where a browser fetches the codecs' .wasm files (e.g. '/vendor/'); call before the first compressed frame.
 * In Node, leave it unset: each codec finds its .wasm beside its own script in node_modules.
 */
export function setCodecWasmBaseUrl(url: string | undefined): void {
  codecWasmBaseUrl = url;
}

function instantiate(codec: WasmCodec): Promise<EmscriptenModule> {
  if (!codec.instance) {
    const base = codecWasmBaseUrl;
    codec.instance = (async () => {
      let factory: EmscriptenFactory;
      try {
        factory = codec.factory();
      } catch (e) {
        throw codecUnavailable(`the ${codec.name} codec could not be loaded (${describe(e)})`);
      }
      try {
        // print/printErr: OpenJPEG logs every header it reads to stdout; failures surface as exceptions instead.
        const quiet = { print: () => undefined, printErr: () => undefined };
        return await factory(base === undefined ? quiet : { ...quiet, locateFile: (file) => `${base}${file}` });
      } catch (e) {
        throw codecUnavailable(`the ${codec.name} codec could not be started (${describe(e)})${base === undefined ? '' : `; its .wasm is expected at ${base}${codec.wasmFile}`}`);
      }
    })();
    // A failed start is not cached: the next frame tries again (e.g. after a network hiccup fetching the .wasm).
    codec.instance.catch(() => {
      codec.instance = undefined;
    });
  }
  return codec.instance;
}

async function decodeWithWasm(codec: WasmCodec, frame: Uint8Array, layout: FrameLayout): Promise<Uint8Array> {
  const module = await instantiate(codec);
  let decoder: EmbindDecoder | undefined;
  let decoded: Uint8Array;
  let info: ReturnType<EmbindDecoder['getFrameInfo']>;
  try {
    decoder = new module[codec.decoderClass]();
    decoder.getEncodedBuffer(frame.length).set(frame);
    decoder.decode();
    info = decoder.getFrameInfo();
    decoded = decoder.getDecodedBuffer().slice();
  } catch (e) {
    // An abort or a trap (out-of-bounds access on a damaged stream) can leave the instance unusable: start afresh next time.
    if (e instanceof Error && /RuntimeError|Aborted|unreachable|out of bounds/i.test(`${e.name} ${e.message}`)) codec.instance = undefined;
    throw codecFailed(`${codec.name}: ${describe(e)}`);
  } finally {
    try {
      decoder?.delete();
    } catch {
      codec.instance = undefined;
    }
  }
  if (info.width !== layout.columns || info.height !== layout.rows) {
    throw codecFailed(`the compressed frame is ${info.width}x${info.height} pixels but Columns x Rows is ${layout.columns}x${layout.rows}`);
  }
  if (info.componentCount !== layout.samplesPerPixel) {
    throw codecFailed(`the compressed frame has ${info.componentCount} components but SamplesPerPixel is ${layout.samplesPerPixel}`);
  }
  return toLayout(decoded, info.bitsPerSample, layout);
}

/** The codec's samples (8-bit → 1 byte, more → 2 bytes little-endian) in the frame's BitsAllocated layout. */
function toLayout(decoded: Uint8Array, bitsPerSample: number, layout: FrameLayout): Uint8Array {
  const count = layout.rows * layout.columns * layout.samplesPerPixel;
  const codecBytes = bitsPerSample <= 8 ? 1 : 2;
  if (decoded.length !== count * codecBytes) {
    throw codecFailed(`the codec returned ${decoded.length} bytes for ${count} samples of ${bitsPerSample} bits`);
  }
  if (bitsPerSample > layout.bitsAllocated) {
    throw codecFailed(`the compressed frame has ${bitsPerSample}-bit samples but BitsAllocated is ${layout.bitsAllocated}`);
  }
  const bytesPerSample = layout.bitsAllocated / 8;
  if (codecBytes === bytesPerSample) return decoded;
  // 8-bit samples in a 16-bit frame: widen (sign-extension is done later from BitsStored, so copy the raw byte).
  const out = new Uint8Array(count * 2);
  for (let i = 0; i < count; i++) out[2 * i] = decoded[i];
  return out;
}

function codecFailed(reason: string): LvsegError {
  return new LvsegError('invalid-input', FrameCodecErrorCode.CodecFailed, `the compressed pixel data could not be decoded: ${reason}`);
}

function codecUnavailable(reason: string): LvsegError {
  return new LvsegError('unsupported', FrameCodecErrorCode.CodecUnavailable, reason);
}

/** A short, value-free description of a thrown thing (codec messages name markers and sizes, never patient data). */
function describe(e: unknown): string {
  if (e instanceof LvsegError) return e.message;
  const text = e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : typeof e === 'string' ? e : typeof e === 'number' ? `codec exception ${e}` : 'codec error';
  return text.slice(0, 160);
}
