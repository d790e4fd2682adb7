import { createHash } from 'node:crypto';
import webPush from 'web-push';
import { deliveryError, NotificationInputError, requireKey } from './errors.ts';
import { postPinned } from './pinned-request.ts';
import { checkTarget, type Resolver, type TargetAllowance } from './ssrf.ts';

/** A browser's push subscription (`PushSubscription.toJSON()`). */
export interface PushSubscriptionData {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** The application server's VAPID identity (`webPush.generateVAPIDKeys()`), with a `mailto:` or `https:` contact. */
export interface VapidDetails {
  subject: string;
  publicKey: string;
  privateKey: string;
}

export interface PushChannelOptions {
  vapid: VapidDetails;
  /** Internal endpoints the guard lets through (none by default). */
  allow?: TargetAllowance;
  /** How long the push service keeps an undelivered message, in seconds. @default 86400 */
  ttlSeconds?: number;
  /** @default 10000 */
  timeoutMs?: number;
  /** Name resolution for the guard. @default dns.lookup */
  resolve?: Resolver;
}

export interface PushChannel {
  /**
   * Encrypts `{ ...payload, idempotencyKey: key }` for the subscription (aes128gcm), signs with
   * VAPID and posts it to the endpoint (after `checkTarget`). The `Topic` header, derived from
   * the key, lets the push service replace an undelivered repeat. A 404/410 throws
   * `SUBSCRIPTION_GONE` (delete the subscription); other refusals a delivery error.
   */
  send(subscription: PushSubscriptionData, payload: Record<string, unknown>, key: string, options?: { urgency?: 'very-low' | 'low' | 'normal' | 'high' }): Promise<{ status: number }>;
}

/** aes128gcm puts at most 4096 bytes on the wire: 86 header, 1 padding delimiter and 16 tag bytes leave 3993. */
export const MAX_PUSH_PAYLOAD_BYTES = 3993;

const B64URL = /^[A-Za-z0-9_-]+={0,2}$/;
const decodedLength = (s: string) => (B64URL.test(s) ? Buffer.from(s, 'base64url').length : -1);

/** Web Push with VAPID: `web-push` builds the encrypted, signed request; it is sent through the SSRF guard. */
export function createPushChannel({ vapid, allow = {}, ttlSeconds = 86_400, timeoutMs = 10_000, resolve }: PushChannelOptions): PushChannel {
  // Refused when configured, not at each delivery: a bad key would otherwise fail every push until its retries run out.
  if (decodedLength(vapid.publicKey) !== 65)
    throw new NotificationInputError('INVALID_INPUT', 'the VAPID public key (OBJECTOS_VAPID_PUBLIC_KEY) must be a 65-byte uncompressed P-256 point, base64url-encoded (webPush.generateVAPIDKeys())');
  if (decodedLength(vapid.privateKey) !== 32)
    throw new NotificationInputError('INVALID_INPUT', 'the VAPID private key (OBJECTOS_VAPID_PRIVATE_KEY) must be 32 bytes, base64url-encoded (webPush.generateVAPIDKeys())');
  return {
    async send(subscription, payload, rawKey, { urgency = 'normal' } = {}) {
      const key = requireKey(rawKey);
      if (decodedLength(subscription.keys?.p256dh ?? '') !== 65 || decodedLength(subscription.keys?.auth ?? '') !== 16)
        throw new NotificationInputError('INVALID_RECIPIENT', 'a push subscription needs keys.p256dh (a 65-byte P-256 public key) and keys.auth (16 bytes), base64url-encoded');
      const body = JSON.stringify({ ...payload, idempotencyKey: key });
      const size = Buffer.byteLength(body);
      if (size > MAX_PUSH_PAYLOAD_BYTES) throw new NotificationInputError('PAYLOAD_TOO_LARGE', `push payload is ${size} bytes, over the ${MAX_PUSH_PAYLOAD_BYTES}-byte limit`);
      const target = await checkTarget(subscription.endpoint, allow, resolve);
      const details = webPush.generateRequestDetails(subscription, body, {
        vapidDetails: vapid,
        TTL: ttlSeconds,
        urgency,
        // Topic: at most 32 URL-safe base64 characters.
        topic: createHash('sha256').update(key).digest('base64url').slice(0, 32),
        contentEncoding: 'aes128gcm',
      });
      const headers: Record<string, string | number> = {};
      for (const [name, value] of Object.entries(details.headers)) if (name.toLowerCase() !== 'content-length') headers[name] = value as string | number;
      const res = await postPinned('push', target, { headers, body: details.body, timeoutMs });
      if (res.status === 404 || res.status === 410)
        throw deliveryError('push', 'SUBSCRIPTION_GONE', `the push subscription at ${target.url.origin} is gone (${res.status}); delete it`, { status: res.status, retryable: false });
      if (res.status < 200 || res.status >= 300) {
        const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
        throw deliveryError('push', 'DELIVERY_FAILED', `the push service ${target.url.origin} answered ${res.status}${res.body ? `: ${res.body.slice(0, 200)}` : ''}`, { status: res.status, retryable });
      }
      return { status: res.status };
    },
  };
}
