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
// The aliases come from tsconfig.json's paths (the one list), so a new lib cannot be missing here: exact aliases first
// (e.g. @lvseg/model-store/testing), then @lvseg/<lib>/<file> inside a lib's src.
const PATHS = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')).compilerOptions.paths;
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const exact = Object.entries(PATHS).sort(([a], [b]) => b.length - a.length);
const ALIASES = [
  ...exact.map(([alias, [target]]) => [new RegExp(`^${escape(alias)}$`), () => join(ROOT, target)]),
  ...exact.filter(([alias]) => !alias.includes('/', '@lvseg/'.length)).map(([alias, [target]]) => [new RegExp(`^${escape(alias)}/(.+)$`), (m) => join(ROOT, target, m[1])]),
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
