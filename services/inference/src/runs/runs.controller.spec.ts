import { mkdtempSync, rmSync } from 'node:fs';
import { get as httpGet, IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import request from 'supertest';
import { encodeRgbaPng } from '@lvseg/imaging';
import { FileModelStore, FileRunStore, RunEpoch } from '@lvseg/model-store';
import { startInferenceApp, RunningInferenceApp } from '../../../../test/support/inference-app';

/** A real PNG with a gradient, so decoding proves more than a header. */
function gradientPng(seed: number): Buffer {
  const n = 16;
  const rgba = new Uint8Array(n * n * 4);
  for (let i = 0; i < n * n; i++) rgba.set([(i + seed) & 255, (i * 3) & 255, seed & 255, 255], i * 4);
  return encodeRgbaPng(n, n, rgba);
}

const epoch = (n: number, val: boolean): RunEpoch => ({
  epoch: n,
  loss: 1 / n,
  train: { pixelAccuracy: 0.9, dice: 0.2 * n },
  ...(val ? { val: { pixelAccuracy: 0.95, dice: 0.1 * n } } : {}),
  learningRate: 0.002,
  seconds: 2,
});

const newRun = { architecture: 'unet-small', hyperParameters: { epochs: 3 }, manifestSha256: 'b'.repeat(64), valImageId: 'SC-HF-I-09/IM-0001-0020', layers: ['enc1', 'score'], epochs: 3 };

interface SseEvent {
  type: string;
  data: unknown;
}

/** Opens an event stream and collects its events until it closes (or `stop` is called). */
function openEvents(url: string): { events: SseEvent[]; response: Promise<IncomingMessage>; closed: Promise<void>; stop(): void } {
  const events: SseEvent[] = [];
  let stop = () => {};
  let resolveResponse!: (r: IncomingMessage) => void;
  const response = new Promise<IncomingMessage>((r) => (resolveResponse = r));
  const closed = new Promise<void>((resolve, reject) => {
    const req = httpGet(url, { headers: { Accept: 'text/event-stream' } }, (res) => {
      resolveResponse(res);
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
          const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          events.push({ type, data: data ? JSON.parse(data) : undefined });
        }
      });
      res.on('end', () => resolve());
      res.on('close', () => resolve());
    });
    req.on('error', reject);
    stop = () => req.destroy();
  });
  return { events, response, closed, stop: () => stop() };
}

