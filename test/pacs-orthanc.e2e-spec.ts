/**
 * The Orthanc side on its own, against a real Orthanc started from deploy/orthanc/: the Lua script's SHA-256/HMAC
 * (RFC 4231 vectors, checked against node:crypto), the webhooks it really sends (one per stable MR series, verified
 * with lvseg's own check),
 * the storescu access rule, and every OrthancClient operation (QIDO-RS, WADO-RS, STOW-RS, /changes, errors).
 */
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { IncomingHttpHeaders, Server, createServer } from 'node:http';
import { join } from 'node:path';
import { LvsegError } from '@lvseg/common';
import { naturalizeDicom, readDicomSeg, segUidsFor, writeLvSegmentation } from '@lvseg/dicom';
import { decodeDicom } from '@lvseg/imaging';
import { OrthancClient } from '../services/inference/src/pacs/client/orthanc-client';
import { parseWebhookEvent } from '../services/inference/src/pacs/webhook/webhook-event';
import { verifyWebhook } from '../services/inference/src/pacs/webhook/webhook-signature';
import { RunningOrthanc, freePort, pacsToolsMissingReason, startOrthanc } from './support/pacs/orthanc';
import { storescu } from './support/pacs/storescu';
import { SUNNYBROOK_DICOM_DIR, sunnybrookCases, sunnybrookMissingReason } from './support/sunnybrook';

const reason = pacsToolsMissingReason() ?? sunnybrookMissingReason();
if (reason) {
  // eslint-disable-next-line no-console
  console.warn(`skipping the Orthanc tests: ${reason}`);
}
const describeIfTools = reason ? describe.skip : describe;

const SECRET = 'orthanc-side-secret-0123456789';

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A Lua string literal holding exactly these bytes. */
const luaBytes = (b: Buffer): string => `"${[...b].map((x) => `\\${x}`).join('')}"`;

