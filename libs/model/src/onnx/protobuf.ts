/**
 * The few protocol-buffers wire-format writes an ONNX file needs (varint, length-delimited, fixed32), so the exporter
 * has no runtime dependency (onnx-proto is a dev dependency: the specs decode our bytes with it as an independent check).
 */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private scratch: number[] = [];
  private length = 0;

  /** Field of wire type 0 (int32, int64, enum, bool). Negative numbers are written as 64-bit two's complement. */
  varintField(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.varint(value);
    return this;
  }

  /** Field of wire type 5 (float). */
  floatField(field: number, value: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  stringField(field: number, value: string): this {
    return this.bytesField(field, new TextEncoder().encode(value));
  }

  /** Length-delimited field (wire type 2): bytes, or an already encoded message. */
  bytesField(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.varint(value.byteLength);
    this.push(value);
    return this;
  }

  messageField(field: number, message: ProtoWriter): this {
    return this.bytesField(field, message.finish());
  }

  finish(): Uint8Array {
    this.flushScratch();
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }

  private tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    if (typeof value === 'number' && (!Number.isInteger(value) || !Number.isSafeInteger(value))) {
      throw new RangeError(`varint needs a safe integer, got ${value}`);
    }
    do {
      const byte = Number(v & 0x7fn);
      v >>= 7n;
      this.scratch.push(v > 0n ? byte | 0x80 : byte);
    } while (v > 0n);
  }

  private push(bytes: Uint8Array): void {
    this.flushScratch();
    this.chunks.push(bytes);
    this.length += bytes.byteLength;
  }

  private flushScratch(): void {
    if (this.scratch.length === 0) return;
    this.chunks.push(Uint8Array.from(this.scratch));
    this.length += this.scratch.length;
    this.scratch = [];
  }
}
