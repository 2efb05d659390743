import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

let cached: string | undefined;

/** The lvseg repository (or installed package) root: the nearest ancestor whose package.json is named "lvseg". */
export function repoRoot(start: string = __dirname): string {
  if (cached && start === __dirname) return cached;
  let dir = start;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, 'utf8')).name === 'lvseg') {
          if (start === __dirname) cached = dir;
          return dir;
        }
      } catch {
        /* not ours; keep climbing */
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

/** Where the data sets are unless `LVSEG_DATA_DIR` says otherwise: `../shared/data` beside the repository. */
export function defaultDataRoot(): string {
  return join(repoRoot(), '..', 'shared', 'data');
}

/**
 * Root of the data sets for specs, benches and scripts, which run without a loaded configuration: `LVSEG_DATA_DIR`,
 * else `defaultDataRoot()`. The CLI and the service use `config.dataDir` (@lvseg/config), read with every other variable.
 */
export function dataRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.LVSEG_DATA_DIR?.trim() || defaultDataRoot();
}
