/**
 * `--spec '<json>'` of the analysis scripts: cascade spec values to measure with instead of the version's own (e.g.
 * `--spec '{"segmenterSize":96,"roiSideMm":98.4375}'`). Returns the other arguments in order, and the parsed object.
 */
export function specOption(argv: string[]): { args: string[]; spec?: Record<string, unknown> } {
  const at = argv.findIndex((a) => a === '--spec' || a.startsWith('--spec='));
  if (at < 0) return { args: argv };
  const text = argv[at].startsWith('--spec=') ? argv[at].slice('--spec='.length) : argv[at + 1];
  const args = argv.filter((_, i) => i !== at && !(i === at + 1 && argv[at] === '--spec'));
  let spec: unknown;
  try {
    spec = JSON.parse(text ?? '');
  } catch {
    throw new Error(`--spec takes a JSON object, e.g. --spec '{"segmenterSize":96}', got ${JSON.stringify(text)}`);
  }
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new Error(`--spec takes a JSON object, got ${JSON.stringify(text)}`);
  return { args, spec: spec as Record<string, unknown> };
}
