import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANONYMOUS, audienceKey, signPrincipal, SYSTEM } from '@objectos/principal';
import { engines, gql, signedFetch, TEST_SECRET, testPrincipal } from '@objectos/testkit';
import { ORIGIN, PASSWORD, startSecureStack, type SecureStack } from './secure-stack.ts';

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) from an otpauth:// URI's base32 secret. */
function totp(uri: string, at = Date.now()): string {
  const secret = new URL(uri).searchParams.get('secret')!;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30_000)));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = h[h.length - 1]! & 0xf;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

const ACCOUNTS = '{ accounts { totalCount nodes { id name } } }';
const codeOf = (r: { errors?: { extensions?: Record<string, unknown> }[] }) => r.errors?.[0]?.extensions?.['code'];

describe.each(engines())('identity, sessions and the tenant wall on $name', (engine) => {
  let s: SecureStack;
  beforeAll(async () => {
    s = await startSecureStack(engine, { cacheTtlMs: 60_000, audit: true });
  });
  afterAll(() => s?.close());

  describe('contract: every subgraph refuses calls without a valid, fresh gateway signature (401)', () => {
    type Call = { audience: string; method: string; url: string; body: string };
    const other = { data: 'identity', identity: 'data' } as const;
    const cases = (target: 'data' | 'identity', call: Call, now: number): Record<string, Record<string, string>> => ({
      'no signature': {},
      'wrong secret': signPrincipal(SYSTEM, audienceKey('x'.repeat(40), target), call, { now }),
      'replayed old signature': signPrincipal(testPrincipal(), audienceKey(TEST_SECRET, target), call, { now: now - 120_000 }),
      'signed for the other subgraph': signPrincipal(SYSTEM, audienceKey(TEST_SECRET, other[target]), { ...call, audience: other[target] }, { now }),
      'signed for an external subgraph': signPrincipal(SYSTEM, audienceKey(TEST_SECRET, 'billing'), { ...call, audience: 'billing' }, { now }),
      'signed for another body': signPrincipal(SYSTEM, audienceKey(TEST_SECRET, target), { ...call, body: `${call.body} ` }, { now }),
      'signed for another path': signPrincipal(SYSTEM, audienceKey(TEST_SECRET, target), { ...call, url: 'http://sub/other' }, { now }),
    });
    for (const target of ['data', 'identity'] as const)
      it(`${target}: GraphQL, _entities, _service and (identity) the auth routes`, async () => {
        const handler = s[target].fetch;
        for (const [path, body] of [
          ['/graphql', { query: '{ _service { sdl } }' }],
          ['/graphql', { query: 'query($r: [_Any!]!) { _entities(representations: $r) { __typename } }', variables: { r: [{ __typename: 'Account', id: randomUUID() }] } }],
          ...(target === 'identity' ? [['/api/auth/get-session', {}], ['/internal/principal', {}]] : []),
        ] as const) {
          const call = { audience: target, method: 'POST', url: `http://sub${path}`, body: JSON.stringify(body) };
          for (const [name, h] of Object.entries(cases(target, call, Date.now()))) {
            const r = await handler(new Request(call.url, { method: 'POST', headers: { 'content-type': 'application/json', ...h }, body: call.body }));
            expect(r.status, `${target} ${path} with ${name}`).toBe(401);
            expect(r.headers.get('www-authenticate')).toBe('ObjectOS-HMAC');
            expect(JSON.stringify(await r.json())).not.toMatch(/"data"|sdl/);
          }
        }
        // The same call, signed by the gateway, is served.
        const ok = await gql(signedFetch(handler, SYSTEM, TEST_SECRET, target), '{ _service { sdl } }');
        expect(ok.errors).toBeUndefined();
      });
  });

  it('refuses anonymous requests and bad credentials with 401 and no data', async () => {
    const anonymous = await s.gateway.fetch(new Request(`${ORIGIN}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: ACCOUNTS }) }));
    expect(anonymous.status).toBe(401);
    const bad: Record<string, string>[] = [
      { authorization: 'Bearer not-a-token' },
      { authorization: 'Bearer ' },
      { authorization: `Bearer ${'a'.repeat(5000)}` },
      { cookie: 'better-auth.session_token=forged.signature' },
      { 'x-api-key': 'oos_definitely-not-a-key' },
    ];
    for (const headers of bad) {
      const r = await s.as(headers)(new Request(`${ORIGIN}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: ACCOUNTS }) }));
      expect(r.status, JSON.stringify(headers).slice(0, 60)).toBe(401);
      const body = (await r.json()) as { data?: unknown; errors: { extensions: { code: string } }[] };
      expect(body.data).toBeUndefined();
      expect(body.errors[0]!.extensions.code).toMatch(/UNAUTHENTICATED|INVALID_API_KEY/);
    }
  });

  it('serves me, organizations, members and sessions to a signed-in user, by bearer token or cookie', async () => {
    const u = await s.user('ada@example.com', 'Analytical');
    const r = await s.q<{ me: { email: string }; myOrganizations: { slug: string }[]; activeOrganization: { name: string }; members: { roles: string[]; user: { email: string } }[]; mySessions: { current: boolean }[] }>(
      u.headers,
      '{ me { email } myOrganizations { slug } activeOrganization { name } members { roles user { email } } mySessions { current } }',
    );
    expect(r.errors).toBeUndefined();
    expect(r.data).toMatchObject({ me: { email: 'ada@example.com' }, myOrganizations: [{ slug: 'analytical' }], activeOrganization: { name: 'Analytical' }, members: [{ roles: ['owner'], user: { email: 'ada@example.com' } }] });
    expect(r.data!.mySessions.filter((x) => x.current)).toHaveLength(1);
    // The same session as a cookie (as a browser sends it).
    const signedIn = await s.auth('/sign-in/email', { email: 'ada@example.com', password: PASSWORD });
    const cookie = signedIn.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    expect(cookie).toMatch(/better-auth\.session_token=/);
    expect((await s.q<{ me: { email: string } }>({ cookie }, '{ me { email } }')).data?.me.email).toBe('ada@example.com');
  });

  it('keeps each organization to its own records: lists, by id, relations, writes; probes look like missing ids', async () => {
    const a = await s.user('alice@acme.test', 'Acme');
    const b = await s.user('bob@globex.test', 'Globex');
    const made = await s.q<{ createAccount: { id: string } }>(a.headers, 'mutation { createAccount(input: { name: "Acme Secret" }) { id } }');
    const id = made.data!.createAccount.id;
    await s.q(a.headers, 'mutation($a: ID!) { createContact(input: { lastName: "Insider", accountId: $a }) { id } }', { a: id });
    expect((await s.q<{ accounts: { totalCount: number } }>(a.headers, ACCOUNTS)).data!.accounts.totalCount).toBe(1);
    expect((await s.q<{ accounts: { totalCount: number } }>(b.headers, ACCOUNTS)).data!.accounts).toEqual({ totalCount: 0, nodes: [] });
    const missing = randomUUID();
    const probe = async (target: string) =>
      JSON.stringify(
        (await s.q(b.headers, 'query($id: ID!) { account(id: $id) { name contacts { lastName } } contacts(where: { accountId: { eq: $id } }) { totalCount } }', { id: target })).data,
      );
    expect(await probe(id)).toBe(await probe(missing));
    const write = async (target: string) => {
      const r = await s.q(b.headers, 'mutation($id: ID!) { createContact(input: { lastName: "Spy", accountId: $id }) { id } }', { id: target });
      return JSON.stringify(r.errors?.map((e) => ({ code: e.extensions?.['code'], message: e.message.replace(target, '<id>') })));
    };
    expect(await write(id)).toBe(await write(missing));
    expect(await write(id)).toMatch(/BAD_USER_INPUT/);
    for (const m of ['updateAccount(id: $id, input: { name: "Pwned" }) { id }', 'deleteAccount(id: $id) { id }']) {
      const other = await s.q(b.headers, `mutation($id: ID!) { ${m} }`, { id });
      const none = await s.q(b.headers, `mutation($id: ID!) { ${m} }`, { id: missing });
      expect(codeOf(other)).toBe('NOT_FOUND');
      expect(other.errors![0]!.message.replace(id, '<id>')).toBe(none.errors![0]!.message.replace(missing, '<id>'));
    }
    // The record is untouched, and a forged organization in input is refused by the schema.
    expect((await s.q<{ account: { name: string } }>(a.headers, 'query($id: ID!) { account(id: $id) { name } }', { id })).data!.account.name).toBe('Acme Secret');
    const forged = await s.q(b.headers, `mutation { createAccount(input: { name: "X", organizationId: "${randomUUID()}" }) { id } }`);
    expect(forged.errors?.[0]?.message).toMatch(/organizationId.*not defined|not defined.*organizationId/);
    expect((await s.q<{ accounts: { totalCount: number } }>(b.headers, ACCOUNTS)).data!.accounts.totalCount).toBe(0);
    // Unique values are unique per organization: no cross-tenant oracle.
    const dup = await s.q(b.headers, 'mutation { createAccount(input: { name: "Acme Secret" }) { id } }');
    expect(dup.errors).toBeUndefined();
  });

  it('ends access on the next request after revoke, sign-out or ban, even with a long cache', async () => {
    const u = await s.user('carol@example.com', 'Carolco');
    const second = await s.auth('/sign-in/email', { email: 'carol@example.com', password: PASSWORD });
    const other = { authorization: `Bearer ${second.headers.get('set-auth-token')}` };
    expect((await s.q(other, ACCOUNTS)).errors).toBeUndefined();
    const sessions = await s.q<{ mySessions: { id: string; current: boolean }[] }>(u.headers, '{ mySessions { id current } }');
    const target = sessions.data!.mySessions.find((x) => !x.current)!;
    expect((await s.q(u.headers, 'mutation($id: ID!) { revokeSession(id: $id) }', { id: target.id })).data).toEqual({ revokeSession: true });
    expect(codeOf(await s.q(other, ACCOUNTS))).toBe('UNAUTHENTICATED');
    // Someone else's session id is not yours to revoke.
    const stranger = await s.user('dave@example.com', 'Daveco');
    expect(codeOf(await s.q(stranger.headers, 'mutation($id: ID!) { revokeSession(id: $id) }', { id: sessions.data!.mySessions.find((x) => x.current)!.id }))).toBe('NOT_FOUND');
    // Sign-out.
    expect((await s.auth('/sign-out', {}, u.headers)).status).toBe(200);
    expect(codeOf(await s.q(u.headers, ACCOUNTS))).toBe('UNAUTHENTICATED');
    // Ban (by a platform operator): the banned user's live session stops working at once.
    const admin = await s.user('root@example.com', 'Rootco');
    await s.identity.database.db.execute((await import('drizzle-orm')).sql`update auth."user" set role = 'operator' where id = ${admin.userId}`);
    expect((await s.q(stranger.headers, ACCOUNTS)).errors).toBeUndefined();
    const ban = await s.auth('/admin/ban-user', { userId: stranger.userId, banReason: 'test' }, admin.headers);
    expect(ban.status).toBe(200);
    const after = await s.q(stranger.headers, ACCOUNTS);
    expect(codeOf(after)).toMatch(/UNAUTHENTICATED|USER_BANNED/);
    expect(after.data).toBeUndefined();
    expect((await s.auth('/sign-in/email', { email: 'dave@example.com', password: PASSWORD })).status).toBe(403);
    expect(s.gateway.principals.evictions).toBeGreaterThan(0);
  });

  it('API keys act for their user in one organization, are listed without their secret, and stop working when revoked', async () => {
    const u = await s.user('erin@example.com', 'Erinco');
    await s.q(u.headers, 'mutation { createAccount(input: { name: "Erin One" }) { id } }');
    const created = await s.q<{ createApiKey: { key: string; apiKey: { id: string; start: string; organizationId: string } } }>(u.headers, 'mutation { createApiKey(input: { name: "ci", expiresInDays: 30 }) { key apiKey { id start organizationId } } }');
    expect(created.errors).toBeUndefined();
    const { key, apiKey } = created.data!.createApiKey;
    expect(key).toMatch(/^oos_/);
    const viaKey = { 'x-api-key': key };
    expect((await s.q<{ accounts: { nodes: { name: string }[] } }>(viaKey, ACCOUNTS)).data!.accounts.nodes.map((n) => n.name)).toEqual(['Erin One']);
    const listed = await s.q<{ apiKeys: Record<string, unknown>[] }>(u.headers, '{ apiKeys { id name start organizationId } }');
    expect(listed.data!.apiKeys).toEqual([{ id: apiKey.id, name: 'ci', start: apiKey.start, organizationId: apiKey.organizationId }]);
    expect(JSON.stringify(listed)).not.toContain(key);
    // A key cannot mint keys.
    expect(codeOf(await s.q(viaKey, 'mutation { createApiKey(input: { name: "child" }) { key } }'))).toBe('FORBIDDEN');
    expect(codeOf(await s.q(u.headers, 'mutation($id: ID!) { revokeApiKey(id: $id) }', { id: randomUUID() }))).toBe('NOT_FOUND');
    expect((await s.q(u.headers, 'mutation($id: ID!) { revokeApiKey(id: $id) }', { id: apiKey.id })).data).toEqual({ revokeApiKey: true });
    expect(codeOf(await s.q(viaKey, ACCOUNTS))).toBe('INVALID_API_KEY');
  });

  it("refuses an API key once its user left the key's organization", async () => {
    const owner = await s.user('fay@example.com', 'Fayco');
    const member = await s.user('gus@example.com');
    const org = (await s.q<{ activeOrganization: { id: string } }>(owner.headers, '{ activeOrganization { id } }')).data!.activeOrganization.id;
    await s.identity.auth.api.addMember({ body: { userId: member.userId, organizationId: org, role: 'member' } });
    const signedIn = await s.auth('/sign-in/email', { email: 'gus@example.com', password: PASSWORD });
    const gus = { authorization: `Bearer ${signedIn.headers.get('set-auth-token')}` };
    const key = (await s.q<{ createApiKey: { key: string } }>(gus, 'mutation { createApiKey(input: { name: "gus" }) { key } }')).data!.createApiKey.key;
    expect((await s.q({ 'x-api-key': key }, ACCOUNTS)).errors).toBeUndefined();
    const removed = await s.auth('/organization/remove-member', { memberIdOrEmail: 'gus@example.com', organizationId: org }, owner.headers);
    expect(removed.status).toBe(200);
    expect(codeOf(await s.q({ 'x-api-key': key }, ACCOUNTS))).toBe('NOT_A_MEMBER');
    // Their session now acts in no organization: told so, shown nothing.
    expect(codeOf(await s.q(gus, ACCOUNTS))).toBe('FORBIDDEN');
  });

  it('invitations: an invited user who accepts becomes a member with the given role and sees the organization\'s records shared with them', async () => {
    const owner = await s.user('olga@example.com', 'Olgaco');
    const created = await s.q<{ createAccount: { id: string } }>(owner.headers, 'mutation { createAccount(input: { name: "Olga Shared" }) { id } }');
    const invited = await s.auth('/organization/invite-member', { email: 'pat@example.com', role: 'member' }, owner.headers);
    expect(invited.status).toBe(200);
    const invitationId = ((await invited.json()) as { id: string }).id;
    const pat = await s.user('pat@example.com');
    expect(codeOf(await s.q(pat.headers, ACCOUNTS))).toBe('FORBIDDEN');
    // Only a verified address may accept (better-auth's default). This stack has no mail queue, so the
    // verification link's effect is applied directly (jobs-notifications.test follows the real mails).
    const unverified = await s.auth('/organization/accept-invitation', { invitationId }, pat.headers);
    expect(unverified.status).toBe(403);
    expect(await unverified.json()).toMatchObject({ code: 'EMAIL_VERIFICATION_REQUIRED_BEFORE_ACCEPTING_OR_REJECTING_INVITATION' });
    await s.identity.database.db.execute((await import('drizzle-orm')).sql`update auth."user" set email_verified = true where id = ${pat.userId}`);
    const accepted = await s.auth('/organization/accept-invitation', { invitationId }, pat.headers);
    expect(accepted.status, await accepted.clone().text()).toBe(200);
    const after = await s.q<{ accounts: { nodes: { name: string }[] }; members: { roles: string[]; user: { email: string } }[] }>(pat.headers, '{ accounts { nodes { name } } members { roles user { email } } }');
    expect(after.errors, JSON.stringify(after.errors)).toBeUndefined();
    // A member (profile standard_user) sees accounts under the private OWD: none of Olga's until she shares one.
    expect(after.data!.accounts.nodes).toEqual([]);
    expect(after.data!.members).toContainEqual({ roles: ['member'], user: { email: 'pat@example.com' } });
    const shared = await s.q(owner.headers, `mutation { shareRecord(input: { object: "account", recordId: "${created.data!.createAccount.id}", sharedWithType: USER, sharedWith: "${pat.userId}", accessLevel: READ }) { id } }`);
    expect(shared.errors, JSON.stringify(shared.errors)).toBeUndefined();
    const now = await s.q<{ accounts: { nodes: { name: string }[] } }>(pat.headers, '{ accounts { nodes { name } } }');
    expect(now.data!.accounts.nodes.map((n) => n.name)).toEqual(['Olga Shared']);
  });

  it('admin: revoking all of a user\'s sessions ends them on the next request', async () => {
    const admin = await s.user('quinn@example.com', 'Quinnco');
    await s.identity.database.db.execute((await import('drizzle-orm')).sql`update auth."user" set role = 'operator' where id = ${admin.userId}`);
    const target = await s.user('ray@example.com', 'Rayco');
    expect((await s.q(target.headers, ACCOUNTS)).errors).toBeUndefined();
    expect((await s.auth('/admin/revoke-user-sessions', { userId: target.userId }, admin.headers)).status).toBe(200);
    expect(codeOf(await s.q(target.headers, ACCOUNTS))).toBe('UNAUTHENTICATED');
    // Not an admin: refused, and nothing revoked.
    const survivor = await s.user('sam@example.com', 'Samco');
    expect((await s.auth('/admin/revoke-user-sessions', { userId: survivor.userId }, target.headers)).status).toBe(401);
    expect((await s.auth('/admin/revoke-user-sessions', { userId: survivor.userId }, survivor.headers)).status).toBe(403);
    expect((await s.q(survivor.headers, ACCOUNTS)).errors).toBeUndefined();
  });

  it('two-factor: a sign-in whose second factor is not finished gets no data; TOTP or a backup code finishes it', async () => {
    const u = await s.user('hal@example.com', 'Halco');
    const enabled = await s.auth('/two-factor/enable', { password: PASSWORD }, u.headers);
    expect(enabled.status).toBe(200);
    const { totpURI, backupCodes } = (await enabled.json()) as { totpURI: string; backupCodes: string[] };
    expect((await s.auth('/two-factor/verify-totp', { code: totp(totpURI) }, u.headers)).status).toBe(200);
    const partial = await s.auth('/sign-in/email', { email: 'hal@example.com', password: PASSWORD });
    expect(await partial.json()).toMatchObject({ twoFactorRedirect: true });
    // Whatever token comes with the pending sign-in opens nothing.
    const partialToken = partial.headers.get('set-auth-token');
    if (partialToken) expect(codeOf(await s.q({ authorization: `Bearer ${partialToken}` }, ACCOUNTS))).toBe('UNAUTHENTICATED');
    const pending = partial.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    expect(pending).toMatch(/two_factor/);
    const noData = await s.q({ cookie: pending }, ACCOUNTS);
    expect(codeOf(noData)).toBe('UNAUTHENTICATED');
    expect(noData.data).toBeUndefined();
    expect((await s.auth('/two-factor/verify-totp', { code: '000000' }, { cookie: pending })).status).toBe(401);
    const done = await s.auth('/two-factor/verify-totp', { code: totp(totpURI) }, { cookie: pending });
    expect(done.status).toBe(200);
    const token = done.headers.get('set-auth-token')!;
    expect((await s.q({ authorization: `Bearer ${token}` }, '{ me { twoFactorEnabled } }')).data).toEqual({ me: { twoFactorEnabled: true } });
    const again = await s.auth('/sign-in/email', { email: 'hal@example.com', password: PASSWORD });
    const cookie = again.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const backup = await s.auth('/two-factor/verify-backup-code', { code: backupCodes[0] }, { cookie });
    expect(backup.status).toBe(200);
    expect((await s.q({ authorization: `Bearer ${backup.headers.get('set-auth-token')}` }, '{ me { email } }')).data).toEqual({ me: { email: 'hal@example.com' } });
  });

  it('enforces the password policy (classes, length, history) with clear errors', async () => {
    const weak = await s.auth('/sign-up/email', { email: 'ivy@example.com', password: 'alllowercase', name: 'Ivy' });
    expect(weak.status).toBe(400);
    expect(await weak.json()).toMatchObject({ code: 'PASSWORD_POLICY', message: expect.stringMatching(/upper-case letter, a digit/) });
    const u = await s.user('ivy@example.com', 'Ivyco');
    const reuse = await s.auth('/change-password', { currentPassword: PASSWORD, newPassword: PASSWORD }, u.headers);
    expect(reuse.status).toBe(400);
    expect(await reuse.json()).toMatchObject({ code: 'PASSWORD_REUSED' });
    const changed = await s.auth('/change-password', { currentPassword: PASSWORD, newPassword: 'Another-Passw0rd' }, u.headers);
    expect(changed.status).toBe(200);
    const back = await s.auth('/change-password', { currentPassword: 'Another-Passw0rd', newPassword: PASSWORD }, u.headers);
    expect(await back.json()).toMatchObject({ code: 'PASSWORD_REUSED' });
  });

  it('publishes auth events with the spec audit names', () => {
    const types = new Set(s.events.map((e) => e.eventType));
    for (const t of ['auth.login', 'auth.logout', 'auth.session_revoked', 'auth.account_locked', 'auth.password_changed', 'auth.mfa_enabled', 'security.api_key_created', 'security.api_key_revoked', 'authz.role_removed', 'auth.login_failed'])
      expect(types, t).toContain(t);
    const failed = s.events.find((e) => e.eventType === 'auth.login_failed')!;
    expect(failed).toMatchObject({ result: 'failure', severity: 'warning', actor: { ipAddress: '127.0.0.1' } });
    expect(JSON.stringify(s.events)).not.toContain(PASSWORD);
  });

  it('every auth event published above is also in the audit trail, exactly once (the durable path)', async () => {
    const r = await s.inTrail();
    expect(r.missing).toEqual([]);
    expect(r.stored).toBe(r.published);
    expect(new Set(s.events.map((e) => e.eventType)).size).toBeGreaterThanOrEqual(8);
  });
});

