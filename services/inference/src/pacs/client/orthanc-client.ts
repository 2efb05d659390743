import { LvsegError } from '@lvseg/common';
import { boundaryOf, buildMultipartRelated, parseMultipart } from '@lvseg/dicom';
import type { PacsConfig } from '@lvseg/config';
import type { PacsChange, PacsChangeFeed, PacsClient, PacsSeriesStatus, PacsStoreResult, SeriesRef } from './pacs-client';

/** Codes of PACS errors that a later attempt may not hit (the PACS is down, busy, or answered garbage). */
export const RETRYABLE_PACS_CODES = new Set(['PACS_UNREACHABLE', 'PACS_TIMEOUT', 'PACS_SERVER_ERROR', 'PACS_BAD_MULTIPART', 'PACS_BAD_ANSWER']);

type DicomJson = Record<string, { vr?: string; Value?: unknown[] } | undefined>;

interface RequestOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: Buffer | string;
  timeoutMs?: number;
  /** 404 answers `undefined` instead of throwing. */
  allowNotFound?: boolean;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const RETRIEVE_TIMEOUT_MS = 120_000;

/**
 * Orthanc as lvseg's PACS: DICOMweb for finding (QIDO-RS), fetching (WADO-RS) and storing (STOW-RS); the REST API for
 * series completeness (`IsStable`) and the change log (`/changes`). Error messages name the operation, never a UID
 * or URL path (those identify a patient's study).
 */
export class OrthancClient implements PacsClient, PacsChangeFeed {
  private readonly auth?: string;
  /** Orthanc series id → UIDs (Orthanc ids are stable hashes of the UIDs). */
  private readonly seriesCache = new Map<string, SeriesRef & { modality?: string }>();

  constructor(
    private readonly config: Pick<PacsConfig, 'url' | 'dicomWebUrl' | 'credentials'>,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    if (config.credentials) this.auth = `Basic ${Buffer.from(`${config.credentials.username}:${config.credentials.password}`).toString('base64')}`;
  }

  async seriesExists(studyInstanceUid: string, seriesInstanceUid: string): Promise<boolean> {
    const url = `${this.config.dicomWebUrl}/studies/${encodeURIComponent(studyInstanceUid)}/series?SeriesInstanceUID=${encodeURIComponent(seriesInstanceUid)}`;
    const res = await this.request('QIDO-RS series search', url, { headers: { Accept: 'application/dicom+json' }, allowNotFound: true });
    if (!res || res.status === 204) return false;
    const found = (await this.json<DicomJson[]>('QIDO-RS series search', res)) ?? [];
    return Array.isArray(found) && found.some((s) => s['0020000E']?.Value?.[0] === seriesInstanceUid);
  }

  async seriesStatus(ref: SeriesRef): Promise<PacsSeriesStatus> {
    const id = await this.orthancSeriesId(ref);
    if (!id) return { exists: false, complete: false };
    const res = await this.request('Orthanc series status', `${this.config.url}/series/${id}`, { allowNotFound: true });
    if (!res) return { exists: false, complete: false };
    const s = await this.json<{ IsStable?: boolean; Instances?: unknown[]; MainDicomTags?: Record<string, string> }>('Orthanc series status', res);
    if (s.MainDicomTags?.Modality) this.remember(id, { ...ref, modality: s.MainDicomTags.Modality });
    return { exists: true, complete: s.IsStable === true, modality: s.MainDicomTags?.Modality, instanceCount: s.Instances?.length };
  }

