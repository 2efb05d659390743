import type { Command } from 'commander';
import pino from 'pino';
import { LvsegError } from '@lvseg/common';
import type { LvsegConfig } from '@lvseg/config';
import { openConfiguredStore } from '@lvseg/model-store';
import { BackfillJobsProgress, backfillSeries, waitForJobs } from '../../../inference/src/pacs/queue/backfill';
import { BullmqSeriesJobQueue } from '../../../inference/src/pacs/queue/bullmq-series-job-queue';
import { dicomDate, searchSeries } from '../../../inference/src/pacs/queue/pacs-series-search';
import { startSeriesWorker, workerSettings } from '../../../inference/src/pacs/queue/series-worker';

/** Resolves at the first SIGINT or SIGTERM (a second one exits at once). */
function stopSignal(): AbortController {
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (stop.signal.aborted) process.exit(130);
    process.stderr.write(`${sig}: stopping (again to exit at once)\n`);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return stop;
}

const jobsLine = (p: BackfillJobsProgress, startedMs: number): string => {
  const finished = p.done + p.skipped + p.failed;
  const minutes = (performance.now() - startedMs) / 60_000;
  return `backfill: ${finished}/${p.total} finished (${p.done} segmented, ${p.skipped} skipped, ${p.failed} failed), ${p.open} open; ${minutes > 0 ? (finished / minutes).toFixed(1) : '0'} series/min`;
};

/** `lvseg worker` and `lvseg backfill`: the Redis series queue (docs/SCALING.md). */
export function registerQueueCommands(program: Command, config: LvsegConfig): void {
  program
    .command('worker')
    .description('segment PACS series from the Redis job queue (LVSEG_REDIS_URL, PACS_URL); any number of workers on any machines; stops on SIGTERM after the running series')
    .action(async () => {
      const stop = stopSignal();
      const worker = await startSeriesWorker({ config });
      await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
      await worker.close();
    });

  program
    .command('backfill')
    .description('queue every matching series of the PACS (QIDO-RS) for a model version; stoppable (Ctrl-C) and resumable (already queued series are skipped)')
    .requiredOption('--model <ref>', 'model version or alias (resolved once: every job names the version)')
    .option('--since <date>', 'only studies from this date (YYYY-MM-DD)')
    .option('--modality <code>', 'DICOM modality of the series', 'MR')
    .option('--dry-run', 'count what would be queued; queue nothing', false)
    .option('--retry-failed', 'run the dead jobs of this version again (their reason is in GET /jobs/:id)', false)
    .option('--wait', 'then follow the jobs until every one is finished', false)
    .action(async (o: { model: string; since?: string; modality: string; dryRun: boolean; retryFailed: boolean; wait: boolean }) => {
      if (o.since) dicomDate(o.since); // refused before anything is asked of the PACS
      if (!/^[A-Z]{2}$/.test(o.modality)) throw new LvsegError('invalid-input', 'INVALID_MODALITY', `--modality must be a DICOM modality code (two capital letters, e.g. MR), got ${JSON.stringify(o.modality)}`);
      const { queue: queueConfig, pacs } = workerSettings(config);
      const store = openConfiguredStore(config);
      const modelVersion = await store.resolve(o.model);
      const log = pino({ level: 'warn', base: { service: 'lvseg-backfill' } });
      const queue = new BullmqSeriesJobQueue(queueConfig, async () => modelVersion, log);
      const stop = stopSignal();
      const started = performance.now();
      try {
        process.stderr.write(`backfill: model ${o.model} = ${modelVersion}, ${o.modality} series${o.since ? ` of studies since ${o.since}` : ''}, queue ${queueConfig.queueName}${o.dryRun ? ' (dry run)' : ''}\n`);
        const r = await backfillSeries(queue, searchSeries(pacs, { modality: o.modality, ...(o.since ? { since: o.since } : {}) }), {
          modelVersion,
          dryRun: o.dryRun,
          retryFailed: o.retryFailed,
          signal: stop.signal,
          onProgress: (p) => process.stderr.write(`backfill: ${p.found} series found, ${p.queued} ${o.dryRun ? 'would be queued' : 'queued'}, ${p.alreadyQueued} already queued${o.retryFailed ? `, ${p.retried} dead ones retried` : ''}\n`),
        });
        const verb = o.dryRun ? 'would queue' : 'queued';
        process.stdout.write(`${r.stopped ? 'stopped: ' : ''}${r.found} series found, ${verb} ${r.queued}, ${r.alreadyQueued} already queued for ${modelVersion}${o.retryFailed ? `, ${r.retried} dead ones ${o.dryRun ? 'would be ' : ''}retried` : ''}\n`);
        if (r.stopped) process.stdout.write('run the same command again to resume (series already queued are skipped)\n');
        if (o.wait && !o.dryRun && !r.stopped) {
          const p = await waitForJobs(queue, r.jobIds, { signal: stop.signal, onProgress: (x) => process.stderr.write(`${jobsLine(x, started)}\n`) });
          process.stdout.write(`${jobsLine(p, started)}\n`);
          if (p.open > 0 && stop.signal.aborted) process.stdout.write('stopped following the jobs (they run on); the same command with --wait follows them again\n');
          if (p.failed > 0) process.exitCode = 1;
        }
      } finally {
        await queue.onApplicationShutdown();
      }
    });
}
