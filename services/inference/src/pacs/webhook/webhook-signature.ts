import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The webhook signature scheme (the same in `deploy/orthanc/lvseg-webhook.lua` and docs/PACS.md):
 *   X-Lvseg-Timestamp: unix time in seconds (decimal)
 *   X-Lvseg-Signature: "sha256=" + lowercase hex HMAC-SHA256(secret, timestamp + "." + raw body bytes)
 * Signing the timestamp with the body makes an old request unusable once it is older than the allowed age; the event
 * id inside the body makes a fresh one usable only once.
 */
export const TIMESTAMP_HEADER = 'x-lvseg-timestamp';
export const SIGNATURE_HEADER = 'x-lvseg-signature';
/** Largest accepted difference between the timestamp and lvseg's clock, either way. */
export const MAX_WEBHOOK_SKEW_SECONDS = 300;

/** A webhook refused for authentication: answered 401 with this code. */
export class WebhookAuthError extends Error {
  constructor(
    readonly code: 'WEBHOOK_UNSIGNED' | 'WEBHOOK_BAD_TIMESTAMP' | 'WEBHOOK_BAD_SIGNATURE' | 'WEBHOOK_STALE',
    message: string,
  ) {
    super(message);
    this.name = 'WebhookAuthError';
  }
}

/** The X-Lvseg-Signature value for `rawBody` sent at `timestampSeconds`. */
export function signWebhook(secret: string, timestampSeconds: number | string, rawBody: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestampSeconds}.`).update(rawBody).digest('hex')}`;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Checks the signature headers of a webhook request (throws WebhookAuthError). The signature is compared in constant
 * time and before the timestamp's age, so an unsigned caller learns nothing about lvseg's clock.
 */
export function verifyWebhook(opts: { secret: string; headers: Record<string, string | string[] | undefined>; rawBody: Buffer; nowSeconds: number }): void {
  const timestamp = header(opts.headers, TIMESTAMP_HEADER);
  const signature = header(opts.headers, SIGNATURE_HEADER);
  if (!timestamp || !signature) throw new WebhookAuthError('WEBHOOK_UNSIGNED', `the request has no ${!timestamp ? 'X-Lvseg-Timestamp' : 'X-Lvseg-Signature'} header`);
  if (!/^\d{1,12}$/.test(timestamp)) throw new WebhookAuthError('WEBHOOK_BAD_TIMESTAMP', 'X-Lvseg-Timestamp must be unix time in whole seconds');
  const expected = Buffer.from(signWebhook(opts.secret, timestamp, opts.rawBody));
  const given = Buffer.from(signature.trim().toLowerCase());
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new WebhookAuthError('WEBHOOK_BAD_SIGNATURE', 'the signature does not match (expected sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">)');
  }
  const age = opts.nowSeconds - Number(timestamp);
  if (Math.abs(age) > MAX_WEBHOOK_SKEW_SECONDS) {
    throw new WebhookAuthError('WEBHOOK_STALE', `the timestamp is ${Math.round(Math.abs(age))} s ${age > 0 ? 'old' : 'in the future'}; at most ${MAX_WEBHOOK_SKEW_SECONDS} s is accepted`);
  }
}
