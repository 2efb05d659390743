/**
 * `lvseg dataset import --from-pacs` against a real Orthanc (deploy/orthanc config, DICOMweb plugin): real Sunnybrook
 * images sent with storescu as a scanner does and label objects stored over STOW-RS as a viewer does, imported by the CLI over QIDO-RS
 * and WADO-RS; then 1 epoch of fine-tuning from the shipped production model on the few imported images, its card
 * carrying the import's provenance, and an eval on the site's val split.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@lvseg/common';
import { buildMultipartRelated } from '@lvseg/dicom';
import { decodeDicom, decodePngMask, readManifest } from '@lvseg/imaging';
import { disposeLvModel, initBackend } from '@lvseg/model';
import { FileModelStore } from '@lvseg/model-store';
import { loadInitModel, trainAndPublish } from '../services/trainer/src/commands/train';
import { evaluateModel } from '../services/trainer/src/commands/eval';
import { ExpertFrame, expertFrames, lvsegSeg, phases, reviewedCopy } from './support/label-objects';
import { RunningOrthanc, pacsToolsMissingReason, startOrthanc } from './support/pacs/orthanc';
import { storescu } from './support/pacs/storescu';
import { plastimatchMissingReason, plastimatchRtstruct } from './support/plastimatch';
import { sunnybrookMissingReason } from './support/sunnybrook';

const reason = pacsToolsMissingReason() ?? plastimatchMissingReason() ?? sunnybrookMissingReason();
if (reason && process.env.CI === 'true') throw new Error(`the PACS import test needs its tools under CI: ${reason}`);
if (reason) {
  // eslint-disable-next-line no-console
  console.warn(`skipping the PACS import test: ${reason}`);
}
const describeIfTools = reason ? describe.skip : describe;

const SECRET = 'pacs-import-site-secret-0123456789';

function lvseg(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  const tsx = join(repoRoot(), 'node_modules', 'tsx', 'dist', 'cli.mjs');
  return new Promise((resolve) =>
    execFile(process.execPath, [tsx, join(repoRoot(), 'services/trainer/src/main.ts'), ...args], { cwd: repoRoot(), env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

/** The `n` frames of one cine phase nearest the base (adjacent slices, one volume). */
const adjacent = (frames: ExpertFrame[], n: number) => [...phases(frames)[0]].sort((a, b) => a.sliceLocation - b.sliceLocation).slice(0, n);