describe('sign-in and 2FA attempts are limited per account and IP', () => {
  let s: SecureStack;
  beforeAll(async () => {
    s = await startSecureStack(engines()[0]!, { trustProxy: true });
    await s.user('jo@example.com');
    await s.user('kim@example.com');
  });
  afterAll(() => s?.close());

  it('answers the 4th attempt in 10 s with 429 and Retry-After, counting //sign-in/email and a whole IPv6 /64 as the same', async () => {
    const attempt = (path: string, email: string, ip: string) =>
      s.gateway.fetch(
        new Request(`${ORIGIN}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', origin: ORIGIN, 'x-forwarded-for': ip }, body: JSON.stringify({ email, password: 'Wrong-Passw0rd' }) }),
        { req: { socket: { remoteAddress: '10.0.0.1' } } },
      );
    expect((await attempt('/api/auth/sign-in/email', 'jo@example.com', '2001:db8:9:9::1')).status).toBe(401);
    expect((await attempt('/api/auth//sign-in/email', 'jo@example.com', '2001:db8:9:9::2')).status).toBe(401);
    expect((await attempt('/api/auth/sign-in/email', 'JO@example.com', '2001:db8:9:9:ffff::3')).status).toBe(401);
    const limited = await attempt('/api/auth/sign-in/email', 'jo@example.com', '2001:db8:9:9::4');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await limited.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('RATE_LIMITED');
    // Even the right password is refused while limited; another account or network is not.
    const right = await s.gateway.fetch(
      new Request(`${ORIGIN}/api/auth/sign-in/email`, { method: 'POST', headers: { 'content-type': 'application/json', origin: ORIGIN, 'x-forwarded-for': '2001:db8:9:9::5' }, body: JSON.stringify({ email: 'jo@example.com', password: PASSWORD }) }),
      { req: { socket: { remoteAddress: '10.0.0.1' } } },
    );
    expect(right.status).toBe(429);
    expect((await attempt('/api/auth/sign-in/email', 'kim@example.com', '2001:db8:9:9::1')).status).toBe(401);
    expect((await attempt('/api/auth/sign-in/email', 'jo@example.com', '2001:db8:7:7::1')).status).toBe(401);
    // No login brute force through GraphQL: there is no login field to alias.
    const fields = await gql(signedFetch(s.identity.fetch, ANONYMOUS, TEST_SECRET, 'identity'), '{ __type(name: "Mutation") { fields { name } } }');
    expect(JSON.stringify(fields.data)).not.toMatch(/signIn|login|verify/i);
  });

  it('limits SSO and social sign-in the same way: SSO sign-ins per address and IP, a provider\'s answers per flow (state)', async () => {
    const send = (path: string, ip: string, body?: unknown) =>
      s.gateway.fetch(
        new Request(`${ORIGIN}${path}`, body === undefined
          ? { headers: { 'x-forwarded-for': ip } }
          : { method: 'POST', headers: { 'content-type': 'application/json', origin: ORIGIN, 'x-forwarded-for': ip }, body: JSON.stringify(body) }),
        { req: { socket: { remoteAddress: '10.0.0.1' } } },
      );
    const sso = (email: string, ip: string) => send('/api/auth/sign-in/sso', ip, { email, callbackURL: `${ORIGIN}/` });
    // No provider claims the domain: refused (404) until the budget is spent, then 429.
    for (let i = 0; i < 3; i++) expect((await sso('ann@nowhere.test', '2001:db8:8:8::1')).status).toBe(404);
    expect((await sso('ANN@nowhere.test', '2001:db8:8:8::2')).status).toBe(429);
    expect((await sso('bo@nowhere.test', '2001:db8:8:8::1')).status).toBe(404);
    // A provider's answer replayed with one state: the 4th in 10 s is refused before better-auth sees it.
    const answer = () => send('/api/auth/sso/callback/nobody?code=c&state=replayed', '2001:db8:6:6::1');
    for (let i = 0; i < 3; i++) expect((await answer()).status).toBe(302);
    expect((await answer()).status).toBe(429);
    expect((await send('/api/auth/sso/callback/nobody?code=c&state=another', '2001:db8:6:6::1')).status).toBe(302);
    // Social and generic OAuth callbacks alike.
    const social = () => send('/api/auth/callback/nobody?code=c&state=replayed', '2001:db8:6:6::1');
    for (let i = 0; i < 3; i++) expect((await social()).status).toBeLessThan(429);
    expect((await social()).status).toBe(429);
  });
});

describe('session policy', () => {
  it('ends a session idle past idleTimeout, or past absoluteTimeout however active', async () => {
    // 0.05 min idle (3 s), 0.12 min absolute (7.2 s).
    const s = await startSecureStack(engines()[0]!, { policy: { session: { idleTimeout: 0.05, absoluteTimeout: 0.12, forceMfa: false } }, cacheTtlMs: 0 });
    try {
      const idle = await s.user('lee@example.com', 'Leeco');
      const active = await s.user('max@example.com', 'Maxco');
      let ended: string | undefined;
      const started = Date.now();
      while (Date.now() - started < 10_000 && !ended) {
        await new Promise((r) => setTimeout(r, 1_000));
        const r = await s.q(active.headers, '{ me { email } }');
        if (r.errors) ended = String(codeOf(r));
      }
      expect(ended).toMatch(/SESSION_EXPIRED|UNAUTHENTICATED/);
      expect(Date.now() - started).toBeGreaterThan(6_000);
      expect(codeOf(await s.q(idle.headers, '{ me { email } }'))).toBe('UNAUTHENTICATED');
    } finally {
      await s.close();
    }
    // The bound covers starting a whole stack (over 20 s on a loaded 2-core machine) plus the 10 s wait.
  }, 60_000);

  it('forceMfa: users without two-factor get 403 MFA_REQUIRED until they enable it', async () => {
    const s = await startSecureStack(engines()[0]!, { policy: { session: { idleTimeout: 30, absoluteTimeout: 480, forceMfa: true } } });
    try {
      const u = await s.user('ned@example.com', 'Nedco');
      const r = await s.as(u.headers)(new Request(`${ORIGIN}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: ACCOUNTS }) }));
      expect(r.status).toBe(403);
      expect(((await r.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('MFA_REQUIRED');
      const enabled = await s.auth('/two-factor/enable', { password: PASSWORD }, u.headers);
      const { totpURI } = (await enabled.json()) as { totpURI: string };
      expect((await s.auth('/two-factor/verify-totp', { code: totp(totpURI) }, u.headers)).status).toBe(200);
      const signIn = await s.auth('/sign-in/email', { email: 'ned@example.com', password: PASSWORD });
      const cookie = signIn.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
      const done = await s.auth('/two-factor/verify-totp', { code: totp(totpURI) }, { cookie });
      expect((await s.q({ authorization: `Bearer ${done.headers.get('set-auth-token')}` }, ACCOUNTS)).errors).toBeUndefined();
    } finally {
      await s.close();
    }
  }, 30_000);
});