describeIfTools('Orthanc side (real Orthanc from deploy/orthanc, real storescu, real Sunnybrook DICOMs)', () => {
  let orthanc: RunningOrthanc;
  let hookServer: Server;
  const hooks: Array<{ headers: IncomingHttpHeaders; body: Buffer }> = [];
  const patient = () => sunnybrookCases().filter((c) => c.case === 'SCD0000401');
  const files = () => patient().map((c) => join(SUNNYBROOK_DICOM_DIR, c.image));

  beforeAll(async () => {
    const hookPort = await freePort();
    hookServer = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        hooks.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(202, { 'Content-Type': 'application/json' }).end('{"jobId":"test"}');
      });
    });
    await new Promise<void>((resolve) => hookServer.listen(hookPort, '127.0.0.1', resolve));
    orthanc = await startOrthanc({ webhookUrl: `http://127.0.0.1:${hookPort}/webhooks/pacs`, webhookSecret: SECRET, stableAgeSeconds: 1, executeLua: true });
  });

  afterAll(async () => {
    await orthanc?.stop();
    await new Promise((resolve) => hookServer?.close(resolve));
  });

  it('the Lua SHA-256 and HMAC-SHA256 give node:crypto’s digests (RFC 4231 vectors, both bit-operation paths)', async () => {
    const cases: Array<[Buffer, Buffer]> = [
      [Buffer.alloc(20, 0x0b), Buffer.from('Hi There')],
      [Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?')],
      [Buffer.alloc(20, 0xaa), Buffer.alloc(50, 0xdd)],
      [Buffer.from(Array.from({ length: 25 }, (_, i) => i + 1)), Buffer.alloc(50, 0xcd)],
      [Buffer.alloc(131, 0xaa), Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First')],
      [Buffer.alloc(131, 0xaa), Buffer.from('This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.')],
      [Buffer.from(SECRET), Buffer.from(`1700000000.${'{"id":"x"}'.repeat(40)}`)],
    ];
    const script = [
      'local fast, tables = LvsegNewCrypto(false), LvsegNewCrypto(true)',
      ...cases.map(([k, m]) => `print(fast.hmacSha256Hex(${luaBytes(k)}, ${luaBytes(m)}) .. " " .. tables.hmacSha256Hex(${luaBytes(k)}, ${luaBytes(m)}))`),
      `print(fast.sha256Hex("") .. " " .. tables.sha256Hex(${luaBytes(Buffer.alloc(119, 0x61))}))`,
    ].join('\n');
    const res = await fetch(`${orthanc.url}/tools/execute-script`, {
      method: 'POST',
      body: script,
      headers: { Authorization: `Basic ${Buffer.from(`${orthanc.username}:${orthanc.password}`).toString('base64')}` },
    });
    expect(res.status).toBe(200);
    const lines = (await res.text()).trim().split('\n');
    const expected = cases.map(([k, m]) => {
      const h = createHmac('sha256', k).update(m).digest('hex');
      return `${h} ${h}`;
    });
    const { createHash } = await import('node:crypto');
    expected.push(`${createHash('sha256').update('').digest('hex')} ${createHash('sha256').update(Buffer.alloc(119, 0x61)).digest('hex')}`);
    expect(lines).toEqual(expected);
  });

  it('accepts C-STORE only from the scanner AE title, and the Lua script sends one signed, verifiable event per stable MR series (none per image, none for other modalities), without patient data', async () => {
    await expect(storescu(orthanc, files().slice(0, 1), 'UNKNOWNSCU')).rejects.toThrow();
    const ms = await storescu(orthanc, files());
    expect(ms).toBeGreaterThan(0);
    await until('the series event', async () => (hooks.length >= 1 ? true : undefined));
    const first = naturalizeDicom(readFileSync(files()[0]));
    const [series] = await orthanc.rest<Array<{ ID: string; Type: string }>>('/tools/lookup', { method: 'POST', body: String(first.SeriesInstanceUID) });
    const h = hooks[0];
    expect(h.headers['content-type']).toBe('application/json');
    verifyWebhook({ secret: SECRET, headers: h.headers, rawBody: h.body, nowSeconds: Date.now() / 1000 });
    const event = parseWebhookEvent(h.body);
    expect(event.kind).toBe('series.stable');
    expect(event.resource).toEqual({ type: 'series', pacsId: series.ID, studyInstanceUid: first.StudyInstanceUID, seriesInstanceUid: first.SeriesInstanceUID, modality: 'MR' });
    expect((await orthanc.rest<{ IsStable: boolean }>(`/series/${series.ID}`)).IsStable).toBe(true);
    // Identifiers only: the patient id (SCD0000401) and name never leave Orthanc in an event.
    expect(h.body.toString()).not.toContain('SCD0000401');

    // The same image filed as an OT series: stable too, and silent.
    const dir = mkdtempSync(join(tmpdir(), 'lvseg-orthanc-ot-'));
    try {
      const ot = join(dir, 'ot.dcm');
      copyFileSync(files()[0], ot);
      const otSeries = `${first.SeriesInstanceUID}.99`;
      execFileSync('dcmodify', ['-nb', '-m', '(0008,0060)=OT', '-m', `(0020,000e)=${otSeries}`, '-m', `(0008,0018)=${otSeries}.1`, ot]);
      await storescu(orthanc, [ot]);
      const [otId] = await orthanc.rest<Array<{ ID: string }>>('/tools/lookup', { method: 'POST', body: otSeries });
      await until('the OT series to be stable', async () => ((await orthanc.rest<{ IsStable: boolean }>(`/series/${otId.ID}`)).IsStable ? true : undefined));
      // The Lua event thread handles StableSeries in order; give it a moment past the OT series' stability.
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(hooks).toHaveLength(1);
  });

  it('OrthancClient: series status, WADO-RS retrieve, QIDO-RS search, STOW-RS store (twice: one copy kept) and the change feed', async () => {
    const client = new OrthancClient({ url: orthanc.url, dicomWebUrl: orthanc.dicomWebUrl, credentials: { username: orthanc.username, password: orthanc.password } });
    const first = naturalizeDicom(readFileSync(files()[0]));
    const ref = { studyInstanceUid: String(first.StudyInstanceUID), seriesInstanceUid: String(first.SeriesInstanceUID) };

    const status = await until('a stable series', async () => {
      const s = await client.seriesStatus(ref);
      return s.complete ? s : undefined;
    });
    expect(status).toEqual({ exists: true, complete: true, modality: 'MR', instanceCount: 18 });
    expect(await client.seriesStatus({ ...ref, seriesInstanceUid: '1.2.3.4' })).toEqual({ exists: false, complete: false });

    const retrieved = await client.retrieveSeries(ref);
    expect(retrieved).toHaveLength(18);
    const onDisk = new Map(files().map((f) => [String(naturalizeDicom(readFileSync(f)).SOPInstanceUID), readFileSync(f)]));
    for (const bytes of retrieved) {
      const { image, meta } = decodeDicom(bytes);
      // The scanner's images, pixel for pixel (Orthanc may rewrite the file meta header).
      expect(meta.transferSyntaxUid).toBe('1.2.840.10008.1.2.1');
      const original = decodeDicom(onDisk.get(meta.sopInstanceUid!)!).image;
      expect([image.rows, image.columns]).toEqual([original.rows, original.columns]);
      expect(Buffer.from(image.data.buffer).equals(Buffer.from(original.data.buffer))).toBe(true);
    }

    expect(await client.seriesExists(ref.studyInstanceUid, ref.seriesInstanceUid)).toBe(true);
    const uids = segUidsFor(ref.seriesInstanceUid, 'orthanc-side-test');
    expect(await client.seriesExists(ref.studyInstanceUid, uids.seriesInstanceUid)).toBe(false);

    const seg = writeLvSegmentation(
      retrieved.map((b) => ({ dataset: naturalizeDicom(b), mask: { rows: 256, columns: 256, data: new Uint8Array(256 * 256).fill(1, 0, 100) } })),
      { ...uids, model: { version: 'orthanc-side-test', architecture: 'fcn-paper' }, softwareVersion: 'test' },
    );
    expect(await client.store(ref.studyInstanceUid, [seg.bytes])).toEqual({ stored: [uids.sopInstanceUid], failed: [] });
    await client.store(ref.studyInstanceUid, [seg.bytes]);
    expect(await client.seriesExists(ref.studyInstanceUid, uids.seriesInstanceUid)).toBe(true);
    const segSeries = await orthanc.rest<Array<{ ID: string }>>(`/tools/lookup`, { method: 'POST', body: uids.seriesInstanceUid });
    const segInstances = await orthanc.rest<unknown[]>(`/series/${segSeries[0].ID}/instances`);
    expect(segInstances).toHaveLength(1);
    const stored = readDicomSeg(await orthanc.restBytes(`/instances/${(segInstances[0] as { ID: string }).ID}/file`));
    expect(stored.sopInstanceUid).toBe(uids.sopInstanceUid);
    expect(stored.frames).toHaveLength(18);

    const latest = await client.latestSeq();
    const { changes, last, done } = await client.changes(0, 10_000);
    expect(done).toBe(true);
    expect(last).toBe(latest);
    const seriesChanges = changes.filter((c) => c.resourceType === 'Series');
    expect(seriesChanges.map((c) => c.type)).toEqual(expect.arrayContaining(['NewSeries', 'StableSeries']));
    const mr = await client.seriesOfChange(seriesChanges.find((c) => c.type === 'NewSeries')!);
    expect(mr).toEqual({ ...ref, modality: 'MR' });
    const segChange = seriesChanges.find((c) => c.type === 'NewSeries' && c.pacsId === segSeries[0].ID)!;
    expect(await client.seriesOfChange(segChange)).toEqual({ studyInstanceUid: ref.studyInstanceUid, seriesInstanceUid: uids.seriesInstanceUid, modality: 'SEG' });
    expect(await client.seriesOfChange({ ...segChange, pacsId: 'no-such-id' })).toBeUndefined();
  });

  it('OrthancClient errors name the operation, never a UID: wrong credentials, PACS down', async () => {
    const codeOf = async (p: Promise<unknown>): Promise<[string, string]> => {
      try {
        await p;
        return ['none', ''];
      } catch (e) {
        return [(e as LvsegError).code, (e as Error).message];
      }
    };
    const right = new OrthancClient({ url: orthanc.url, dicomWebUrl: orthanc.dicomWebUrl, credentials: { username: orthanc.username, password: orthanc.password } });
    await expect(right.checkAccess(2000)).resolves.toBeUndefined();
    const wrong = new OrthancClient({ url: orthanc.url, dicomWebUrl: orthanc.dicomWebUrl, credentials: { username: orthanc.username, password: 'wrong' } });
    expect(await codeOf(wrong.checkAccess(2000))).toEqual(['PACS_AUTH_FAILED', "Orthanc access check: the PACS refused lvseg's credentials (HTTP 401); check PACS_USERNAME and PACS_PASSWORD"]);
    const [code, message] = await codeOf(wrong.seriesExists('1.2.3', '1.2.3.4'));
    expect(code).toBe('PACS_AUTH_FAILED');
    expect(message).toMatch(/^QIDO-RS series search: the PACS refused lvseg's credentials \(HTTP 401\)/);
    expect(message).not.toContain('1.2.3');
    const down = new OrthancClient({ url: `http://127.0.0.1:${await freePort()}`, dicomWebUrl: `http://127.0.0.1:${await freePort()}/dicom-web` });
    expect(await codeOf(down.checkAccess(2000))).toEqual(['PACS_UNREACHABLE', 'Orthanc access check: the PACS is unreachable (ECONNREFUSED)']);
    const [downCode, downMessage] = await codeOf(down.retrieveSeries({ studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.4' }));
    expect(downCode).toBe('PACS_UNREACHABLE');
    expect(downMessage).toMatch(/^WADO-RS series retrieve: the PACS is unreachable \(ECONNREFUSED\)/);
  });
});
