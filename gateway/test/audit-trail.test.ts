import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { queryRows } from '@objectos/db';
import { securityNamesOf } from '@objectos/identity-subgraph';
import { loadMetadata } from '@objectos/metadata';
import { engines } from '@objectos/testkit';
import { PASSWORD, startSecureStack, type SecureStack } from './secure-stack.ts';
import { METADATA } from './stack.ts';

interface Event {
  id: string; eventType: string; severity: string; result: string; tenantId: string | null; requestId: string | null; description: string;
  actor: { type: string; id: string | null; ipAddress: string | null; userAgent: string | null };
  target: { type: string; id: string } | null;
  changes: { field: string; oldValue: unknown; newValue: unknown }[];
  details: Record<string, unknown> | null;
}
interface Page { totalCount: number; edges: { cursor: string; node: Event }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }
interface Err { message: string; extensions?: Record<string, unknown> }

const EVENTS = `query($w: AuditEventWhere, $first: Int, $after: String, $order: AuditEventOrder) {
  auditEvents(where: $w, first: $first, after: $after, orderBy: $order) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id eventType severity result tenantId requestId description details
      actor { type id ipAddress userAgent } target { type id } changes { field oldValue newValue } } }
  }
}`;
const codeOf = (r: { errors?: Err[] }) => r.errors?.[0]?.extensions?.['code'];

