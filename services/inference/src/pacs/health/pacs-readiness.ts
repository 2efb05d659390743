import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { isLvsegError } from '@lvseg/common';
import type { ReadinessCheck, ReadinessResult } from '../../health/readiness-check';
import { APP_LOGGER } from '../../tokens';
import type { PacsClient } from '../client/pacs-client';
import { PACS_CLIENT, PACS_TIMING } from '../pacs.tokens';
import type { PacsTiming } from '../jobs/pacs-jobs.service';

/**
 * The PACS bridge is ready only while the PACS answers with lvseg's credentials: a stopped or unreachable PACS, or
 * wrong PACS_USERNAME/PACS_PASSWORD, make GET /health/ready answer 503 with the reason (the operation and the HTTP
 * status or network error; never a credential). Checked at most every `readinessCacheMs` (probes come every few
 * seconds), one check at a time, each bounded by `readinessTimeoutMs` so the probe answers within its timeout.
 */
@Injectable()
export class PacsReadiness implements ReadinessCheck {
  readonly name = 'pacs';
  private last?: { at: number; result: ReadinessResult };
  private inFlight?: Promise<ReadinessResult>;

  constructor(
    @Inject(PACS_CLIENT) private readonly pacs: PacsClient,
    @Inject(PACS_TIMING) private readonly timing: PacsTiming,
    @Inject(APP_LOGGER) private readonly log: Logger,
  ) {}

  check(): Promise<ReadinessResult> {
    if (this.last && Date.now() - this.last.at < this.timing.readinessCacheMs) return Promise.resolve(this.last.result);
    this.inFlight ??= this.run().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async run(): Promise<ReadinessResult> {
    const checkedAt = new Date().toISOString();
    let result: ReadinessResult;
    try {
      await this.pacs.checkAccess(this.timing.readinessTimeoutMs);
      result = { ok: true, checkedAt };
    } catch (e) {
      result = isLvsegError(e) ? { ok: false, checkedAt, code: e.code, message: e.message } : { ok: false, checkedAt, code: 'PACS_CHECK_FAILED', message: 'the PACS check failed unexpectedly (logged)' };
      if (!isLvsegError(e)) this.log.error({ event: 'pacs.readiness_check_failed', err: e }, 'the PACS readiness check failed unexpectedly');
    }
    // Log changes only, not every probe.
    const before = this.last?.result;
    if (!before || before.ok !== result.ok || (!before.ok && !result.ok && before.code !== result.code)) {
      if (result.ok) this.log.info({ event: 'pacs.ready' }, 'the PACS answers with lvseg’s credentials: ready');
      else this.log.warn({ event: 'pacs.not_ready', code: result.code }, `not ready: ${result.message}`);
    }
    this.last = { at: Date.now(), result };
    return result;
  }
}
