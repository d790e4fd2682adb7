import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { loadMemberAccess, queryRows, saveMemberAccess } from '@objectos/db';
import { securityNamesOf } from '@objectos/identity-subgraph';
import { loadMetadata } from '@objectos/metadata';
import { engines } from '@objectos/testkit';
import { PASSWORD, startSecureStack, type SecureStack } from './secure-stack.ts';
import { METADATA } from './stack.ts';

interface Access { userId: string; role: string | null; permissionSets: string[]; groups: string[] }
interface Err { message: string; extensions?: Record<string, unknown> }

const FIELDS = 'userId role permissionSets groups';
const MY_ACCESS = `{ myAccess { ${FIELDS} } }`;
const MEMBER_ACCESS = `query($u: ID!) { memberAccess(userId: $u) { ${FIELDS} } }`;
const SET = `mutation($i: SetMemberAccessInput!) { setMemberAccess(input: $i) { ${FIELDS} } }`;
const codeOf = (r: { errors?: Err[] }) => r.errors?.[0]?.extensions?.['code'];
const none = (userId: string): Access => ({ userId, role: null, permissionSets: [], groups: [] });

describe.each(engines())('member access: hierarchy role, permission sets and groups on $name', (engine) => {
  let s: SecureStack;
  beforeAll(async () => {
    // A long cache TTL: only the events published by setMemberAccess can make a change visible at once.
    s = await startSecureStack(engine, { cacheTtlMs: 60_000, security: securityNamesOf((await loadMetadata(METADATA)).security) });
  });
  afterAll(() => s?.close());

  /** An owner with an organization and a member of it (signed in after joining, so the session acts in it). */
  async function team(prefix: string, memberRole: 'member' | 'admin' = 'member') {
    const owner = await s.user(`${prefix}-owner@example.com`, `${prefix}co`);
    const org = (await s.q<{ activeOrganization: { id: string } }>(owner.headers, '{ activeOrganization { id } }')).data!.activeOrganization.id;
    const joined = await s.user(`${prefix}-member@example.com`);
    await s.identity.auth.api.addMember({ body: { userId: joined.userId, organizationId: org, role: memberRole } });
    const signedIn = await s.auth('/sign-in/email', { email: `${prefix}-member@example.com`, password: PASSWORD });
    const member = { headers: { authorization: `Bearer ${signedIn.headers.get('set-auth-token')}` }, userId: joined.userId };
    return { owner, org, member };
  }
  const stored = (org: string, userId: string) => loadMemberAccess(s.identity.database.db, org, userId);

  it("an owner sets a member's access; the member's next request acts with it and audit events name the member", async () => {
    const { owner, org, member } = await team('ann');
    // The member's principal is cached now (60 s TTL).
    expect((await s.q<{ myAccess: Access }>(member.headers, MY_ACCESS)).data).toEqual({ myAccess: none(member.userId) });
    const since = s.events.length;
    const set = await s.q<{ setMemberAccess: Access }>(owner.headers, SET, {
      i: { userId: member.userId, role: 'sales_rep', permissionSets: ['standard_user', 'revenue_viewer', 'standard_user'], groups: ['key_account_team'] },
    });
    expect(set.errors).toBeUndefined();
    const expected = { userId: member.userId, role: 'sales_rep', permissionSets: ['standard_user', 'revenue_viewer'], groups: ['key_account_team'] };
    expect(set.data!.setMemberAccess).toEqual(expected);
    // What the gateway signs for the member's next request (myAccess echoes the principal) and what is stored.
    expect((await s.q<{ myAccess: Access }>(member.headers, MY_ACCESS)).data!.myAccess).toEqual(expected);
    expect((await s.q<{ memberAccess: Access }>(member.headers, MEMBER_ACCESS, { u: member.userId })).data!.memberAccess).toEqual(expected);
    expect((await s.q<{ memberAccess: Access }>(owner.headers, MEMBER_ACCESS, { u: member.userId })).data!.memberAccess).toEqual(expected);
    expect(await stored(org, member.userId)).toEqual({ role: 'sales_rep', permissionSets: ['standard_user', 'revenue_viewer'], groups: ['key_account_team'] });
    // The owner's own organization role is untouched; members list still shows better-auth roles.
    const members = (await s.q<{ members: { roles: string[]; user: { email: string } }[] }>(owner.headers, '{ members { roles user { email } } }')).data!.members;
    expect(members).toContainEqual({ roles: ['member'], user: { email: 'ann-member@example.com' } });

    const events = s.events.slice(since).filter((e) => e.eventType.startsWith('authz.'));
    expect(events.map((e) => e.eventType).sort()).toEqual(['authz.permission_granted', 'authz.role_assigned']);
    for (const e of events) {
      expect(e.target).toEqual({ type: 'user', id: member.userId });
      expect(e.details?.['userId']).toBe(member.userId);
      expect(e.actor.id).toBe(owner.userId);
      expect(e.tenantId).toBe(org);
    }
    expect(events.find((e) => String(e.eventType) === 'authz.permission_granted')!.details).toMatchObject({ permissionSets: ['standard_user', 'revenue_viewer'], groups: ['key_account_team'] });
  });

  it('a plain member cannot read or change anyone else\'s access (FORBIDDEN) and nothing changes', async () => {
    const { owner, org, member } = await team('bob');
    await s.q(owner.headers, SET, { i: { userId: member.userId, role: 'support_agent', permissionSets: ['standard_user'], groups: [] } });
    const before = await stored(org, member.userId);
    const since = s.events.length;
    for (const target of [member.userId, owner.userId]) {
      const r = await s.q(member.headers, SET, { i: { userId: target, role: 'ceo', permissionSets: ['system_administrator'], groups: ['key_account_team'] } });
      expect(codeOf(r), JSON.stringify(r.errors)).toBe('FORBIDDEN');
      expect(r.data).toBeNull();
    }
    expect(codeOf(await s.q(member.headers, MEMBER_ACCESS, { u: owner.userId }))).toBe('FORBIDDEN');
    expect(await stored(org, member.userId)).toEqual(before);
    expect(await stored(org, owner.userId)).toEqual({ role: null, permissionSets: [], groups: [] });
    expect((await s.q<{ myAccess: Access }>(member.headers, MY_ACCESS)).data!.myAccess).toMatchObject({ role: 'support_agent', permissionSets: ['standard_user'] });
    expect(s.events.slice(since).filter((e) => e.eventType.startsWith('authz.'))).toEqual([]);
  });

  it("an organization admin manages members' access but not an owner's", async () => {
    const { owner, org, member: admin } = await team('cat', 'admin');
    const other = await s.user('cat-other@example.com');
    await s.identity.auth.api.addMember({ body: { userId: other.userId, organizationId: org, role: 'member' } });
    const r = await s.q<{ setMemberAccess: Access }>(admin.headers, SET, { i: { userId: other.userId, role: 'support_manager', permissionSets: [], groups: [] } });
    expect(r.errors).toBeUndefined();
    expect((await s.q<{ memberAccess: Access }>(admin.headers, MEMBER_ACCESS, { u: other.userId })).data!.memberAccess.role).toBe('support_manager');
    expect(codeOf(await s.q(admin.headers, SET, { i: { userId: owner.userId, role: 'sales_rep', permissionSets: [], groups: [] } }))).toBe('FORBIDDEN');
    expect(await stored(org, owner.userId)).toEqual({ role: null, permissionSets: [], groups: [] });
  });

  it('refuses unknown role, permission set and group names, naming each one, and writes nothing', async () => {
    const { owner, org, member } = await team('dan');
    await s.q(owner.headers, SET, { i: { userId: member.userId, role: 'sales_rep', permissionSets: ['standard_user'], groups: [] } });
    const since = s.events.length;
    const r = await s.q(owner.headers, SET, {
      i: { userId: member.userId, role: 'pope', permissionSets: ['standard_user', 'root', 'superuser'], groups: ['key_account_team', 'illuminati'] },
    });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    const message = r.errors![0]!.message;
    for (const name of ['pope', 'root', 'superuser', 'illuminati']) expect(message).toContain(`"${name}"`);
    for (const known of ['standard_user', 'key_account_team']) expect(message).not.toContain(known);
    expect(r.errors![0]!.extensions!['unknown']).toEqual({ roles: ['pope'], permissionSets: ['root', 'superuser'], groups: ['illuminati'] });
    // Blank names are refused too.
    expect(codeOf(await s.q(owner.headers, SET, { i: { userId: member.userId, role: ' ', permissionSets: [], groups: [] } }))).toBe('BAD_USER_INPUT');
    expect(await stored(org, member.userId)).toEqual({ role: 'sales_rep', permissionSets: ['standard_user'], groups: [] });
    expect(s.events.slice(since).filter((e) => e.eventType.startsWith('authz.'))).toEqual([]);
  });

  it("removing a member's role and sets takes effect on their next request despite the principal cache (sessions and API keys)", async () => {
    const { owner, org, member } = await team('eve');
    await s.q(owner.headers, SET, { i: { userId: member.userId, role: 'sales_manager', permissionSets: ['revenue_viewer'], groups: ['key_account_team'] } });
    const key = (await s.q<{ createApiKey: { key: string } }>(member.headers, 'mutation { createApiKey(input: { name: "eve" }) { key } }')).data!.createApiKey.key;
    const viaKey = { 'x-api-key': key };
    for (const h of [member.headers, viaKey]) expect((await s.q<{ myAccess: Access }>(h, MY_ACCESS)).data!.myAccess.role).toBe('sales_manager');
    // Control: a change that publishes no event stays hidden behind the cached principal.
    await saveMemberAccess(s.identity.database.db, org, member.userId, { role: 'ceo', permissionSets: ['revenue_viewer'], groups: ['key_account_team'] });
    expect((await s.q<{ myAccess: Access }>(member.headers, MY_ACCESS)).data!.myAccess.role).toBe('sales_manager');
    const since = s.events.length;
    const r = await s.q(owner.headers, SET, { i: { userId: member.userId, role: null, permissionSets: [], groups: [] } });
    expect(r.errors).toBeUndefined();
    for (const h of [member.headers, viaKey]) expect((await s.q<{ myAccess: Access }>(h, MY_ACCESS)).data!.myAccess).toEqual(none(member.userId));
    expect(await stored(org, member.userId)).toEqual({ role: null, permissionSets: [], groups: [] });
    const events = s.events.slice(since).filter((e) => e.eventType.startsWith('authz.'));
    expect(events.map((e) => e.eventType).sort()).toEqual(['authz.permission_revoked', 'authz.role_removed']);
    expect(events.find((e) => e.eventType === 'authz.role_removed')!.details).toMatchObject({ userId: member.userId, role: null, previousRole: 'ceo' });
    expect(events.find((e) => String(e.eventType) === 'authz.permission_revoked')!.details).toMatchObject({ permissionSets: ['revenue_viewer'], groups: ['key_account_team'] });
  });

  it('a removed member loses their role, sets, groups and manual shares: added again, they start from the default profile', async () => {
    const { owner, org, member } = await team('rex');
    const set = await s.q(owner.headers, SET, { i: { userId: member.userId, role: 'sales_manager', permissionSets: ['revenue_viewer'], groups: ['key_account_team'] } });
    expect(set.errors).toBeUndefined();
    const secret = (await s.q<{ createAccount: { id: string } }>(owner.headers, 'mutation { createAccount(input: { name: "Shared with rex" }) { id } }')).data!.createAccount.id;
    const shared = await s.q(owner.headers, `mutation { shareRecord(input: { object: "account", recordId: "${secret}", sharedWithType: USER, sharedWith: "${member.userId}", accessLevel: READ }) { id } }`);
    expect(shared.errors).toBeUndefined();
    expect(await stored(org, member.userId)).toEqual({ role: 'sales_manager', permissionSets: ['revenue_viewer'], groups: ['key_account_team'] });
    const removed = await s.auth('/organization/remove-member', { memberIdOrEmail: 'rex-member@example.com', organizationId: org }, owner.headers);
    expect(removed.status).toBe(200);
    const rows = await queryRows(s.identity.database.db, sql`select 1 from security.member_access where organization_id = ${org} and user_id = ${member.userId}`);
    expect(rows).toEqual([]);
    await s.identity.auth.api.addMember({ body: { userId: member.userId, organizationId: org, role: 'member' } });
    const again = await s.auth('/sign-in/email', { email: 'rex-member@example.com', password: PASSWORD });
    const headers = { authorization: `Bearer ${again.headers.get('set-auth-token')}` };
    expect((await s.q<{ myAccess: Access }>(headers, MY_ACCESS)).data).toEqual({ myAccess: none(member.userId) });
    // The share went with the membership: no grant was waiting for their return.
    expect((await s.q<{ account: unknown }>(headers, `{ account(id: "${secret}") { name } }`)).data).toEqual({ account: null });
    expect(await queryRows(s.identity.database.db, sql`select 1 from security.record_share where shared_with = ${member.userId}`)).toEqual([]);
  });

  it('refuses a target who is not a member of the organization and writes nothing', async () => {
    const { owner, org } = await team('fay');
    const outsider = await s.user('fay-outsider@example.com', 'Elsewhere');
    const since = s.events.length;
    const r = await s.q(owner.headers, SET, { i: { userId: outsider.userId, role: 'ceo', permissionSets: ['system_administrator'], groups: [] } });
    expect(codeOf(r)).toBe('NOT_FOUND');
    expect(r.errors![0]!.message).toMatch(/not a member of this organization/);
    const ghost = await s.q(owner.headers, SET, { i: { userId: 'no-such-user', role: null, permissionSets: [], groups: [] } });
    expect(codeOf(ghost)).toBe('NOT_FOUND');
    expect(await stored(org, outsider.userId)).toEqual({ role: null, permissionSets: [], groups: [] });
    expect((await s.q<{ memberAccess: Access | null }>(owner.headers, MEMBER_ACCESS, { u: outsider.userId })).data).toEqual({ memberAccess: null });
    // The outsider's own organization is unaffected.
    expect((await s.q<{ myAccess: Access }>(outsider.headers, MY_ACCESS)).data!.myAccess).toEqual(none(outsider.userId));
    expect(s.events.slice(since).filter((e) => e.eventType.startsWith('authz.'))).toEqual([]);
  });

  it('a user in no organization has no access to read or set', async () => {
    const loner = await s.user('gil@example.com');
    expect((await s.q(loner.headers, MY_ACCESS)).data).toEqual({ myAccess: null });
    expect((await s.q(loner.headers, MEMBER_ACCESS, { u: loner.userId })).data).toEqual({ memberAccess: null });
    expect(codeOf(await s.q(loner.headers, SET, { i: { userId: loner.userId, role: null, permissionSets: [], groups: [] } }))).toBe('FORBIDDEN');
  });
});