describeIfTools('lvseg dataset import --from-pacs (real Orthanc over DICOMweb, real Sunnybrook DICOMs)', () => {
  let orthanc: RunningOrthanc;
  let root: string;
  // Expert SEG (reviewed in a viewer) for 4 frames of one patient, a plastimatch RTSTRUCT for 3 of another, and an
  // unreviewed lvseg SEG for a third that must not count.
  const segFrames = () => adjacent(expertFrames('SCD0000401'), 4);
  const rtFrames = () => adjacent(expertFrames('SCD0000501'), 3);
  const ownFrames = () => adjacent(expertFrames('SCD0000101'), 2);

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'lvseg-pacs-import-'));
    orthanc = await startOrthanc({ webhookUrl: 'http://127.0.0.1:9/unused', webhookSecret: 'unused-secret-0123456789' });
    const labels = [
      ['expert-seg.dcm', reviewedCopy(lvsegSeg(segFrames()), '5')],
      ['rtstruct.dcm', plastimatchRtstruct(rtFrames(), 'LV')],
      ['lvseg-own.dcm', lvsegSeg(ownFrames())],
    ] as const;
    for (const [name, bytes] of labels) writeFileSync(join(root, name), bytes);
    await storescu(orthanc, [...segFrames(), ...rtFrames(), ...ownFrames()].map((f) => f.path));
    // The label objects arrive as a viewer saves them: STOW-RS.
    const { body, contentType } = buildMultipartRelated(labels.map(([, bytes]) => bytes));
    const auth = `Basic ${Buffer.from(`${orthanc.username}:${orthanc.password}`).toString('base64')}`;
    const res = await fetch(`${orthanc.dicomWebUrl}/studies`, { method: 'POST', body, headers: { 'Content-Type': contentType, Accept: 'application/dicom+json', Authorization: auth } });
    if (!res.ok) throw new Error(`STOW-RS: HTTP ${res.status} ${await res.text()}`);
  });
  afterAll(async () => {
    await orthanc?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('imports the expert labels through QIDO-RS + WADO-RS (CLI), then fine-tunes from production with the provenance on the card', async () => {
    const out = join(root, 'site-data');
    const r = await lvseg(['dataset', 'import', '--from-pacs', orthanc.dicomWebUrl, '--out', out], { LVSEG_SITE_SECRET: SECRET, PACS_USERNAME: orthanc.username, PACS_PASSWORD: orthanc.password });
    expect({ code: r.code, stderr: r.stderr.slice(-500) }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(r.stdout).toContain('7 labelled images, 2 cases');
    expect(r.stdout).toContain('label objects: 2 SEG, 1 RTSTRUCT, 2 used');
    expect(r.stdout).toContain('lvseg-unreviewed 1');
    for (const id of ['SCD0000101', 'SCD0000401', 'SCD0000501']) expect(r.stdout + r.stderr).not.toContain(id);

    const summary = JSON.parse(readFileSync(join(out, 'import.json'), 'utf8'));
    expect(summary).toMatchObject({ source: 'dicomweb', location: orthanc.dicomWebUrl, query: 'QIDO-RS /series?Modality=SEG; QIDO-RS /series?Modality=RTSTRUCT', images: 7, cases: 2, labelSources: { seg: 4, rtstruct: 3 } });
    // The masks are the expert's, exactly: SEG frames as stored, RTSTRUCT frames filled by pixel centre (see the folder test).
    const manifest = readManifest(out);
    const expert = new Map([...segFrames(), ...rtFrames()].map((f) => [f.sopInstanceUid, f]));
    expect(manifest.rows).toHaveLength(7);
    for (const row of manifest.rows) {
      const sop = decodeDicom(readFileSync(join(out, row.image))).meta.sopInstanceUid!;
      const f = expert.get(sop)!;
      const mask = decodePngMask(readFileSync(join(out, row.label!)));
      expect({ sop, same: Buffer.compare(Buffer.from(mask.data), Buffer.from(f.mask.data)) === 0 }).toEqual({ sop, same: true });
    }
    expect(readdirSync(out).sort()).toEqual([...new Set(manifest.rows.map((x) => x.case))].sort().concat(['import.json', 'manifest.csv']).sort());

    // lvseg train --data <imported> --init-from production (1 epoch of each cascade stage on these 7 images).
    const store = new FileModelStore({ root: join(root, 'models'), seedFrom: join(repoRoot(), 'models') });
    const backend = await initBackend();
    const init = await loadInitModel(store, 'production');
    let published: Awaited<ReturnType<typeof trainAndPublish>>;
    try {
      published = await trainAndPublish(store, backend, { arch: init.architecture, data: out, overrides: { epochs: 1, batchSize: 4, seed: 3 }, localiserEpochs: 1, init }, {});
    } finally {
      disposeLvModel(init.model);
    }
    disposeLvModel(published.trained.lvModel);
    const card = await store.getCard(published.card.version);
    expect(card.data).toMatchObject({
      manifestSha256: manifest.sha256,
      trainImages: published.trained.train.images,
      imported: { source: 'dicomweb', location: orthanc.dicomWebUrl, query: summary.query, images: 7, cases: 2, labelObjects: { seg: 2, rtstruct: 1, used: 2 }, skipped: { 'lvseg-unreviewed': 1 }, manifestSha256: manifest.sha256, manifestUnchanged: true },
    });
    expect(JSON.stringify(card)).not.toMatch(/SCD0000/);

    // lvseg eval on the site's own val split: the numbers that decide promotion.
    const evaluated = await evaluateModel(store, card.version, out, 'val');
    // eslint-disable-next-line no-console
    console.log(`fine-tuned ${card.version} (init ${init.version}): train Dice ${published.trained.train.dice.toFixed(4)}, site val Dice ${evaluated.report.meanDice.toFixed(4)} on ${evaluated.report.images} images`);
    expect(evaluated.report.images).toBe(summary.splits.val.images);
    expect(Number.isFinite(evaluated.report.meanDice)).toBe(true);
  });
});
