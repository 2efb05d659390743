/**
 * DICOM RLE Lossless (PS3.5 annex G): a 64-byte header of segment offsets, then one PackBits segment per byte plane
 * (most significant byte first, one plane per sample byte). Plain TypeScript, so the browser bundle needs no codec file.
 */

/** Why an RLE frame could not be decoded; the caller turns it into its typed error. */
export class RleError extends Error {}

/** Decodes one RLE Lossless frame into samples in native little-endian layout (`bytesPerSample` bytes each). */
export function decodeRleFrame(frame: Uint8Array, pixelCount: number, bytesPerSample: number, samplesPerPixel = 1): Uint8Array {
  if (frame.length < 64) throw new RleError(`RLE frame is ${frame.length} bytes, shorter than its 64-byte header`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.length);
  const segments = view.getUint32(0, true);
  const expected = bytesPerSample * samplesPerPixel;
  if (segments !== expected) throw new RleError(`RLE header declares ${segments} segments, expected ${expected} (BitsAllocated/8 x SamplesPerPixel)`);
  const offsets: number[] = [];
  for (let s = 0; s < segments; s++) offsets.push(view.getUint32(4 + 4 * s, true));
  const out = new Uint8Array(pixelCount * expected);
  for (let s = 0; s < segments; s++) {
    const start = offsets[s];
    const end = s + 1 < segments ? offsets[s + 1] : frame.length;
    if (start < 64 || start > end || end > frame.length) throw new RleError(`RLE segment ${s + 1} has offsets ${start}..${end} outside the ${frame.length}-byte frame`);
    // Segment s holds byte (bytesPerSample - 1 - s % bytesPerSample) of sample (s / bytesPerSample) of every pixel.
    const sample = Math.floor(s / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample);
    unpackBits(frame, start, end, out, sample * bytesPerSample + byteInSample, expected, pixelCount, s + 1);
  }
  return out;
}

/** PackBits: n >= 0 copies n+1 literal bytes, -127 <= n <= -1 repeats the next byte 1-n times, -128 is a no-op. */
function unpackBits(src: Uint8Array, start: number, end: number, out: Uint8Array, first: number, stride: number, count: number, segment: number): void {
  let i = start;
  let written = 0;
  while (written < count) {
    if (i >= end) throw new RleError(`RLE segment ${segment} ends after ${written} of ${count} bytes`);
    const n = (src[i++] << 24) >> 24;
    if (n >= 0) {
      if (i + n + 1 > end) throw new RleError(`RLE segment ${segment} has a literal run past its end`);
      // Some encoders overshoot a segment by a padding byte: clip rather than refuse.
      const len = Math.min(n + 1, count - written);
      for (let k = 0; k < len; k++) out[first + (written + k) * stride] = src[i + k];
      i += n + 1;
      written += len;
    } else if (n !== -128) {
      if (i >= end) throw new RleError(`RLE segment ${segment} has a replicate run past its end`);
      const len = Math.min(1 - n, count - written);
      const v = src[i++];
      for (let k = 0; k < len; k++) out[first + (written + k) * stride] = v;
      written += len;
    }
  }
}
