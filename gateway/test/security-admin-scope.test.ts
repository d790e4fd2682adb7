import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '@objectos/db';
import { createIdentitySubgraph, type IdentitySubgraph } from '@objectos/identity-subgraph';
import { engines, TEST_SECRET } from '@objectos/testkit';
import { ORIGIN, PASSWORD, startSecureStack, type SecureStack } from './secure-stack.ts';
import { snapshotTenant } from './security/tenant-snapshot.ts';
import { ADMIN_SCOPE_ROUTES, SERVER_ONLY_ENDPOINTS, type RouteVerdict } from './security/admin-scope-routes.ts';

/**
 * Class "admin scope": an organization's owner administers that organization only, and platform
 * powers (better-auth's admin routes) belong to configured operators alone. Every better-auth route
 * is called as org A's owner with inputs aimed at org B; org B must come out unchanged and unseen.
 */

interface Tenant { orgId: string; slug: string; name: string; owner: { userId: string; email: string; token: string }; member: { userId: string; email: string; memberId: string }; invitationId: string; invitee: string; keyId: string }

const endpointsOf = (s: SecureStack) =>
  Object.entries(s.identity.auth.api as Record<string, unknown>).map(([name, e]) => {
    const ep = e as { path?: string; options?: { method?: string | string[] } };
    const m = ep.options?.method ?? 'POST';
    return { name, path: ep.path, methods: (Array.isArray(m) ? m : [m]).filter((x) => x !== '*') };
  });

