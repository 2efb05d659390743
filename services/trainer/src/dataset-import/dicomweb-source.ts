import { LvsegError } from '@lvseg/common';
import { boundaryOf, parseMultipart } from '@lvseg/dicom';
import type { LabelObjectSource } from './import-dataset';

type DicomJson = Record<string, { Value?: unknown[] } | undefined>;

/** The label modalities an import asks the PACS for (QIDO-RS, series level). */
const LABEL_MODALITIES = ['SEG', 'RTSTRUCT'];
const TIMEOUT_MS = 120_000;

/**
 * A PACS over DICOMweb: QIDO-RS finds the SEG and RTSTRUCT series, WADO-RS fetches them and the series they label
 * (as Explicit VR Little Endian, which the PACS transcodes to where it can). Messages name the operation, never a UID.
 */
export function dicomWebSource(baseUrl: string, opts: { credentials?: { username: string; password: string }; fetchImpl?: typeof fetch } = {}): LabelObjectSource {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new LvsegError('invalid-input', 'IMPORT_PACS_URL', `--from-pacs must be a DICOMweb base URL (http[s]://host/dicom-web), got "${baseUrl}"`);
  }
  if (!/^https?:$/.test(url.protocol) || url.username || url.password) {
    throw new LvsegError('invalid-input', 'IMPORT_PACS_URL', '--from-pacs must be an http(s) DICOMweb base URL without credentials (set PACS_USERNAME and PACS_PASSWORD)');
  }
  const base = baseUrl.replace(/\/+$/, '');
  const doFetch = opts.fetchImpl ?? fetch;
  const auth = opts.credentials ? `Basic ${Buffer.from(`${opts.credentials.username}:${opts.credentials.password}`).toString('base64')}` : undefined;

  const get = async (operation: string, path: string, accept: string): Promise<Response | undefined> => {
    let res: Response;
    try {
      res = await doFetch(base + path, { headers: { Accept: accept, ...(auth ? { Authorization: auth } : {}) }, signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (e) {
      throw new LvsegError('unavailable', 'PACS_UNREACHABLE', `${operation}: the PACS is unreachable (${(e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).name})`);
    }
    if (res.status === 404 || res.status === 204) {
      await res.arrayBuffer().catch(() => undefined);
      return undefined;
    }
    if (!res.ok) {
      await res.arrayBuffer().catch(() => undefined);
      if (res.status === 401 || res.status === 403) throw new LvsegError('unavailable', 'PACS_AUTH_FAILED', `${operation}: the PACS refused the credentials (HTTP ${res.status}); check PACS_USERNAME and PACS_PASSWORD`);
      throw new LvsegError('unavailable', 'PACS_SERVER_ERROR', `${operation}: the PACS answered HTTP ${res.status}`);
    }
    return res;
  };
  const qido = async (query: string): Promise<Array<{ study: string; series: string }>> => {
    const res = await get('QIDO-RS series search', `/series?${query}`, 'application/dicom+json');
    if (!res) return [];
    const text = await res.text();
    let found: DicomJson[];
    try {
      found = text.trim() === '' ? [] : (JSON.parse(text) as DicomJson[]);
    } catch {
      throw new LvsegError('unavailable', 'PACS_BAD_ANSWER', 'QIDO-RS series search: the answer is not JSON');
    }
    return (Array.isArray(found) ? found : [])
      .map((s) => ({ study: String(s['0020000D']?.Value?.[0] ?? ''), series: String(s['0020000E']?.Value?.[0] ?? '') }))
      .filter((s) => s.study !== '' && s.series !== '');
  };
  const retrieve = async (study: string, series: string): Promise<Buffer[]> => {
    const res = await get('WADO-RS series retrieve', `/studies/${encodeURIComponent(study)}/series/${encodeURIComponent(series)}`, 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1');
    if (!res) return [];
    const boundary = boundaryOf(res.headers.get('content-type'));
    if (!boundary) throw new LvsegError('unavailable', 'PACS_BAD_ANSWER', 'WADO-RS series retrieve: the answer is not multipart/related');
    return parseMultipart(Buffer.from(await res.arrayBuffer()), boundary).map((p) => Buffer.from(p.body));
  };

  return {
    description: { source: 'dicomweb', location: base, query: LABEL_MODALITIES.map((m) => `QIDO-RS /series?Modality=${m}`).join('; ') },
    async *labelObjects() {
      for (const modality of LABEL_MODALITIES) {
        for (const s of await qido(`Modality=${modality}`)) yield* await retrieve(s.study, s.series);
      }
    },
    async seriesInstances(study, series) {
      const studyUid = study ?? (await qido(`SeriesInstanceUID=${encodeURIComponent(series)}`))[0]?.study;
      return studyUid ? retrieve(studyUid, series) : [];
    },
  };
}
