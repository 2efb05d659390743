/** The viewer's calls to the API: JSON answers, and an API refusal kept as the API said it (status, code, message). */
import type { ErrorResponseDto } from '../../src/segment/dto/segment-response.dto';

/** An API answer that is not 2xx, shown as the API said it (status, code, message). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The page's API key form and store (/api-key.js, loaded before this bundle). */
interface ApiKeyControl {
  headers(): Record<string, string>;
  show(reason?: string): void;
}
const apiKeyControl = (): ApiKeyControl | undefined => (globalThis as { lvsegApiKey?: ApiKeyControl }).lvsegApiKey;

/** `Authorization: Bearer <key>` when the user gave this tab an API key (README "Security"), else nothing. */
export function authHeaders(): Record<string, string> {
  return apiKeyControl()?.headers() ?? {};
}

/**
 * `fetch` (with the API key, if any) and parse the JSON answer; a non-2xx answer becomes an ApiError with the API's
 * `{error: {code, message}}`, and a 401/403 also shows the API key form.
 */
export async function apiJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, { ...init, headers: { ...authHeaders(), ...((init?.headers as Record<string, string> | undefined) ?? {}) } });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(res.status, 'NOT_JSON', `${url} answered ${res.status} without JSON: ${text.slice(0, 200)}`);
  }
  if (!res.ok) {
    const e = (body as Partial<ErrorResponseDto>).error;
    if (res.status === 401 || res.status === 403) apiKeyControl()?.show(`The API refused the request: ${e?.message ?? res.status}`);
    throw new ApiError(res.status, e?.code ?? 'HTTP_ERROR', e?.message ?? `${url} answered ${res.status}`);
  }
  return body as T;
}

/** A failure in words for the page: the API's refusal with its status and code, or what else went wrong. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) return `The API refused it (${e.status} ${e.code}): ${e.message}`;
  return `Something went wrong: ${e instanceof Error ? e.message : String(e)}`;
}