describe.each(engines())('admin scope on $name', (engine) => {
  let s: SecureStack;
  let b: Tenant;
  let ownerA: { userId: string; email: string };
  let demo: { email: string; password: string; organizationId: string };
  const userIdOf = async (email: string) => (await queryRows<{ id: string }>(s.identity.database.db, sql`select id from auth."user" where email = ${email}`))[0]!.id;
  const signIn = async (email: string, password = PASSWORD) => (await s.identity.auth.api.signInEmail({ body: { email, password } })).token;
  const call = (method: string, path: string, token: string | null, input: Record<string, unknown> = {}) => {
    const url = new URL(`${ORIGIN}/api/auth${path}`);
    if (method === 'GET') for (const [k, v] of Object.entries(input)) if (typeof v === 'string') url.searchParams.set(k, v);
    return s.gateway.fetch(
      new Request(url, {
        method,
        headers: { origin: ORIGIN, 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        ...(method === 'GET' ? {} : { body: JSON.stringify(input) }),
      }),
      { req: { socket: { remoteAddress: '127.0.0.1' } } },
    );
  };
  /** A fresh identity subgraph over the same database, as a restart with this configuration. */
  const restart = async (o: { operators?: string[]; seedDemo?: boolean }): Promise<IdentitySubgraph> => {
    const i = await createIdentitySubgraph({ database: s.identity.database, secret: TEST_SECRET, baseURL: ORIGIN, ...o });
    await i.dispose();
    return i;
  };

  beforeAll(async () => {
    s = await startSecureStack(engine, { audit: true });
    // The first start of a demo: the seeded account owns acme.
    const seeded = (await restart({ seedDemo: true })).demo!;
    demo = { email: seeded.email, password: seeded.password!, organizationId: seeded.organizationId };
    const a = await s.user('owner@tenant-a.test', 'Tenant A');
    ownerA = { userId: a.userId, email: 'owner@tenant-a.test' };
    const bOwner = await s.user('bowner-x7@tenant-b.test', 'Tenant Bravo');
    const bMember = await s.user('bmember-q4@tenant-b.test');
    const org = (await queryRows<{ id: string; slug: string }>(s.identity.database.db, sql`select id, slug from auth.organization where name = 'Tenant Bravo'`))[0]!;
    const added = await s.identity.auth.api.addMember({ body: { userId: bMember.userId, organizationId: org.id, role: 'member' } });
    const invitee = 'binvitee-z2@tenant-b.test';
    const inv = await (await s.auth('/organization/invite-member', { email: invitee, role: 'member', organizationId: org.id }, bOwner.headers)).json() as { id: string };
    const key = await (await s.auth('/api-key/create', { name: 'bravo key', metadata: { organizationId: org.id } }, bOwner.headers)).json() as { id: string };
    expect(inv.id && key.id && added?.id).toBeTruthy();
    // B's SSO provider (as its owner registered it), for the SSO routes to aim at.
    await s.identity.database.db.execute(sql`insert into auth.sso_provider (id, issuer, oidc_config, user_id, provider_id, organization_id, domain)
      values (gen_random_uuid()::text, 'https://idp.bravo.example', ${JSON.stringify({ issuer: 'https://idp.bravo.example', clientId: 'bravo-client', clientSecret: 'bravo-secret-do-not-leak', authorizationEndpoint: 'https://idp.bravo.example/auth', tokenEndpoint: 'https://idp.bravo.example/token', jwksEndpoint: 'https://idp.bravo.example/jwks', pkce: true })},
        ${bOwner.userId}, 'bravo-oidc', ${org.id}, 'bravo-sso.test')`);
    b = {
      orgId: org.id, slug: org.slug, name: 'Tenant Bravo',
      owner: { userId: bOwner.userId, email: 'bowner-x7@tenant-b.test', token: bOwner.token },
      member: { userId: bMember.userId, email: 'bmember-q4@tenant-b.test', memberId: added!.id },
      invitationId: inv.id, invitee, keyId: key.id,
    };
  }, 120_000);
  afterAll(() => s?.close());

  /** What a call aimed at tenant B carries, whichever parameter names the route reads. */
  const aimedAtB = (): Record<string, unknown> => ({
    userId: b.member.userId, organizationId: b.orgId, organizationSlug: b.slug, slug: b.slug,
    memberId: b.member.memberId, memberIdOrEmail: b.member.memberId, invitationId: b.invitationId,
    keyId: b.keyId, id: b.keyId, sessionToken: b.owner.token, token: b.owner.token, email: b.member.email,
    role: 'owner', name: 'Taken over', data: { name: 'Taken over' }, metadata: { organizationId: b.orgId },
    password: 'Wrong-Passw0rd-1', newPassword: 'Other-Passw0rd-2', currentPassword: 'Wrong-Passw0rd-1',
    permissions: { member: ['delete'], user: ['list'] }, providerId: 'credential', accountId: b.member.userId,
  });

  /** Table rows name B's things by placeholder; the ids exist only once the world is built. */
  const placeholders = (input: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(input).map(([k, v]) => [k, v === '@invitation' ? b.invitationId : v === '@member' ? b.member.userId : v]));

  it('has a verdict for every better-auth route, and no HTTP route for server-only endpoints', () => {
    const eps = endpointsOf(s);
    const routed = eps.filter((e) => e.path).map((e) => e.path!);
    expect(routed.filter((p) => !(p in ADMIN_SCOPE_ROUTES)), 'routes without a row in ADMIN_SCOPE_ROUTES').toEqual([]);
    expect(Object.keys(ADMIN_SCOPE_ROUTES).filter((p) => !routed.includes(p)), 'rows for routes that no longer exist').toEqual([]);
    expect(eps.filter((e) => !e.path).map((e) => e.name).sort()).toEqual([...SERVER_ONLY_ENDPOINTS].sort());
  });

  it("as org A's owner, every route aimed at org B is refused or has no effect on B, and reveals nothing of B", async () => {
    // Even a stale global `admin` role (what the demo seed used to set) must grant nothing.
    await s.identity.database.db.execute(sql`update auth."user" set role = 'admin' where id = ${ownerA.userId}`);
    const users = [b.owner.userId, b.member.userId];
    const before = await snapshotTenant(s.identity.database.db, b.orgId, users);
    const secrets = [b.owner.email, b.member.email, b.invitee, b.name, b.owner.token, 'bravo-secret-do-not-leak'];
    const problems: string[] = [];
    for (const e of endpointsOf(s)) {
      if (!e.path) continue;
      const row: RouteVerdict = ADMIN_SCOPE_ROUTES[e.path]!;
      for (const method of e.methods) {
        const token = await signIn(ownerA.email);
        const path = e.path.replace(/:(\w+)/g, (_, p: string) => (p === 'id' ? 'credential' : b.owner.token));
        const r = await call(method, path, token, { ...aimedAtB(), ...placeholders(row.input ?? {}) });
        const text = await r.text();
        const where = `${method} ${e.path} → ${r.status}`;
        if (r.status >= 500) problems.push(`${where}: server error ${text.slice(0, 200)}`);
        if (row.verdict === 'refused' && r.status < 400) problems.push(`${where}: expected a refusal, got ${text.slice(0, 200)}`);
        for (const secret of secrets) if (text.includes(secret)) problems.push(`${where}: the body reveals "${secret}"`);
        const after = await snapshotTenant(s.identity.database.db, b.orgId, users);
        if (JSON.stringify(after) !== JSON.stringify(before)) problems.push(`${where}: tenant B changed`);
      }
    }
    expect(problems).toEqual([]);
  }, 300_000);

  it("SCIM: org A's owner provisions org A only — a session is no SCIM credential, and A's token reaches nothing of B", async () => {
    const users = [b.owner.userId, b.member.userId];
    const before = await snapshotTenant(s.identity.database.db, b.orgId, users);
    const session = await signIn(ownerA.email);
    const made = await s.q<{ createScimToken: { token: string } }>({ authorization: `Bearer ${session}` }, 'mutation { createScimToken(input: { name: "A only" }) { token } }');
    expect(made.errors).toBeUndefined();
    const scimToken = made.data!.createScimToken.token;
    const user = { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: b.member.email, emails: [{ value: b.member.email, primary: true }], active: false };
    const patch = { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', value: { active: false } }] };
    const problems: string[] = [];
    for (const token of [session, scimToken])
      for (const [method, path, input] of [
        ['GET', '/scim/v2/Users', {}], ['POST', '/scim/v2/Users', user], ['PATCH', `/scim/v2/Users/${b.member.userId}`, patch], ['PUT', `/scim/v2/Users/${b.member.userId}`, user],
        ['DELETE', `/scim/v2/Users/${b.member.userId}`, {}], ['POST', '/scim/v2/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'B', members: [{ value: b.member.userId }] }],
      ] as const) {
        const r = await call(method, path, token, input);
        const text = await r.text();
        const where = `${method} ${path} with ${token === session ? "A's session" : "A's SCIM token"} → ${r.status}`;
        if (token === session ? r.status !== 401 : r.status >= 500 || (method !== 'GET' && r.status < 400)) problems.push(`${where}: ${text.slice(0, 200)}`);
        if (text.includes(b.member.email) || text.includes(b.owner.email)) problems.push(`${where}: reveals B`);
      }
    expect(problems).toEqual([]);
    expect(await snapshotTenant(s.identity.database.db, b.orgId, users)).toEqual(before);
  });

  it("the seeded demo account owns acme but has no platform role: it cannot list users or impersonate", async () => {
    const id = await userIdOf(demo.email);
    const rows = await queryRows<{ role: string }>(s.identity.database.db, sql`select role from auth.member where user_id = ${id} and organization_id = ${demo.organizationId}`);
    expect(rows.map((r) => r.role)).toEqual(['owner']);
    const token = await signIn(demo.email, demo.password);
    expect((await call('GET', '/admin/list-users', token)).status).toBe(403);
    expect((await call('POST', '/admin/impersonate-user', token, { userId: b.member.userId })).status).toBe(403);
    expect((await call('POST', '/admin/set-role', token, { userId: id, role: 'operator' })).status).toBe(403);
    const resolved = await s.identity.resolve(new Headers({ authorization: `Bearer ${token}` }));
    expect(resolved).toMatchObject({ principal: { userId: id, organizationId: demo.organizationId, roles: ['owner'], isAdmin: false } });
    const denied = s.events.filter((e) => e.eventType === 'security.access_denied' && e.target?.id === b.member.userId);
    expect(denied.length).toBeGreaterThanOrEqual(1);
  });

  it('a restart keeps the platform role for configured operators only: a stale admin role is dropped', async () => {
    await s.user('ops@operators.test');
    await s.identity.database.db.execute(sql`update auth."user" set role = 'admin' where email = ${demo.email}`);
    await restart({ operators: ['OPS@operators.test'] });
    const roles = await queryRows<{ email: string; role: string }>(s.identity.database.db, sql`select email, role from auth."user" where role <> 'user' order by email`);
    expect(roles).toEqual([{ email: 'ops@operators.test', role: 'operator' }]);
    await restart({ operators: [] });
    expect(await queryRows(s.identity.database.db, sql`select email from auth."user" where role <> 'user'`)).toEqual([]);
  });

  describe('a configured operator', () => {
    let opId: string;
    let opToken: string;
    beforeAll(async () => {
      opId = await userIdOf('ops@operators.test').catch(async () => (await s.user('ops@operators.test')).userId);
      await restart({ operators: ['ops@operators.test'] });
      opToken = await signIn('ops@operators.test');
    });

    it('lists users, but cannot hand the operator role to anyone', async () => {
      const list = await call('GET', '/admin/list-users', opToken);
      expect(list.status).toBe(200);
      expect(((await list.json()) as { total: number }).total).toBeGreaterThan(3);
      const grant = await call('POST', '/admin/set-role', opToken, { userId: ownerA.userId, role: 'operator' });
      expect(grant.status).toBe(403);
      expect(await grant.json()).toMatchObject({ code: 'OPERATOR_BY_CONFIGURATION' });
    });

    it('impersonates: audited, marked on the principal, limited to the user’s own access, and ended after 15 minutes', async () => {
      const accounts = '{ accounts(first: 100) { totalCount nodes { name } } }';
      await s.q({ authorization: `Bearer ${await signIn(ownerA.email)}` }, 'mutation { createAccount(input: { name: "A secret deal" }) { id } }');
      await s.q({ authorization: `Bearer ${b.owner.token}` }, 'mutation { createAccount(input: { name: "Bravo deal" }) { id } }');
      const started = Date.now();
      const r = await call('POST', '/admin/impersonate-user', opToken, { userId: b.member.userId });
      expect(r.status).toBe(200);
      // The operator's client is a browser here (it sends an Origin): the token comes in the header only.
      const { session: shown } = (await r.json()) as { session: { token?: string; expiresAt: string; impersonatedBy: string } };
      expect(shown.token).toBeUndefined();
      const session = { ...shown, token: r.headers.get('set-auth-token')! };
      expect(session.token).toBeTruthy();
      // The header carries the signed form (token.signature); the table keeps the token itself.
      const stored = session.token.split('.')[0]!;
      expect(session.impersonatedBy).toBe(opId);
      expect(new Date(session.expiresAt).getTime()).toBeLessThanOrEqual(started + 15 * 60_000 + 5_000);

      const audit = s.events.find((e) => e.eventType === 'auth.session_created' && e.target?.id === b.member.userId);
      expect(audit).toMatchObject({ actor: { type: 'user', id: opId }, severity: 'warning', tenantId: b.orgId, details: { impersonatedBy: opId, userId: b.member.userId } });

      const resolved = await s.identity.resolve(new Headers({ authorization: `Bearer ${session.token}` }));
      expect(resolved).toMatchObject({ principal: { userId: b.member.userId, organizationId: b.orgId, isAdmin: false, impersonatedBy: opId } });

      // Exactly what the member sees alone: B's records as the member may read them, nothing of A.
      const own = await s.q<{ accounts: { nodes: { name: string }[] } }>({ authorization: `Bearer ${await signIn(b.member.email)}` }, accounts);
      const asThem = await s.q<{ accounts: { nodes: { name: string }[] } }>({ authorization: `Bearer ${session.token}` }, accounts);
      expect(asThem.errors).toBeUndefined();
      expect(asThem.data).toEqual(own.data);
      expect(JSON.stringify(asThem.data)).not.toContain('A secret deal');
      // The operator alone belongs to no organization: no tenant's records.
      const alone = await s.q<{ accounts: { nodes: { name: string }[] } }>({ authorization: `Bearer ${opToken}` }, accounts);
      expect(JSON.stringify(alone.data ?? null)).not.toMatch(/secret deal|Bravo deal/);

      // On better-auth's own routes the borrowed session can look, not act: no API key, no list of the
      // user's sessions (with their tokens), no password or 2FA change, no membership change.
      expect((await call('GET', '/get-session', session.token)).status).toBe(200);
      const keysBefore = await queryRows(s.identity.database.db, sql`select id from auth.apikey where reference_id = ${b.member.userId}`);
      for (const [method, path, input] of [
        ['POST', '/api-key/create', { name: 'kept forever' }], ['GET', '/list-sessions', {}], ['POST', '/revoke-other-sessions', {}],
        ['POST', '/change-password', { currentPassword: 'x', newPassword: 'Another-Passw0rd' }], ['POST', '/two-factor/enable', { password: 'x' }],
        ['POST', '/organization/leave', { organizationId: b.orgId }],
      ] as const) {
        const refused = await call(method, path, session.token, input);
        expect(refused.status, path).toBe(403);
        expect(await refused.json(), path).toMatchObject({ code: 'IMPERSONATION_LIMITED' });
      }
      expect(await queryRows(s.identity.database.db, sql`select id from auth.apikey where reference_id = ${b.member.userId}`)).toEqual(keysBefore);
      // Nor through the identity API: no API key, no SCIM token (either would outlive the impersonation).
      const minted = await s.q({ authorization: `Bearer ${session.token}` }, 'mutation { createApiKey(input: { name: "outlives it" }) { key } }');
      expect(minted.errors?.[0]?.message).toMatch(/impersonation session cannot create API keys/);
      const scim = await s.q({ authorization: `Bearer ${session.token}` }, 'mutation { createScimToken(input: { name: "outlives it" }) { token } }');
      expect(scim.errors?.[0]?.message).toMatch(/impersonation session cannot manage SCIM tokens/);
      expect(await queryRows(s.identity.database.db, sql`select id from auth.apikey where reference_id = ${b.member.userId}`)).toEqual(keysBefore);

      // 16 minutes later (whatever better-auth did to the session's expiry on use), it is over.
      await s.identity.database.db.execute(sql`update auth.session set created_at = now() - interval '16 minutes' where token = ${stored}`);
      const late = await call('GET', '/get-session', session.token);
      expect(late.status).toBe(401);
      expect(await late.json()).toMatchObject({ code: 'SESSION_EXPIRED' });
      expect(await s.identity.resolve(new Headers({ authorization: `Bearer ${session.token}` }))).toMatchObject({ failure: { status: 401, code: 'SESSION_EXPIRED' } });
      expect(await queryRows(s.identity.database.db, sql`select id from auth.session where token = ${stored}`)).toEqual([]);
    });
  });

  it('every event published above (bans, impersonation, refusals) is also in the audit trail, exactly once', async () => {
    const r = await s.inTrail();
    expect(r.missing).toEqual([]);
    expect(r.stored).toBe(r.published);
    expect(s.events.map((e) => e.eventType)).toEqual(expect.arrayContaining(['auth.session_created', 'security.access_denied']));
  });
});
