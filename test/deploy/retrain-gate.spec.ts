/**
 * k8s/base/retrain.sh, the script the training Job, the CronJob and the compose trainer run, executed for real: the
 * real `lvseg` CLI (run from source with tsx), a real file model store, a two-image data set made from the repo's
 * Sunnybrook fixtures, one short training epoch. A model below the Dice bar must not reach `production`; one at or
 * above it must.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openModelStore } from '@lvseg/model-store';
import { REPO } from './support/repo-files';

const FIXTURES = join(REPO, 'libs/imaging/test-fixtures/sunnybrook/png');
const PAIRS = [
  ['SC-HF-I-01', 'SC-HF-I-01-IM-0001-0048.png', 'train'],
  ['SC-HF-I-05', 'SC-HF-I-05-IM-0001-0100.png', 'val'],
];
// Short enough for CI; the script passes these to `lvseg train` unchanged, as the Job passes `--arch unet-small`.
// Seconds alone; minutes when the suite's other workers load the machine.
const RUN_TIMEOUT_MS = 540_000;
const TRAIN_ARGS = ['--arch', 'unet-small', '--epochs', '1', '--batch-size', '2', '--val-every', '1'];

describe('retrain.sh: train → Dice gate → promote, with the real lvseg CLI', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lvseg-retrain-'));
    const data = join(dir, 'data', 'sunnybrook-png');
    for (const sub of ['images', 'labels']) mkdirSync(join(data, sub), { recursive: true });
    const rows = ['case,image,label,split'];
    for (const [kase, file, split] of PAIRS) {
      copyFileSync(join(FIXTURES, 'images', file), join(data, 'images', file));
      copyFileSync(join(FIXTURES, 'labels', file), join(data, 'labels', file));
      rows.push(`${kase},images/${file},labels/${file},${split}`);
    }
    writeFileSync(join(data, 'manifest.csv'), rows.join('\n') + '\n');
    // `lvseg` on PATH, as in the image, but running this checkout's sources.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'lvseg'), `#!/bin/sh\nexec "${process.execPath}" --import tsx "${join(REPO, 'services/trainer/src/main.ts')}" "$@"\n`);
    chmodSync(join(bin, 'lvseg'), 0o755);
    env = {
      PATH: `${bin}:${process.env.PATH}`,
      HOME: dir,
      LVSEG_MODEL_STORE: `file://${join(dir, 'store')}`,
      LVSEG_DATA_DIR: join(dir, 'data'),
      // No seeding from the repository's shipped models: the store starts empty.
      LVSEG_SHIPPED_MODELS: join(dir, 'no-shipped-models'),
    };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const retrain = (bar: string) => {
    const r = spawnSync('sh', [join(REPO, 'k8s/base/retrain.sh'), ...TRAIN_ARGS], { cwd: REPO, env: { ...env, LVSEG_MIN_PROMOTE_DICE: bar }, encoding: 'utf8', timeout: RUN_TIMEOUT_MS });
    if (r.error) throw new Error(`retrain.sh did not finish: ${r.error.message}\n${r.stderr.slice(-2000)}`);
    return r;
  };
  const store = () => openModelStore(env.LVSEG_MODEL_STORE!);

  it('publishes but does not promote a model below the bar', async () => {
    const r = retrain('0.99');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/retrain: Dice gate for unet-small-\S+: lvseg eval on the val split, bar 0\.99/);
    expect(r.stderr).toMatch(/Dice gate failed: mean Dice \d\.\d{4} < 0\.99/);
    expect(r.stdout).not.toMatch(/production:/);
    const versions = await store().list();
    expect(versions).toHaveLength(1);
    expect(await store().aliases()).toEqual({});
  }, RUN_TIMEOUT_MS + 30_000);

  it('promotes a model that passes the bar', async () => {
    const r = retrain('0');
    expect(r.stderr).toContain('Dice gate passed');
    expect(r.status).toBe(0);
    const published = /^published (\S+) /m.exec(r.stdout)![1];
    expect(r.stdout).toContain(`production: (none) -> ${published}`);
    expect(await store().aliases()).toEqual({ production: published });
    expect((await store().getCard('production')).version).toBe(published);
  }, RUN_TIMEOUT_MS + 30_000);
});
