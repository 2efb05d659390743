/**
 * A minimal in-memory ONNX graph (the messages and fields the exporter uses) and its protobuf encoding. Field numbers
 * are those of onnx/onnx.proto (IR version 7 = opset 13); the specs decode the bytes with onnx-proto to check them.
 */
import { ProtoWriter } from './protobuf';

/** ONNX TensorProto.DataType values used here. */
export const OnnxDataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;

/** The typed arrays an initializer may hold (float weights, int64 shapes; int8/uint8/int32 for quantised graphs). */
export type OnnxTensorData = Float32Array | BigInt64Array | Int8Array | Uint8Array | Int32Array;

/** One node attribute; ONNX AttributeProto.AttributeType in `type`. */
export type OnnxAttribute =
  | { name: string; type: 'int'; value: number }
  | { name: string; type: 'ints'; value: number[] }
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'string'; value: string };

export interface OnnxNode {
  opType: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes?: OnnxAttribute[];
}

/** A constant (weights, shapes), stored as little-endian raw data. */
export interface OnnxInitializer {
  name: string;
  dims: number[];
  data: OnnxTensorData;
}

/** A graph input or output: float tensor; a dimension is a size or a symbolic name; no shape: rank unknown. */
export interface OnnxValueInfo {
  name: string;
  shape?: Array<number | string>;
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  docString?: string;
}

export interface OnnxModel {
  graph: OnnxGraph;
  opset: number;
  irVersion: number;
  producerName: string;
  producerVersion: string;
  metadata?: Record<string, string>;
}

const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, ints: 7 } as const;

/** Encodes `model` as the bytes of an .onnx file. */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const w = new ProtoWriter()
    .varintField(1, model.irVersion)
    .stringField(2, model.producerName)
    .stringField(3, model.producerVersion)
    .messageField(7, encodeGraph(model.graph))
    .messageField(8, new ProtoWriter().stringField(1, '').varintField(2, model.opset));
  for (const [key, value] of Object.entries(model.metadata ?? {})) {
    w.messageField(14, new ProtoWriter().stringField(1, key).stringField(2, value));
  }
  return w.finish();
}

function encodeGraph(g: OnnxGraph): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.messageField(1, encodeNode(n));
  w.stringField(2, g.name);
  for (const t of g.initializers) w.messageField(5, encodeTensor(t));
  if (g.docString) w.stringField(10, g.docString);
  for (const v of g.inputs) w.messageField(11, encodeValueInfo(v));
  for (const v of g.outputs) w.messageField(12, encodeValueInfo(v));
  return w;
}

function encodeNode(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.stringField(1, i);
  for (const o of n.outputs) w.stringField(2, o);
  w.stringField(3, n.name).stringField(4, n.opType);
  for (const a of n.attributes ?? []) w.messageField(5, encodeAttribute(a));
  return w;
}

function encodeAttribute(a: OnnxAttribute): ProtoWriter {
  const w = new ProtoWriter().stringField(1, a.name);
  switch (a.type) {
    case 'float':
      w.floatField(2, a.value);
      break;
    case 'int':
      w.varintField(3, a.value);
      break;
    case 'string':
      w.stringField(4, a.value);
      break;
    case 'ints':
      // Unpacked, as onnx.proto is proto2 (readers accept both).
      for (const v of a.value) w.varintField(8, v);
      break;
  }
  return w.varintField(20, ATTRIBUTE_TYPE[a.type]);
}

function encodeTensor(t: OnnxInitializer): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.varintField(1, d);
  w.varintField(2, dataTypeOf(t.data));
  w.stringField(8, t.name);
  return w.bytesField(9, littleEndianBytes(t.data));
}

function dataTypeOf(data: OnnxTensorData): number {
  if (data instanceof Float32Array) return OnnxDataType.FLOAT;
  if (data instanceof BigInt64Array) return OnnxDataType.INT64;
  if (data instanceof Int8Array) return OnnxDataType.INT8;
  if (data instanceof Uint8Array) return OnnxDataType.UINT8;
  return OnnxDataType.INT32;
}

function encodeValueInfo(v: OnnxValueInfo): ProtoWriter {
  const tensorType = new ProtoWriter().varintField(1, OnnxDataType.FLOAT);
  if (v.shape) {
    const shape = new ProtoWriter();
    for (const d of v.shape) shape.messageField(1, typeof d === 'number' ? new ProtoWriter().varintField(1, d) : new ProtoWriter().stringField(2, d));
    tensorType.messageField(2, shape);
  }
  return new ProtoWriter().stringField(1, v.name).messageField(2, new ProtoWriter().messageField(1, tensorType));
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** ONNX raw_data is little-endian whatever the host. */
function littleEndianBytes(data: OnnxTensorData): Uint8Array {
  if (HOST_IS_LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  if (data instanceof Float32Array) data.forEach((v, i) => view.setFloat32(i * 4, v, true));
  else if (data instanceof Int32Array) data.forEach((v, i) => view.setInt32(i * 4, v, true));
  else if (data instanceof BigInt64Array) data.forEach((v, i) => view.setBigInt64(i * 8, v, true));
  return out;
}
