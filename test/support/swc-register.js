/**
 * Runs the TypeScript sources in a child process as jest runs them in-process: compiled on load by @swc/core with
 * legacy decorators and their metadata (Nest's dependency injection reads constructor parameter types from it, which
 * tsx/esbuild does not emit), and the @lvseg/* path aliases of tsconfig.json. Test support only:
 *   node -r ./test/support/swc-register.js services/trainer/src/main.ts worker
 */
const Module = require('node:module');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const swc = require('@swc/core');

const ROOT = join(__dirname, '..', '..');
const LIBS = ['imaging', 'model', 'model-store', 'common', 'config', 'report', 'lv-function'];
const ALIASES = [
  [/^@lvseg\/model-store\/testing$/, () => join(ROOT, 'libs/model-store/src/testing/model-store.contract')],
  [new RegExp(`^@lvseg/(${LIBS.join('|')})$`), (m) => join(ROOT, 'libs', m[1], 'src')],
  [/^@lvseg\/(imaging|model|common)\/(.+)$/, (m) => join(ROOT, 'libs', m[1], 'src', m[2])],
];

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  for (const [re, to] of ALIASES) {
    const m = re.exec(request);
    if (m) return resolve.call(this, to(m), ...rest);
  }
  return resolve.call(this, request, ...rest);
};

require.extensions['.ts'] = function (module, filename) {
  const { code } = swc.transformSync(readFileSync(filename, 'utf8'), {
    filename,
    sourceMaps: 'inline',
    jsc: { parser: { syntax: 'typescript', decorators: true }, transform: { legacyDecorator: true, decoratorMetadata: true }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};