  async retrieveSeries(ref: SeriesRef): Promise<Buffer[]> {
    const url = `${this.config.dicomWebUrl}/studies/${encodeURIComponent(ref.studyInstanceUid)}/series/${encodeURIComponent(ref.seriesInstanceUid)}`;
    const res = await this.request('WADO-RS series retrieve', url, {
      // The stored transfer syntax as it is (PS3.18 8.7.3.5.2 "*"): lvseg decodes RLE, JPEG, JPEG-LS, JPEG 2000 and
      // HTJ2K itself (decodeDicomImage). Asking for Explicit VR Little Endian made the PACS transcode, which Debian's
      // Orthanc cannot do for JPEG 2000 (HTTP 500 on every attempt), and would decompress lossy data once more.
      headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
      timeoutMs: RETRIEVE_TIMEOUT_MS,
      allowNotFound: true,
    });
    if (!res) return [];
    const boundary = boundaryOf(res.headers.get('content-type'));
    if (!boundary) throw new LvsegError('unavailable', 'PACS_BAD_ANSWER', 'WADO-RS series retrieve: the answer is not multipart/related');
    const body = Buffer.from(await this.body('WADO-RS series retrieve', res));
    return parseMultipart(body, boundary).map((p) => Buffer.from(p.body));
  }

  async store(studyInstanceUid: string, instances: Buffer[]): Promise<PacsStoreResult> {
    const { body, contentType } = buildMultipartRelated(instances);
    const res = await this.request('STOW-RS store', `${this.config.dicomWebUrl}/studies/${encodeURIComponent(studyInstanceUid)}`, {
      method: 'POST',
      headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' },
      body,
      timeoutMs: RETRIEVE_TIMEOUT_MS,
    });
    const answer = (await this.json<DicomJson>('STOW-RS store', res)) ?? {};
    const items = (tag: string) => (Array.isArray(answer[tag]?.Value) ? (answer[tag]!.Value as DicomJson[]) : []);
    return {
      stored: items('00081199').map((i) => String(i['00081155']?.Value?.[0] ?? '')).filter((u) => u !== ''),
      failed: items('00081198').map((i) => ({
        sopInstanceUid: i['00081155']?.Value?.[0] as string | undefined,
        reason: i['00081197']?.Value?.[0] as number | undefined,
      })),
    };
  }

  async checkAccess(timeoutMs: number): Promise<void> {
    // GET /system: answers only with valid credentials (AuthenticationEnabled), and tells nothing about patients.
    const res = await this.request('Orthanc access check', `${this.config.url}/system`, { timeoutMs });
    await this.json<unknown>('Orthanc access check', res);
  }

  async latestSeq(): Promise<number> {
    const res = await this.request('Orthanc changes', `${this.config.url}/changes?last`);
    const body = await this.json<{ Last?: number }>('Orthanc changes', res);
    return typeof body.Last === 'number' ? body.Last : 0;
  }

  async changes(since: number, limit: number): Promise<{ changes: PacsChange[]; last: number; done: boolean }> {
    const res = await this.request('Orthanc changes', `${this.config.url}/changes?since=${since}&limit=${limit}`);
    const body = await this.json<{ Changes?: Array<{ Seq: number; ChangeType: string; ResourceType: string; ID: string }>; Last?: number; Done?: boolean }>('Orthanc changes', res);
    if (!Array.isArray(body.Changes) || typeof body.Last !== 'number') throw new LvsegError('unavailable', 'PACS_BAD_ANSWER', 'Orthanc changes: unexpected answer');
    return {
      changes: body.Changes.map((c) => ({ seq: c.Seq, type: c.ChangeType, resourceType: c.ResourceType, pacsId: c.ID })),
      last: body.Last,
      done: body.Done === true,
    };
  }

  async seriesOfChange(change: PacsChange): Promise<(SeriesRef & { modality?: string }) | undefined> {
    if (change.resourceType !== 'Series') return undefined;
    const cached = this.seriesCache.get(change.pacsId);
    if (cached?.modality) return cached;
    const res = await this.request('Orthanc series', `${this.config.url}/series/${encodeURIComponent(change.pacsId)}`, { allowNotFound: true });
    if (!res) return undefined;
    const series = await this.json<{ ParentStudy?: string; MainDicomTags?: Record<string, string> }>('Orthanc series', res);
    if (!series.ParentStudy || !series.MainDicomTags?.SeriesInstanceUID) return undefined;
    const studyRes = await this.request('Orthanc study', `${this.config.url}/studies/${encodeURIComponent(series.ParentStudy)}`, { allowNotFound: true });
    if (!studyRes) return undefined;
    const study = await this.json<{ MainDicomTags?: Record<string, string> }>('Orthanc study', studyRes);
    if (!study.MainDicomTags?.StudyInstanceUID) return undefined;
    const ref = { studyInstanceUid: study.MainDicomTags.StudyInstanceUID, seriesInstanceUid: series.MainDicomTags.SeriesInstanceUID, modality: series.MainDicomTags.Modality };
    this.remember(change.pacsId, ref);
    return ref;
  }

