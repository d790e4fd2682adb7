import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { securityNamesOf } from '@objectos/identity-subgraph';
import { loadMetadata } from '@objectos/metadata';
import { engines } from '@objectos/testkit';
import { PASSWORD, startSecureStack, type SecureStack } from './secure-stack.ts';
import { METADATA } from './stack.ts';

// Identity (better-auth) is the slow part: the cache eviction does not depend on the engine, so embedded PGlite only.
describe.each(engines().slice(0, 1))('a member removed from a role loses access on the next request, on $name', (engine) => {
  let s: SecureStack;
  beforeAll(async () => {
    // A long principal cache: only the event published by setMemberAccess can make the change visible at once.
    s = await startSecureStack(engine, { cacheTtlMs: 60_000, security: securityNamesOf((await loadMetadata(METADATA)).security) });
  }, 120_000);
  afterAll(() => s?.close());

  async function join(org: string, email: string) {
    const joined = await s.user(email);
    await s.identity.auth.api.addMember({ body: { userId: joined.userId, organizationId: org, role: 'member' } });
    const signedIn = await s.auth('/sign-in/email', { email, password: PASSWORD });
    return { headers: { authorization: `Bearer ${signedIn.headers.get('set-auth-token')}` }, userId: joined.userId };
  }

  it('a member removed from a role loses access on the next request', async () => {
    const owner = await s.user('rr-owner@example.com', 'RoleCo');
    const org = (await s.q<{ activeOrganization: { id: string } }>(owner.headers, '{ activeOrganization { id } }')).data!.activeOrganization.id;
    const manager = await join(org, 'rr-manager@example.com');
    const rep = await join(org, 'rr-rep@example.com');
    const SET = 'mutation($i: SetMemberAccessInput!) { setMemberAccess(input: $i) { userId role } }';
    for (const [who, role] of [[manager, 'sales_manager'], [rep, 'sales_rep']] as const) {
      const r = await s.q(owner.headers, SET, { i: { userId: who.userId, role, permissionSets: [], groups: [] } });
      expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    }
    const created = await s.q<{ createAccount: { id: string } }>(rep.headers, 'mutation { createAccount(input: { name: "Rep Account" }) { id } }');
    expect(created.errors, JSON.stringify(created.errors)).toBeUndefined();
    const id = created.data!.createAccount.id;
    const visible = async (headers: Record<string, string>) => {
      const r = await s.q<{ account: { id: string } | null; accounts: { totalCount: number } }>(headers, `{ account(id: "${id}") { id } accounts { totalCount } }`);
      expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
      return { one: r.data!.account !== null, count: r.data!.accounts.totalCount };
    };
    // Through the hierarchy, the manager sees the rep's account (private OWD); the principal is now cached.
    expect(await visible(manager.headers)).toEqual({ one: true, count: 1 });
    expect(await visible(manager.headers)).toEqual({ one: true, count: 1 });
    // explainAccess names the hierarchy; the owner explaining on the manager's behalf (org role from auth.member) agrees.
    const EXPLAIN = 'query($id: ID!, $u: ID) { explainAccess(object: "account", id: $id, userId: $u) { allowed read edit profile role reasons { layer rule access effect } } }';
    type Explained = { explainAccess: { allowed: boolean; read: boolean; role: string | null; profile: string | null; reasons: { layer: string; effect: string; access: string }[] } };
    const mine = await s.q<Explained>(manager.headers, EXPLAIN, { id });
    expect(mine.errors, JSON.stringify(mine.errors)).toBeUndefined();
    expect(mine.data!.explainAccess).toMatchObject({ allowed: true, read: true, role: 'sales_manager', profile: 'standard_user' });
    expect(mine.data!.explainAccess.reasons.filter((r) => r.effect === 'grants' && r.access === 'read').map((r) => r.layer)).toContain('role_hierarchy');
    const onBehalf = await s.q<Explained>(owner.headers, EXPLAIN, { id, u: manager.userId });
    expect(onBehalf.errors, JSON.stringify(onBehalf.errors)).toBeUndefined();
    expect(onBehalf.data).toEqual(mine.data);

    const removed = await s.q(owner.headers, SET, { i: { userId: manager.userId, role: null, permissionSets: [], groups: [] } });
    expect(removed.errors).toBeUndefined();
    // The very next request: no role, no hierarchy, no account.
    expect(await visible(manager.headers)).toEqual({ one: false, count: 0 });
    const my = await s.q<{ myAccess: { role: string | null } }>(manager.headers, '{ myAccess { role } }');
    expect(my.data!.myAccess.role).toBeNull();
    const after = await s.q<Explained>(owner.headers, EXPLAIN, { id, u: manager.userId });
    expect(after.data!.explainAccess).toMatchObject({ allowed: false, read: false, role: null, profile: 'standard_user' });
    // The rep keeps their own record.
    expect(await visible(rep.headers)).toEqual({ one: true, count: 1 });
    // Given the role back, the manager sees it again at once.
    await s.q(owner.headers, SET, { i: { userId: manager.userId, role: 'sales_manager', permissionSets: [], groups: [] } });
    expect(await visible(manager.headers)).toEqual({ one: true, count: 1 });
  });
});
