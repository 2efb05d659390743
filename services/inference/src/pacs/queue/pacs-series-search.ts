import { LvsegError } from '@lvseg/common';
import type { PacsConfig } from '@lvseg/config';
import type { SeriesRef } from '../client/pacs-client';

/** Which series of the archive a backfill takes. */
export interface SeriesSearchFilter {
  /** DICOM Modality (default MR; lvseg segments cardiac MR). */
  modality: string;
  /** Only studies from this day on (StudyDate range `YYYYMMDD-`). */
  since?: string;
}

export interface FoundSeries extends SeriesRef {
  modality?: string;
}

type DicomJson = Record<string, { Value?: unknown[] } | undefined>;

/** `2024-01-31` or `20240131` → `20240131`; a clear error otherwise. */
export function dicomDate(text: string): string {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(text.trim());
  const date = m ? new Date(`${m[1]}-${m[2]}-${m[3]}T00:00:00Z`) : undefined;
  if (!m || !date || Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== `${m[1]}-${m[2]}-${m[3]}`) {
    throw new LvsegError('invalid-input', 'INVALID_DATE', `--since must be a date (YYYY-MM-DD), got ${JSON.stringify(text)}`);
  }
  return `${m[1]}${m[2]}${m[3]}`;
}

/** The QIDO-RS query of one page (PS3.18 10.6): series level, matching Modality and StudyDate, paged by limit/offset. */
export function qidoSeriesUrl(dicomWebUrl: string, filter: SeriesSearchFilter, offset: number, limit: number): string {
  const q = new URLSearchParams({ Modality: filter.modality });
  if (filter.since) q.set('StudyDate', `${dicomDate(filter.since)}-`);
  q.set('includefield', '0020000D');
  q.set('limit', String(limit));
  q.set('offset', String(offset));
  return `${dicomWebUrl}/series?${q.toString()}`;
}

/**
 * Every series of the PACS matching `filter`, page by page (QIDO-RS), each once. Pages end at an empty one, not at a
 * short one: a PACS may cap a page below `limit` (Orthanc's LimitFindResults, a vendor maximum), and stopping at the
 * first short page would silently backfill only the start of the archive. A PACS that ignores `offset` (the same
 * series again) ends the search too. Errors name the operation, never a UID (they identify a patient's study).
 */
export async function* searchSeries(pacs: Pick<PacsConfig, 'dicomWebUrl' | 'credentials'>, filter: SeriesSearchFilter, pageSize = 500, fetchImpl: typeof fetch = fetch): AsyncGenerator<FoundSeries[]> {
  const headers: Record<string, string> = { Accept: 'application/dicom+json' };
  if (pacs.credentials) headers.Authorization = `Basic ${Buffer.from(`${pacs.credentials.username}:${pacs.credentials.password}`).toString('base64')}`;
  const seen = new Set<string>();
  for (let offset = 0; ; ) {
    let res: Response;
    try {
      res = await fetchImpl(qidoSeriesUrl(pacs.dicomWebUrl, filter, offset, pageSize), { headers, signal: AbortSignal.timeout(60_000) });
    } catch (e) {
      throw new LvsegError('unavailable', 'PACS_UNREACHABLE', `QIDO-RS series search: the PACS is unreachable (${(e as Error).name})`);
    }
    if (res.status === 204) return;
    if (res.status === 401 || res.status === 403) throw new LvsegError('unavailable', 'PACS_AUTH_FAILED', `QIDO-RS series search: the PACS refused lvseg's credentials (HTTP ${res.status})`);
    if (!res.ok) throw new LvsegError('unavailable', 'PACS_SERVER_ERROR', `QIDO-RS series search: HTTP ${res.status}`);
    const body = (await res.json()) as unknown;
    const found = Array.isArray(body) ? (body as DicomJson[]) : [];
    if (found.length === 0) return;
    const page: FoundSeries[] = [];
    let fresh = 0;
    for (const s of found) {
      const study = s['0020000D']?.Value?.[0];
      const series = s['0020000E']?.Value?.[0];
      if (typeof study !== 'string' || typeof series !== 'string') continue;
      if (seen.has(series)) continue;
      seen.add(series);
      fresh++;
      const modality = s['00080060']?.Value?.[0];
      page.push({ studyInstanceUid: study, seriesInstanceUid: series, ...(typeof modality === 'string' ? { modality } : {}) });
    }
    if (page.length > 0) yield page;
    // Nothing new in a whole page: the PACS repeats itself (ignores offset); there is no further page to read.
    if (fresh === 0 && found.some((s) => typeof s['0020000E']?.Value?.[0] === 'string')) return;
    offset += found.length;
  }
}
