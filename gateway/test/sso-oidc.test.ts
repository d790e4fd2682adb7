import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, gqlOk, services, signIn, withHeaders } from '@objectos/testkit';
import { startRulesApp, type RulesApp, type RulesEngine } from './rules-app.ts';
import { CookieJar, followRedirects, startOidcIdp, type OidcIdp } from './oidc-idp.ts';
import { proveSsoDomains, startTxtDns, type TxtDns } from './dns-txt.ts';
import { ssoDomainVerificationFromEnv } from '@objectos/identity-subgraph/social-config';
import type { AuditEvent } from '@objectos/events';
import type { Principal } from '@objectos/principal';
import { affectedBy } from '../src/auth/principal-cache.ts';

const PASSWORD = 'Sup3r-secret-pass!';
const CLIENT = { clientId: 'objectos-acme', clientSecret: 'acme-client-secret-0123456789' };
interface Trail { auditEvents: { edges: { node: { eventType: string; description: string; tenantId: string | null; actor: { id: string | null }; details: Record<string, unknown> | null } }[] } }
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
const TRAIL = 'query($w: AuditEventWhere) { auditEvents(where: $w, first: 100) { edges { node { eventType description tenantId actor { id } details } } } }';

/**
 * Issue #21 point 1: OIDC single sign-on per organization, through `npm start`'s path and a real OpenID
 * provider on loopback (oidc-provider: authorization code + PKCE, signed ID tokens). An organization
 * admin registers its provider for an email domain; a user of that domain is sent there and comes back
 * signed in, a member of that organization. Refused, each with its error and no session: a tampered
 * state, an expired code, an ID token from another issuer, a domain another organization claimed, a
 * registration by a non-admin or for another organization. Sign-ins and registrations are audited.
 */
describe('SSO settings', () => {
  it('OBJECTOS_SSO_DOMAIN_VERIFICATION is on unless set to false; anything else is a start-up error naming it', () => {
    expect(ssoDomainVerificationFromEnv({})).toBe(true);
    expect(ssoDomainVerificationFromEnv({ OBJECTOS_SSO_DOMAIN_VERIFICATION: 'false' })).toBe(false);
    expect(() => ssoDomainVerificationFromEnv({ OBJECTOS_SSO_DOMAIN_VERIFICATION: 'no' })).toThrow(/OBJECTOS_SSO_DOMAIN_VERIFICATION: "no" is not true or false/);
  });
});

