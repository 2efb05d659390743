import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LvsegError } from '@lvseg/common';
import type { SeriesRef } from '../client/pacs-client';
import type { PacsJobView } from '../jobs/pacs-job';

/** How a series came to lvseg's attention. */
export type PacsTriggerSource = 'webhook' | 'change-feed' | 'resume' | 'retry';

/** A series lvseg has promised to process: kept until it is done, so a restart resumes it. */
export interface PendingSeries extends SeriesRef {
  source: PacsTriggerSource;
  since: string;
  /** Failed runs so far (each run retries transient errors itself). */
  failures: number;
  /** Not retried before this time (ISO 8601) after a failed run. */
  retryAfter?: string;
}

/**
 * What the PACS integration must remember across restarts: the change-feed cursor, the series promised but not yet
 * done, the series already segmented (per model version), and recent webhook event ids (replay window).
 */
export interface PacsStateStore {
  /** The change-feed cursor, undefined before the first run. */
  cursor(): number | undefined;
  setCursor(seq: number): void;
  pending(): PendingSeries[];
  /** Adds a series (no-op when already pending). */
  addPending(p: PendingSeries): void;
  updatePending(seriesInstanceUid: string, patch: Partial<Pick<PendingSeries, 'failures' | 'retryAfter'>>): void;
  removePending(seriesInstanceUid: string): void;
  isProcessed(seriesInstanceUid: string, modelVersion: string): boolean;
  markProcessed(seriesInstanceUid: string, modelVersion: string): void;
  /** Records a webhook event id until `expiresAtMs`; false when it is already recorded (a replay). */
  rememberEvent(id: string, expiresAtMs: number, nowMs: number): boolean;
  /** Every job record kept (GET /jobs/:id and GET /jobs?study=&series= answer from them after a restart too). */
  jobRecords(): PacsJobView[];
  /** Writes (or replaces) a job's record. */
  saveJobRecord(job: PacsJobView): void;
  deleteJobRecord(id: string): void;
}

interface StateFile {
  version: 1;
  cursor?: number;
  pending: PendingSeries[];
  /** Webhook event id → expiry (ms since epoch). */
  seenEvents: Record<string, number>;
}

const processedKey = (series: string, version: string): string => `${series} ${version}`;

/** In-memory state (for specs, and the base of the file store). */
export class MemoryPacsStateStore implements PacsStateStore {
  protected state: StateFile = { version: 1, pending: [], seenEvents: {} };
  protected readonly processed = new Set<string>();
  protected readonly records = new Map<string, PacsJobView>();

  cursor(): number | undefined {
    return this.state.cursor;
  }

  setCursor(seq: number): void {
    if (this.state.cursor === seq) return;
    this.state.cursor = seq;
    this.persist();
  }

  pending(): PendingSeries[] {
    return this.state.pending.map((p) => ({ ...p }));
  }

  addPending(p: PendingSeries): void {
    if (this.state.pending.some((x) => x.seriesInstanceUid === p.seriesInstanceUid)) return;
    this.state.pending.push({ ...p });
    this.persist();
  }

  updatePending(seriesInstanceUid: string, patch: Partial<Pick<PendingSeries, 'failures' | 'retryAfter'>>): void {
    const p = this.state.pending.find((x) => x.seriesInstanceUid === seriesInstanceUid);
    if (!p) return;
    Object.assign(p, patch);
    this.persist();
  }

  removePending(seriesInstanceUid: string): void {
    const before = this.state.pending.length;
    this.state.pending = this.state.pending.filter((x) => x.seriesInstanceUid !== seriesInstanceUid);
    if (this.state.pending.length !== before) this.persist();
  }

  isProcessed(seriesInstanceUid: string, modelVersion: string): boolean {
    return this.processed.has(processedKey(seriesInstanceUid, modelVersion));
  }

  markProcessed(seriesInstanceUid: string, modelVersion: string): void {
    const key = processedKey(seriesInstanceUid, modelVersion);
    if (this.processed.has(key)) return;
    this.processed.add(key);
    this.appendProcessed(key);
  }

