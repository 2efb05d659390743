import { createHmac } from 'node:crypto';
import { MAX_WEBHOOK_SKEW_SECONDS, WebhookAuthError, signWebhook, verifyWebhook } from './webhook-signature';

const secret = 'a-shared-secret-for-tests';
const body = Buffer.from('{"id":"e1","kind":"instance.stored"}');
const now = 1_700_000_000;

function codeOf(headers: Record<string, string | undefined>, nowSeconds = now, rawBody = body): string | undefined {
  try {
    verifyWebhook({ secret, headers, rawBody, nowSeconds });
    return undefined;
  } catch (e) {
    return (e as WebhookAuthError).code;
  }
}

describe('webhook signature', () => {
  it('is sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)> (RFC 4231 HMAC, checked with node:crypto directly)', () => {
    const expected = createHmac('sha256', secret).update(Buffer.from(`${now}.${body.toString()}`)).digest('hex');
    expect(signWebhook(secret, now, body)).toBe(`sha256=${expected}`);
    // RFC 4231 test case 2 ("Jefe"), with the scheme's prefix and separator as the message.
    expect(createHmac('sha256', 'Jefe').update('what do ya want for nothing?').digest('hex')).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('accepts a fresh, correctly signed request (upper-case hex too), within the allowed skew', () => {
    const ts = String(now - MAX_WEBHOOK_SKEW_SECONDS);
    expect(codeOf({ 'x-lvseg-timestamp': ts, 'x-lvseg-signature': signWebhook(secret, ts, body) })).toBeUndefined();
    expect(codeOf({ 'x-lvseg-timestamp': ts, 'x-lvseg-signature': signWebhook(secret, ts, body).toUpperCase().replace('SHA256', 'sha256') })).toBeUndefined();
  });

  it('refuses missing headers, malformed timestamps, wrong signatures and stale or future timestamps', () => {
    const ts = String(now);
    const good = signWebhook(secret, ts, body);
    expect(codeOf({})).toBe('WEBHOOK_UNSIGNED');
    expect(codeOf({ 'x-lvseg-timestamp': ts })).toBe('WEBHOOK_UNSIGNED');
    expect(codeOf({ 'x-lvseg-signature': good })).toBe('WEBHOOK_UNSIGNED');
    expect(codeOf({ 'x-lvseg-timestamp': '17e8', 'x-lvseg-signature': good })).toBe('WEBHOOK_BAD_TIMESTAMP');
    expect(codeOf({ 'x-lvseg-timestamp': ts, 'x-lvseg-signature': signWebhook('another-secret', ts, body) })).toBe('WEBHOOK_BAD_SIGNATURE');
    expect(codeOf({ 'x-lvseg-timestamp': ts, 'x-lvseg-signature': good }, now, Buffer.from(`${body.toString()} `))).toBe('WEBHOOK_BAD_SIGNATURE');
    // The timestamp is signed: moving it invalidates the signature.
    expect(codeOf({ 'x-lvseg-timestamp': String(now + 1), 'x-lvseg-signature': good })).toBe('WEBHOOK_BAD_SIGNATURE');
    expect(codeOf({ 'x-lvseg-timestamp': ts, 'x-lvseg-signature': good.slice(0, -2) })).toBe('WEBHOOK_BAD_SIGNATURE');
    const old = String(now - MAX_WEBHOOK_SKEW_SECONDS - 1);
    expect(codeOf({ 'x-lvseg-timestamp': old, 'x-lvseg-signature': signWebhook(secret, old, body) })).toBe('WEBHOOK_STALE');
    const future = String(now + MAX_WEBHOOK_SKEW_SECONDS + 1);
    expect(codeOf({ 'x-lvseg-timestamp': future, 'x-lvseg-signature': signWebhook(secret, future, body) })).toBe('WEBHOOK_STALE');
  });
});
