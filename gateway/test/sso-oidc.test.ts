import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { services } from '@objectos/testkit';
import type { AuditEvent } from '@objectos/events';
import type { Principal } from '@objectos/principal';
import type { RulesApp, RulesEngine } from './rules-app.ts';
import type { CookieJar, OidcIdp } from './oidc-idp.ts';
import { proveSsoDomains, type TxtDns } from './dns-txt.ts';
import { CLIENT, startSsoOidcRig, type SsoOidcRig } from './sso-oidc-rig.ts';
import { affectedBy } from '../src/auth/principal-cache.ts';

/** Just-in-time access for the acme provider: the ID token's groups claim decides each member's access. */
const mapping = (engine: string) => `name: acme_oidc
label: Acme's identity provider
providerId: acme-oidc
organization: sso-${engine}
claim: groups
mappings:
  - value: objectos-admins
    organizationRole: admin
  - value: sales
    role: sales_rep
    permissionSets: [revenue_viewer]
    groups: [key_account_team]
default:
  organizationRole: member
`;
/** A mapping bound to an organization that does not register its provider: it must give nothing. */
const stray = (engine: string) => `name: stray_oidc
providerId: stray-oidc
organization: someone-else-${engine}
claim: groups
mappings:
  - value: objectos-admins
    organizationRole: admin
`;

/**
 * Issue #21 point 1: OIDC single sign-on per organization, through `npm start`'s path and a real OpenID
 * provider on loopback (oidc-provider: authorization code + PKCE, signed ID tokens). An organization
 * admin registers its provider for an email domain; a user of that domain is sent there and comes back
 * signed in, a member of that organization. Refused, each with its error and no session: a tampered
 * state, an expired code, an ID token from another issuer, a domain another organization claimed, a
 * registration by a non-admin or for another organization. Sign-ins and registrations are audited, and
 * just-in-time access follows the provider's claims. (What holds providers to their domains and to the
 * operator's issuers: sso-oidc-guards.test.ts.)
 */