const variants: RulesEngine[] = ['pglite', ...(services.postgres ? ['postgres' as const] : [])];
for (const engine of variants) {
  describe(`OIDC SSO per organization (${engine})`, () => {
    let rig: RulesApp;
    let idp: OidcIdp;
    /** Another provider, with the same client: what an ID token from another issuer comes from. */
    let other: OidcIdp;
    /** The organizations' DNS: where they publish the TXT records that prove their domains. */
    let dns: TxtDns;
    let org: string;
    /** The other organization (its owner: bea). */
    let orgB: string;
    let bea: string;
    let base: string;
    const callbackOf = (providerId: string) => `${base}/api/auth/sso/callback/${providerId}`;
    const auth = (path: string, body: unknown, token?: string) =>
      fetch(`${base}/api/auth${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
    const register = (token: string, body: Record<string, unknown>) => auth('/sso/register', { oidcConfig: { ...CLIENT, pkce: true }, ...body }, token);
    /** A user of another organization (its owner) or a member of this one, signed in. */
    const person = async (email: string) => {
      expect((await auth('/sign-up/email', { email, password: PASSWORD, name: email.split('@')[0] })).status).toBe(200);
      return signIn(base, email, PASSWORD);
    };
    const trail = async (types: string[]) => (await rig.app.audit?.capture.drain(), gqlOk<Trail>(withHeaders(`${base}/graphql`, { authorization: `Bearer ${rig.owner}` }), TRAIL, { w: { eventType: types } }));
    /**
     * A browser signing in with its work address: ObjectOS answers where to go, the browser follows the
     * redirects through the provider's login and consent and back, and lands on `callbackURL` (or its error).
     */
    const ssoSignIn = async (email: string, rewrite?: (u: URL) => URL | Promise<URL>, callbackURL = `${base}/welcome`) => {
      const jar = new CookieJar();
      const started = await fetch(`${base}/api/auth/sign-in/sso`, { method: 'POST', headers: { 'content-type': 'application/json', origin: base }, body: JSON.stringify({ email, callbackURL, errorCallbackURL: `${base}/sso-error` }) });
      const text = await started.text();
      if (started.status !== 200) return { status: started.status, text, jar, landed: null as URL | null };
      jar.take(base, started);
      const { url } = JSON.parse(text) as { url: string };
      const landed = await followRedirects(url, jar, (u) => u.origin === base && ['/welcome', '/sso-error'].includes(u.pathname), rewrite);
      return { status: 200, text, jar, landed: landed.url, visited: landed.visited, last: landed.last };
    };
    const sessionOf = async (jar: CookieJar) => {
      const r = await fetch(`${base}/api/auth/get-session`, { headers: { cookie: jar.header(base) } });
      return (await r.json()) as { user: { email: string; id: string }; session: { activeOrganizationId: string | null } } | null;
    };

    beforeAll(async () => {
      dns = await startTxtDns();
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      const redirectUris = ['acme-oidc', 'globex-forged', 'stray-oidc', 'acme-eu'].map((id) => `${base}/api/auth/sso/callback/${id}`);
      idp = await startOidcIdp({ clients: [{ ...CLIENT, redirectUris }] });
      other = await startOidcIdp({ clients: [{ ...CLIENT, redirectUris }] });
      rig = await startRulesApp({ engine, slug: `sso-${engine}`, extra: { 'security/acme_oidc.sso.yaml': mapping(engine), 'security/stray_oidc.sso.yaml': stray(engine) }, env: { PORT: String(port), OBJECTOS_PUBLIC_URL: base, OBJECTOS_SSO_ISSUERS: `${idp.issuer},${other.issuer}` } });
      org = (await rig.q<{ activeOrganization: { id: string } }>('{ activeOrganization { id } }')).activeOrganization.id;
    }, 120_000);
    afterAll(async () => {
      await dns?.close();
      await rig?.close();
      await idp?.close();
      await other?.close();
    });

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

    it('a provider\'s domains are bare registrable names no other organization holds, the same or nested; of two racing claims one wins', async () => {
      const providers = async () => (await rig.app.identity!.database.run<{ provider_id: string }>('select provider_id from auth.sso_provider order by provider_id', [])).map((r) => r.provider_id);
      const before = await providers();
      const refused = async (domain: string, status: number, message: RegExp) => {
        const r = await register(bea, { providerId: `globex-${domain.replace(/[^a-z0-9]/g, '')}`, issuer: idp.issuer, domain, organizationId: orgB });
        expect(r.status, domain).toBe(status);
        expect(((await r.json()) as { message: string }).message, domain).toMatch(message);
      };
      // Forms the plugin would read as another organization's domain, or as everyone's.
      await refused('https://acme.test', 400, /"https:\/\/acme\.test" is not a bare lower-case domain name \(write acme\.test\)/);
      await refused('acme.test.', 400, /"acme\.test\." is not a bare lower-case domain name/);
      await refused('eng.acme.test', 409, /eng\.acme\.test is already claimed by another organization's SSO provider \(the same name, or one above or below it\)/);
      await refused('test', 400, /"test" is a public suffix/);
      await refused('globex.test, github.io', 400, /"github\.io" is a public suffix/);
      await refused('127.0.0.1', 400, /"127\.0\.0\.1" is an IP address/);
      // One spelling per name: what DNS and the plugin compare (an internationalized name as xn--, lower case, no stray whitespace).
      await refused('bücher.test', 400, /"bücher\.test" is not a bare lower-case domain name \(write xn--bcher-kva\.test\)/);
      await refused('Globex.test', 400, /"Globex\.test" is not a bare lower-case domain name \(write globex\.test\)/);
      await refused('\ttabbed.test', 400, /is not a bare lower-case domain name/);
      // Changing a provider's domains is held to the same rules.
      const moved = await auth('/sso/update-provider', { providerId: 'globex-forged', domain: 'globex.test,sub.acme.test' }, bea);
      expect(moved.status).toBe(409);
      expect(await moved.text()).toMatch(/sub\.acme\.test is already claimed/);
      expect(await providers()).toEqual(before);

      // Two organizations register the same new domain at once: one claim wins, the other is refused.
      const raced = await Promise.all([
        register(rig.owner, { providerId: 'race-a', issuer: idp.issuer, domain: 'race.test', organizationId: org }),
        register(bea, { providerId: 'race-b', issuer: idp.issuer, domain: 'race.test', organizationId: orgB }),
      ]);
      expect(raced.map((r) => r.status).sort()).toEqual([200, 409]);
      expect((await providers()).filter((p) => p.startsWith('race-'))).toHaveLength(1);
    });

    it('every origin a provider names is one the operator listed (OBJECTOS_SSO_ISSUERS), discovery skipped or not', async () => {
      const elsewhere = 'http://127.0.0.1:9';
      const skipped = await register(bea, {
        providerId: 'globex-elsewhere', issuer: idp.issuer, domain: 'globex.test', organizationId: orgB,
        oidcConfig: { ...CLIENT, pkce: true, skipDiscovery: true, authorizationEndpoint: `${idp.issuer}/auth`, tokenEndpoint: `${elsewhere}/token`, jwksEndpoint: `${idp.issuer}/jwks` },
      });
      expect(skipped.status).toBe(400);
      expect(await skipped.text()).toMatch(/oidcConfig\.tokenEndpoint: http:\/\/127\.0\.0\.1:9 is not among the identity provider origins this server may use \(OBJECTOS_SSO_ISSUERS: /);
      const issuer = await register(bea, { providerId: 'globex-elsewhere', issuer: elsewhere, domain: 'globex.test', organizationId: orgB });
      expect(issuer.status).toBe(400);
      expect(await issuer.text()).toMatch(/issuer: http:\/\/127\.0\.0\.1:9 is not among/);
      const saml = await register(bea, { providerId: 'globex-elsewhere', issuer: 'urn:globex:idp', domain: 'globex.test', organizationId: orgB, samlConfig: { entryPoint: `${elsewhere}/sso`, cert: 'x', callbackUrl: `${base}/welcome`, spMetadata: {} } });
      expect(saml.status).toBe(400);
      expect(await saml.text()).toMatch(/samlConfig\.entryPoint: http:\/\/127\.0\.0\.1:9 is not among/);
      expect(await rig.app.identity!.database.run('select 1 from auth.sso_provider where provider_id = $1', ['globex-elsewhere'])).toHaveLength(0);
      // A provider's origin is trusted for fetching, never as where the browser is sent.
      const there = await fetch(`${base}/api/auth/sign-in/sso`, { method: 'POST', headers: { 'content-type': 'application/json', origin: base }, body: JSON.stringify({ email: 'alice@acme.test', callbackURL: `${idp.issuer}/landing` }) });
      expect(there.status).toBe(403);
      expect(await there.text()).toMatch(/callbackURL: .* is not a path or origin of this application/);
      // Nor where a SAML provider sends users back, nor a SAML service in its metadata outside the list.
      const samlBack = await register(bea, { providerId: 'globex-saml', issuer: 'urn:globex:idp', domain: 'globex.test', organizationId: orgB, samlConfig: { entryPoint: `${idp.issuer}/sso`, cert: 'x', callbackUrl: `${idp.issuer}/landing`, idpMetadata: { entityID: 'urn:globex:idp' }, spMetadata: {} } });
      expect(samlBack.status).toBe(403);
      expect(await samlBack.text()).toMatch(/samlConfig\.callbackUrl: .* is not a path or origin of this application/);
      const metadata = `<EntityDescriptor entityID="urn:globex:idp"><IDPSSODescriptor><SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${elsewhere}/sso"/></IDPSSODescriptor></EntityDescriptor>`;
      const samlXml = await register(bea, { providerId: 'globex-saml', issuer: 'urn:globex:idp', domain: 'globex.test', organizationId: orgB, samlConfig: { entryPoint: `${idp.issuer}/sso`, cert: 'x', callbackUrl: '/welcome', idpMetadata: { metadata }, spMetadata: {} } });
      expect(samlXml.status).toBe(400);
      expect(await samlXml.text()).toMatch(/samlConfig\.idpMetadata\.metadata: http:\/\/127\.0\.0\.1:9 is not among/);
      // A provider may not rewrite the accounts it signs in (their address could leave its domains).
      const override = await register(bea, { providerId: 'globex-override', issuer: idp.issuer, domain: 'globex.test', organizationId: orgB, overrideUserInfo: true });
      expect(override.status).toBe(400);
      expect(await override.text()).toMatch(/SSO_OVERRIDE_REFUSED/);
      const overrideLater = await auth('/sso/update-provider', { providerId: 'globex-forged', oidcConfig: { overrideUserInfo: true } }, bea);
      expect(overrideLater.status).toBe(400);
      const reset = await auth('/request-password-reset', { email: 'alice@acme.test', redirectTo: `${idp.issuer}/reset` });
      expect(reset.status).toBe(403);
    });

    it('a provider signs in, creates and links only addresses of its own domains; nothing is written for another', async () => {
      idp.signInAs({ sub: 'mallory-1', email: 'ceo@globex.test', name: 'Not the CEO' });
      const flow = await ssoSignIn('mallory@acme.test');
      expect(await sessionOf(flow.jar)).toBeNull();
      // Refused the plugin's way: back to the app's error page, saying why.
      expect(flow.landed?.pathname, flow.visited?.join(' → ')).toBe('/sso-error');
      expect(flow.landed!.searchParams.get('error')).toBe('SSO_EMAIL_OUTSIDE_DOMAIN');
      expect(flow.landed!.searchParams.get('error_description')).toBe('SSO provider acme-oidc vouched for ceo@globex.test, outside its email domains (acme.test); nothing was created or signed in.');
      expect(await rig.app.identity!.database.run(`select 1 from auth."user" where email = 'ceo@globex.test'`, [])).toHaveLength(0);
      // bea's own address, vouched for by acme's provider: not linked to her account, no session.
      idp.signInAs({ sub: 'mallory-2', email: `bea@sso-other-${engine}.test`, name: 'Bea?' });
      const takeover = await ssoSignIn('mallory@acme.test');
      expect(await sessionOf(takeover.jar)).toBeNull();
      expect(await rig.app.identity!.database.run(`select 1 from auth.account where provider_id = 'acme-oidc' and account_id = 'mallory-2'`, [])).toHaveLength(0);
      // The shared callback (no provider in the route) is not served: whose answer it is could not be checked.
      idp.signInAs({ sub: 'alice-1', email: 'alice@acme.test', name: 'Alice Acme' });
      const shared = await ssoSignIn('via-shared-callback@acme.test', (u) => (u.pathname === '/api/auth/sso/callback/acme-oidc' ? new URL(`/api/auth/sso/callback${u.search}`, u) : u));
      expect(shared.status, shared.text).toBe(200);
      expect(shared.last?.status).toBe(404);
      expect(await sessionOf(shared.jar)).toBeNull();
      // A provider stored (before this rule) as rewriting profiles: an address change at sign-in is refused, nothing changed.
      await rig.app.identity!.database.run(`update auth.sso_provider set oidc_config = (oidc_config::jsonb || '{"overrideUserInfo":true}')::text where provider_id = 'acme-oidc'`, []);
      try {
        idp.signInAs({ sub: 'alice-1', email: 'alice.renamed@acme.test', name: 'Alice Acme' });
        const renamed = await ssoSignIn('via-renaming-provider@acme.test');
        expect(await sessionOf(renamed.jar)).toBeNull();
        expect(renamed.landed?.searchParams.get('error') ?? (await renamed.last?.text())).toMatch(/SSO_EMAIL_CHANGE_REFUSED|does not change the address/);
        expect(await rig.app.identity!.database.run(`select 1 from auth."user" where email = 'alice.renamed@acme.test'`, [])).toHaveLength(0);
      } finally {
        await rig.app.identity!.database.run(`update auth.sso_provider set oidc_config = (oidc_config::jsonb - 'overrideUserInfo')::text where provider_id = 'acme-oidc'`, []);
      }
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

    it('a provider signs no one in until its organization proves each domain with a DNS TXT record; a missing or wrong record is refused; audited', async () => {
      const made = await register(rig.owner, { providerId: 'acme-eu', issuer: idp.issuer, domain: 'acme-eu.test,acme-de.test', organizationId: org });
      expect(made.status, await made.clone().text()).toBe(200);
      idp.signInAs({ sub: 'eve-1', email: 'eve@acme-eu.test', name: 'Eve' });
      const early = await ssoSignIn('eve@acme-eu.test');
      expect(early.status).toBe(401);
      expect(early.text).toMatch(/Provider domain has not been verified/);
      const call = (path: string) => fetch(`${base}/api/auth/sso/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${rig.owner}` }, body: JSON.stringify({ providerId: 'acme-eu' }) });
      // Another organization's owner cannot ask for (or check) this provider's token.
      expect((await fetch(`${base}/api/auth/sso/request-domain-verification`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bea}` }, body: JSON.stringify({ providerId: 'acme-eu' }) })).status).toBeGreaterThanOrEqual(403);
      const { domainVerificationToken: token } = (await (await call('request-domain-verification')).json()) as { domainVerificationToken: string };
      expect(token).toMatch(/^[A-Za-z0-9_-]{24}$/);
      // No record at all, then only one of the two domains proved, then a wrong value: each refused, still unverified.
      const noRecord = await call('verify-domain');
      expect(noRecord.status).toBe(502);
      expect(await noRecord.text()).toMatch(/Unable to verify domain ownership for acme-eu\.test/);
      dns.set('_objectos-sso-acme-eu.acme-eu.test', [`_objectos-sso-acme-eu=${token}`]);
      dns.set('_objectos-sso-acme-eu.acme-de.test', ['_objectos-sso-acme-eu=not-the-token']);
      const half = await call('verify-domain');
      expect(half.status).toBe(502);
      expect(await half.text()).toMatch(/acme-de\.test/);
      expect((await rig.app.identity!.database.run<{ v: boolean | null }>('select domain_verified as v from auth.sso_provider where provider_id = $1', ['acme-eu']))[0]!.v).not.toBe(true);
      expect(dns.asked).toContain('_objectos-sso-acme-eu.acme-de.test');
      dns.set('_objectos-sso-acme-eu.acme-de.test', [token]);
      expect((await call('verify-domain')).status).toBe(204);
      const now = await ssoSignIn('eve@acme-eu.test');
      expect((await sessionOf(now.jar))?.user.email).toBe('eve@acme-eu.test');
      // An account of the proved domain made earlier with a password, its address never verified (anyone may
      // have made it, to wait for the real owner): the provider's identity is not linked to it, no session.
      const fay = await person('fay@acme-eu.test');
      const fayId = ((await (await fetch(`${base}/api/auth/get-session`, { headers: { authorization: `Bearer ${fay}` } })).json()) as { user: { id: string } }).user.id;
      idp.signInAs({ sub: 'fay-1', email: 'fay@acme-eu.test', name: 'Fay' });
      const fayFlow = await ssoSignIn('fay@acme-eu.test');
      expect(fayFlow.landed?.searchParams.get('error')).toBe('account not linked');
      expect(await sessionOf(fayFlow.jar)).toBeNull();
      expect(await rig.app.identity!.database.run(`select 1 from auth.account where user_id = $1 and provider_id = 'acme-eu'`, [fayId])).toHaveLength(0);
      const changed = (await trail(['system.config_changed'])).auditEvents.edges.map((e) => e.node).filter((e) => e.details?.['providerId'] === 'acme-eu');
      expect(changed).toEqual([expect.objectContaining({ tenantId: org, details: expect.objectContaining({ domainVerified: true, domain: 'acme-eu.test,acme-de.test' }) })]);
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
