import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { purgeExpired } from '@objectos/audit-subgraph';
import { queryRows } from '@objectos/db';
import { auditEvent, recordAuditEvents } from '@objectos/events';
import { securityNamesOf } from '@objectos/identity-subgraph';
import { loadMetadata, type AuditConfig } from '@objectos/metadata';
import { audienceKey, signPrincipal, type Principal } from '@objectos/principal';
import { engines, gql } from '@objectos/testkit';
import { ORIGIN, PASSWORD, startSecureStack, type SecureStack } from './secure-stack.ts';
import { METADATA } from './stack.ts';
import { TEST_SECRET } from '@objectos/testkit';

interface Err { message: string; extensions?: Record<string, unknown> }
const codeOf = (r: { errors?: Err[] }) => r.errors?.[0]?.extensions?.['code'];
const HISTORY = `query($id: ID!) { account(id: $id) { name history(first: 50) { totalCount edges { node { operation actor { id } changes { field oldValue newValue } } } } } }`;
const VERIFY = `query($from: DateTime, $to: DateTime) { verifyAuditChain(from: $from, to: $to) { ok checked firstBrokenLink { eventId reason } } }`;
const DAY = 86_400_000;

/** The demo metadata with a secret-looking field on accounts and an audit configuration made for these tests. */
async function fixture(archive: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'objectos-audit-'));
  await cp(METADATA, dir, { recursive: true });
  const account = join(dir, 'objects', 'account.object.yaml');
  await writeFile(account, (await readFile(account, 'utf8')).replace('fields:\n', 'fields:\n  api_token:\n    type: text\n    maxLength: 100\n'));
  await writeFile(join(dir, 'security', 'auditor.permission.yaml'), 'name: auditor\nlabel: Auditor\nsystemPermissions: [viewAuditLog, exportAuditLog]\n');
  await writeFile(join(dir, 'audit', 'crm.audit.yaml'), `name: test_audit
eventTypes: [data.*, auth.*, authz.*, security.*, system.config_changed]
redactFields: [password, token, secret]
logReads: true
readSamplingRate: 1
retentionPolicy:
  retentionDays: 30
  minimumRetentionDays: 7
  customRetention: { auth.*: 10, auth.login_failed: 8 }
  archiveAfterRetention: true
  archiveStorage: { type: filesystem, path: ${JSON.stringify(archive)} }
suspiciousActivityRules:
  - name: three_failed_sign_ins
    eventType: auth.login_failed
    threshold: 3
    windowSeconds: 300
    actions: [alert, lock_account]
    lockMinutes: 5
  - name: refused_again_and_again
    eventType: security.access_denied
    threshold: 20
    windowSeconds: 300
    actions: [require_mfa]
`);
  return dir;
}

