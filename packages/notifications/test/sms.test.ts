import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpSmsProvider, NotificationDeliveryError, NotificationInputError } from '../src/index.ts';
import { startReceiver, type Receiver } from './receiver.ts';

describe('createHttpSmsProvider', () => {
  let rx: Receiver;
  beforeAll(async () => {
    rx = await startReceiver();
  });
  afterAll(() => rx.close());

  const provider = () => createHttpSmsProvider({ url: `${rx.origin}/v1/messages`, token: 'tok_123', allow: { loopback: true } });

  it('posts {to, body} with the bearer token and the idempotency key, and returns the gateway id', async () => {
    rx.answer(() => ({ status: 202, headers: { 'content-type': 'application/json' }, body: '{"id":"SM42"}' }));
    const before = rx.requests.length;
    const p = provider();
    expect(p.name).toBe('http');
    await expect(p.send({ to: '+4915112345678', body: 'Your code is 123456', key: 'otp_1' })).resolves.toEqual({ id: 'SM42' });
    const got = rx.requests[before]!;
    expect(got.url).toBe('/v1/messages');
    expect(got.headers.authorization).toBe('Bearer tok_123');
    expect(got.headers['idempotency-key']).toBe('otp_1');
    expect(JSON.parse(got.body.toString())).toEqual({ to: '+4915112345678', body: 'Your code is 123456' });
  });

  it('uses the key as the id when the gateway returns none', async () => {
    rx.answer(() => ({ status: 200, body: 'queued' }));
    await expect(provider().send({ to: '+15551234567', body: 'hi', key: 'otp_2' })).resolves.toEqual({ id: 'otp_2' });
  });

  it('turns a non-2xx into a delivery error: retryable for 5xx and 429, final for other 4xx', async () => {
    rx.answer(() => ({ status: 503, body: 'down' }));
    await expect(provider().send({ to: '+15551234567', body: 'hi', key: 'k' })).rejects.toMatchObject({ code: 'DELIVERY_FAILED', status: 503, retryable: true, channel: 'sms' });
    rx.answer(() => ({ status: 400, body: '{"error":"bad number"}' }));
    const e = await provider().send({ to: '+15551234567', body: 'hi', key: 'k' }).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(NotificationDeliveryError);
    expect(e).toMatchObject({ status: 400, retryable: false });
    expect((e as Error).message).toContain('bad number');
  });

  it.each(['015112345678', '+0123456', '+49 151 1234567', '+1234567890123456', '', '+49151abc'])('refuses %j as not E.164, before connecting', async (to) => {
    const before = rx.connections();
    const e = await provider().send({ to, body: 'hi', key: 'k' }).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(NotificationInputError);
    expect(e).toMatchObject({ code: 'INVALID_RECIPIENT' });
    expect((e as Error).message).toContain('is not an E.164 phone number');
    expect(rx.connections()).toBe(before);
  });

  it('refuses an empty body and a gateway URL the guard forbids', async () => {
    await expect(provider().send({ to: '+15551234567', body: '', key: 'k' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    const before = rx.connections();
    const strict = createHttpSmsProvider({ url: `${rx.origin}/v1/messages`, token: 't' });
    await expect(strict.send({ to: '+15551234567', body: 'hi', key: 'k' })).rejects.toMatchObject({ code: 'FORBIDDEN_TARGET' });
    expect(rx.connections()).toBe(before);
  });
});
