import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deliverWebhook, NotificationInputError, signWebhook, verifyWebhookSignature, WebhookDeliveryError, type Resolver,
} from '../src/index.ts';
import { startReceiver, type Receiver } from './receiver.ts';

const SECRET = 'whsec_test_0123456789';

async function failure<T extends Error>(p: Promise<unknown>, type: new (...a: never[]) => T): Promise<T> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(type);
  return e as T;
}

describe('deliverWebhook', () => {
  let rx: Receiver;
  beforeAll(async () => {
    rx = await startReceiver();
  });
  afterAll(() => rx.close());

  it('posts the JSON payload with a signature the receiver verifies, a timestamp and the idempotency key', async () => {
    rx.answer(() => ({ status: 204 }));
    const before = rx.requests.length;
    const result = await deliverWebhook({ url: `${rx.origin}/hooks/in?src=objectos`, payload: { event: 'invoice.paid', id: 42 }, secret: SECRET, key: 'evt_1', allow: { loopback: true } });
    expect(result).toEqual({ status: 204, address: '127.0.0.1' });
    const got = rx.requests[before]!;
    expect(got.method).toBe('POST');
    expect(got.url).toBe('/hooks/in?src=objectos');
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['x-objectos-idempotency-key']).toBe('evt_1');
    const body = got.body.toString('utf8');
    expect(JSON.parse(body)).toEqual({ event: 'invoice.paid', id: 42 });
    const ts = String(got.headers['x-objectos-timestamp']);
    expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(5);
    const sig = String(got.headers['x-objectos-signature']);
    expect(sig).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature(SECRET, ts, body, sig)).toBe(true);
    expect(verifyWebhookSignature('wrong', ts, body, sig)).toBe(false);
    expect(verifyWebhookSignature(SECRET, ts, body.replace('42', '43'), sig)).toBe(false);
  });

  it('sends the same idempotency key on a retry, so the receiver can drop the repeat', async () => {
    rx.answer(() => ({ status: 200 }));
    const before = rx.requests.length;
    for (let i = 0; i < 2; i++) await deliverWebhook({ url: rx.origin, payload: { n: 1 }, secret: SECRET, key: 'evt_retry', allow: { loopback: true } });
    expect(rx.requests.slice(before).map((r) => r.headers['x-objectos-idempotency-key'])).toEqual(['evt_retry', 'evt_retry']);
  });

  it('connects to the checked address, keeping the host name in Host (no second DNS answer is used)', async () => {
    rx.answer(() => ({ status: 200 }));
    let lookups = 0;
    const resolve: Resolver = async () => {
      lookups++;
      // A rebinding resolver: the first answer passes the guard, later ones would not.
      return [{ address: lookups === 1 ? '127.0.0.1' : '169.254.169.254', family: 4 }];
    };
    const before = rx.requests.length;
    await deliverWebhook({ url: `http://hooks.example.test:${rx.port}/x`, payload: {}, secret: SECRET, key: 'evt_pin', allow: { loopback: true }, resolve });
    expect(lookups).toBe(1);
    expect(rx.requests[before]!.headers.host).toBe(`hooks.example.test:${rx.port}`);
  });

  it.each([
    ['127.0.0.1 without allow.loopback', (port: number) => `http://127.0.0.1:${port}/`],
    ['[::1]', (port: number) => `http://[::1]:${port}/`],
    ['localhost', (port: number) => `http://localhost:${port}/`],
    ['10.0.0.1', () => 'http://10.0.0.1/'],
    ['169.254.169.254', () => 'http://169.254.169.254/latest/meta-data/'],
    ['ftp://', () => 'ftp://127.0.0.1/'],
  ])('refuses %s with FORBIDDEN_TARGET, without connecting', async (_name, url) => {
    const before = rx.connections();
    const e = await failure(deliverWebhook({ url: url(rx.port), payload: { a: 1 }, secret: SECRET, key: 'evt_x' }), NotificationInputError);
    expect(e.code).toBe('FORBIDDEN_TARGET');
    expect(rx.connections()).toBe(before);
  });

  it('refuses a host name that resolves to loopback', async () => {
    const before = rx.connections();
    const resolve: Resolver = async () => [{ address: '127.0.0.1', family: 4 }];
    const e = await failure(deliverWebhook({ url: `http://evil.example.com:${rx.port}/`, payload: {}, secret: SECRET, key: 'k', resolve }), NotificationInputError);
    expect(e.code).toBe('FORBIDDEN_TARGET');
    expect(e.message).toContain('resolves to 127.0.0.1, a loopback address');
    expect(rx.connections()).toBe(before);
  });

  it('refuses a payload over maxBytes before connecting or resolving', async () => {
    let resolved = false;
    const resolve: Resolver = async () => {
      resolved = true;
      return [{ address: '127.0.0.1', family: 4 }];
    };
    const before = rx.connections();
    const e = await failure(deliverWebhook({ url: rx.origin, payload: { blob: 'x'.repeat(300 * 1024) }, secret: SECRET, key: 'k', allow: { loopback: true }, resolve }), NotificationInputError);
    expect(e.code).toBe('PAYLOAD_TOO_LARGE');
    expect(e.message).toMatch(/^webhook payload is \d+ bytes, over the 262144-byte limit$/);
    const small = await failure(deliverWebhook({ url: rx.origin, payload: { a: 'xx' }, secret: SECRET, key: 'k', maxBytes: 5, allow: { loopback: true } }), NotificationInputError);
    expect(small.code).toBe('PAYLOAD_TOO_LARGE');
    expect(resolved).toBe(false);
    expect(rx.connections()).toBe(before);
  });

  it('turns a 500 into a retryable WebhookDeliveryError with the status', async () => {
    rx.answer(() => ({ status: 500, body: 'boom' }));
    const e = await failure(deliverWebhook({ url: rx.origin, payload: {}, secret: SECRET, key: 'k500', allow: { loopback: true } }), WebhookDeliveryError);
    expect(e).toMatchObject({ code: 'DELIVERY_FAILED', status: 500, retryable: true, channel: 'webhook' });
  });

  it('does not follow a redirect', async () => {
    rx.answer((r) => (r.url === '/moved' ? { status: 302, headers: { location: `${rx.origin}/elsewhere` } } : { status: 200 }));
    const before = rx.requests.length;
    const e = await failure(deliverWebhook({ url: `${rx.origin}/moved`, payload: {}, secret: SECRET, key: 'k302', allow: { loopback: true } }), WebhookDeliveryError);
    expect(e.status).toBe(302);
    expect(e.message).toContain(`redirect to ${rx.origin}/elsewhere not followed`);
    expect(rx.requests.slice(before).map((r) => r.url)).toEqual(['/moved']);
  });

  it('gives up after timeoutMs with a retryable TIMEOUT', async () => {
    rx.answer(() => ({ status: 200, delayMs: 1_000 }));
    const started = Date.now();
    const e = await failure(deliverWebhook({ url: rx.origin, payload: {}, secret: SECRET, key: 'kslow', timeoutMs: 100, allow: { loopback: true } }), WebhookDeliveryError);
    expect(e).toMatchObject({ code: 'TIMEOUT', retryable: true });
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('refuses an idempotency key that could break a header', async () => {
    const e = await failure(deliverWebhook({ url: rx.origin, payload: {}, secret: SECRET, key: 'a\r\nX-Evil: 1', allow: { loopback: true } }), NotificationInputError);
    expect(e.code).toBe('INVALID_INPUT');
  });
});

describe('verifyWebhookSignature', () => {
  const body = '{"a":1}';
  it('accepts any of several signatures (secret rotation) and refuses stale or future timestamps', () => {
    const now = 1_700_000_000;
    const header = `${signWebhook('old', now, body)}, ${signWebhook(SECRET, now, body)}`;
    expect(verifyWebhookSignature(SECRET, now, body, header, 300, now + 299)).toBe(true);
    expect(verifyWebhookSignature(SECRET, now, body, header, 300, now + 301)).toBe(false);
    expect(verifyWebhookSignature(SECRET, now, body, header, 300, now - 301)).toBe(false);
    expect(verifyWebhookSignature(SECRET, 'abc', body, header, 300, now)).toBe(false);
    expect(verifyWebhookSignature(SECRET, now, body, 'v1=00', 300, now)).toBe(false);
  });
});