async function until(check: () => boolean, what: string, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('GET /runs… (real app, file store in a temp directory)', () => {
  const root = mkdtempSync(join(tmpdir(), 'lvseg-runs-api-'));
  let running: RunningInferenceApp;
  let runs: FileRunStore;
  let server: ReturnType<RunningInferenceApp['app']['getHttpServer']>;

  beforeAll(async () => {
    running = await startInferenceApp(new FileModelStore({ root }));
    server = running.app.getHttpServer();
    runs = new FileRunStore({ root });
  });
  afterAll(async () => {
    await running?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('lists runs newest first with status and latest epoch, and returns one run with its epochs and heatmap epochs', async () => {
    expect((await request(server).get('/runs').expect(200)).body).toEqual({ runs: [] });
    const older = await runs.createRun(newRun);
    await runs.recordEpoch(older.id, epoch(1, false));
    await runs.recordEpoch(older.id, epoch(2, true));
    await runs.recordHeatmaps(older.id, 1, new Map([['enc1', gradientPng(1)], ['score', gradientPng(2)]]));
    await runs.finishRun(older.id, { status: 'finished', version: 'unet-small-20261202T070000-abcdef' });
    await new Promise((r) => setTimeout(r, 5));
    const newer = await runs.createRun(newRun);

    const list = (await request(server).get('/runs').expect(200)).body.runs as Array<{ id: string; status: string; latestEpoch: number | null }>;
    expect(list.map((r) => [r.id, r.status, r.latestEpoch])).toEqual([
      [newer.id, 'running', null],
      [older.id, 'finished', 2],
    ]);
    const detail = (await request(server).get(`/runs/${older.id}`).expect(200)).body;
    expect(detail.run).toMatchObject({ id: older.id, status: 'finished', version: 'unet-small-20261202T070000-abcdef', layers: ['enc1', 'score'] });
    expect(detail.epochs).toEqual([epoch(1, false), epoch(2, true)]);
    expect(detail.heatmaps).toEqual([{ epoch: 1, layers: ['enc1', 'score'] }]);
  });

  it('serves a heatmap as a PNG that decodes to the stored pixels', async () => {
    const { id } = await runs.createRun(newRun);
    await runs.recordHeatmaps(id, 5, new Map([['score', gradientPng(9)]]));
    const res = await request(server)
      .get(`/runs/${id}/heatmaps/5/score.png`)
      .buffer(true)
      .parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      })
      .expect(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.headers['cache-control']).toBe('public, max-age=3600');
    const png = PNG.sync.read(res.body as Buffer);
    expect([png.width, png.height]).toEqual([16, 16]);
    expect(png.data.equals(PNG.sync.read(gradientPng(9)).data)).toBe(true);
  });

  it('answers unknown runs 404 and malformed ids, epochs and layer names 400, as JSON errors', async () => {
    const { id } = await runs.createRun(newRun);
    await runs.recordHeatmaps(id, 1, new Map([['enc1', gradientPng(1)]]));
    const cases: Array<[string, number, string]> = [
      ['/runs/run-20991231T000000-abcdef', 404, 'RUN_NOT_FOUND'],
      ['/runs/run-20991231T000000-abcdef/heatmaps/1/enc1.png', 404, 'RUN_NOT_FOUND'],
      ['/runs/run-20991231T000000-abcdef/events', 404, 'RUN_NOT_FOUND'],
      [`/runs/${id}/heatmaps/2/enc1.png`, 404, 'RUN_HEATMAP_NOT_FOUND'],
      ['/runs/..%2F..%2Fetc', 400, 'RUN_ID_INVALID'],
      ['/runs/a%20b', 400, 'RUN_ID_INVALID'],
      ['/runs/.hidden/events', 400, 'RUN_ID_INVALID'],
      [`/runs/${id}/heatmaps/0/enc1.png`, 400, 'RUN_EPOCH_INVALID'],
      [`/runs/${id}/heatmaps/one/enc1.png`, 400, 'RUN_EPOCH_INVALID'],
      [`/runs/${id}/heatmaps/1/..%2Fenc1.png`, 400, 'RUN_LAYER_INVALID'],
      [`/runs/${id}/heatmaps/1/nope.png`, 400, 'RUN_LAYER_UNKNOWN'],
    ];
    for (const [path, status, code] of cases) {
      const res = await request(server).get(path);
      expect([path, res.status, res.body?.error?.code]).toEqual([path, status, code]);
      expect(typeof res.body.error.message).toBe('string');
    }
    const unknownLayer = await request(server).get(`/runs/${id}/heatmaps/1/nope.png`);
    expect(unknownLayer.body.error.message).toContain('enc1, score');
  });

  it('streams a snapshot, then an event per new epoch, heatmap set, step progress and status change, and ends with the run', async () => {
    const { id } = await runs.createRun(newRun);
    await runs.recordEpoch(id, epoch(1, false));
    const stream = openEvents(`${running.url}/runs/${id}/events`);
    try {
      const res = await stream.response;
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toContain('text/event-stream');
      await until(() => stream.events.length >= 1, 'the snapshot');
      expect(stream.events[0]).toEqual({ type: 'snapshot', data: { run: expect.objectContaining({ id, status: 'running' }), epochs: [epoch(1, false)], heatmaps: [] } });

      await runs.recordEpoch(id, epoch(2, true));
      await runs.recordHeatmaps(id, 2, new Map([['enc1', gradientPng(3)]]));
      await until(() => stream.events.length >= 3, 'the epoch and heatmap events');
      expect(stream.events.slice(1, 3)).toEqual([
        { type: 'epoch', data: epoch(2, true) },
        { type: 'heatmaps', data: { epoch: 2, layers: ['enc1'] } },
      ]);

      const step = { epoch: 3, step: 5, steps: 12, epochSeconds: 20, loss: 0.4 };
      await runs.recordProgress(id, step);
      await until(() => stream.events.length >= 4, 'the progress event');
      expect(stream.events[3]).toEqual({ type: 'progress', data: { ...step, updatedAt: expect.any(String) } });
      expect((await request(server).get(`/runs/${id}`).expect(200)).body.progress).toEqual(stream.events[3].data);

      await runs.finishRun(id, { status: 'failed', error: 'stopped by the spec' });
      await stream.closed;
      expect(stream.events.slice(4).map((e) => e.type)).toEqual(['status', 'end']);
      expect(stream.events[4].data).toMatchObject({ status: 'failed', error: 'stopped by the spec' });
      expect(stream.events[5].data).toEqual({ status: 'failed', version: null });
    } finally {
      stream.stop();
    }
  });

  it('ends the stream at once for a run that is already over', async () => {
    const { id } = await runs.createRun(newRun);
    await runs.finishRun(id, { status: 'finished', version: 'unet-small-20261202T070000-abcdef' });
    const stream = openEvents(`${running.url}/runs/${id}/events`);
    await stream.closed;
    expect(stream.events.map((e) => e.type)).toEqual(['snapshot', 'end']);
  });

  it('documents the run endpoints in the OpenAPI document', async () => {
    const doc = (await request(server).get('/docs-json').expect(200)).body as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/runs', '/runs/{id}', '/runs/{id}/heatmaps/{epoch}/{layer}.png', '/runs/{id}/events']));
  });
});
