import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { services } from '@objectos/testkit';
import { ssoDomainVerificationFromEnv } from '@objectos/identity-subgraph/social-config';
import type { RulesApp, RulesEngine } from './rules-app.ts';
import type { OidcIdp } from './oidc-idp.ts';
import { proveSsoDomains, type TxtDns } from './dns-txt.ts';
import { CLIENT, startSsoOidcRig, type SsoOidcRig } from './sso-oidc-rig.ts';

/**
 * What holds an SSO provider to its organization's domains and to the operator's identity providers
 * (issue #21 points 1 and 7, and the reviews after them): domains in one bare spelling, claimed by one
 * organization (nested names included, concurrent claims serialized), proved by DNS before anyone signs
 * in; every issuer, endpoint and SAML service among OBJECTOS_SSO_ISSUERS; browsers sent back to the
 * application only; a provider signing in, creating and linking only addresses of its own domains and
 * never rewriting an account's address; the shared callback not served.
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
  describe(`SSO providers held to their domains and issuers (${engine})`, () => {
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
    /** Another organization (its owner: bea), with its own verified provider globex-oidc for globex.test. */
    let orgB: string;
    let bea: string;

    beforeAll(async () => {
      s = await startSsoOidcRig(engine, { slug: `sso-guard-${engine}`, providers: ['acme-oidc', 'acme-eu'] });
      ({ rig, idp, other, dns, org, base } = s);
      expect((await register(rig.owner, { providerId: 'acme-oidc', issuer: idp.issuer, domain: 'acme.test', organizationId: org })).status).toBe(200);
      await proveSsoDomains(dns, base, rig.owner, 'acme-oidc', ['acme.test']);
      bea = await person(`bea@sso-other-${engine}.test`);
      orgB = ((await (await auth('/organization/create', { name: 'Globex', slug: `globex-guard-${engine}` }, bea)).json()) as { id: string }).id;
      expect((await register(bea, { providerId: 'globex-oidc', issuer: other.issuer, domain: 'globex.test', organizationId: orgB })).status).toBe(200);
      await proveSsoDomains(dns, base, bea, 'globex-oidc', ['globex.test']);
    }, 120_000);
    afterAll(() => s?.close());

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
      const moved = await auth('/sso/update-provider', { providerId: 'globex-oidc', domain: 'globex.test,sub.acme.test' }, bea);
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
      const overrideLater = await auth('/sso/update-provider', { providerId: 'globex-oidc', oidcConfig: { overrideUserInfo: true } }, bea);
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
      // Alice signs in once (her account, linked to alice-1)...
      idp.signInAs({ sub: 'alice-1', email: 'alice@acme.test', name: 'Alice Acme' });
      expect((await sessionOf((await ssoSignIn('alice@acme.test')).jar))?.user.email).toBe('alice@acme.test');
      // ...then her provider, stored (before this rule) as rewriting profiles, renames her: refused, nothing changed.
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

  });
}
