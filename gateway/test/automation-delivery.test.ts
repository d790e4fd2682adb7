import { createDecipheriv, createECDH, createHash, generateKeyPairSync, hkdfSync, randomBytes, type ECDH } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, services, signIn, startMailCatcher, withHeaders, type MailCatcher } from '@objectos/testkit';
import { startRulesApp, until, type RulesApp, type RulesEngine } from './rules-app.ts';

const PASSWORD = 'Sup3r-secret-pass!';
const SLUG = 'delivery';
/** Recipients named by id in the rule file (written before anyone exists): created with these ids. */
const UMA = 'uma-member';
const OLGA = 'olga-elsewhere';
const SLOW_TIMEOUT_MS = 1_000;

interface Hit { url: string; headers: IncomingHttpHeaders; body: Buffer }
interface Run { id: string; action: string; status: string; attempts: number; error: string | null; result: Record<string, unknown> | null; eventId: string }
/** How the receiver answers a request (`seen`: earlier requests to the same path); may wait on the test before answering. */
type Answer = (hit: Hit, seen: number) => Promise<{ status: number; delayMs?: number }>;

function extraMetadata(origin: string): Record<string, string> {
  return {
    'automation/test_contact_alert.rule.yaml': `name: test_contact_alert
objectName: contact
triggerType: on_create
actions:
  - name: alert_all
    type: email_alert
    template: contact_alert
    recipients: [owner, "user:${UMA}", "role:support_agent", "field:email", admins, "user:${OLGA}"]
`,
    'templates/contact_alert.template.yaml': `name: contact_alert
topic: crm.contact_alert
variables: [record, rule]
locales:
  en: { subject: "New contact: {{record.first_name}} {{record.last_name}}", text: "{{record.first_name}} {{record.last_name}} ({{record.title}}) is at {{record.email}}; rule {{rule.name}}." }
`,
    'automation/test_case_push.rule.yaml': `name: test_case_push
objectName: case
triggerType: on_update
criteria: "ISCHANGED(status) AND status = 'escalated'"
actions:
  - { name: page_team, type: push_notification, title: "Escalated: {{record.subject}}", body: "{{record.case_number}} needs you", recipients: [owner, "role:support_manager"] }
`,
    'automation/test_web_calls.rule.yaml': `name: test_web_calls
objectName: case
triggerType: on_update
criteria: "ISCHANGED(origin) AND origin = 'web'"
actions:
  - { name: flaky, type: http_call, url: "${origin}/flaky/{{record.id}}", body: { subject: "{{record.subject}}" } }
  - { name: gone, type: http_call, url: "${origin}/gone/{{record.id}}" }
  - { name: slow, type: http_call, url: "${origin}/slow/{{record.id}}", timeoutMs: ${SLOW_TIMEOUT_MS} }
`,
    'automation/test_capped_call.rule.yaml': `name: test_capped_call
objectName: case
triggerType: on_update
criteria: "ISCHANGED(origin) AND origin = 'phone'"
actions:
  - { name: capped, type: http_call, url: "${origin}/down/{{record.id}}", attempts: 2 }
`,
  };
}