describe.each(engines())('the audit trail through the gateway on $name', (engine) => {
  let s: SecureStack;
  let owner: { headers: Record<string, string>; userId: string };
  let org: string;
  const events = async (where: Record<string, unknown>, extra: Record<string, unknown> = {}, headers = owner.headers) => {
    await s.settle();
    const r = await s.q<{ auditEvents: Page }>(headers, EVENTS, { w: where, first: 100, ...extra });
    expect(r.errors).toBeUndefined();
    return r.data!.auditEvents;
  };

  beforeAll(async () => {
    s = await startSecureStack(engine, { audit: true, security: securityNamesOf((await loadMetadata(METADATA)).security) });
    owner = await s.user('audit-owner@example.com', 'Auditco');
    org = (await s.q<{ activeOrganization: { id: string } }>(owner.headers, '{ activeOrganization { id } }')).data!.activeOrganization.id;
  });
  afterAll(() => s?.close());

  it('data create/update/delete: one event each, with changes, actor, address, agent and the request id', async () => {
    const h = { ...owner.headers, 'x-request-id': 'audit-req-create-0001', 'user-agent': 'audit-test/1.0' };
    const created = await s.q<{ createAccount: { id: string } }>(h, 'mutation { createAccount(input: { name: "Trail Co", industry: technology }) { id } }');
    expect(created.errors).toBeUndefined();
    const id = created.data!.createAccount.id;
    await s.q({ ...owner.headers, 'x-request-id': 'audit-req-update-0001' }, `mutation { updateAccount(id: "${id}", input: { name: "Trail Co 2" }) { id } }`);
    await s.q({ ...owner.headers, 'x-request-id': 'audit-req-delete-0001' }, `mutation { deleteAccount(id: "${id}") { id } }`);
    const page = await events({ target: { type: 'account', id } }, { order: 'TIMESTAMP_ASC' });
    expect(page.edges.map((e) => e.node.eventType)).toEqual(['data.create', 'data.update', 'data.delete']);
    expect(page.totalCount).toBe(3);
    const [create, update, del] = page.edges.map((e) => e.node);
    expect(create!.requestId).toBe('audit-req-create-0001');
    expect(create!.actor).toEqual({ type: 'user', id: owner.userId, ipAddress: '127.0.0.1', userAgent: 'audit-test/1.0' });
    expect(create!.tenantId).toBe(org);
    expect(create!.changes).toContainEqual({ field: 'name', oldValue: null, newValue: 'Trail Co' });
    expect(update!.requestId).toBe('audit-req-update-0001');
    expect(update!.changes).toEqual([{ field: 'name', oldValue: 'Trail Co', newValue: 'Trail Co 2' }]);
    expect(del!.changes).toContainEqual({ field: 'name', oldValue: 'Trail Co 2', newValue: null });
    // Each stored once: settling again (the relay and capture re-run) adds nothing.
    expect((await events({ target: { type: 'account', id } })).totalCount).toBe(3);
  });

  it('a write that fails inside its transaction leaves no event', async () => {
    const account = (await s.q<{ createAccount: { id: string } }>(owner.headers, 'mutation { createAccount(input: { name: "Contacts Co" }) { id } }')).data!.createAccount.id;
    const a = await s.q<{ createContact: { id: string } }>(owner.headers, `mutation { createContact(input: { accountId: "${account}", lastName: "A", email: "unique-a@example.com" }) { id } }`);
    const b = await s.q<{ createContact: { id: string } }>(owner.headers, `mutation { createContact(input: { accountId: "${account}", lastName: "B", email: "unique-b@example.com" }) { id } }`);
    expect(a.errors ?? b.errors).toBeUndefined();
    const id = b.data!.createContact.id;
    expect((await events({ target: { type: 'contact', id } })).totalCount).toBe(1);
    // The unique index refuses the UPDATE inside the write's transaction: it rolls back with its outbox row.
    const clash = await s.q(owner.headers, `mutation { updateContact(id: "${id}", input: { email: "unique-a@example.com", lastName: "B2" }) { id } }`);
    expect(codeOf(clash)).toBe('CONFLICT');
    expect((await s.q<{ contact: { lastName: string } }>(owner.headers, `{ contact(id: "${id}") { lastName } }`)).data!.contact.lastName).toBe('B');
    expect((await events({ target: { type: 'contact', id } })).edges.map((e) => e.node.eventType)).toEqual(['data.create']);
  });

  it('auth events: sign-up, failed sign-in, sign-in, password change, sign-out, API keys', async () => {
    const u = await s.user('audit-someone@example.com');
    const bad = await s.auth('/sign-in/email', { email: 'audit-owner@example.com', password: 'Wrong-Passw0rd' }, { 'x-request-id': 'audit-req-badsignin-1' });
    expect(bad.status).toBe(401);
    const good = await s.auth('/sign-in/email', { email: 'audit-owner@example.com', password: PASSWORD }, { 'user-agent': 'audit-browser' });
    expect(good.status).toBe(200);
    const token = good.headers.get('set-auth-token')!;
    const changed = await s.auth('/change-password', { currentPassword: PASSWORD, newPassword: `${PASSWORD}-2`, revokeOtherSessions: false }, { authorization: `Bearer ${token}` });
    expect(changed.status).toBe(200);
    const key = await s.q<{ createApiKey: { apiKey: { id: string } } }>({ authorization: `Bearer ${token}` }, 'mutation { createApiKey(input: { name: "audit" }) { apiKey { id } } }');
    expect(key.errors).toBeUndefined();
    const revoked = await s.q({ authorization: `Bearer ${token}` }, `mutation { revokeApiKey(id: "${key.data!.createApiKey.apiKey.id}") }`);
    expect(revoked.errors).toBeUndefined();
    const out = await s.auth('/sign-out', {}, { authorization: `Bearer ${token}` });
    expect(out.status).toBe(200);
    // Back to the first password, for the tests after this one.
    const again = await s.auth('/sign-in/email', { email: 'audit-owner@example.com', password: `${PASSWORD}-2` });
    await s.auth('/change-password', { currentPassword: `${PASSWORD}-2`, newPassword: PASSWORD }, { authorization: `Bearer ${again.headers.get('set-auth-token')}` });

    const mine = await events({ actor: owner.userId, eventType: ['auth.*', 'security.api_key_created', 'security.api_key_revoked'] }, { order: 'TIMESTAMP_ASC' });
    const types = mine.edges.map((e) => e.node.eventType);
    for (const t of ['auth.login', 'auth.password_changed', 'security.api_key_created', 'security.api_key_revoked', 'auth.logout']) expect(types).toContain(t);
    const login = mine.edges.map((e) => e.node).find((e) => e.eventType === 'auth.login' && e.actor.userAgent === 'audit-browser')!;
    expect(login.tenantId).toBe(org);
    expect(login.actor.ipAddress).toBe('127.0.0.1');
    // The failed sign-in names the account it tried, in that account's organization, with the client's request id.
    const failed = (await events({ eventType: ['auth.login_failed'], requestId: 'audit-req-badsignin-1' })).edges.map((e) => e.node);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ result: 'failure', severity: 'warning', tenantId: org, target: { type: 'user', id: owner.userId } });
    expect(failed[0]!.details).toEqual({ email: 'audit-owner@example.com' });
    // Someone else's sign-up is not this organization's.
    expect((await events({ actor: u.userId })).totalCount).toBe(0);
  });

  it('auth events: 2FA enabled, a session revoked, a member removed', async () => {
    const u = await s.user('audit-twofa@example.com');
    await s.identity.auth.api.addMember({ body: { userId: u.userId, organizationId: org, role: 'member' } });
    const signedIn = await s.auth('/sign-in/email', { email: 'audit-twofa@example.com', password: PASSWORD });
    const h = { authorization: `Bearer ${signedIn.headers.get('set-auth-token')}` };
    const other = await s.auth('/sign-in/email', { email: 'audit-twofa@example.com', password: PASSWORD });
    const sessions = await s.q<{ mySessions: { id: string; current: boolean }[] }>(h, '{ mySessions { id current } }');
    const notThis = sessions.data!.mySessions.find((x) => !x.current)!;
    expect((await s.q(h, `mutation { revokeSession(id: "${notThis.id}") }`)).errors).toBeUndefined();
    expect(other.status).toBe(200);
    expect((await s.auth('/two-factor/enable', { password: PASSWORD }, h)).status).toBe(200);
    const removed = await s.auth('/organization/remove-member', { memberIdOrEmail: 'audit-twofa@example.com', organizationId: org }, owner.headers);
    expect(removed.status).toBe(200);
    const mine = (await events({ eventType: ['auth.session_revoked', 'auth.mfa_enabled'], actor: u.userId })).edges.map((e) => e.node);
    expect(mine.map((e) => e.eventType).sort()).toEqual(['auth.mfa_enabled', 'auth.session_revoked']);
    expect(mine.find((e) => e.eventType === 'auth.session_revoked')!.target).toEqual({ type: 'session', id: notThis.id });
    const gone = (await events({ eventType: ['authz.role_removed'], actor: owner.userId })).edges.map((e) => e.node);
    expect(gone).toHaveLength(1);
    expect(gone[0]!.tenantId).toBe(org);
  });

  it('authz events: member access and record shares', async () => {
    const m = await s.user('audit-member@example.com');
    await s.identity.auth.api.addMember({ body: { userId: m.userId, organizationId: org, role: 'member' } });
    const set = await s.q(owner.headers, 'mutation($i: SetMemberAccessInput!) { setMemberAccess(input: $i) { userId } }', {
      i: { userId: m.userId, role: 'sales_rep', permissionSets: ['standard_user'], groups: [] },
    });
    expect(set.errors).toBeUndefined();
    const acc = await s.q<{ createAccount: { id: string } }>(owner.headers, 'mutation { createAccount(input: { name: "Shared Co" }) { id } }');
    const share = await s.q<{ shareRecord: { id: string } }>(owner.headers, `mutation { shareRecord(input: { object: "account", recordId: "${acc.data!.createAccount.id}", sharedWithType: USER, sharedWith: "${m.userId}", accessLevel: READ }) { id } }`);
    expect(share.errors).toBeUndefined();
    await s.q(owner.headers, `mutation { unshareRecord(id: "${share.data!.shareRecord.id}") }`);
    const authz = (await events({ eventType: ['authz.*'] }, { order: 'TIMESTAMP_ASC' })).edges.map((e) => e.node);
    expect(authz.map((e) => e.eventType)).toEqual(expect.arrayContaining(['authz.role_assigned', 'authz.permission_granted', 'authz.permission_revoked']));
    const granted = authz.find((e) => e.eventType === 'authz.permission_granted' && e.target?.type === 'account')!;
    expect(granted).toMatchObject({ tenantId: org, actor: { id: owner.userId }, target: { type: 'account', id: acc.data!.createAccount.id } });
    expect(authz.find((e) => e.eventType === 'authz.permission_revoked' && e.target?.type === 'account')).toBeDefined();
  });

  it('security.access_denied: a flood of refusals becomes one event per source and window', async () => {
    const m = await s.user('audit-flood@example.com');
    await s.identity.auth.api.addMember({ body: { userId: m.userId, organizationId: org, role: 'member' } });
    const signedIn = await s.auth('/sign-in/email', { email: 'audit-flood@example.com', password: PASSWORD });
    const h = { authorization: `Bearer ${signedIn.headers.get('set-auth-token')}` };
    await s.gateway.denials.flush();
    for (let i = 0; i < 60; i++) {
      const r = await s.q(h, '{ accounts { nodes { annualRevenue } } }');
      expect(codeOf(r)).toBe('FORBIDDEN');
    }
    await s.gateway.denials.flush();
    const denied = (await events({ eventType: ['security.access_denied'], actor: m.userId })).edges.map((e) => e.node);
    expect(denied).toHaveLength(1);
    expect(denied[0]!.details).toMatchObject({ count: 60, codes: ['FORBIDDEN'] });
    expect(denied[0]).toMatchObject({ result: 'failure', tenantId: org, actor: { type: 'user', id: m.userId, ipAddress: '127.0.0.1' } });
  });

  it('system.config_changed once per metadata change, a platform event', async () => {
    const rows = await queryRows<{ n: number }>(s.identity.database.db, sql`select count(*)::int as n from audit.events where event_type = 'system.config_changed' and tenant_id is null`);
    expect(rows[0]!.n).toBe(1);
    // Not in an organization's trail.
    expect((await events({ eventType: ['system.*'] })).totalCount).toBe(0);
    // logReads is off in the demo configuration: all those queries left no data.read.
    expect((await events({ eventType: ['data.read'] })).totalCount).toBe(0);
  });

  it('who may read it: viewAuditLog in the organization, and nothing of another organization', async () => {
    const m = await s.user('audit-reader@example.com');
    await s.identity.auth.api.addMember({ body: { userId: m.userId, organizationId: org, role: 'member' } });
    const signedIn = await s.auth('/sign-in/email', { email: 'audit-reader@example.com', password: PASSWORD });
    const h = { authorization: `Bearer ${signedIn.headers.get('set-auth-token')}` };
    const refused = await s.q(h, EVENTS, {});
    expect(codeOf(refused)).toBe('FORBIDDEN');
    expect(refused.errors![0]!.message).toMatch(/viewAuditLog/);
    await s.q(owner.headers, 'mutation($i: SetMemberAccessInput!) { setMemberAccess(input: $i) { userId } }', { i: { userId: m.userId, permissionSets: ['standard_user', 'revenue_viewer'], groups: [] } });
    const allowed = await events({}, {}, h);
    expect(allowed.totalCount).toBeGreaterThan(0);
    expect(new Set(allowed.edges.map((e) => e.node.tenantId))).toEqual(new Set([org]));
    // Another organization's owner sees their own trail only.
    const other = await s.user('audit-other@example.com', 'Otherco');
    await s.q(other.headers, 'mutation { createAccount(input: { name: "Other Co" }) { id } }');
    const theirs = await events({}, {}, other.headers);
    expect(theirs.totalCount).toBeGreaterThan(0);
    expect(theirs.edges.every((e) => e.node.tenantId !== org)).toBe(true);
    expect((await events({}, {}, owner.headers)).edges.every((e) => e.node.tenantId === org)).toBe(true);
  });

  it('filters and pages: severity, result, time range, cursors; bad input is named', async () => {
    // Refusals of the tests before are counted per window and recorded when it ends: recorded now, so none
    // lands between reading the whole trail and paging through it (a CI run saw 28 pages against 27 events).
    await s.gateway.denials.flush();
    const all = await events({}, { order: 'TIMESTAMP_ASC' });
    const first = all.edges[0]!.node;
    const failures = await events({ result: 'failure' });
    expect(failures.edges.every((e) => e.node.result === 'failure')).toBe(true);
    const warnings = await events({ severity: 'warning' });
    expect(warnings.edges.every((e) => ['warning', 'error', 'critical', 'alert', 'emergency'].includes(e.node.severity))).toBe(true);
    expect(warnings.totalCount).toBeLessThan(all.totalCount);
    // Pages of 2 walk the same events as one page.
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: Page = (await s.q<{ auditEvents: Page }>(owner.headers, EVENTS, { w: {}, first: 2, after, order: 'TIMESTAMP_ASC' })).data!.auditEvents;
      seen.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(all.edges.map((e) => e.node.id));
    // The same with a severity filter (one ordered branch per level, merged), newest first.
    const warned: string[] = [];
    after = null;
    for (;;) {
      const page: Page = (await s.q<{ auditEvents: Page }>(owner.headers, EVENTS, { w: { severity: 'warning' }, first: 1, after })).data!.auditEvents;
      warned.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(warned).toEqual(warnings.edges.map((e) => e.node.id));
    expect(warned.length).toBeGreaterThan(1);
    const none = await events({ to: '2000-01-01T00:00:00.000Z' });
    expect(none.totalCount).toBe(0);
    expect(first).toBeDefined();

    const unknown = await s.q(owner.headers, EVENTS, { w: { eventType: ['auth.nope'] } });
    expect(codeOf(unknown)).toBe('BAD_USER_INPUT');
    expect(unknown.errors![0]!.message).toMatch(/unknown audit event type "auth\.nope"/);
    const backwards = await s.q(owner.headers, EVENTS, { w: { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' } });
    expect(codeOf(backwards)).toBe('BAD_USER_INPUT');
    expect(backwards.errors![0]!.message).toMatch(/later than to/);
    const big = await s.q(owner.headers, EVENTS, { w: {}, first: 501 });
    expect(codeOf(big)).toBe('BAD_USER_INPUT');
    expect(big.errors![0]!.message).toMatch(/first: must be between 1 and 500/);
    const cursor = await s.q(owner.headers, EVENTS, { w: {}, after: 'not-a-cursor' });
    expect(codeOf(cursor)).toBe('BAD_USER_INPUT');
  });
});
