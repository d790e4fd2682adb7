import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestDatabase, gql, signIn, startMailCatcher, TEST_SECRET, until, withHeaders, services, type MailCatcher, type TestDatabase } from '@objectos/testkit';
import { Redis } from 'ioredis';
import { readConfig } from '../src/config.ts';
import { startObjectOS, type RunningObjectOS } from '../src/start.ts';

const PASSWORD = 'Sup3r-secret-pass!';

const METADATA = 'metadata';

/**
 * Jobs and notifications end to end through one running ObjectOS (embedded: pg-boss on PGlite; and on
 * PostgreSQL): identity's mail goes through the queue to a real SMTP server, an invited member joins
 * by following the mails alone, the job monitor keeps the tenant wall, in-app notifications arrive
 * live over graphql-ws, preferences and bad input behave.
 */
const variants = ['pglite', ...(services.postgres ? ['postgres'] : []), ...(services.postgres && services.redis ? ['postgres+redis'] : [])] as const;
for (const engine of variants) {
  describe(`jobs and notifications (${engine})`, () => {
    let app: RunningObjectOS;
    let mail: MailCatcher;
    let dir: string;
    let pg: TestDatabase | null = null;
    let base: string;
    /** Sessions kept across cases (sign-in is rate-limited per account). */
    const tokens: Record<string, string> = {};
    const auth = (path: string, body: unknown, token?: string) =>
      fetch(`${base}/api/auth${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
    const q = <T = Record<string, unknown>>(token: string, query: string, variables: Record<string, unknown> = {}) =>
      gql<T>(withHeaders(`${base}/graphql`, { authorization: `Bearer ${token}` }), query, variables);
    /** Follows the link of a mail (GET, as a mail client would), returning the status. */
    const follow = async (text: string) => {
      const url = /(http:\/\/\S+)/.exec(text)?.[1];
      if (!url) throw new Error(`no link in: ${text}`);
      return (await fetch(url, { redirect: 'manual' })).status;
    };

    beforeAll(async () => {
      mail = await startMailCatcher();
      dir = await mkdtemp(join(tmpdir(), 'objectos-jobs-'));
      if (engine !== 'pglite') pg = await createTestDatabase();
      app = await startObjectOS(readConfig({
        OBJECTOS_SECRET: TEST_SECRET, OBJECTOS_SEED: 'false', OBJECTOS_METADATA: METADATA, OBJECTOS_RATE_LIMIT: '0', NODE_ENV: 'development',
        HOST: '127.0.0.1', PORT: '0', OBJECTOS_DATA_DIR: join(dir, 'data'), OBJECTOS_SECRET_FILE: join(dir, 'secret'),
        SMTP_URL: mail.url, OBJECTOS_OPERATORS: 'operator@jobs.test', OBJECTOS_WEBHOOK_ALLOW: '',
        ...(pg ? { DATABASE_URL: pg.url } : {}),
        // Services mode: BullMQ on the shared Redis, under keys of this run only.
        ...(engine === 'postgres+redis' ? { REDIS_URL: services.redis!, OBJECTOS_JOBS_PREFIX: `objectos-test-${process.pid}-${Date.now()}` } : {}),
      }, []));
      const port = (app.server.address() as { port: number }).port;
      base = `http://127.0.0.1:${port}`;
      // The public URL the mails link to is the configured one; tests follow it on the real port.
    }, 120_000);
    afterAll(async () => {
      await app?.stop();
      await mail?.close();
      await pg?.drop();
      if (engine === 'postgres+redis') await dropRedisKeys(`objectos-test-${process.pid}-`);
      await rm(dir, { recursive: true, force: true });
    });
    const localLink = (text: string) => text.replace(/http:\/\/localhost:\d+/g, base);

    it('an invited member joins by the mails alone: invitation, sign-up verification link, acceptance', async () => {
      expect((await auth('/sign-up/email', { email: 'owner@jobs.test', password: PASSWORD, name: 'Olive Owner' })).status).toBe(200);
      const owner = (tokens['owner'] = await signIn(base, 'owner@jobs.test', PASSWORD));
      const org = await auth('/organization/create', { name: 'Jobs Inc', slug: `jobs-${engine.replace('+', '-')}` }, owner);
      expect(org.status).toBe(200);
      const orgId = ((await org.json()) as { id: string }).id;
      await auth('/organization/set-active', { organizationId: orgId }, owner);
      const invited = await auth('/organization/invite-member', { email: 'pat@jobs.test', role: 'member' }, owner);
      expect(invited.status).toBe(200);

      const invitation = await mail.waitFor('pat@jobs.test', /Olive Owner invited you to Jobs Inc/);
      const invitationId = /invitation ([0-9a-f-]{36})/.exec(invitation.text)?.[1];
      expect(invitationId).toBeDefined();
      expect(invitation.headers).toMatch(new RegExp(`X-ObjectOS-Idempotency-Key: invitation:${invitationId}:email`, 'i'));

      expect((await auth('/sign-up/email', { email: 'pat@jobs.test', password: PASSWORD, name: 'Pat' })).status).toBe(200);
      const pat = await signIn(base, 'pat@jobs.test', PASSWORD);
      const refused = await auth('/organization/accept-invitation', { invitationId }, pat);
      expect(refused.status).toBe(403);
      const verify = await mail.waitFor('pat@jobs.test', /Verify your email address/);
      expect(await follow(localLink(verify.text))).toBeLessThan(400);
      const accepted = await auth('/organization/accept-invitation', { invitationId }, pat);
      expect(accepted.status, await accepted.clone().text()).toBe(200);
      const members = await q<{ members: { user: { email: string } }[] }>(owner, '{ members { user { email } } }');
      expect(members.data!.members.map((m) => m.user.email).sort()).toEqual(['owner@jobs.test', 'pat@jobs.test']);
    });

    it('password reset by mail: the link\'s token sets a new password, the old one stops working', async () => {
      expect((await auth('/request-password-reset', { email: 'pat@jobs.test', redirectTo: '/reset' })).status).toBe(200);
      const reset = await mail.waitFor('pat@jobs.test', /Reset your password/);
      const token = /reset-password\/([^?\s]+)/.exec(reset.text)?.[1];
      expect(token).toBeDefined();
      expect((await auth('/reset-password', { newPassword: 'An0ther-secret-pass!', token })).status).toBe(200);
      await expect(signIn(base, 'pat@jobs.test', PASSWORD)).rejects.toThrow(/401/);
      tokens['pat'] = await signIn(base, 'pat@jobs.test', 'An0ther-secret-pass!');
    });

    it('job monitor: an organization admin sees its own jobs only, a member none, an operator all and may pause', async () => {
      const [owner, pat] = [tokens['owner']!, tokens['pat']!];
      const runs = await q<{ jobRuns: { queue: string; key: string; status: string; tenantId: string | null; attempts: number; durationMs: number | null }[] }>(owner, '{ jobRuns(queue: "notify.email") { queue key status tenantId attempts durationMs } }');
      expect(runs.errors).toBeUndefined();
      // The invitation was the organization's; sign-up and reset mail belong to no organization.
      expect(runs.data!.jobRuns.map((r) => r.key.split(':')[0])).toEqual(['invitation']);
      expect(runs.data!.jobRuns[0]).toMatchObject({ status: 'COMPLETED', attempts: 1 });
      const queues = await q<{ jobQueues: { name: string; completed: number }[] }>(owner, '{ jobQueues { name completed } }');
      expect(queues.data!.jobQueues.find((x) => x.name === 'notify.email')!.completed).toBe(1);
      expect((await q(pat, '{ jobRuns { id } }')).errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
      // Workflow rules are behind manageAutomation the same way: a member can neither see nor switch them.
      for (const op of ['{ automationRules { name } }', '{ automationRuns { id } }', 'mutation { setAutomationRuleActive(name: "opportunity_won_follow_up", active: false) { active } }'])
        expect((await q(pat, op)).errors?.[0], op).toMatchObject({ extensions: { code: 'FORBIDDEN' }, message: expect.stringMatching(/manageAutomation/) });
      expect((await q<{ automationRules: { name: string; active: boolean }[] }>(owner, '{ automationRules { name active } }')).data!.automationRules).toEqual([{ name: 'opportunity_won_follow_up', active: true }]);
      expect((await q(owner, 'mutation { pauseQueue(queue: "notify.email") { paused } }')).errors?.[0]?.message).toMatch(/platform operators only/);

      expect((await auth('/sign-up/email', { email: 'operator@jobs.test', password: PASSWORD, name: 'Op' })).status).toBe(200);
      // Operators are applied at start: restart-free here, the role is set as OBJECTOS_OPERATORS would.
      await app.identity!.database.run(`update auth."user" set role = 'operator' where email = 'operator@jobs.test'`, []);
      const op = await signIn(base, 'operator@jobs.test', PASSWORD);
      const all = await q<{ jobRuns: { key: string }[] }>(op, '{ jobRuns(queue: "notify.email", first: 100) { key } }');
      expect(all.errors, JSON.stringify(all.errors)).toBeUndefined();
      expect(all.data!.jobRuns.map((r) => r.key.split(':')[0]).sort()).toEqual(expect.arrayContaining(['invitation', 'password_reset', 'verify_email']));
      const paused = await q<{ pauseQueue: { paused: boolean } }>(op, 'mutation { pauseQueue(queue: "notify.in_app") { paused } }');
      expect(paused.data?.pauseQueue.paused).toBe(true);
      expect((await q<{ resumeQueue: { paused: boolean } }>(op, 'mutation { resumeQueue(queue: "notify.in_app") { paused } }')).data?.resumeQueue.paused).toBe(false);
      // A dead letter of the organization: listed for its admin, replayed, and the replay is in the trail.
      const orgId = (await q<{ activeOrganization: { id: string } }>(owner, '{ activeOrganization { id } }')).data!.activeOrganization.id;
      const dead = await app.jobs!.queue.enqueue('notify.email', { to: 'not an address', subject: 's', text: 't' }, { key: `dead-${engine}`, tenant: orgId, attempts: 1 });
      type Dead = { deadLetters: { id: string; error: string; attempts: number }[] };
      const letters = await until(() => q<Dead>(owner, '{ deadLetters(queue: "notify.email") { id error attempts } }'), (r) => (r.data?.deadLetters.length ?? 0) > 0);
      expect(letters.data!.deadLetters[0]).toMatchObject({ id: dead.id, attempts: 1, error: expect.stringMatching(/address/i) });
      const replayed = await q<{ replayDeadLetter: { status: string } }>(owner, 'mutation($id: ID!) { replayDeadLetter(id: $id) { status } }', { id: dead.id });
      expect(replayed.errors).toBeUndefined();
      expect((await q(pat, 'mutation($id: ID!) { replayDeadLetter(id: $id) { status } }', { id: dead.id })).errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
      const trail = await until(() => q<{ auditEvents: { edges: { node: { actor: { id: string } } }[] } }>(owner, '{ auditEvents(where: { eventType: ["job.replayed"] }) { edges { node { actor { id } } } } }'),
        (r) => (r.data?.auditEvents.edges.length ?? 0) > 0);
      expect(trail.data!.auditEvents.edges).toHaveLength(1);
      const schedules = await q<{ jobSchedules: { name: string; type: string; nextRunAt: string }[] }>(op, '{ jobSchedules { name type nextRunAt } }');
      expect(schedules.data!.jobSchedules).toContainEqual({ name: 'purge_read_notifications', type: 'cron', nextRunAt: expect.stringMatching(/T03:00:00/) });
    });

    it('in-app notifications arrive live over graphql-ws, are listed and marked read; an opt-out is respected, security mail is not opt-out', async () => {
      const pat = tokens['pat']!;
      const me = (await q<{ me: { id: string } }>(pat, '{ me { id } }')).data!.me.id;
      const tenant = (await q<{ activeOrganization: { id: string } }>(pat, '{ activeOrganization { id } }')).data!.activeOrganization.id;
      const got: { title: string }[] = [];
      const client = createClient({ url: `${base.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${pat}` } });
      const stop = client.subscribe<{ notificationReceived: { title: string } }>({ query: 'subscription { notificationReceived { title } }' }, {
        next: (r) => r.data && got.push(r.data.notificationReceived), error: () => {}, complete: () => {},
      });
      try {
        const deadline = Date.now() + 20_000;
        for (let i = 0; got.length === 0 && Date.now() < deadline; i++) {
          await app.jobs!.notifier.notify({ template: 'invitation', variables: { inviterName: 'Ops', organizationName: 'Jobs Inc', role: 'member', url: 'http://x.test', invitationId: `n${i}` }, to: { userId: me }, tenant, channels: ['in_app'], key: `live-${i}` });
          await new Promise((r) => setTimeout(r, 500));
        }
        expect(got[0]?.title).toBe('Ops invited you to Jobs Inc');
      } finally {
        stop();
        await client.dispose();
      }
      const list = await q<{ myNotifications: { nodes: { id: string; readAt: string | null }[] } }>(pat, '{ myNotifications { nodes { id readAt } } }');
      const first = list.data!.myNotifications.nodes[0]!;
      expect(first.readAt).toBeNull();
      expect((await q(pat, 'mutation($id: ID!) { markNotificationRead(id: $id) }', { id: first.id })).data).toEqual({ markNotificationRead: true });
      expect((await q(pat, 'mutation($id: ID!) { markNotificationRead(id: $id) }', { id: first.id })).data).toEqual({ markNotificationRead: false });
      // Another user cannot mark it.
      const owner = tokens['owner']!;
      expect((await q(owner, 'mutation($id: ID!) { markNotificationRead(id: $id) }', { id: list.data!.myNotifications.nodes[1]?.id ?? first.id })).data).toEqual({ markNotificationRead: false });

      await q(pat, 'mutation { setNotificationPreference(channel: EMAIL, topic: "*", enabled: false) { enabled } }');
      const optedOut = await app.jobs!.notifier.notify({ template: 'invitation', variables: { inviterName: 'A', organizationName: 'B', role: 'member', url: 'http://x.test', invitationId: 'z' }, to: { userId: me, email: 'pat@jobs.test' }, tenant, key: 'opt-out-1' });
      expect(optedOut).toEqual({ channels: [], skipped: ['email'] });
      const security = await app.jobs!.notifier.notify({ template: 'password_reset', variables: { name: 'Pat', url: 'http://x.test/r' }, to: { userId: me, email: 'pat@jobs.test' }, tenant, key: 'security-1' });
      expect(security).toEqual({ channels: ['email'], skipped: [] });
    });

    it('bad input is refused with a clear error and enqueues nothing', async () => {
      const before = (await app.jobs!.queue.list({ limit: 500 })).length;
      const n = app.jobs!.notifier;
      await expect(n.notify({ template: 'nope', variables: {}, to: { email: 'a@jobs.test' }, key: 'bad-1' })).rejects.toMatchObject({ code: 'UNKNOWN_TEMPLATE' });
      await expect(n.notify({ template: 'verify_email', variables: { name: 'A', url: 'u', extra: 1 }, to: { email: 'a@jobs.test' }, key: 'bad-2' })).rejects.toMatchObject({ code: 'UNKNOWN_VARIABLE' });
      await expect(n.notify({ template: 'verify_email', variables: { name: 'A', url: 'u' }, to: { email: 'a@jobs.test' }, channels: ['push'], key: 'bad-3' })).rejects.toThrow(/push channel is not configured/);
      await expect(n.webhook({ url: 'http://127.0.0.1:9/hook', payload: {}, key: 'bad-4' })).rejects.toMatchObject({ code: 'FORBIDDEN_TARGET' });
      await expect(n.webhook({ url: 'http://169.254.169.254/latest/meta-data', payload: {}, key: 'bad-5' })).rejects.toMatchObject({ code: 'FORBIDDEN_TARGET' });
      await expect(n.webhook({ url: 'https://example.com/hook', payload: { blob: 'x'.repeat(300 * 1024) }, key: 'bad-6' })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
      await expect(app.jobs!.queue.enqueue('no.such_queue', {}, { key: 'bad-7' })).rejects.toMatchObject({ code: 'UNKNOWN_QUEUE' });
      expect((await app.jobs!.queue.list({ limit: 500 })).length).toBe(before);
    });
  });
}

/** Deletes the keys a run made under its prefix. */
async function dropRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(services.redis!);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

describe('email one-time codes (OBJECTOS_EMAIL_OTP)', () => {
  let mail: MailCatcher;
  let dir: string;
  const apps: RunningObjectOS[] = [];
  beforeAll(async () => {
    mail = await startMailCatcher();
    dir = await mkdtemp(join(tmpdir(), 'objectos-otp-'));
  });
  afterAll(async () => {
    for (const a of apps) await a.stop();
    await mail?.close();
    await rm(dir, { recursive: true, force: true });
  });
  const start = async (otp: boolean) => {
    const app = await startObjectOS(readConfig({
      OBJECTOS_SECRET: TEST_SECRET, OBJECTOS_SEED: 'false', OBJECTOS_METADATA: METADATA, OBJECTOS_RATE_LIMIT: '0', NODE_ENV: 'development', HOST: '127.0.0.1', PORT: '0',
      OBJECTOS_DATA_DIR: join(dir, `data-${otp}`), OBJECTOS_SECRET_FILE: join(dir, 'secret'), SMTP_URL: mail.url, ...(otp ? { OBJECTOS_EMAIL_OTP: 'true' } : {}),
    }, []));
    apps.push(app);
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const post = (path: string, body: unknown) => fetch(`${base}/api/auth${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { app, post };
  };

  it('off by default: the routes answer EMAIL_OTP_DISABLED and send nothing', async () => {
    const { post } = await start(false);
    const r = await post('/email-otp/send-verification-otp', { email: 'x@otp.test', type: 'sign-in' });
    expect(r.status).toBe(404);
    expect(await r.json()).toMatchObject({ code: 'EMAIL_OTP_DISABLED' });
  }, 120_000);

  it('on: a mailed code signs in; a wrong code is refused; never for an account with 2FA; passwords stay with the link flow', async () => {
    const { app, post } = await start(true);
    expect((await post('/sign-up/email', { email: 'otto@otp.test', password: PASSWORD, name: 'Otto' })).status).toBe(200);
    expect((await post('/email-otp/send-verification-otp', { email: 'otto@otp.test', type: 'sign-in' })).status).toBe(200);
    const code = /code for signing in is (\d{6})/.exec((await mail.waitFor('otto@otp.test', /Your ObjectOS code/)).text)?.[1];
    expect(code).toBeDefined();
    const wrong = await post('/sign-in/email-otp', { email: 'otto@otp.test', otp: code === '000000' ? '111111' : '000000' });
    expect(wrong.status).toBeGreaterThanOrEqual(400);
    const ok = await post('/sign-in/email-otp', { email: 'otto@otp.test', otp: code });
    expect(ok.status, await ok.clone().text()).toBe(200);
    expect(ok.headers.get('set-auth-token')).toBeTruthy();
    await app.identity!.database.run(`update auth."user" set two_factor_enabled = true where email = 'otto@otp.test'`, []);
    const twoFactor = await post('/sign-in/email-otp', { email: 'otto@otp.test', otp: '123456' });
    expect(twoFactor.status).toBe(403);
    expect(await twoFactor.json()).toMatchObject({ code: 'TWO_FACTOR_REQUIRED' });
    const reset = await post('/email-otp/reset-password', { email: 'otto@otp.test', otp: '123456', password: 'weak' });
    expect(reset.status).toBe(403);
    expect(await reset.json()).toMatchObject({ code: 'USE_EMAIL_LINK' });
  }, 120_000);
});