/** A local HTTP server recording every request; `answer` may await (the test reads state while a request is in flight). */
async function startReceiver(answer: Answer): Promise<{ origin: string; hits: Hit[]; close(): Promise<void> }> {
  const hits: Hit[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const hit: Hit = { url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      const seen = hits.filter((h) => h.url === hit.url).length;
      hits.push(hit);
      void answer(hit, seen).then(({ status, delayMs }) => {
        const reply = () => {
          if (!res.destroyed) res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
        };
        if (delayMs) setTimeout(reply, delayMs);
        else reply();
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    hits,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** VAPID keys as `web-push generate-vapid-keys` prints them: the raw P-256 public point and private scalar, base64url. */
function vapidKeys(): { publicKey: string; privateKey: string } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const jwk = privateKey.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  return { publicKey: point.toString('base64url'), privateKey: jwk.d! };
}

/** A browser's push subscription, and how the browser reads what it is sent (RFC 8291 aes128gcm, one record). */
function browser(endpoint: string): { input: { endpoint: string; p256dh: string; auth: string }; decrypt(body: Buffer): Record<string, unknown> } {
  const ecdh: ECDH = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return {
    input: { endpoint, p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') },
    decrypt(body) {
      const salt = body.subarray(0, 16);
      const idLength = body[20]!;
      const serverKey = body.subarray(21, 21 + idLength);
      const sealed = body.subarray(21 + idLength);
      const info = Buffer.concat([Buffer.from('WebPush: info\0'), ecdh.getPublicKey(), serverKey]);
      const ikm = Buffer.from(hkdfSync('sha256', ecdh.computeSecret(serverKey), auth, info, 32));
      const key = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
      const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
      const decipher = createDecipheriv('aes-128-gcm', key, nonce);
      decipher.setAuthTag(sealed.subarray(sealed.length - 16));
      const plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
      let end = plain.length - 1;
      while (plain[end] === 0) end--;
      expect(plain[end]).toBe(2);
      return JSON.parse(plain.subarray(0, end).toString('utf8')) as Record<string, unknown>;
    },
  };
}

const engine: RulesEngine = services.postgres && services.redis ? 'postgres+redis' : services.postgres ? 'postgres' : 'pglite';

/**
 * Where workflow rule actions deliver, end to end through one running ObjectOS: an email alert reaches
 * exactly the people its recipients name in this organization (a real SMTP server, one mail each, keyed);
 * a push notification reaches the recipient's registered device (Web Push, VAPID, encrypted to the
 * subscription) and the in-app inbox, and a push opt-out leaves the inbox only; an http call is retried
 * on a 5xx and a timeout with the same idempotency key, and fails at once on a 4xx.
 */
describe(`workflow rule action delivery (${engine})`, () => {
  let rig: RulesApp;
  let mail: MailCatcher;
  let rx: Awaited<ReturnType<typeof startReceiver>>;
  let org: string;
  let accountId: string;
  const vapid = vapidKeys();
  /** Run while a request of a `slow` action is answered: what the run log showed then. */
  const slowSnapshots: Run[] = [];
  const q = <T = Record<string, unknown>>(query: string, variables: Record<string, unknown> = {}) => rig.q<T>(query, variables);
  const runsOf = async (recordId: string, rule: string) =>
    (await q<{ automationRuns: Run[] }>('query($w: AutomationRunWhere) { automationRuns(where: $w) { id action status attempts error result eventId } }', { w: { recordId, rule } })).automationRuns;
  const auth = async (path: string, body: unknown, token?: string) => {
    const r = await fetch(`${rig.base}/api/auth${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${await r.text()}`);
    return (await r.json()) as Record<string, unknown>;
  };
  /** A member of the organization (signed up, added with `orgRole`, given `role` if any): id, email and a session in the organization. */
  const member = async (name: string, orgRole: 'member' | 'admin', role?: string) => {
    const email = `${name}@${SLUG}.test`;
    const { user } = (await auth('/sign-up/email', { email, password: PASSWORD, name })) as { user: { id: string } };
    await rig.app.identity!.auth.api.addMember({ body: { userId: user.id, organizationId: org, role: orgRole } });
    if (role) await q('mutation($i: SetMemberAccessInput!) { setMemberAccess(input: $i) { role } }', { i: { userId: user.id, role, permissionSets: [], groups: [] } });
    const token = await signIn(rig.base, email, PASSWORD);
    await auth('/organization/set-active', { organizationId: org }, token);
    return { id: user.id, email, as: withHeaders(`${rig.base}/graphql`, { authorization: `Bearer ${token}` }) };
  };
  /** A user row with a fixed id (a rule names it), never signed in. */
  const fixedUser = (id: string, email: string) =>
    rig.app.identity!.database.run(`insert into auth."user" (id, name, email, email_verified, created_at, updated_at) values ($1, $2, $3, true, now(), now())`, [id, id, email]);
  /** Jobs of `queue` whose key starts with `prefix`, once none of them is waiting, running or retrying. */
  const settledJobs = async (queue: string, prefix: string, count: number) =>
    until(async () => (await rig.app.jobs!.queue.list({ queue, limit: 500 })).filter((j) => j.key.startsWith(prefix)),
      (jobs) => jobs.length === count && jobs.every((j) => j.status === 'completed' || j.status === 'dead'), 30_000);

  beforeAll(async () => {
    mail = await startMailCatcher();
    rx = await startReceiver(async (hit, seen) => {
      if (hit.url.startsWith('/flaky/')) return { status: seen === 0 ? 503 : 202 };
      if (hit.url.startsWith('/gone/')) return { status: 404 };
      if (hit.url.startsWith('/down/')) return { status: 503 };
      if (hit.url.startsWith('/slow/')) {
        if (seen === 0) return { status: 200, delayMs: SLOW_TIMEOUT_MS * 3 };
        // The retry is in flight: the run log still holds the first attempt's error.
        const id = hit.url.split('/')[2]!;
        slowSnapshots.push(...(await runsOf(id, 'test_web_calls')).filter((r) => r.action === 'slow'));
        return { status: 200 };
      }
      return { status: 201 };
    });
    rig = await startRulesApp({
      engine, slug: SLUG, extra: extraMetadata(rx.origin),
      env: { SMTP_URL: mail.url, OBJECTOS_WEBHOOK_ALLOW: 'loopback', OBJECTOS_VAPID_PUBLIC_KEY: vapid.publicKey, OBJECTOS_VAPID_PRIVATE_KEY: vapid.privateKey, OBJECTOS_VAPID_SUBJECT: 'mailto:ops@delivery.test' },
    });
    org = (await q<{ activeOrganization: { id: string } }>('{ activeOrganization { id } }')).activeOrganization.id;
    accountId = (await q<{ createAccount: { id: string } }>('mutation { createAccount(input: { name: "Acme" }) { id } }')).createAccount.id;
  }, 120_000);
  afterAll(async () => {
    await rig?.close();
    await mail?.close();
    await rx?.close();
  });

  it('an email alert mails exactly the owner, the named member, the role, the record\'s address and the admins, once each, keyed; never another organization\'s user', async () => {
    const ownerId = (await q<{ me: { id: string } }>('{ me { id } }')).me.id;
    await fixedUser(UMA, `uma@${SLUG}.test`);
    await rig.app.identity!.auth.api.addMember({ body: { userId: UMA, organizationId: org, role: 'member' } });
    const sam = await member('sam', 'member', 'support_agent');
    const adam = await member('adam', 'admin');
    const nora = await member('nora', 'member', 'sales_rep');
    // Olga belongs to another organization (its owner, so an admin there): the rule names her, she is not reached.
    await fixedUser(OLGA, `olga@elsewhere.test`);
    await rig.app.identity!.auth.api.createOrganization({ body: { name: 'Elsewhere Inc', slug: 'elsewhere', userId: OLGA } });

    const create = async (i: Record<string, unknown>) =>
      (await q<{ createContact: { id: string } }>('mutation($i: ContactCreateInput!) { createContact(input: $i) { id } }', { i: { accountId, ...i } })).createContact.id;
    const id = await create({ firstName: 'Ada', lastName: 'Lovelace', title: 'Analyst', email: 'ada@customer.test' });
    const [run] = await until(() => runsOf(id, 'test_contact_alert'), (r) => r.length === 1 && r[0]!.status === 'SUCCEEDED');
    expect(run).toMatchObject({ action: 'alert_all', status: 'SUCCEEDED', attempts: 1, error: null, result: { recipients: 5 } });
    const key = `${run!.eventId}:test_contact_alert:alert_all`;
    // Each person's key: the run's key, whom it is for, the channel.
    const expected = new Map([
      [`owner@${SLUG}.test`, `${key}:${ownerId}:email`],
      [`uma@${SLUG}.test`, `${key}:${UMA}:email`],
      [sam.email, `${key}:${sam.id}:email`],
      [adam.email, `${key}:${adam.id}:email`],
      ['ada@customer.test', `${key}:ada@customer.test:email`],
    ]);
    const jobs = await settledJobs('notify.email', `${key}:`, 5);
    expect(jobs.map((j) => [j.key, j.status]).sort()).toEqual([...expected.values()].map((k) => [k, 'completed']).sort());
    const mails = mail.mails.filter((m) => m.subject === 'New contact: Ada Lovelace');
    expect(mails.map((m) => m.to.join(',')).sort()).toEqual([...expected.keys()].sort());
    for (const m of mails) {
      const k = expected.get(m.to[0]!)!;
      expect(m.headers).toMatch(new RegExp(`^X-ObjectOS-Idempotency-Key: ${k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'im'));
      expect(m.headers).toMatch(new RegExp(`^Message-ID: <${createHash('sha256').update(k).digest('hex')}@objectos>$`, 'im'));
      // The template is rendered with the record's fields and the rule.
      expect(m.text.trim()).toBe('Ada Lovelace (Analyst) is at ada@customer.test; rule test_contact_alert.');
    }
    // Nobody else: not a member the rule does not name, not the other organization's user (no mail of any kind).
    expect(mail.mails.filter((m) => /^New contact:/.test(m.subject) && m.to.includes(nora.email))).toEqual([]);
    expect(mail.mails.filter((m) => m.to.some((t) => t.includes('elsewhere')))).toEqual([]);

    // The record's address is a member's (in another case): that member gets one mail, not two.
    const twin = await create({ firstName: 'Sam', lastName: 'Twin', title: 'Agent', email: sam.email.toUpperCase() });
    const [twinRun] = await until(() => runsOf(twin, 'test_contact_alert'), (r) => r.length === 1 && r[0]!.status === 'SUCCEEDED');
    expect(twinRun!.result).toEqual({ recipients: 4 });
    const twinKey = `${twinRun!.eventId}:test_contact_alert:alert_all`;
    expect((await settledJobs('notify.email', `${twinKey}:`, 4)).every((j) => j.status === 'completed')).toBe(true);
    const twinMails = mail.mails.filter((m) => m.subject === 'New contact: Sam Twin');
    expect(twinMails.map((m) => m.to.join(',').toLowerCase()).sort()).toEqual([adam.email, `owner@${SLUG}.test`, sam.email, `uma@${SLUG}.test`].sort());
  });

  it('a push notification reaches the recipient\'s registered device and inbox; a member who opted out of push for the topic gets the inbox only', async () => {
    const rita = browser(`${rx.origin}/push/rita`);
    const pam = await member('pam', 'member', 'support_manager');
    const pamDevice = browser(`${rx.origin}/push/pam`);
    await q('mutation($i: PushSubscriptionInput!) { registerPushSubscription(input: $i) }', { i: rita.input });
    const asPam = async <T,>(query: string, variables: Record<string, unknown> = {}) => {
      const r = await gql<T>(pam.as, query, variables);
      expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
      return r.data!;
    };
    await asPam('mutation($i: PushSubscriptionInput!) { registerPushSubscription(input: $i) }', { i: pamDevice.input });
    await asPam('mutation { setNotificationPreference(channel: PUSH, topic: "automation.test_case_push", enabled: false) { enabled } }');

    const id = (await q<{ createCase: { id: string } }>('mutation($i: CaseCreateInput!) { createCase(input: $i) { id } }', { i: { subject: 'Server room flooded', accountId } })).createCase.id;
    await q('mutation($id: ID!) { updateCase(id: $id, input: { status: escalated }) { id } }', { id });
    const [run] = await until(() => runsOf(id, 'test_case_push'), (r) => r.length === 1 && r[0]!.status === 'SUCCEEDED');
    expect(run).toMatchObject({ action: 'page_team', status: 'SUCCEEDED', result: { recipients: 2 } });
    const key = `${run!.eventId}:test_case_push:page_team`;
    const ownerId = (await q<{ me: { id: string } }>('{ me { id } }')).me.id;
    // One device push (the owner's), two in-app notifications; every delivery done.
    expect((await settledJobs('notify.push', `${key}:`, 1)).map((j) => [j.key, j.status])).toEqual([[`${key}:${ownerId}:push`, 'completed']]);
    expect((await settledJobs('notify.in_app', `${key}:`, 2)).map((j) => j.key).sort()).toEqual([`${key}:${ownerId}:in_app`, `${key}:${pam.id}:in_app`].sort());

    const pushes = rx.hits.filter((h) => h.url.startsWith('/push/'));
    expect(pushes.map((h) => h.url)).toEqual(['/push/rita']);
    const push = pushes[0]!;
    expect(push.headers['content-encoding']).toBe('aes128gcm');
    expect(push.headers.authorization).toMatch(new RegExp(`^vapid t=[\\w-]+\\.[\\w-]+\\.[\\w-]+, k=${vapid.publicKey}$`));
    const caseNumber = (await q<{ case: { caseNumber: string } }>('query($id: ID!) { case(id: $id) { caseNumber } }', { id })).case.caseNumber;
    expect(rita.decrypt(push.body)).toEqual({
      title: 'Escalated: Server room flooded', body: `${caseNumber} needs you`, data: { object: 'case', id }, idempotencyKey: `${key}:${ownerId}:push`,
    });

    type Inbox = { myNotifications: { nodes: { title: string; topic: string; body: string }[] } };
    const inbox = '{ myNotifications { nodes { title topic body } } }';
    const expectedItem = { title: 'Escalated: Server room flooded', topic: 'automation.test_case_push', body: `${caseNumber} needs you` };
    expect((await q<Inbox>(inbox)).myNotifications.nodes).toContainEqual(expectedItem);
    expect((await asPam<Inbox>(inbox)).myNotifications.nodes).toEqual([expectedItem]);
  });

  it('an http call: a 503 is retried to success, a timeout is retried to success, a 404 fails at once; retries carry the same idempotency key', async () => {
    const id = (await q<{ createCase: { id: string } }>('mutation($i: CaseCreateInput!) { createCase(input: $i) { id } }', { i: { subject: 'Portal down', accountId } })).createCase.id;
    await q('mutation($id: ID!) { updateCase(id: $id, input: { origin: web }) { id } }', { id });
    const runs = await until(() => runsOf(id, 'test_web_calls'), (r) => r.length === 3 && r.every((x) => x.status === 'SUCCEEDED' || x.status === 'FAILED'), 30_000);
    const by = Object.fromEntries(runs.map((r) => [r.action, r]));
    expect(by['flaky']).toMatchObject({ status: 'SUCCEEDED', attempts: 2, error: null, result: { status: 202 } });
    expect(by['slow']).toMatchObject({ status: 'SUCCEEDED', attempts: 2, error: null, result: { status: 200 } });
    expect(by['gone']).toMatchObject({ status: 'FAILED', attempts: 1, result: null });
    expect(by['gone']!.error).toMatch(/answered 404/);
    // While the slow call's second attempt was in flight, the run log named the first one's timeout.
    expect(slowSnapshots).toHaveLength(1);
    expect(slowSnapshots[0]).toMatchObject({ status: 'RUNNING', attempts: 2 });
    expect(slowSnapshots[0]!.error).toMatch(new RegExp(`did not answer within ${SLOW_TIMEOUT_MS} ms`));

    const key = (action: string) => `${by[action]!.eventId}:test_web_calls:${action}`;
    const hitsOf = (path: string) => rx.hits.filter((h) => h.url === `/${path}/${id}`);
    for (const action of ['flaky', 'slow']) {
      expect(hitsOf(action), action).toHaveLength(2);
      expect(hitsOf(action).map((h) => h.headers['x-objectos-idempotency-key']), action).toEqual([key(action), key(action)]);
    }
    expect(JSON.parse(hitsOf('flaky')[1]!.body.toString())).toEqual({ subject: 'Portal down' });
    // The 404's job is done, not waiting for a retry: one request in all.
    const jobs = await settledJobs('automation.action', `${by['gone']!.eventId}:test_web_calls:`, 3);
    expect(jobs.find((j) => j.key === key('gone'))).toMatchObject({ status: 'completed', attempts: 1 });
    expect(hitsOf('gone').map((h) => h.headers['x-objectos-idempotency-key'])).toEqual([key('gone')]);
  });

  it('an http call that keeps answering 5xx is given up after the attempts its action declares', async () => {
    const id = (await q<{ createCase: { id: string } }>('mutation($i: CaseCreateInput!) { createCase(input: $i) { id } }', { i: { subject: 'Phone lines dead', accountId } })).createCase.id;
    await q('mutation($id: ID!) { updateCase(id: $id, input: { origin: phone }) { id } }', { id });
    const [run] = await until(() => runsOf(id, 'test_capped_call'), (r) => r.length === 1 && r[0]!.status === 'FAILED', 30_000);
    expect(run).toMatchObject({ action: 'capped', status: 'FAILED', attempts: 2 });
    expect(run!.error).toMatch(/answered 503/);
    const key = `${run!.eventId}:test_capped_call:capped`;
    expect(rx.hits.filter((h) => h.url === `/down/${id}`).map((h) => h.headers['x-objectos-idempotency-key'])).toEqual([key, key]);
  });
});