  /** Orthanc's id of a series, by UID (`POST /tools/lookup`). */
  private async orthancSeriesId(ref: SeriesRef): Promise<string | undefined> {
    for (const [id, r] of this.seriesCache) if (r.seriesInstanceUid === ref.seriesInstanceUid && r.studyInstanceUid === ref.studyInstanceUid) return id;
    const res = await this.request('Orthanc lookup', `${this.config.url}/tools/lookup`, { method: 'POST', body: ref.seriesInstanceUid, headers: { 'Content-Type': 'text/plain' } });
    const found = await this.json<Array<{ ID: string; Type: string }>>('Orthanc lookup', res);
    const hit = Array.isArray(found) ? found.find((f) => f.Type === 'Series') : undefined;
    if (hit) this.remember(hit.ID, ref);
    return hit?.ID;
  }

  private remember(id: string, ref: SeriesRef & { modality?: string }): void {
    this.seriesCache.set(id, ref);
    if (this.seriesCache.size > 1000) this.seriesCache.delete(this.seriesCache.keys().next().value as string);
  }

  private request(operation: string, url: string, opts: RequestOptions & { allowNotFound: true }): Promise<Response | undefined>;
  private request(operation: string, url: string, opts?: RequestOptions): Promise<Response>;
  private async request(operation: string, url: string, opts: RequestOptions = {}): Promise<Response | undefined> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (this.auth) headers.Authorization = this.auth;
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method: opts.method ?? 'GET',
        headers,
        body: opts.body,
        signal: AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      if (err.name === 'TimeoutError' || err.name === 'AbortError') {
        throw new LvsegError('unavailable', 'PACS_TIMEOUT', `${operation}: the PACS did not answer within ${Math.round((opts.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000)} s`);
      }
      throw new LvsegError('unavailable', 'PACS_UNREACHABLE', `${operation}: the PACS is unreachable (${err.cause?.code ?? err.message})`);
    }
    if (res.ok) return res;
    await res.arrayBuffer().catch(() => undefined); // free the connection
    if (res.status === 404 && opts.allowNotFound) return undefined;
    throw statusError(operation, res.status);
  }

  private async body(operation: string, res: Response): Promise<ArrayBuffer> {
    try {
      return await res.arrayBuffer();
    } catch (e) {
      throw new LvsegError('unavailable', 'PACS_UNREACHABLE', `${operation}: the answer was cut off (${(e as Error).message})`);
    }
  }

  private async json<T>(operation: string, res: Response): Promise<T> {
    const text = Buffer.from(await this.body(operation, res)).toString('utf8');
    if (text.trim() === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new LvsegError('unavailable', 'PACS_BAD_ANSWER', `${operation}: the answer is not JSON`);
    }
  }
}

function statusError(operation: string, status: number): LvsegError {
  if (status === 401 || status === 403) {
    return new LvsegError('unavailable', 'PACS_AUTH_FAILED', `${operation}: the PACS refused lvseg's credentials (HTTP ${status}); check PACS_USERNAME and PACS_PASSWORD`);
  }
  if (status === 404) return new LvsegError('not-found', 'PACS_NOT_FOUND', `${operation}: not found in the PACS (HTTP 404)`);
  if (status === 408 || status === 429 || status >= 500) return new LvsegError('unavailable', 'PACS_SERVER_ERROR', `${operation}: the PACS answered HTTP ${status}`);
  return new LvsegError('invalid-input', 'PACS_REFUSED', `${operation}: the PACS refused the request (HTTP ${status})`);
}
