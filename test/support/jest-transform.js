/**
 * @swc/jest, plus one prelude per module: local bindings for the built-ins hot pixel loops use.
 *
 * Why: jest runs every module inside a vm context, whose global object answers each global lookup through an
 * interceptor. A loop that says `Math.floor` or `Number.isFinite` per pixel then runs 20–40× slower than in plain Node
 * (measured here: 256² × 200 floor/add loop, 101–158 ms in node, 3.1–4.4 s in jest; 196–215 ms in jest once `Math` is a
 * module-local binding). Binding them once per module makes specs measure the code as production runs it.
 * The prelude shares line 1 with the module (after a "use strict" directive), so stack-trace line numbers stay right.
 */
const { createTransformer } = require('@swc/jest');

const GLOBALS = [
  'Math', 'Number', 'Infinity', 'NaN', 'isFinite', 'isNaN', 'Array', 'Object', 'Map', 'Set', 'ArrayBuffer', 'DataView',
  'Float32Array', 'Float64Array', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array',
  'Uint32Array',
];
const PRELUDE = `const { ${GLOBALS.join(', ')} } = globalThis;`;

module.exports = {
  createTransformer(options) {
    const swc = createTransformer(options);
    const withPrelude = (result) => {
      const code = typeof result === 'string' ? result : result.code;
      const m = /^(\s*(['"])use strict\2;?)/.exec(code);
      const out = m ? m[1] + PRELUDE + code.slice(m[1].length) : PRELUDE + code;
      return typeof result === 'string' ? out : { ...result, code: out };
    };
    return {
      ...swc,
      // Plain JavaScript from node_modules (see transformIgnorePatterns) only gets the prelude.
      process: (src, filename, opts) => withPrelude(filename.endsWith('.js') ? { code: src } : swc.process(src, filename, opts)),
      processAsync: swc.processAsync
        ? async (src, filename, opts) => withPrelude(filename.endsWith('.js') ? { code: src } : await swc.processAsync(src, filename, opts))
        : undefined,
      getCacheKey: (src, filename, opts) => `${swc.getCacheKey(src, filename, opts)}:${PRELUDE}`,
    };
  },
};
