import { LvsegError } from '@lvseg/common';
import { isUidLike } from '@lvseg/dicom';

/** What a PACS tells lvseg: an instance was stored, or a series became stable. */
export interface PacsWebhookEvent {
  /** Unique per event (replays of the same id are refused). */
  id: string;
  kind: 'instance.stored' | 'series.stable';
  resource: {
    type: 'instance' | 'series';
    /** The PACS's own id of the resource (Orthanc id), for humans reading the job. */
    pacsId?: string;
    studyInstanceUid: string;
    seriesInstanceUid: string;
    sopInstanceUid?: string;
    modality?: string;
  };
}

const EVENT_ID = /^[A-Za-z0-9._:-]{1,160}$/;
const PACS_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const MODALITY = /^[A-Z0-9 _]{1,16}$/;

function bad(message: string): LvsegError {
  return new LvsegError('invalid-input', 'WEBHOOK_EVENT_INVALID', message);
}

/** Parses and validates a webhook body (JSON); throws a 400 `WEBHOOK_EVENT_INVALID` naming the first problem. */
export function parseWebhookEvent(raw: Buffer): PacsWebhookEvent {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw bad('the body is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('the body must be a JSON object');
  const e = body as Record<string, unknown>;
  if (typeof e.id !== 'string' || !EVENT_ID.test(e.id)) throw bad('"id" must be a token of 1–160 characters [A-Za-z0-9._:-]');
  if (e.kind !== 'instance.stored' && e.kind !== 'series.stable') throw bad('"kind" must be "instance.stored" or "series.stable"');
  const r = e.resource as Record<string, unknown> | undefined;
  if (typeof r !== 'object' || r === null) throw bad('"resource" must be an object');
  const type = r.type ?? (e.kind === 'instance.stored' ? 'instance' : 'series');
  if (type !== 'instance' && type !== 'series') throw bad('"resource.type" must be "instance" or "series"');
  for (const key of ['studyInstanceUid', 'seriesInstanceUid'] as const) if (!isUidLike(r[key])) throw bad(`"resource.${key}" must be a DICOM UID`);
  if (r.sopInstanceUid !== undefined && !isUidLike(r.sopInstanceUid)) throw bad('"resource.sopInstanceUid" must be a DICOM UID');
  if (r.pacsId !== undefined && (typeof r.pacsId !== 'string' || !PACS_ID.test(r.pacsId))) throw bad('"resource.pacsId" must be a token of 1–128 characters');
  if (r.modality !== undefined && (typeof r.modality !== 'string' || !MODALITY.test(r.modality))) throw bad('"resource.modality" must be a DICOM modality code');
  return {
    id: e.id,
    kind: e.kind,
    resource: {
      type,
      ...(r.pacsId !== undefined ? { pacsId: r.pacsId as string } : {}),
      studyInstanceUid: r.studyInstanceUid as string,
      seriesInstanceUid: r.seriesInstanceUid as string,
      ...(r.sopInstanceUid !== undefined ? { sopInstanceUid: r.sopInstanceUid as string } : {}),
      ...(r.modality !== undefined ? { modality: r.modality as string } : {}),
    },
  };
}
