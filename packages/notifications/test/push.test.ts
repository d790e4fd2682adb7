import { createECDH, createPublicKey, randomBytes, verify } from 'node:crypto';
import { createRequire } from 'node:module';
import webPush from 'web-push';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPushChannel, NotificationDeliveryError, NotificationInputError, type PushSubscriptionData } from '../src/index.ts';
import { startReceiver, type Receiver } from './receiver.ts';

/** http_ece is web-push's own dependency: load it from web-push's location to decrypt like a browser. */
interface Ece {
  decrypt(buffer: Buffer, params: { version: 'aes128gcm'; privateKey: ReturnType<typeof createECDH>; authSecret: string }): Buffer;
}
const fromWebPush = createRequire(createRequire(import.meta.url).resolve('web-push'));
const ece = fromWebPush('http_ece') as Ece;

const vapid = { subject: 'mailto:ops@example.com', ...webPush.generateVAPIDKeys() };

/** A browser's side: a P-256 key pair and 16 auth bytes. */
function browser(endpoint: string): { subscription: PushSubscriptionData; decrypt(body: Buffer): unknown } {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16).toString('base64url');
  return {
    subscription: { endpoint, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth } },
    decrypt: (body) => JSON.parse(ece.decrypt(body, { version: 'aes128gcm', privateKey: ecdh, authSecret: auth }).toString('utf8')),
  };
}

/** Checks a VAPID `Authorization: vapid t=<jwt>, k=<key>` header as a push service would; returns the JWT claims. */
function checkVapid(header: string | undefined): Record<string, unknown> {
  const m = /^vapid t=([\w-]+)\.([\w-]+)\.([\w-]+), k=([\w-]+)$/.exec(header ?? '');
  expect(m, `Authorization: ${header}`).not.toBeNull();
  const [, h, p, s, k] = m!;
  expect(k).toBe(vapid.publicKey);
  const raw = Buffer.from(k!, 'base64url');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33, 65).toString('base64url') }, format: 'jwk' });
  const ok = verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s!, 'base64url'));
  expect(ok).toBe(true);
  expect(JSON.parse(Buffer.from(h!, 'base64url').toString())).toMatchObject({ alg: 'ES256', typ: 'JWT' });
  return JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
}

describe('createPushChannel', () => {
  let rx: Receiver;
  beforeAll(async () => {
    rx = await startReceiver(() => ({ status: 201 }));
  });
  afterAll(() => rx.close());

  const channel = () => createPushChannel({ vapid, allow: { loopback: true }, ttlSeconds: 3600 });

  it('sends an aes128gcm-encrypted payload with the key inside, signed with VAPID, with TTL and Topic', async () => {
    rx.answer(() => ({ status: 201 }));
    const b = browser(`${rx.origin}/push/abc123`);
    const before = rx.requests.length;
    await expect(channel().send(b.subscription, { title: 'Hello', url: '/inbox' }, 'notif_1')).resolves.toEqual({ status: 201 });
    const got = rx.requests[before]!;
    expect(got.url).toBe('/push/abc123');
    expect(got.headers['content-encoding']).toBe('aes128gcm');
    expect(got.headers['ttl']).toBe('3600');
    expect(got.headers['urgency']).toBe('normal');
    expect(got.headers['topic']).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const claims = checkVapid(got.headers.authorization);
    expect(claims).toMatchObject({ aud: rx.origin, sub: vapid.subject });
    expect(claims['exp']).toBeGreaterThan(Date.now() / 1000);
    expect(got.body.includes(Buffer.from('Hello'))).toBe(false);
    expect(b.decrypt(got.body)).toEqual({ title: 'Hello', url: '/inbox', idempotencyKey: 'notif_1' });
  });

  it('gives a repeat of the same key the same Topic, so the push service can replace it', async () => {
    const b = browser(`${rx.origin}/push/t`);
    const before = rx.requests.length;
    await channel().send(b.subscription, { n: 1 }, 'same');
    await channel().send(b.subscription, { n: 1 }, 'same');
    await channel().send(b.subscription, { n: 1 }, 'other');
    const topics = rx.requests.slice(before).map((r) => r.headers['topic']);
    expect(topics[0]).toBe(topics[1]);
    expect(topics[2]).not.toBe(topics[0]);
  });

  it('reports a 410 as SUBSCRIPTION_GONE (not retryable), and a 500 as a retryable failure', async () => {
    const b = browser(`${rx.origin}/push/gone`);
    rx.answer(() => ({ status: 410 }));
    const gone = await channel().send(b.subscription, {}, 'k1').then(() => undefined, (e: unknown) => e);
    expect(gone).toBeInstanceOf(NotificationDeliveryError);
    expect(gone).toMatchObject({ code: 'SUBSCRIPTION_GONE', status: 410, retryable: false, channel: 'push' });
    expect((gone as Error).message).toContain('is gone');
    rx.answer(() => ({ status: 503 }));
    await expect(channel().send(b.subscription, {}, 'k2')).rejects.toMatchObject({ code: 'DELIVERY_FAILED', status: 503, retryable: true });
    rx.answer(() => ({ status: 201 }));
  });

  it('puts the endpoint through the SSRF guard', async () => {
    const before = rx.connections();
    const strict = createPushChannel({ vapid });
    for (const endpoint of [`${rx.origin}/push/x`, 'http://169.254.169.254/push', 'http://10.0.0.1/push', 'ftp://push.example.com/x']) {
      const e = await strict.send(browser(endpoint).subscription, {}, 'k').then(() => undefined, (err: unknown) => err);
      expect(e).toBeInstanceOf(NotificationInputError);
      expect(e).toMatchObject({ code: 'FORBIDDEN_TARGET' });
    }
    expect(rx.connections()).toBe(before);
  });

  it('refuses malformed subscription keys and payloads too large for a push message', async () => {
    const b = browser(`${rx.origin}/push/y`);
    await expect(channel().send({ ...b.subscription, keys: { p256dh: 'short', auth: b.subscription.keys.auth } }, {}, 'k')).rejects.toMatchObject({ code: 'INVALID_RECIPIENT' });
    await expect(channel().send(b.subscription, { blob: 'x'.repeat(4000) }, 'k')).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
  });

  it('refuses a malformed VAPID key when the channel is built, naming the setting', () => {
    const short = Buffer.from(vapid.privateKey, 'base64url').subarray(1).toString('base64url');
    expect(() => createPushChannel({ vapid: { ...vapid, privateKey: short } })).toThrow(/OBJECTOS_VAPID_PRIVATE_KEY.*32 bytes/);
    expect(() => createPushChannel({ vapid: { ...vapid, publicKey: 'not-a-key' } })).toThrow(/OBJECTOS_VAPID_PUBLIC_KEY.*65-byte/);
    expect(() => createPushChannel({ vapid })).not.toThrow();
  });
});