  rememberEvent(id: string, expiresAtMs: number, nowMs: number): boolean {
    for (const [k, exp] of Object.entries(this.state.seenEvents)) if (exp <= nowMs) delete this.state.seenEvents[k];
    if (this.state.seenEvents[id] !== undefined) return false;
    this.state.seenEvents[id] = expiresAtMs;
    this.persist();
    return true;
  }

  jobRecords(): PacsJobView[] {
    return [...this.records.values()].map((r) => structuredClone(r));
  }

  saveJobRecord(job: PacsJobView): void {
    this.records.set(job.id, structuredClone(job));
    this.writeJobRecord(job);
  }

  deleteJobRecord(id: string): void {
    if (this.records.delete(id)) this.removeJobRecord(id);
  }

  protected writeJobRecord(_job: PacsJobView): void {
    /* memory only */
  }

  protected removeJobRecord(_id: string): void {
    /* memory only */
  }

  protected persist(): void {
    /* memory only */
  }

  protected appendProcessed(_key: string): void {
    /* memory only */
  }
}

/**
 * The state in `dir`: `state.json` (cursor, pending series, recent webhook event ids; rewritten atomically through a
 * temporary file and a rename), `jobs/<job id>.json` (one record per job, replaced atomically) and `processed.log` (one "SeriesInstanceUID modelVersion" line per series segmented;
 * append-only, so it stays cheap as it grows). Writes are synchronous: each is small, and the order of writes is the
 * order of events.
 */
export class FilePacsStateStore extends MemoryPacsStateStore {
  private readonly statePath: string;
  private readonly processedPath: string;
  private readonly jobsDir: string;

  constructor(readonly dir: string) {
    super();
    mkdirSync(dir, { recursive: true });
    this.statePath = join(dir, 'state.json');
    this.processedPath = join(dir, 'processed.log');
    this.jobsDir = join(dir, 'jobs');
    mkdirSync(this.jobsDir, { recursive: true });
    for (const name of readdirSync(this.jobsDir)) {
      if (!/^[0-9a-f-]{36}\.json$/.test(name)) continue; // temporary files of a write cut short by a crash
      try {
        const job = JSON.parse(readFileSync(join(this.jobsDir, name), 'utf8')) as PacsJobView;
        if (typeof job.id === 'string' && typeof job.state === 'string' && job.series) this.records.set(job.id, job);
      } catch {
        // A record cut short cannot be trusted; the work it stood for is in state.json (pending) or processed.log.
      }
    }
    if (existsSync(this.statePath)) {
      try {
        const parsed = JSON.parse(readFileSync(this.statePath, 'utf8')) as StateFile;
        if (parsed.version !== 1 || !Array.isArray(parsed.pending)) throw new Error('unknown layout');
        this.state = { version: 1, cursor: typeof parsed.cursor === 'number' ? parsed.cursor : undefined, pending: parsed.pending, seenEvents: parsed.seenEvents ?? {} };
      } catch (e) {
        // Starting over would move the cursor to "now" and skip whatever happened meanwhile: an operator decides.
        throw new LvsegError('config', 'PACS_STATE_UNREADABLE', `${this.statePath} is not a readable lvseg PACS state (${(e as Error).message}); fix or remove it`);
      }
    }
    if (existsSync(this.processedPath)) {
      for (const line of readFileSync(this.processedPath, 'utf8').split('\n')) {
        // A line cut short by a crash has no version part and is ignored (that series is processed again, idempotently).
        if (/^\S+ \S+$/.test(line)) this.processed.add(line);
      }
    }
  }

  protected override persist(): void {
    const tmp = `${this.statePath}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state));
    renameSync(tmp, this.statePath);
  }

  /** One file per job (`jobs/<id>.json`), replaced atomically: a crash leaves the previous version or the new one. */
  protected override writeJobRecord(job: PacsJobView): void {
    const path = join(this.jobsDir, `${job.id}.json`);
    writeFileSync(`${path}.tmp`, JSON.stringify(job));
    renameSync(`${path}.tmp`, path);
  }

  protected override removeJobRecord(id: string): void {
    rmSync(join(this.jobsDir, `${id}.json`), { force: true });
  }

  protected override appendProcessed(key: string): void {
    appendFileSync(this.processedPath, `${key}\n`);
  }
}
