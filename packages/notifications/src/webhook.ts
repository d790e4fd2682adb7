import { createHmac, timingSafeEqual } from 'node:crypto';
import { NotificationInputError, requireKey, WebhookDeliveryError } from './errors.ts';
import { postPinned } from './pinned-request.ts';
import { checkTarget, type Resolver, type TargetAllowance } from './ssrf.ts';

/** One webhook call. */
export interface WebhookDelivery {
  url: string;
  /** Sent as the JSON body. */
  payload: Record<string, unknown>;
  /** Shared with the receiver, which checks `X-ObjectOS-Signature` with `verifyWebhookSignature`. */
  secret: string;
  /** Sent as `X-ObjectOS-Idempotency-Key`; the same on every retry, so the receiver can drop repeats. */
  key: string;
  /** @default 10000 */
  timeoutMs?: number;
  /** Largest JSON body sent, in bytes. @default 262144 (256 KiB) */
  maxBytes?: number;
  /** Internal targets the guard lets through (none by default). */
  allow?: TargetAllowance;
  /** Name resolution for the guard (tests, a custom resolver). @default dns.lookup */
  resolve?: Resolver;
}

/** A delivery the receiver accepted. */
export interface WebhookResult {
  status: number;
  /** The address connected to, after the guard. */
  address: string;
}

/** `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`. */
export function signWebhook(secret: string, timestamp: number | string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Delivers `payload` as a signed JSON POST. Headers: `X-ObjectOS-Timestamp` (unix seconds),
 * `X-ObjectOS-Signature`, `X-ObjectOS-Idempotency-Key`. The body size is checked before anything
 * else (`PAYLOAD_TOO_LARGE`), then the URL passes `checkTarget` (`FORBIDDEN_TARGET`), and the
 * request goes to the checked address. A status ≥ 300 (redirects are not followed), a network
 * failure or the timeout throws a retryable `WebhookDeliveryError`.
 */
export async function deliverWebhook(delivery: WebhookDelivery): Promise<WebhookResult> {
  const { url, payload, secret, timeoutMs = 10_000, maxBytes = 256 * 1024, allow = {}, resolve } = delivery;
  const key = requireKey(delivery.key);
  if (!secret) throw new NotificationInputError('INVALID_INPUT', 'a webhook needs a signing secret');
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload))
    throw new NotificationInputError('INVALID_INPUT', 'a webhook payload is a JSON object');
  const body = JSON.stringify(payload);
  const size = Buffer.byteLength(body);
  if (size > maxBytes) throw new NotificationInputError('PAYLOAD_TOO_LARGE', `webhook payload is ${size} bytes, over the ${maxBytes}-byte limit`);
  const target = await checkTarget(url, allow, resolve);
  const timestamp = Math.floor(Date.now() / 1000);
  const res = await postPinned('webhook', target, {
    headers: {
      'Content-Type': 'application/json',
      'User-Agent': 'ObjectOS-Webhooks/1',
      'X-ObjectOS-Timestamp': String(timestamp),
      'X-ObjectOS-Signature': signWebhook(secret, timestamp, body),
      'X-ObjectOS-Idempotency-Key': key,
    },
    body,
    timeoutMs,
  });
  if (res.status < 200 || res.status >= 300) {
    const where = res.status < 400 && res.headers.location ? ` (redirect to ${res.headers.location} not followed)` : '';
    throw new WebhookDeliveryError('DELIVERY_FAILED', `${target.url.origin} answered ${res.status}${where}`, { channel: 'webhook', status: res.status, retryable: true });
  }
  return { status: res.status, address: target.address };
}

/**
 * For receivers: whether `header` (`v1=<hex>`, several comma-separated while a secret rotates)
 * signs `timestamp` and the raw `body` with `secret`, and the timestamp is within
 * `toleranceSec` of now (replays of old deliveries fail).
 */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string | number,
  body: string,
  header: string,
  toleranceSec = 300,
  nowSec = Math.floor(Date.now() / 1000),
): boolean {
  const ts = Number(timestamp);
  if (!Number.isInteger(ts) || Math.abs(nowSec - ts) > toleranceSec) return false;
  const expected = Buffer.from(signWebhook(secret, ts, body));
  return header.split(',').some((part) => {
    const given = Buffer.from(part.trim());
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
