import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLvsegError } from '@lvseg/common';
import { FilePacsStateStore } from './pacs-state-store';

describe('FilePacsStateStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lvseg-pacs-state-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const series = (n: number) => ({ studyInstanceUid: '1.2.3', seriesInstanceUid: `1.2.3.${n}`, source: 'webhook' as const, since: '2024-01-01T00:00:00.000Z', failures: 0 });

  it('starts without a cursor, and keeps cursor, pending series and processed series across restarts', () => {
    const a = new FilePacsStateStore(dir);
    expect(a.cursor()).toBeUndefined();
    a.setCursor(42);
    a.addPending(series(1));
    a.addPending(series(1)); // no duplicate
    a.addPending(series(2));
    a.updatePending('1.2.3.2', { failures: 1, retryAfter: '2024-01-01T00:05:00.000Z' });
    a.removePending('1.2.3.1');
    a.markProcessed('1.2.3.1', 'v1');

    const b = new FilePacsStateStore(dir);
    expect(b.cursor()).toBe(42);
    expect(b.pending()).toEqual([{ ...series(2), failures: 1, retryAfter: '2024-01-01T00:05:00.000Z' }]);
    expect(b.isProcessed('1.2.3.1', 'v1')).toBe(true);
    expect(b.isProcessed('1.2.3.1', 'v2')).toBe(false);
    expect(b.isProcessed('1.2.3.2', 'v1')).toBe(false);
    expect(readFileSync(join(dir, 'processed.log'), 'utf8')).toBe('1.2.3.1 v1\n');
  });

  it('remembers webhook event ids until they expire, across restarts', () => {
    const a = new FilePacsStateStore(dir);
    expect(a.rememberEvent('e1', 1000, 0)).toBe(true);
    expect(a.rememberEvent('e1', 1000, 10)).toBe(false);
    const b = new FilePacsStateStore(dir);
    expect(b.rememberEvent('e1', 2000, 500)).toBe(false);
    // Expired ids are forgotten (their timestamps are refused as stale by then anyway).
    expect(b.rememberEvent('e1', 3000, 1000)).toBe(true);
  });

  it('ignores a processed line cut short by a crash', () => {
    new FilePacsStateStore(dir).markProcessed('1.2.3.1', 'v1');
    appendFileSync(join(dir, 'processed.log'), '1.2.3.9');
    const b = new FilePacsStateStore(dir);
    expect(b.isProcessed('1.2.3.1', 'v1')).toBe(true);
    expect(b.isProcessed('1.2.3.9', '')).toBe(false);
  });

  it('refuses to start over on an unreadable state file (that would skip changes)', () => {
    writeFileSync(join(dir, 'state.json'), '{"version":1,"pend');
    let error: unknown;
    try {
      new FilePacsStateStore(dir);
    } catch (e) {
      error = e;
    }
    expect(isLvsegError(error, 'config')).toBe(true);
    expect((error as Error).message).toMatch(/state.json is not a readable lvseg PACS state/);
  });

  it('keeps job records across restarts (jobs/<id>.json, replaced atomically), ignores cut-short ones, deletes on request', () => {
    const job = (id: string, state: 'running' | 'done') => ({
      id,
      state,
      series: { studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.4' },
      triggers: [{ source: 'webhook' as const, eventId: 'e1', at: '2024-01-01T00:00:00.000Z' }],
      createdAt: '2024-01-01T00:00:00.000Z',
      updatedAt: '2024-01-01T00:00:01.000Z',
      attempts: 1,
    });
    const a = new FilePacsStateStore(dir);
    const id1 = '11111111-1111-4111-8111-111111111111';
    const id2 = '22222222-2222-4222-8222-222222222222';
    a.saveJobRecord(job(id1, 'running'));
    a.saveJobRecord(job(id1, 'done'));
    a.saveJobRecord(job(id2, 'done'));
    a.deleteJobRecord(id2);
    // A write cut short by a crash: the temporary file, and a record that is not JSON.
    writeFileSync(join(dir, 'jobs', `${id2}.json.tmp`), '{"id":');
    writeFileSync(join(dir, 'jobs', '33333333-3333-4333-8333-333333333333.json'), '{"id":"3333');

    const b = new FilePacsStateStore(dir);
    expect(b.jobRecords()).toEqual([job(id1, 'done')]);
    expect(JSON.parse(readFileSync(join(dir, 'jobs', `${id1}.json`), 'utf8'))).toEqual(job(id1, 'done'));
  });
});
