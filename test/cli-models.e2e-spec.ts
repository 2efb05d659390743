/**
 * The lvseg CLI as a user runs it (a real process, a real file store): deleting model versions, and options refused
 * before any work starts.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@lvseg/common';
import { ModelStore, openModelStore } from '@lvseg/model-store';
import { sampleModelVersion } from '@lvseg/model-store/testing';

const tsx = join(repoRoot(), 'node_modules', 'tsx', 'dist', 'cli.mjs');

function lvseg(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [tsx, join(repoRoot(), 'services/trainer/src/main.ts'), ...args], { cwd: repoRoot(), env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('lvseg CLI (real process, file store)', () => {
  let dir: string;
  let store: ModelStore;
  let env: Record<string, string>;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lvseg-cli-'));
    store = openModelStore(`file://${dir}`);
    env = { LVSEG_MODEL_STORE: `file://${dir}` };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('models delete: removes versions no alias needs, refuses the production one with a reason and exit code 2', async () => {
    const kept = await store.publish(sampleModelVersion({ valDice: 0.87 }));
    const old = await store.publish(sampleModelVersion({ valDice: 0.5 }));
    await store.setAlias('production', kept.version);
    const refused = await lvseg(['models', 'delete', kept.version], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`lvseg: cannot delete ${kept.version}: alias production points at it [MODEL_VERSION_IN_USE]`);
    const done = await lvseg(['models', 'delete', old.version], env);
    expect(done).toMatchObject({ code: 0, stdout: `deleted ${old.version}\n` });
    expect((await store.list()).map((c) => c.version)).toEqual([kept.version]);
  }, 120_000);

  it('train refuses a bad option at once, naming it, and publishes nothing', async () => {
    const before = (await store.list()).length;
    const r = await lvseg(['train', '--epochs', '-1'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/lvseg: --epochs takes an integer ≥ 0 .*got -1 \[INVALID_TRAIN_OPTION\]/);
    expect((await store.list()).length).toBe(before);
  }, 120_000);
});
