import pino from 'pino';
import { LvsegError } from '@lvseg/common';
import type { PacsClient } from '../client/pacs-client';
import { DEFAULT_PACS_TIMING } from '../jobs/pacs-jobs.service';
import { PacsReadiness } from './pacs-readiness';

/** A PACS whose access check answers as scripted (the real Orthanc is checked in test/pacs*.e2e-spec.ts). */
class ScriptedAccess {
  calls = 0;
  next: Error | undefined;
  release?: () => void;
  async checkAccess(): Promise<void> {
    this.calls++;
    if (this.release === undefined) await new Promise<void>((r) => (this.release = r)).then(() => (this.release = undefined));
    if (this.next) throw this.next;
  }
}

function setup(cacheMs: number) {
  const pacs = new ScriptedAccess();
  const lines: Array<Record<string, unknown>> = [];
  const readiness = new PacsReadiness(
    pacs as unknown as PacsClient,
    { ...DEFAULT_PACS_TIMING, readinessCacheMs: cacheMs },
    pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) }),
  );
  return { pacs, readiness, lines };
}

describe('PacsReadiness', () => {
  it('asks the PACS once for concurrent probes, caches the answer, and logs changes only', async () => {
    const { pacs, readiness, lines } = setup(60_000);
    const probes = [readiness.check(), readiness.check(), readiness.check()];
    await new Promise((r) => setImmediate(r));
    pacs.release!();
    const results = await Promise.all(probes);
    expect(pacs.calls).toBe(1);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(await readiness.check()).toBe(results[0]);
    expect(pacs.calls).toBe(1);
    expect(lines.map((l) => l.event)).toEqual(['pacs.ready']);
  });

  it('says not ready with the code and message of the failure, names no credential, and recovers', async () => {
    const { pacs, readiness, lines } = setup(0);
    const answer = async () => {
      const p = readiness.check();
      await new Promise((r) => setImmediate(r));
      pacs.release!();
      return p;
    };
    pacs.next = new LvsegError('unavailable', 'PACS_AUTH_FAILED', "Orthanc access check: the PACS refused lvseg's credentials (HTTP 401); check PACS_USERNAME and PACS_PASSWORD");
    expect(await answer()).toEqual({ ok: false, checkedAt: expect.any(String), code: 'PACS_AUTH_FAILED', message: expect.stringMatching(/^Orthanc access check: the PACS refused/) });
    expect(await answer()).toMatchObject({ ok: false, code: 'PACS_AUTH_FAILED' });
    pacs.next = new LvsegError('unavailable', 'PACS_UNREACHABLE', 'Orthanc access check: the PACS is unreachable (ECONNREFUSED)');
    expect(await answer()).toMatchObject({ ok: false, code: 'PACS_UNREACHABLE' });
    pacs.next = new Error('a bug');
    expect(await answer()).toMatchObject({ ok: false, code: 'PACS_CHECK_FAILED', message: 'the PACS check failed unexpectedly (logged)' });
    pacs.next = undefined;
    expect(await answer()).toMatchObject({ ok: true });
    // One line per change (the repeated auth failure is not logged twice), the unexpected error logged with its detail.
    expect(lines.map((l) => [l.event, l.code])).toEqual([
      ['pacs.not_ready', 'PACS_AUTH_FAILED'],
      ['pacs.not_ready', 'PACS_UNREACHABLE'],
      ['pacs.readiness_check_failed', undefined],
      ['pacs.not_ready', 'PACS_CHECK_FAILED'],
      ['pacs.ready', undefined],
    ]);
  });
});
