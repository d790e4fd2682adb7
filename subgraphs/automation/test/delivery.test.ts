import { createECDH, randomBytes } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@objectos/db';
import { parseMetadata } from '@objectos/metadata';
import { savePushSubscription, verifyWebhookSignature } from '@objectos/notifications';
import { createTestDatabase, services, TEST_SECRET, type TestDatabase } from '@objectos/testkit';
import { startReceiver, type Receiver } from '../../../packages/notifications/test/receiver.ts';
import { createJobRuntime, type JobRuntime } from '../src/index.ts';

const MODEL = parseMetadata([{ file: 'thing.object.yaml', text: 'name: thing\nfields:\n  title: { type: text }\n' }]);
const WEBHOOK_SECRET = 'whsec-test-0123456789abcdef0123456789';
/** A P-256 key pair. `getPrivateKey()` drops leading zero bytes (1 key in 256): VAPID wants all 32, so pad it. */
const key = () => {
  const e = createECDH('prime256v1');
  e.generateKeys();
  return e;
};

/** Polls until `ok` holds; on timeout the error carries `explain()` (the jobs' state, say). */
async function until<T>(what: string, read: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000, explain?: () => Promise<string>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${explain ? `: ${await explain()}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Webhook, push and SMS delivery through the job queue, against local receivers: failures are retried
 * by the queue with the same idempotency key, signatures verify, a gone push subscription is dropped.
 * Embedded (pg-boss on PGlite) and services mode (BullMQ on Redis, PostgreSQL) when available.
 */
const modes = ['embedded', ...(services.postgres && services.redis ? ['services'] : [])] as const;
for (const mode of modes) {
  describe(`notification delivery through jobs (${mode})`, () => {
    let runtime: JobRuntime;
    let database: Database;
    let pg: TestDatabase | null = null;
    let hooks: Receiver;
    let push: Receiver;
    let sms: Receiver;
    const prefix = `objectos-test-delivery-${process.pid}-${Date.now()}`;
    beforeAll(async () => {
      hooks = await startReceiver();
      push = await startReceiver((r) => ({ status: r.url.startsWith('/gone') ? 410 : 201 }));
      sms = await startReceiver(() => ({ status: 200, body: JSON.stringify({ id: 'sms-1' }), headers: { 'content-type': 'application/json' } }));
      if (mode === 'services') pg = await createTestDatabase();
      database = await connectDatabase(pg ? { databaseUrl: pg.url } : { dataDir: 'memory://' });
      const vapid = key();
      runtime = await createJobRuntime({
        model: MODEL, database, secret: TEST_SECRET, work: true,
        ...(pg ? { databaseUrl: pg.url, redisUrl: services.redis!, prefix, lockMs: 2_000 } : { pollMs: 100 }),
        delivery: {
          webhookSecret: WEBHOOK_SECRET, allow: { loopback: true }, log: () => {},
          vapid: { subject: 'mailto:ops@example.com', publicKey: vapid.getPublicKey().toString('base64url'), privateKey: Buffer.from(vapid.getPrivateKey().toString('hex').padStart(64, '0'), 'hex').toString('base64url') },
          sms: { url: `${sms.origin}/messages`, token: 'sms-token' },
        },
      });
    }, 60_000);
    afterAll(async () => {
      await runtime?.stop();
      await database?.close();
      await pg?.drop();
      await Promise.all([hooks?.close(), push?.close(), sms?.close()]);
      if (mode === 'services') {
        const { dropKeys } = await import('../../../packages/jobs/test/backends.ts');
        await dropKeys([prefix]);
      }
    });

    it('a webhook refused once is retried by the queue with the same key, signed both times', async () => {
      let calls = 0;
      hooks.answer(() => ({ status: ++calls === 1 ? 503 : 204 }));
      const { id } = await runtime.notifier.webhook({ url: `${hooks.origin}/hook`, payload: { event: 'account.created', id: 'a1' }, key: 'evt-1:hook', tenant: 'org_1' });
      const run = await until('the webhook job to complete', () => runtime.queue.getJob(id), (r) => r?.status === 'completed');
      expect(run!.attempts).toBe(2);
      expect(hooks.requests).toHaveLength(2);
      for (const r of hooks.requests) {
        expect(r.headers['x-objectos-idempotency-key']).toBe('evt-1:hook');
        const ok = verifyWebhookSignature(WEBHOOK_SECRET, String(r.headers['x-objectos-timestamp']), r.body.toString('utf8'), String(r.headers['x-objectos-signature']));
        expect(ok).toBe(true);
        expect(JSON.parse(r.body.toString('utf8'))).toEqual({ event: 'account.created', id: 'a1' });
      }
    });

    it('push goes to each of the user\'s subscriptions, VAPID-signed and encrypted; a gone one is deleted', { timeout: 150_000 }, async () => {
      const userId = randomUUID();
      const sub = (path: string) => {
        const k = key();
        return { endpoint: `${push.origin}${path}`, keys: { p256dh: k.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') } };
      };
      await savePushSubscription(database, { userId, tenant: 'org_1', subscription: sub('/live/1') });
      await savePushSubscription(database, { userId, tenant: 'org_1', subscription: sub('/gone/2') });
      const r = await runtime.notifier.notify({ template: 'password_reset', variables: { name: 'Ana', url: 'https://x.test/r' }, to: { userId }, tenant: 'org_1', channels: ['push'], key: 'evt-2' });
      expect(r.channels).toEqual(['push']);
      await until('both endpoints to be called', () => push.requests.length, (n) => n >= 2, 90_000, async () => JSON.stringify(await runtime.queue.list({ queue: 'notify.push' })));
      const live = push.requests.find((x) => x.url === '/live/1')!;
      expect(live.headers['content-encoding']).toBe('aes128gcm');
      expect(String(live.headers['authorization'])).toMatch(/^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=[\w-]+$/);
      expect(live.body.toString('utf8')).not.toContain('Reset your password');
      await until('the gone subscription to be deleted', async () => (await database.run<{ n: number }>('select count(*)::int as n from notifications.push_subscriptions where user_id = $1', [userId]))[0]!.n, (n) => n === 1);
    });

    it('SMS goes through the HTTP provider with the key as Idempotency-Key', async () => {
      await runtime.notifier.notify({ template: 'email_otp', variables: { otp: '123456', purpose: 'sign-in' }, to: { phone: '+4915112345678' }, channels: ['sms'], key: 'evt-3' });
      const r = (await until('the SMS to arrive', () => sms.requests[0], (x) => x !== undefined))!;
      expect(r.headers['authorization']).toBe('Bearer sms-token');
      expect(r.headers['idempotency-key']).toBe('evt-3:sms');
      expect(JSON.parse(r.body.toString('utf8'))).toMatchObject({ to: '+4915112345678', body: expect.stringContaining('123456') });
      await expect(runtime.notifier.notify({ template: 'email_otp', variables: { otp: '1', purpose: 'x' }, to: { phone: '0151 123' }, channels: ['sms'], key: 'evt-4' })).rejects.toMatchObject({ code: 'INVALID_RECIPIENT' });
    });
  });
}