const variants: RulesEngine[] = ['pglite', ...(services.postgres ? ['postgres' as const] : [])];
for (const engine of variants) {
  describe(`OIDC SSO per organization (${engine})`, () => {
    let s: SsoOidcRig;
    let rig: RulesApp;
    let idp: OidcIdp;
    let other: OidcIdp;
    let dns: TxtDns;
    let org: string;
    let base: string;
    const auth: SsoOidcRig['auth'] = (...a) => s.auth(...a);
    const register: SsoOidcRig['register'] = (...a) => s.register(...a);
    const person: SsoOidcRig['person'] = (...a) => s.person(...a);
    const trail: SsoOidcRig['trail'] = (...a) => s.trail(...a);
    const ssoSignIn: SsoOidcRig['ssoSignIn'] = (...a) => s.ssoSignIn(...a);
    const sessionOf: SsoOidcRig['sessionOf'] = (...a) => s.sessionOf(...a);
    /** The other organization (its owner: bea). */
    let orgB: string;
    let bea: string;

    beforeAll(async () => {
      s = await startSsoOidcRig(engine, { slug: `sso-${engine}`, providers: ['acme-oidc', 'globex-forged', 'stray-oidc'], extra: { 'security/acme_oidc.sso.yaml': mapping(engine), 'security/stray_oidc.sso.yaml': stray(engine) } });
      ({ rig, idp, other, dns, org, base } = s);
    }, 120_000);
    afterAll(() => s?.close());

    it('an organization admin registers its provider; a non-admin, another organization and a claimed domain are refused', async () => {
      // Without an organization: refused, naming what is missing.
      const loose = await register(rig.owner, { providerId: 'loose', issuer: idp.issuer, domain: 'loose.test' });
      expect(loose.status).toBe(400);
      expect(await loose.text()).toMatch(/organizationId: an SSO provider belongs to an organization/);

      const made = await register(rig.owner, { providerId: 'acme-oidc', issuer: idp.issuer, domain: 'acme.test', organizationId: org });
      expect(made.status, await made.clone().text()).toBe(200);
      await proveSsoDomains(dns, base, rig.owner, 'acme-oidc', ['acme.test']);

      // A member who is not an admin of the organization.
      const pat = await person(`pat@sso-member-${engine}.test`);
      const patId = ((await (await fetch(`${base}/api/auth/get-session`, { headers: { authorization: `Bearer ${pat}` } })).json()) as { user: { id: string } }).user.id;
      await rig.app.identity!.auth.api.addMember({ body: { userId: patId, organizationId: org, role: 'member' } });
      const byMember = await register(pat, { providerId: 'pat-oidc', issuer: idp.issuer, domain: 'pat.test', organizationId: org });
      expect(byMember.status).toBe(403);
      expect(await byMember.text()).toMatch(/owner or admin/);

      // The owner of another organization: not for this one, and not this one's domain for theirs.
      bea = await person(`bea@sso-other-${engine}.test`);
      orgB = ((await (await auth('/organization/create', { name: 'Globex', slug: `globex-${engine}` }, bea)).json()) as { id: string }).id;
      const intoA = await register(bea, { providerId: 'bea-into-a', issuer: idp.issuer, domain: 'bea.test', organizationId: org });
      expect(intoA.status).toBe(400);
      expect(await intoA.text()).toMatch(/not a member of the organization/);
      const claimed = await register(bea, { providerId: 'globex-claims-acme', issuer: idp.issuer, domain: 'globex.test, acme.test', organizationId: orgB });
      expect(claimed.status).toBe(409);
      expect(await claimed.text()).toMatch(/acme\.test is already claimed by another organization's SSO provider/);
      // Nothing was written by the refusals.
      const ids = (await rig.app.identity!.database.run<{ provider_id: string }>('select provider_id from auth.sso_provider order by provider_id', [])).map((r) => r.provider_id);
      expect(ids).toEqual(['acme-oidc']);

      // Its own domain, for its own organization: accepted (the ID token test below uses it).
      const forged = await register(bea, {
        providerId: 'globex-forged', issuer: idp.issuer, domain: 'globex.test', organizationId: orgB,
        // Every endpoint at the other provider, the issuer this one's: its tokens say another issuer.
        oidcConfig: { ...CLIENT, pkce: true, skipDiscovery: true, authorizationEndpoint: `${other.issuer}/auth`, tokenEndpoint: `${other.issuer}/token`, jwksEndpoint: `${other.issuer}/jwks`, userInfoEndpoint: `${other.issuer}/me` },
      });
      expect(forged.status, await forged.clone().text()).toBe(200);
      await proveSsoDomains(dns, base, bea, 'globex-forged', ['globex.test']);

      const events = (await trail(['system.integration_added'])).auditEvents.edges.map((e) => e.node);
      expect(events.find((e) => e.details?.['providerId'] === 'acme-oidc')).toMatchObject({ tenantId: org, details: { kind: 'sso', domain: 'acme.test' } });
    });


    it('a user of the domain is sent to the provider (code + PKCE) and comes back signed in, a member of the organization', async () => {
      idp.signInAs({ sub: 'alice-1', email: 'alice@acme.test', name: 'Alice Acme' });
      const flow = await ssoSignIn('alice@acme.test');
      expect(flow.status, flow.text).toBe(200);
      // Sent to the provider with PKCE, back through the callback, landed where the app asked.
      const authorize = new URL(flow.visited!.find((u) => u.startsWith(`${idp.issuer}/auth`))!);
      expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
      expect(authorize.searchParams.get('login_hint')).toBe('alice@acme.test');
      expect(flow.landed!.toString()).toBe(`${base}/welcome`);
      const session = await sessionOf(flow.jar);
      expect(session?.user.email).toBe('alice@acme.test');
      expect(session?.session.activeOrganizationId).toBe(org);
      const members = await rig.q<{ members: { roles: string[]; user: { email: string } }[] }>('{ members { roles user { email } } }');
      expect(members.members.find((m) => m.user.email === 'alice@acme.test')?.roles).toEqual(['member']);
      // The second time: the same account, no second membership.
      idp.signInAs({ sub: 'alice-1', email: 'alice@acme.test', name: 'Alice Acme' });
      const again = await ssoSignIn('alice@acme.test');
      expect((await sessionOf(again.jar))?.user.id).toBe(session!.user.id);
      expect((await rig.q<{ members: { user: { email: string } }[] }>('{ members { user { email } } }')).members.filter((m) => m.user.email === 'alice@acme.test')).toHaveLength(1);
      const logins = (await trail(['auth.login'])).auditEvents.edges.map((e) => e.node).filter((e) => e.details?.['method'] === 'sso');
      expect(logins).toHaveLength(2);
      expect(logins[0]).toMatchObject({ actor: { id: session!.user.id }, tenantId: org, details: { providerId: 'acme-oidc' } });
    });


    it('just-in-time access: the groups claim sets the organization role, hierarchy role, permission sets and groups at each sign-in', async () => {
      const accessOf = async (userId: string) => (await rig.app.identity!.database.run<{ role: string | null; permission_sets: string[]; groups: string[] }>(
        'select role, permission_sets, groups from security.member_access where organization_id = $1 and user_id = $2', [org, userId]))[0];
      const roleOf = async (email: string) => (await rig.q<{ members: { roles: string[]; user: { email: string } }[] }>('{ members { roles user { email } } }')).members.find((m) => m.user.email === email)?.roles;
      // Big is shared with the key account team (a sharing rule on 1,000+ employees); Small is nobody's but the owner's.
      await rig.q('mutation { big: createAccount(input: { name: "JIT Big", employees: 5000 }) { id } small: createAccount(input: { name: "JIT Small", employees: 5 }) { id } }');
      const accounts = async (jar: CookieJar) => {
        const r = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', origin: base, cookie: jar.header(base) }, body: JSON.stringify({ query: '{ accounts(where: { name: { startsWith: "JIT" } }) { nodes { name } } }' }) });
        const body = (await r.json()) as { data?: { accounts: { nodes: { name: string }[] } }; errors?: unknown };
        expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
        return body.data!.accounts.nodes.map((a) => a.name).sort();
      };

      idp.signInAs({ sub: 'carol-1', email: 'carol@acme.test', name: 'Carol', groups: ['sales', 'unmapped'] });
      const first = await ssoSignIn('carol@acme.test');
      const carol = (await sessionOf(first.jar))!.user.id;
      expect(await roleOf('carol@acme.test')).toEqual(['member']);
      expect(await accessOf(carol)).toEqual({ role: 'sales_rep', permission_sets: ['revenue_viewer'], groups: ['key_account_team'] });
      // The access works at once: the team's shared account, not the owner's private one.
      expect(await accounts(first.jar)).toEqual(['JIT Big']);

      // The provider moves her to the admins: the next sign-in makes her an organization admin and takes the sales access away.
      idp.signInAs({ sub: 'carol-1', email: 'carol@acme.test', name: 'Carol', groups: ['objectos-admins'] });
      const second = await ssoSignIn('carol@acme.test');
      expect((await sessionOf(second.jar))!.user.id).toBe(carol);
      expect(await roleOf('carol@acme.test')).toEqual(['admin']);
      expect(await accessOf(carol)).toEqual({ role: null, permission_sets: [], groups: [] });
      expect(await accounts(second.jar)).toEqual(['JIT Big', 'JIT Small']);

      // No mapped group: the default (member), nothing more.
      idp.signInAs({ sub: 'carol-1', email: 'carol@acme.test', name: 'Carol', groups: [] });
      await ssoSignIn('carol@acme.test');
      expect(await roleOf('carol@acme.test')).toEqual(['member']);

      const assigned = (await trail(['authz.role_assigned'])).auditEvents.edges.map((e) => e.node).filter((e) => e.details?.['method'] === 'sso');
      expect(assigned.map((e) => [e.details?.['organizationRole'], e.details?.['values']])).toEqual(expect.arrayContaining([
        ['member', ['sales', 'unmapped']], ['admin', ['objectos-admins']], ['member', []],
      ]));
      // Each names Carol only: caches and sockets drop her access, not every member's of the organization.
      const drops = affectedBy({ eventType: 'authz.role_assigned', details: assigned[0]!.details } as AuditEvent)!;
      expect(drops({ userId: carol, organizationId: org } as Principal)).toBe(true);
      expect(drops({ userId: 'someone-else', organizationId: org } as Principal)).toBe(false);
    });


    it('refused, with no session: a tampered state, an expired code, an ID token from another issuer, an unclaimed domain', async () => {
      const refusedWith = async (flow: Awaited<ReturnType<typeof ssoSignIn>>, error: RegExp) => {
        expect(flow.landed?.pathname, flow.visited?.join(' → ')).toBe('/sso-error');
        expect(`${flow.landed!.searchParams.get('error')}: ${flow.landed!.searchParams.get('error_description')}`).toMatch(error);
        expect(await sessionOf(flow.jar)).toBeNull();
      };
      // The state the provider hands back, changed on its way to ObjectOS.
      idp.signInAs({ sub: 'bob-1', email: 'bob@acme.test', name: 'Bob' });
      const tampered = await ssoSignIn('bob@acme.test', (u) => {
        if (u.pathname.startsWith('/api/auth/sso/callback/') && u.searchParams.has('state')) u.searchParams.set('state', `${u.searchParams.get('state')}x`);
        return u;
      });
      expect(tampered.landed?.searchParams.get('error'), tampered.visited?.join(' → ')).toBe('state_mismatch');
      expect(await sessionOf(tampered.jar)).toBeNull();

      // A code used after it expired (1 s at the provider).
      idp.codeTtl(1);
      idp.signInAs({ sub: 'bob-1', email: 'bob@acme.test', name: 'Bob' });
      const late = await ssoSignIn('bob@acme.test', async (u) => {
        if (u.pathname.startsWith('/api/auth/sso/callback/')) await new Promise((r) => setTimeout(r, 1_500));
        return u;
      });
      idp.codeTtl(60);
      await refusedWith(late, /^invalid_provider: grant request is invalid/);

      // An ID token issued by another provider than the one registered.
      other.signInAs({ sub: 'gina-1', email: 'gina@globex.test', name: 'Gina' });
      const foreign = await ssoSignIn('gina@globex.test');
      // Signed with that provider's keys (the JWKS registered), but its issuer is not the one registered.
      await refusedWith(foreign, /^invalid_provider: token_not_verified$/);

      // No provider claims the domain.
      const nobody = await ssoSignIn('zed@nowhere.test');
      expect(nobody.status).toBe(404);
      expect(nobody.text).toMatch(/provider/i);

      const failed = (await trail(['auth.login_failed'])).auditEvents.edges.map((e) => e.node).filter((e) => e.details?.['method'] === 'sso');
      expect(failed.map((e) => e.details?.['providerId'])).toEqual(['acme-oidc', 'acme-oidc']);
      expect(failed.map((e) => e.details?.['error']).sort()).toEqual(['invalid_provider', 'state_mismatch']);
      // The forged provider's refusal is its own organization's (not this owner's) to see.
      const forged = await rig.app.identity!.database.run<{ tenant_id: string | null }>(`select tenant_id from audit.events where event_type = 'auth.login_failed' and details->>'providerId' = 'globex-forged'`, []);
      expect(forged).toHaveLength(1);
      expect(forged[0]!.tenant_id).toBe(orgB);
    });


    it('signed in is the session made, not the redirect: an `error` in the client\'s own callbackURL still gets its access mapped and is audited as a login', async () => {
      idp.signInAs({ sub: 'dave-1', email: 'dave@acme.test', name: 'Dave', groups: ['objectos-admins'] });
      const first = await ssoSignIn('dave@acme.test');
      expect((await sessionOf(first.jar))?.user.email).toBe('dave@acme.test');
      // Demoted at the provider; the next sign-in asks to land on a page whose query says error=1.
      idp.signInAs({ sub: 'dave-1', email: 'dave@acme.test', name: 'Dave', groups: [] });
      const flow = await ssoSignIn('dave@acme.test', undefined, `${base}/welcome?error=1`);
      expect(flow.landed?.searchParams.get('error')).toBe('1');
      const dave = (await sessionOf(flow.jar))!.user;
      expect(dave.email).toBe('dave@acme.test');
      const roles = (await rig.q<{ members: { roles: string[]; user: { email: string } }[] }>('{ members { roles user { email } } }')).members.find((m) => m.user.email === 'dave@acme.test')?.roles;
      expect(roles).toEqual(['member']);
      const events = (await trail(['auth.login', 'auth.login_failed'])).auditEvents.edges.map((e) => e.node).filter((e) => e.details?.['method'] === 'sso');
      expect(events.filter((e) => e.eventType === 'auth.login' && e.actor.id === dave.id)).toHaveLength(2);
      expect(events.filter((e) => e.eventType === 'auth.login_failed' && e.details?.['error'] === '1')).toHaveLength(0);
    });


    it('a mapping bound to an organization gives nothing to a provider of that id registered by another', async () => {
      const made = await register(bea, { providerId: 'stray-oidc', issuer: idp.issuer, domain: 'stray.test', organizationId: orgB });
      expect(made.status, await made.clone().text()).toBe(200);
      await proveSsoDomains(dns, base, bea, 'stray-oidc', ['stray.test']);
      idp.signInAs({ sub: 'sam-1', email: 'sam@stray.test', name: 'Sam', groups: ['objectos-admins'] });
      const flow = await ssoSignIn('sam@stray.test');
      const sam = (await sessionOf(flow.jar))!;
      expect(sam.session.activeOrganizationId).toBe(orgB);
      const rows = await rig.app.identity!.database.run<{ role: string }>('select role from auth.member where user_id = $1 and organization_id = $2', [sam.user.id, orgB]);
      expect(rows.map((r) => r.role)).toEqual(['member']);
      expect(await rig.app.identity!.database.run('select 1 from security.member_access where user_id = $1', [sam.user.id])).toHaveLength(0);
      // Removed by its owner with no organization active: audited in the provider's organization all the same.
      expect((await auth('/organization/set-active', { organizationId: null }, bea)).status).toBe(200);
      expect((await auth('/sso/delete-provider', { providerId: 'stray-oidc' }, bea)).status).toBe(200);
      await rig.app.audit?.capture.drain();
      const removed = await rig.app.identity!.database.run<{ tenant_id: string | null }>(`select tenant_id from audit.events where event_type = 'system.integration_removed' and target_id = 'stray-oidc'`, []);
      expect(removed).toEqual([{ tenant_id: orgB }]);
    });
  });
}
