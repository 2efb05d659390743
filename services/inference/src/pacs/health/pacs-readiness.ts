import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { CachedReadinessCheck } from '../../health/readiness-check';
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
export class PacsReadiness extends CachedReadinessCheck {
  constructor(@Inject(PACS_CLIENT) pacs: PacsClient, @Inject(PACS_TIMING) timing: PacsTiming, @Inject(APP_LOGGER) log: Logger) {
    super(
      'pacs',
      () => pacs.checkAccess(timing.readinessTimeoutMs),
      {
        cacheMs: timing.readinessCacheMs,
        readyMessage: 'the PACS answers with lvseg’s credentials: ready',
        unexpected: { code: 'PACS_CHECK_FAILED', message: 'the PACS check failed unexpectedly (logged)' },
      },
      log,
    );
  }
}
