import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { queryRows } from '@objectos/db';
import { gql, services, signIn, withHeaders } from '@objectos/testkit';
import type { RulesEngine } from './rules-app.ts';
import { openRaw } from './realtime-raw.ts';
import { PASSWORD, PATCH_OP, SCIM_USER, startScimRig, stateOf, type ScimRig } from './scim-rig.ts';

/**
 * Issue #21 points 4 and 7 for SCIM: a token provisions its own organization only, and only addresses
 * of that organization's proved domains; tokens are issued and revoked by the organization's owners and
 * admins only; a deactivation ends the user's sessions and live sockets before the provider gets its
 * answer; an owner is never removed by a directory; what was committed but not applied is applied at
 * the next start; SCIM requests have their own rate limit per token.
 */
const ENGINES: RulesEngine[] = ['pglite', ...(services.postgres ? (['postgres'] as const) : [])];
const user = (email: string, extra: Record<string, unknown> = {}) => ({ schemas: [SCIM_USER], userName: email, emails: [{ primary: true, value: email, type: 'work' }], name: { givenName: 'G', familyName: 'F' }, active: true, ...extra });

describe.each(ENGINES)('SCIM security on %s', (engine) => {
  let s: ScimRig;
  const q = async (bearer: string, query: string, variables: Record<string, unknown> = {}) => gql(withHeaders(`${s.rig.base}/graphql`, { authorization: `Bearer ${bearer}` }), query, variables);
  beforeAll(async () => {
    s = await startScimRig(engine, `scimsec-${engine}`);
  }, 60_000);
  afterAll(() => s?.close());

  it('tokens: issued, listed and revoked by the organization owner only, audited; a revoked or expired token is refused', async () => {
    const member = await s.member('mia');
    const refused = await q(member.bearer, 'mutation { createScimToken(input: { name: "mine" }) { token } }');
    expect(refused.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    expect((await q(member.bearer, '{ scimTokens { id } }')).errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    // An API key (even the owner's) cannot mint provisioning credentials.
    const key = await s.rig.q<{ createApiKey: { key: string } }>('mutation { createApiKey(input: { name: "k" }) { key } }');
    const viaKey = await gql(withHeaders(`${s.rig.base}/graphql`, { 'x-api-key': key.createApiKey.key }), 'mutation { createScimToken(input: { name: "k" }) { token } }');
    expect(viaKey.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    expect((await s.rig.q('mutation { createScimToken(input: { name: "  " }) { token } }').catch((e: Error) => e.message))).toMatch(/name must be 1 to 100 characters/);

    const made = await s.rig.q<{ createScimToken: { token: string; endpoint: string; scimToken: { id: string; start: string } } }>(
      'mutation { createScimToken(input: { name: "Entra", expiresInDays: 30 }) { token endpoint scimToken { id start } } }');
    const { token, endpoint, scimToken } = made.createScimToken;
    expect(new URL(endpoint).pathname).toBe('/api/auth/scim/v2');
    expect(token.startsWith(scimToken.start)).toBe(true);
    const listed = await s.rig.q<{ scimTokens: { id: string; name: string; start: string; lastUsedAt: string | null }[] }>('{ scimTokens { id name start lastUsedAt } }');
    expect(listed.scimTokens.map((t) => t.name)).toEqual(['Okta', 'Entra']);
    expect(JSON.stringify(listed)).not.toContain(token);
    expect(listed.scimTokens.find((t) => t.name === 'Entra')!.lastUsedAt).toBeNull();
    expect((await s.scim('GET', '/Users', undefined, token)).status).toBe(200);
    const used = await s.rig.q<{ scimTokens: { name: string; lastUsedAt: string | null }[] }>('{ scimTokens { name lastUsedAt } }');
    expect(used.scimTokens.find((t) => t.name === 'Entra')!.lastUsedAt).not.toBeNull();
    expect((await s.events('system.integration_added')).some((e) => e.details.kind === 'scim' && e.details.credentialId === scimToken.id)).toBe(true);

    expect(await s.rig.q('mutation($id: ID!) { revokeScimToken(id: $id) }', { id: scimToken.id })).toEqual({ revokeScimToken: true });
    const after = await s.scim('GET', '/Users', undefined, token);
    expect(after.status).toBe(401);
    expect(after.json.detail).toMatch(/Invalid SCIM bearer token/);
    expect((await s.events('system.integration_removed')).some((e) => e.details.credentialId === scimToken.id)).toBe(true);
    // Expired: refused the same way.
    await s.rig.app.identity!.database.db.execute(sql`update auth.scim_token set expires_at = now() - interval '1 second' where name = 'Okta'`);
    expect((await s.scim('GET', '/Users')).status).toBe(401);
    await s.rig.app.identity!.database.db.execute(sql`update auth.scim_token set expires_at = null where name = 'Okta'`);
    expect((await s.scim('GET', '/Users')).status).toBe(200);
    expect((await s.scim('GET', '/Users', undefined, 'oos_scim_forged')).status).toBe(401);
  });

  it('addresses outside the organization\'s proved domains are refused, and nothing is written', async () => {
    const outside = await s.scim('POST', '/Users', user('eve@victim.example'));
    expect(outside.status).toBe(400);
    expect(JSON.stringify(outside.json)).toMatch(/eve@victim\.example is outside the organization's verified SSO domains \(scimsec-/);
    expect((await stateOf(s, 'eve@victim.example')).userId).toBeNull();
    expect((await s.scim('GET', `/Users?filter=${encodeURIComponent('userName eq "eve@victim.example"')}`)).json.totalResults).toBe(0);
    // Moving a provisioned user's address out of the domains (PUT or PATCH) is refused too.
    const inside = `ivan@${s.domain}`;
    const created = await s.scim('POST', '/Users', user(inside));
    expect(created.status).toBe(201);
    const id = String(created.json.id);
    expect((await s.scim('PUT', `/Users/${id}`, user('ivan@victim.example'))).status).toBe(400);
    const patch = await s.scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'emails[type eq "work"].value', value: 'ivan@victim.example' }] });
    expect(patch.status).toBe(400);
    expect((await stateOf(s, inside)).userId).not.toBeNull();
    expect((await stateOf(s, 'ivan@victim.example')).userId).toBeNull();
    // Until its domain is proved, an organization provisions nobody.
    await s.rig.app.identity!.database.db.execute(sql`update auth.sso_provider set domain_verified = false where organization_id = ${s.organizationId}`);
    const unproved = await s.scim('POST', '/Users', user(`ulla@${s.domain}`));
    expect(unproved.status).toBe(400);
    expect(JSON.stringify(unproved.json)).toMatch(/no verified SSO domain/);
    await s.rig.app.identity!.database.db.execute(sql`update auth.sso_provider set domain_verified = true where organization_id = ${s.organizationId}`);
  });

  it('another organization\'s token sees and changes none of these users; an account outside the organization is not taken over', async () => {
    expect((await s.scim('POST', '/Users', user(`olga@${s.domain}`))).status).toBe(201);
    // A second organization in the same process and database, with its own token.
    const db = s.rig.app.identity!.database.db;
    const otherOwner = await s.member('otto');
    const org = await fetch(`${s.rig.base}/api/auth/organization/create`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${otherOwner.bearer}` }, body: JSON.stringify({ name: 'Other', slug: `other-${engine}` }) });
    const otherOrg = ((await org.json()) as { id: string }).id;
    await fetch(`${s.rig.base}/api/auth/organization/set-active`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${otherOwner.bearer}` }, body: JSON.stringify({ organizationId: otherOrg }) });
    const made = await q(otherOwner.bearer, 'mutation { createScimToken(input: { name: "other" }) { token } }');
    const otherToken = (made.data as { createScimToken: { token: string } }).createScimToken.token;
    const [olga] = await queryRows<{ id: string }>(db, sql`select id from auth.scim_user where user_name = ${`olga@${s.domain}`}`);
    expect((await s.scim('GET', `/Users/${olga!.id}`, undefined, otherToken)).status).toBe(404);
    expect((await s.scim('PATCH', `/Users/${olga!.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] }, otherToken)).status).toBe(404);
    expect((await s.scim('DELETE', `/Users/${olga!.id}`, undefined, otherToken)).status).toBe(404);
    expect(((await s.scim('GET', '/Users', undefined, otherToken)).json.totalResults)).toBe(0);
    expect(await stateOf(s, `olga@${s.domain}`)).toMatchObject({ role: 'member', banned: false });
    // An account with an address of the domain that is not a verified member: not linked, refused (409).
    await s.rig.app.identity!.auth.api.signUpEmail({ body: { email: `squat@${s.domain}`, password: PASSWORD, name: 'Squat' } });
    expect((await s.scim('POST', '/Users', user(`squat@${s.domain}`))).status).toBe(409);
    expect((await stateOf(s, `squat@${s.domain}`)).role).toBeNull();
  });

  it('a group write naming 1,000 members fits the SCIM body bound (512 KiB); a larger body is refused 413 unread', async () => {
    const members = Array.from({ length: 1000 }, (_, i) => ({ value: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, display: `member-${i}@${s.domain}` }));
    const big = await s.scim('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Large', members });
    expect(big.status).not.toBe(413);
    expect(big.status).toBeLessThan(500);
    const huge = await s.scim('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Huge', members: [...members, ...members, ...members, ...members, ...members, ...members] });
    expect(huge.status).toBe(413);
  });

  it('deactivating a signed-in member ends their sessions and live sockets before the provider gets its answer', async () => {
    const dana = await s.member('dana');
    // The directory takes over the existing member (same account; her profile is left as it is).
    const linked = await s.scim('POST', '/Users', user(dana.email, { name: { givenName: 'Other', familyName: 'Name' } }));
    expect(linked.status, JSON.stringify(linked.json)).toBe(201);
    expect((await stateOf(s, dana.email)).userId).toBe(dana.userId);
    const socket = await openRaw(`${s.rig.base.replace('http', 'ws')}/graphql`);
    await socket.init({ authorization: `Bearer ${dana.bearer}` });
    socket.subscribe('1', 'subscription { accountChanged { op } }');
    expect((await q(dana.bearer, '{ me { id name } }')).data).toEqual({ me: { id: dana.userId, name: 'dana' } });

    const off = await s.scim('PATCH', `/Users/${String(linked.json.id)}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] });
    expect(off.status).toBe(200);
    // The very next request is refused, and the socket is closed (bounded wait for the close frame).
    const me = await fetch(`${s.rig.base}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${dana.bearer}`, 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ me { id } }' }) });
    expect(me.status).toBe(401);
    const closed = await Promise.race([socket.closed, new Promise<null>((r) => setTimeout(() => r(null), 3_000))]);
    expect(closed, 'socket still open 3 s after the deactivation').not.toBeNull();
    expect(closed!.code).toBeGreaterThanOrEqual(4400);
    // Out of the organization, every session ended; an account the directory took over (it existed before)
    // is not locked by it: signed in again, she belongs to no organization and sees nothing of it.
    expect(await stateOf(s, dana.email)).toMatchObject({ role: null, banned: false, sessions: 0 });
    const again = await signIn(s.rig.base, dana.email, PASSWORD);
    expect((await q(again, '{ activeOrganization { id } accounts { totalCount } }')).errors?.[0]?.extensions?.['code']).toBeDefined();
  });

  it('an organization owner is not the directory\'s: not taken over, not removed, groups untouched (refused and audited)', async () => {
    const db = s.rig.app.identity!.database.db;
    const ownerEmail = `owner@scimsec-${engine}.test`;
    await db.execute(sql`update auth."user" set email_verified = true where email = ${ownerEmail}`);
    // An admin's token cannot take over the owner's account (an existing address: 409).
    expect((await s.scim('POST', '/Users', user(ownerEmail))).status).toBe(409);
    // A provisioned member later made an owner: the directory no longer removes them nor changes their groups.
    const olaf = `olaf@${s.domain}`;
    const made = await s.scim('POST', '/Users', user(olaf));
    expect(made.status).toBe(201);
    await db.execute(sql`update auth.member set role = 'owner' where user_id = (select id from auth."user" where email = ${olaf})`);
    const group = await s.scim('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Key Account Team', members: [{ value: String(made.json.id) }] });
    expect(group.status).toBe(201);
    expect((await stateOf(s, olaf)).groups).toBeNull();
    expect((await s.scim('PATCH', `/Users/${String(made.json.id)}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] })).status).toBe(200);
    expect(await stateOf(s, olaf)).toMatchObject({ role: 'owner', banned: false });
    expect((await s.events('security.access_denied')).some((e) => e.details.action === 'scim_remove_owner')).toBe(true);
  });

  it('an account of another domain that is a member is not taken over, even by an organization with no proved domain', async () => {
    const outsider = await s.member('xena');
    const other = `xena@elsewhere-${engine}.example`;
    await s.rig.app.identity!.database.db.execute(sql`update auth."user" set email = ${other} where id = ${outsider.userId}`);
    const r = await s.scim('POST', '/Users', user(other));
    // Refused as a new account: outside the domains, and the address is in use.
    expect([400, 409]).toContain(r.status);
    expect(await stateOf(s, other)).toMatchObject({ role: 'member', banned: false });
    expect(await queryRows(s.rig.app.identity!.database.db, sql`select 1 from auth.scim_linked where user_id = ${outsider.userId}`)).toEqual([]);
  });

  it('a change that could not be applied stays marked and is applied again within seconds, without another SCIM request', async () => {
    const email = `fred@${s.domain}`;
    const created = await s.scim('POST', '/Users', user(email));
    expect(created.status).toBe(201);
    const db = s.rig.app.identity!.database.db;
    const pending = async () => (await queryRows<{ n: number }>(db, sql`select count(*)::int as n from auth.scim_pending`))[0]!.n;
    // The application fails (a table it writes is gone for a moment); the plugin's transaction committed.
    await db.execute(sql`alter table security.member_access rename to member_access_away`);
    try {
      const off = await s.scim('PATCH', `/Users/${String(created.json.id)}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] });
      expect(off.status).toBe(200);
      // Not applied: still a member (read without the table that is away), and still marked.
      const [still] = await queryRows<{ role: string }>(db, sql`select m.role from auth.member m join auth."user" u on u.id = m.user_id where u.email = ${email}`);
      expect(still?.role).toBe('member');
      expect(await pending()).toBeGreaterThan(0);
    } finally {
      await db.execute(sql`alter table security.member_access_away rename to member_access`);
    }
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (await stateOf(s, email)).role !== null) await new Promise((r) => setTimeout(r, 200));
    expect(await stateOf(s, email)).toMatchObject({ role: null, banned: true });
    expect(await pending()).toBe(0);
  });

  it('what a stopped process committed but did not apply is applied at the next start', async () => {
    const email = `rosa@${s.domain}`;
    expect((await s.scim('POST', '/Users', user(email))).status).toBe(201);
    const { userId } = await stateOf(s, email);
    // As if the process had stopped between the SCIM transaction and applying it: the mark is there, the membership is not.
    const db = s.rig.app.identity!.database.db;
    await db.execute(sql`delete from auth.member where user_id = ${userId}`);
    await db.execute(sql`insert into auth.scim_pending (id, provisioning_domain_id, user_id, created_at) values (gen_random_uuid()::text, ${s.organizationId}, ${userId}, now())`);
    await s.rig.restart();
    expect(await stateOf(s, email)).toMatchObject({ role: 'member' });
    expect((await queryRows<{ n: number }>(s.rig.app.identity!.database.db, sql`select count(*)::int as n from auth.scim_pending`))[0]!.n).toBe(0);
  });
});

describe('SCIM rate limit', () => {
  let s: ScimRig;
  beforeAll(async () => {
    s = await startScimRig('pglite', 'scimrate', { OBJECTOS_SCIM_RATE_LIMIT: '3' });
  }, 60_000);
  afterAll(() => s?.close());

  it('a token has its own budget per minute (OBJECTOS_SCIM_RATE_LIMIT), answered 429 with Retry-After', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await s.scim('GET', '/Users')).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const r = await fetch(`${s.rig.base}/api/auth/scim/v2/Users`, { headers: { authorization: `Bearer ${s.token}` } });
    expect(r.status).toBe(429);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another token (another budget) still passes.
    const other = await s.rig.q<{ createScimToken: { token: string } }>('mutation { createScimToken(input: { name: "second" }) { token } }');
    expect((await s.scim('GET', '/Users', undefined, other.createScimToken.token)).status).toBe(200);
  });

  it('guessing tokens (each guess a fresh budget) is limited per client address: refused 429 after the sign-in ceiling', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 32; i++) statuses.push((await s.scim('GET', '/Users', undefined, `oos_scim_guess-${i}`)).status);
    expect(statuses.slice(0, 30).every((x) => x === 401)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
  });
});
