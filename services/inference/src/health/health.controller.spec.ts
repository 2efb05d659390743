import { LvsegError, refusalOf } from '@lvseg/common';
import type { EngineChoice } from '../engine/engine-selection';
import { toHttpError } from '../http/http-error.filter';
import type { ModelRegistry } from '../models/model-registry.service';
import { HealthController } from './health.controller';
import type { ReadinessCheck, ReadinessResult } from './readiness-check';

/**
 * GET /health/ready composes the model with any number of named checks (the PACS bridge's pacs, and redis in Redis
 * mode): all run, concurrently; the 503 names every failing one. The real checks against a real Orthanc and
 * redis-server: pacs-readiness.spec, redis-readiness.spec, test/pacs*.e2e-spec.
 */
const engine: EngineChoice = { engine: 'tfjs', reason: 'LVSEG_ENGINE=tfjs', tfjsBackend: 'wasm' };
const loaded = { ready: true, defaultRef: 'production', version: 'unet-v1', architecture: 'unet-small', loadedAt: '2026-12-07T05:00:00.000Z', refused: [] };
const registryWith = (status: object) => ({ status: () => status }) as unknown as ModelRegistry;

/** A check whose verdict is scripted; `started` records the order the checks began in, `gate` holds them open. */
class ScriptedCheck implements ReadinessCheck {
  constructor(
    readonly name: string,
    public verdict: { ok: true } | { ok: false; code: string; message: string },
    private readonly started: string[] = [],
    private readonly gate: Promise<void> = Promise.resolve(),
  ) {}
  async check(): Promise<ReadinessResult> {
    this.started.push(this.name);
    await this.gate;
    return { ...this.verdict, checkedAt: '2026-12-07T06:00:00.000Z' };
  }
}

describe('HealthController GET /health/ready (composed checks)', () => {
  it('ready when the model is loaded and every check passes: each check under its name', async () => {
    const controller = new HealthController(registryWith(loaded), engine, [new ScriptedCheck('pacs', { ok: true }), new ScriptedCheck('redis', { ok: true })]);
    expect(await controller.ready()).toEqual({
      status: 'ready',
      defaultRef: 'production',
      version: 'unet-v1',
      architecture: 'unet-small',
      loadedAt: loaded.loadedAt,
      engine,
      pacs: { status: 'ok', checkedAt: '2026-12-07T06:00:00.000Z' },
      redis: { status: 'ok', checkedAt: '2026-12-07T06:00:00.000Z' },
    });
    // No PACS integration: no checks, the model alone.
    expect(Object.keys(await new HealthController(registryWith(loaded), engine).ready())).not.toContain('pacs');
  });

  it('one failing check: 503 with its code, "<name> not ready: <reason>", and every verdict in the body', async () => {
    const controller = new HealthController(registryWith(loaded), engine, [
      new ScriptedCheck('pacs', { ok: true }),
      new ScriptedCheck('redis', { ok: false, code: 'QUEUE_UNAVAILABLE', message: 'Redis is not connected (reconnecting; last error: connect ECONNREFUSED 10.0.0.7:6379)' }),
    ]);
    const answer = toHttpError(await refusalOf(controller.ready()));
    expect(answer).toMatchObject({ status: 503, code: 'QUEUE_UNAVAILABLE', message: 'redis not ready: Redis is not connected (reconnecting; last error: connect ECONNREFUSED 10.0.0.7:6379)', headers: { 'Retry-After': '5' }, unexpected: false });
    expect(answer.extra).toEqual({
      checks: {
        model: { status: 'ok', checkedAt: expect.any(String) },
        pacs: { status: 'ok', checkedAt: '2026-12-07T06:00:00.000Z' },
        redis: { status: 'failing', checkedAt: '2026-12-07T06:00:00.000Z', code: 'QUEUE_UNAVAILABLE', message: 'Redis is not connected (reconnecting; last error: connect ECONNREFUSED 10.0.0.7:6379)' },
      },
    });
  });

  it('several failing: the code of the first (model, then the checks in order), every reason in the message and the body', async () => {
    const notLoaded = { ready: false, defaultRef: 'production', lastPollError: 'STORE_UNREACHABLE: the model store did not answer', refused: [] };
    const pacs = new ScriptedCheck('pacs', { ok: false, code: 'PACS_UNREACHABLE', message: 'Orthanc access check: the PACS is unreachable (ECONNREFUSED)' });
    const redis = new ScriptedCheck('redis', { ok: false, code: 'QUEUE_UNAVAILABLE', message: 'Redis did not answer within 2000 ms (PING)' });
    const e = await refusalOf(new HealthController(registryWith(notLoaded), engine, [pacs, redis]).ready());
    expect([e.code, e.message]).toEqual([
      'MODEL_NOT_READY',
      'no model loaded yet for "production" (STORE_UNREACHABLE: the model store did not answer); pacs not ready: Orthanc access check: the PACS is unreachable (ECONNREFUSED); redis not ready: Redis did not answer within 2000 ms (PING)',
    ]);
    const checks = (toHttpError(e).extra as { checks: Record<string, { status: string; code?: string }> }).checks;
    expect(Object.entries(checks).map(([name, v]) => [name, v.status, v.code])).toEqual([
      ['model', 'failing', 'MODEL_NOT_READY'],
      ['pacs', 'failing', 'PACS_UNREACHABLE'],
      ['redis', 'failing', 'QUEUE_UNAVAILABLE'],
    ]);
    // The model loaded, the PACS back: the code is Redis's.
    const e2 = await refusalOf(new HealthController(registryWith(loaded), engine, [new ScriptedCheck('pacs', { ok: true }), redis]).ready());
    expect([e2.code, e2.message]).toEqual(['QUEUE_UNAVAILABLE', 'redis not ready: Redis did not answer within 2000 ms (PING)']);
  });

  it('runs the checks concurrently: a slow one does not hold the others back', async () => {
    const started: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const controller = new HealthController(registryWith(loaded), engine, [new ScriptedCheck('pacs', { ok: true }, started, gate), new ScriptedCheck('redis', { ok: true }, started, gate)]);
    const answer = controller.ready();
    await new Promise((r) => setImmediate(r));
    // Both started before either finished: the probe's time is the slowest check's, not their sum.
    expect(started).toEqual(['pacs', 'redis']);
    open();
    expect(await answer).toMatchObject({ status: 'ready' });
  });

  it('the error layer shows the extra fields of a 503 only, never of a 500', () => {
    expect(toHttpError(new LvsegError('unavailable', 'X', 'y', { answer: { checks: {} } })).extra).toEqual({ checks: {} });
    expect(toHttpError(new LvsegError('config', 'X', 'y', { answer: { secret: 'no' } })).extra).toBeUndefined();
  });
});
