/**
 * Jest's node environment, with the main realm's typed-array constructors. onnxruntime-node's native binding builds
 * its output tensors from typed arrays of the main realm, and onnxruntime-common (loaded inside the test's vm
 * context) rejects them with "A float32 tensor's data must be type of function Float32Array()"
 * (microsoft/onnxruntime#16622). Node's Buffer already comes from the main realm; this makes the rest agree with it.
 */
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer',
  'SharedArrayBuffer',
  'DataView',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
];

class MainRealmTypedArraysEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = MainRealmTypedArraysEnvironment;