describe.each(engines())('audit integrity: history, export, tamper evidence, retention, redaction, suspicious activity on $name', (engine) => {
  let s: SecureStack;
  let dir: string;
  let archive: string;
  let config: AuditConfig;
  let owner: { headers: Record<string, string>; userId: string };
  let org: string;

  beforeAll(async () => {
    archive = await mkdtemp(join(tmpdir(), 'objectos-archive-'));
    dir = await fixture(archive);
    const model = await loadMetadata(dir);
    config = model.audit;
    s = await startSecureStack(engine, { audit: true, metadata: dir, security: securityNamesOf(model.security) });
    owner = await s.user('integrity-owner@example.com', 'Integrityco');
    org = (await s.q<{ activeOrganization: { id: string } }>(owner.headers, '{ activeOrganization { id } }')).data!.activeOrganization.id;
  });
  afterAll(async () => {
    await s?.close();
    await rm(dir, { recursive: true, force: true });
    await rm(archive, { recursive: true, force: true });
  });

  async function member(email: string, permissionSets = ['standard_user']) {
    const m = await s.user(email);
    await s.identity.auth.api.addMember({ body: { userId: m.userId, organizationId: org, role: 'member' } });
    await s.q(owner.headers, 'mutation($i: SetMemberAccessInput!) { setMemberAccess(input: $i) { userId } }', { i: { userId: m.userId, permissionSets, groups: [] } });
    const signedIn = await s.auth('/sign-in/email', { email, password: PASSWORD });
    return { headers: { authorization: `Bearer ${signedIn.headers.get('set-auth-token')}` }, userId: m.userId };
  }

  it('field history: tracked changes, newest first; a hidden field never shows, an unreadable record has none', async () => {
    const made = await s.q<{ createAccount: { id: string } }>(owner.headers, 'mutation { createAccount(input: { name: "History Co", annualRevenue: 1000001 }) { id } }');
    const id = made.data!.createAccount.id;
    await s.q(owner.headers, `mutation { updateAccount(id: "${id}", input: { name: "History Co 2" }) { id } }`);
    await s.q(owner.headers, `mutation { updateAccount(id: "${id}", input: { annualRevenue: 2000002 }) { id } }`);
    await s.settle();
    type H = { account: { history: { totalCount: number; edges: { node: { operation: string; actor: { id: string }; changes: { field: string; oldValue: unknown; newValue: unknown }[] } }[] } } | null };
    const mine = (await s.q<H>(owner.headers, HISTORY, { id })).data!.account!.history;
    expect(mine.totalCount).toBe(3);
    expect(mine.edges.map((e) => e.node.operation)).toEqual(['update', 'update', 'create']);
    expect(mine.edges[0]!.node.changes).toEqual([{ field: 'annualRevenue', oldValue: 1000001, newValue: 2000002 }]);
    expect(mine.edges[1]!.node.changes).toEqual([{ field: 'name', oldValue: 'History Co', newValue: 'History Co 2' }]);
    expect(mine.edges[0]!.node.actor.id).toBe(owner.userId);

    // A standard user cannot read annualRevenue: with a share they see the record's history without it.
    const m = await member('integrity-reader@example.com');
    expect((await s.q<H>(m.headers, HISTORY, { id })).data!.account).toBeNull();
    await s.q(owner.headers, `mutation { shareRecord(input: { object: "account", recordId: "${id}", sharedWithType: USER, sharedWith: "${m.userId}", accessLevel: READ }) { id } }`);
    const theirs = await s.q<H>(m.headers, '{ account(id: "' + id + '") { history(first: 50) { totalCount edges { node { operation changes { field oldValue newValue } } } } } }');
    expect(theirs.errors).toBeUndefined();
    const h = theirs.data!.account!.history;
    expect(h.totalCount).toBe(2);
    expect(h.edges.map((e) => e.node.operation)).toEqual(['update', 'create']);
    expect(JSON.stringify(h)).not.toMatch(/annualRevenue|1000001|2000002/);

    // Past the gateway: the audit subgraph itself gives no history of a record the principal cannot read.
    const stranger = await member('integrity-stranger@example.com');
    const principal: Principal = { kind: 'user', userId: stranger.userId, organizationId: org, roles: ['member'], permissionSets: ['standard_user'], role: null, groups: [], isAdmin: false, sessionId: null, apiKeyId: null, impersonatedBy: null };
    const body = JSON.stringify({ query: 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Account { history { totalCount edges { node { changes { field } } } } } } }', variables: { r: [{ __typename: 'Account', id }] } });
    const url = 'http://audit.test/graphql';
    const headers = { 'content-type': 'application/json', ...signPrincipal(principal, audienceKey(TEST_SECRET, 'audit'), { audience: 'audit', method: 'POST', url, body }) };
    const direct = (await (await s.audit!.fetch(new Request(url, { method: 'POST', headers, body }))).json()) as { data: { _entities: { history: { totalCount: number } }[] } };
    expect(direct.data._entities[0]!.history.totalCount).toBe(0);
  });

  it('field security holds in the trail: an auditor who cannot read a field sees that a record changed, not its values', async () => {
    const made = await s.q<{ createAccount: { id: string } }>(owner.headers, 'mutation { createAccount(input: { name: "Audited Revenue", annualRevenue: 7000007 }) { id } }');
    const id = made.data!.createAccount.id;
    await s.q(owner.headers, `mutation { updateAccount(id: "${id}", input: { annualRevenue: 8000008, name: "Audited Revenue 2" }) { id } }`);
    await s.settle();
    const auditor = await member('integrity-auditor@example.com', ['standard_user', 'auditor']);
    const seen = await s.q<{ auditEvents: { edges: { node: { eventType: string; changes: { field: string }[] } }[] } }>(auditor.headers,
      `{ auditEvents(where: { target: { type: "account", id: "${id}" } }, orderBy: TIMESTAMP_ASC) { edges { node { eventType changes { field oldValue newValue } } } } }`);
    expect(seen.errors).toBeUndefined();
    expect(seen.data!.auditEvents.edges.map((e) => e.node.eventType)).toEqual(['data.create', 'data.update']);
    expect(seen.data!.auditEvents.edges[1]!.node.changes.map((c) => c.field)).toEqual(['name']);
    expect(JSON.stringify(seen.data)).not.toMatch(/7000007|8000008|annualRevenue/);
    const exported = await s.gateway.fetch(new Request(`${ORIGIN}/api/audit/export?format=ndjson&targetId=${id}`, { headers: auditor.headers }), { req: { socket: { remoteAddress: '127.0.0.1' } } });
    expect(exported.status).toBe(200);
    const text = await exported.text();
    expect(text.trim().split('\n')).toHaveLength(2);
    expect(text).not.toMatch(/7000007|8000008|annualRevenue/);
    // The owner (every field readable) sees the values.
    const full = await s.q<{ auditEvents: { edges: { node: { changes: { field: string; newValue: unknown }[] } }[] } }>(owner.headers,
      `{ auditEvents(where: { target: { type: "account", id: "${id}" }, eventType: ["data.update"] }) { edges { node { changes { field newValue } } } } }`);
    expect(full.data!.auditEvents.edges[0]!.node.changes).toContainEqual({ field: 'annualRevenue', newValue: 8000008 });
  });

  it('export: NDJSON and CSV streamed through the gateway, itself audited; exportAuditLog required', async () => {
    const get = (q: string, headers = owner.headers) => s.gateway.fetch(new Request(`${ORIGIN}/api/audit/export?${q}`, { headers }), { req: { socket: { remoteAddress: '127.0.0.1' } } });
    const exports = async () => (await s.q<{ auditEvents: { totalCount: number } }>(owner.headers, '{ auditEvents(where: { eventType: ["data.export"] }) { totalCount } }')).data!.auditEvents.totalCount;
    await s.settle();
    const before = await exports();
    const nd = await get('format=ndjson&eventType=data.*');
    expect(nd.status, await nd.clone().text()).toBe(200);
    expect(nd.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = (await nd.text()).trim().split('\n').map((l) => JSON.parse(l) as { eventType: string; tenantId: string });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.eventType.startsWith('data.') && l.tenantId === org)).toBe(true);
    const csv = await get('format=csv&eventType=data.create');
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const rows = (await csv.text()).trim().split('\r\n');
    expect(rows[0]).toBe('id,timestamp,eventType,severity,result,tenantId,actorType,actorId,actorIp,actorUserAgent,targetType,targetId,description,requestId,changes,details');
    expect(rows.length).toBeGreaterThan(1);
    await s.settle();
    expect(await exports()).toBe(before + 2);
    // Mistakes are named; a member without exportAuditLog is refused.
    const bad = await get('format=xml');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toBe('format: "xml" is not ndjson or csv');
    const unknown = await get('eventType=data.nope');
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/unknown audit event type "data\.nope"/) });
    const m = await member('integrity-exporter@example.com', ['standard_user', 'revenue_viewer']);
    const refused = await get('format=ndjson', m.headers);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/exportAuditLog/) });
    const anonymous = await s.gateway.fetch(new Request(`${ORIGIN}/api/audit/export`), { req: { socket: { remoteAddress: '127.0.0.1' } } });
    expect(anonymous.status).toBe(401);
  });

  it('redactFields: a secret-looking field is never stored, in changes or anywhere in the row', async () => {
    const made = await s.q<{ createAccount: { id: string } }>(owner.headers, 'mutation { createAccount(input: { name: "Secret Co", apiToken: "sekrit-value-42" }) { id } }');
    expect(made.errors).toBeUndefined();
    await s.settle();
    const ev = await s.q<{ auditEvents: { edges: { node: { changes: { field: string; newValue: unknown }[] } }[] } }>(owner.headers,
      `{ auditEvents(where: { target: { type: "account", id: "${made.data!.createAccount.id}" } }) { edges { node { changes { field newValue } } } } }`);
    expect(ev.data!.auditEvents.edges[0]!.node.changes).toContainEqual({ field: 'apiToken', newValue: '[REDACTED]' });
    const leaked = await queryRows<{ n: number }>(s.identity.database.db, sql`select count(*)::int as n from audit.events where (changes::text || coalesce(details::text, '')) like '%sekrit%'`);
    expect(leaked[0]!.n).toBe(0);
  });

  it('suspicious activity: 3 failed sign-ins in the window lock the account and raise an alert', async () => {
    const victim = await member('integrity-victim@example.com');
    for (let i = 0; i < 3; i++) expect((await s.auth('/sign-in/email', { email: 'integrity-victim@example.com', password: 'Wrong-Passw0rd' }, {}, `10.0.0.${i + 1}`)).status).toBe(401);
    await s.settle();
    const alerts = await s.q<{ auditEvents: { edges: { node: { eventType: string; severity: string; target: { id: string } | null; details: Record<string, unknown> } }[] } }>(owner.headers,
      `{ auditEvents(where: { eventType: ["security.suspicious_activity", "auth.account_locked"], target: { type: "user", id: "${victim.userId}" } }) { edges { node { eventType severity target { id } details } } } }`);
    const types = alerts.data!.auditEvents.edges.map((e) => e.node.eventType).sort();
    expect(types).toEqual(['auth.account_locked', 'security.suspicious_activity']);
    expect(alerts.data!.auditEvents.edges.find((e) => e.node.eventType === 'security.suspicious_activity')!.node).toMatchObject({ severity: 'alert', details: { rule: 'three_failed_sign_ins', count: 3 } });
    // The right password no longer works, and the session it had is gone.
    const locked = await s.auth('/sign-in/email', { email: 'integrity-victim@example.com', password: PASSWORD }, {}, '10.0.1.1');
    expect(locked.status).toBe(403);
    expect(codeOf(await gql(s.as(victim.headers), '{ me { id } }'))).toBe('UNAUTHENTICATED');
    // A fourth failure in the same window raises nothing new.
    await s.auth('/sign-in/email', { email: 'integrity-victim@example.com', password: 'Wrong-Passw0rd' }, {}, '10.0.2.1');
    await s.settle();
    const again = await queryRows<{ n: number }>(s.identity.database.db, sql`select count(*)::int as n from audit.events where event_type = 'security.suspicious_activity' and target_id = ${victim.userId}`);
    expect(again[0]!.n).toBe(1);
  });

  it('logReads: a sampled query leaves a data.read event naming what it read (rate 1 here)', async () => {
    const h = { ...owner.headers, 'x-request-id': 'audit-req-read-00001' };
    expect((await s.q(h, '{ accounts(first: 1) { totalCount } contacts(first: 1) { totalCount } }')).errors).toBeUndefined();
    await s.settle();
    const reads = await s.q<{ auditEvents: { edges: { node: { eventType: string; actor: { id: string }; details: { fields: string[] } } }[] } }>(owner.headers,
      '{ auditEvents(where: { eventType: ["data.read"], requestId: "audit-req-read-00001" }) { edges { node { eventType actor { id } details } } } }');
    const mine = reads.data!.auditEvents.edges;
    expect(mine).toHaveLength(1);
    expect(mine[0]!.node).toMatchObject({ eventType: 'data.read', actor: { id: owner.userId }, details: { fields: ['accounts', 'contacts'] } });
  });

  it('suspicious activity: 20 refusals in the window end the sessions and require a second factor', async () => {
    const prober = await member('integrity-prober@example.com');
    await s.gateway.denials.flush();
    for (let i = 0; i < 20; i++) expect(codeOf(await s.q(prober.headers, '{ accounts { nodes { annualRevenue } } }'))).toBe('FORBIDDEN');
    await s.gateway.denials.flush();
    await s.settle();
    const raised = await queryRows<{ event_type: string }>(s.identity.database.db, sql`select event_type from audit.events where target_id = ${prober.userId} and event_type in ('security.suspicious_activity', 'auth.session_revoked') order by seq`);
    expect(raised.map((r) => r.event_type)).toEqual(['security.suspicious_activity', 'auth.session_revoked']);
    // The session is gone; signing in again gives a session that may only set up 2FA.
    expect(codeOf(await gql(s.as(prober.headers), '{ me { id } }'))).toBe('UNAUTHENTICATED');
    const again = await s.auth('/sign-in/email', { email: 'integrity-prober@example.com', password: PASSWORD }, {}, '10.0.3.1');
    const r = await gql(s.as({ authorization: `Bearer ${again.headers.get('set-auth-token')}` }), '{ me { id } }');
    expect(codeOf(r)).toBe('MFA_REQUIRED');
    expect(r.errors![0]!.message).toMatch(/Suspicious activity .* requires two-factor authentication/);
  });

  it('the audit subgraph answers only the gateway: unsigned, foreign and misused calls are refused', async () => {
    const audit = s.audit!;
    const body = JSON.stringify({ query: '{ _service { sdl } }' });
    const call = (path: string, method: string, headers: Record<string, string>, b: string | null = null) =>
      audit.fetch(new Request(`http://audit.test${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, ...(b !== null ? { body: b } : {}) }));
    const signed = (principal: Principal, path: string, method: string, b: string | null, audience = 'audit') =>
      signPrincipal(principal, audienceKey(TEST_SECRET, audience), { audience, method, url: `http://audit.test${path}`, body: b });
    const system: Principal = { kind: 'system', userId: null, organizationId: null, roles: [], permissionSets: [], role: null, groups: [], isAdmin: false, sessionId: null, apiKeyId: null, impersonatedBy: null };
    const user: Principal = { ...system, kind: 'user', userId: owner.userId, organizationId: org, roles: ['owner'] };
    for (const [path, method, b] of [['/graphql', 'POST', body], ['/internal/audit/export', 'GET', null], ['/internal/audit/events', 'POST', '[]']] as const) {
      expect((await call(path, method, {}, b)).status, `${path} unsigned`).toBe(401);
      expect((await call(path, method, signed(user, path, method, b, 'data'), b)).status, `${path} signed for data`).toBe(401);
    }
    // Only the gateway (the system principal) may queue events, and only well-formed access denials.
    const events = JSON.stringify([auditEvent({ eventType: 'auth.login', actor: { type: 'user', id: owner.userId }, tenantId: org, description: 'forged' })]);
    expect((await call('/internal/audit/events', 'POST', signed(user, '/internal/audit/events', 'POST', '[]'), '[]')).status).toBe(403);
    const forged = await call('/internal/audit/events', 'POST', signed(system, '/internal/audit/events', 'POST', events), events);
    expect(forged.status).toBe(400);
    expect(await forged.text()).toMatch(/security\.access_denied/);
  });

  it('append-only: UPDATE, DELETE and TRUNCATE are refused by the database', async () => {
    const db = s.identity.database.db;
    for (const statement of [sql`update audit.events set description = 'x'`, sql`delete from audit.events`, sql`truncate audit.events`]) {
      const error = await Promise.resolve(db.execute(statement)).then(() => null, (e: Error & { cause?: Error }) => e);
      expect((error?.cause ?? error)?.message).toMatch(/audit\.events is append-only: (UPDATE|DELETE|TRUNCATE) refused/);
    }
  });

  it('retention: a batched purge by event type keeps the minimum, archives first, and the chain still verifies', async () => {
    const tenant = await s.user('retention-owner@example.com', 'Retentionco');
    const t = (await s.q<{ activeOrganization: { id: string } }>(tenant.headers, '{ activeOrganization { id } }')).data!.activeOrganization.id;
    const now = new Date();
    const at = (days: number) => new Date(now.getTime() - days * DAY).toISOString();
    const ev = (eventType: 'data.update' | 'auth.login' | 'auth.login_failed', days: number) =>
      auditEvent({ eventType, actor: { type: 'user', id: tenant.userId }, tenantId: t, description: `${eventType} ${days} days ago`, ...({ timestamp: at(days) }) });
    // Old first, as they would have been stored: data kept 30 days, auth.* 10, auth.login_failed 8 (never under 7).
    const old = [ev('data.update', 45), ev('auth.login', 20), ev('auth.login_failed', 9), ev('data.update', 12), ev('auth.login', 11), ev('auth.login_failed', 7.5), ev('auth.login', 9)];
    await recordAuditEvents(s.identity.database.db, old.map((e, i) => ({ ...e, timestamp: old[i]!.timestamp })));
    await s.settle();
    const before = await queryRows<{ n: number }>(s.identity.database.db, sql`select count(*)::int as n from audit.events where tenant_id = ${t}`);
    const r = await purgeExpired(s.identity.database.db, config, { now, batch: 2 });
    // 45-day data, 20- and 11-day logins, the 9-day failed sign-in: 4 purged.
    expect(r.deleted).toBe(4);
    const after = await queryRows<{ description: string }>(s.identity.database.db, sql`select description from audit.events where tenant_id = ${t} and description like '%days ago'`);
    expect(after.map((a) => a.description).sort()).toEqual(['auth.login 9 days ago', 'auth.login_failed 7.5 days ago', 'data.update 12 days ago']);
    const count = await queryRows<{ n: number }>(s.identity.database.db, sql`select count(*)::int as n from audit.events where tenant_id = ${t}`);
    expect(count[0]!.n).toBe(before[0]!.n - 4);
    // Archived before deleting, one JSON line each (other tenants' expired events too: none here).
    const archived = (await readFile(r.archivedTo!, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { description: string });
    expect(archived.map((a) => a.description).sort()).toEqual(['auth.login 11 days ago', 'auth.login 20 days ago', 'auth.login_failed 9 days ago', 'data.update 45 days ago']);
    const verified = await s.q<{ verifyAuditChain: { ok: boolean; checked: number } }>(tenant.headers, VERIFY, {});
    expect(verified.data!.verifyAuditChain).toMatchObject({ ok: true });
    expect(verified.data!.verifyAuditChain.checked).toBe(count[0]!.n);
  });

  it('tamper evidence: an edited or removed row is found by verifyAuditChain, naming the first broken link', async () => {
    const tenant = await s.user('tamper-owner@example.com', 'Tamperco');
    for (let i = 0; i < 5; i++) await s.q(tenant.headers, `mutation { createAccount(input: { name: "Tamper ${i}" }) { id } }`);
    await s.settle();
    const t = (await s.q<{ activeOrganization: { id: string } }>(tenant.headers, '{ activeOrganization { id } }')).data!.activeOrganization.id;
    const ok = await s.q<{ verifyAuditChain: { ok: boolean; checked: number } }>(tenant.headers, VERIFY, {});
    expect(ok.data!.verifyAuditChain.ok).toBe(true);
    const rows = await queryRows<{ id: string; seq: string }>(s.identity.database.db, sql`select id::text as id, seq::text as seq from audit.events where tenant_id = ${t} order by seq`);
    const db = s.identity.database.db;
    // Someone with the database's owner rights turns the trigger off and edits one event.
    await db.execute(sql.raw('alter table audit.events disable trigger events_append_only'));
    await db.execute(sql`update audit.events set description = 'nothing happened' where id = ${rows[2]!.id}::uuid`);
    const edited = await s.q<{ verifyAuditChain: { ok: boolean; firstBrokenLink: { eventId: string; reason: string } } }>(tenant.headers, VERIFY, {});
    expect(edited.data!.verifyAuditChain.ok).toBe(false);
    expect(edited.data!.verifyAuditChain.firstBrokenLink).toMatchObject({ eventId: rows[2]!.id, reason: expect.stringMatching(/altered/) });
    // Removing a row instead breaks the link of the one after it.
    await db.execute(sql`delete from audit.events where id = ${rows[2]!.id}::uuid`);
    const removed = await s.q<{ verifyAuditChain: { ok: boolean; firstBrokenLink: { eventId: string; reason: string } } }>(tenant.headers, VERIFY, {});
    expect(removed.data!.verifyAuditChain.firstBrokenLink).toMatchObject({ eventId: rows[3]!.id, reason: expect.stringMatching(/removed/) });
    // Removing the newest row: the chain head no longer matches.
    await db.execute(sql`delete from audit.events where id = ${rows[rows.length - 1]!.id}::uuid`);
    await db.execute(sql.raw('alter table audit.events enable trigger events_append_only'));
    const bad = await s.q(tenant.headers, VERIFY, { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' });
    expect(codeOf(bad)).toBe('BAD_USER_INPUT');
    // Another organization's chain is untouched and theirs alone.
    expect((await s.q<{ verifyAuditChain: { ok: boolean } }>(owner.headers, VERIFY, {})).data!.verifyAuditChain.ok).toBe(true);
  });
});
