import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, services } from '@objectos/testkit';
import { startRulesApp, type RulesApp, type RulesEngine } from './rules-app.ts';
import { CookieJar } from './oidc-idp.ts';
import { samlKeys, startSamlIdp, type SamlAnswer, type SamlIdp } from './saml-idp.ts';
import { proveSsoDomains, startTxtDns, type TxtDns } from './dns-txt.ts';

const IDP_ORIGIN = 'https://idp.saml.test';
const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
/** Just-in-time access from the IdP's groups attribute (mapped by the provider's samlConfig.mapping.extraFields). */
const mapping = (engine: string) => `name: acme_saml\nproviderId: acme-saml\norganization: saml-${engine}\nclaim: groups\nmappings:\n  - { value: support, role: support_agent, groups: [key_account_team] }\n  - { value: admins, organizationRole: admin }\n`;

/**
 * Issue #21 point 2: SAML 2.0 SSO per organization, through `npm start`'s path, against a SAML IdP built
 * with samlify (test keys in fixtures/). The organization's admin registers the IdP's metadata; a user of
 * its domain is sent there with an AuthnRequest and comes back with a signed assertion, signed in and a
 * member. Refused, with no session: an assertion signed by another key, a replayed one, one whose IdP
 * clock is past the allowed skew; a clock within the skew is accepted.
 */
const variants: RulesEngine[] = ['pglite', ...(services.postgres ? ['postgres' as const] : [])];
for (const engine of variants) {
  describe(`SAML SSO per organization (${engine})`, () => {
    let dns: TxtDns;
    let rig: RulesApp;
    let idp: SamlIdp;
    let org: string;
    let spMetadata: string;
    const base = () => rig.base;
    /** A browser: asks ObjectOS where to sign in, takes the IdP's answer there, posts it back (the IdP's auto-submitted form). */
    const signIn = async (email: string, o?: Parameters<SamlIdp['answer']>[3], replay?: SamlAnswer) => {
      const jar = new CookieJar();
      let answer = replay;
      if (!answer) {
        const r = await fetch(`${base()}/api/auth/sign-in/sso`, { method: 'POST', headers: { 'content-type': 'application/json', origin: base() }, body: JSON.stringify({ email, callbackURL: `${base()}/welcome`, errorCallbackURL: `${base()}/sso-error` }) });
        expect(r.status, await r.clone().text()).toBe(200);
        jar.take(base(), r);
        const { url } = (await r.json()) as { url: string };
        expect(url.startsWith(`${IDP_ORIGIN}/saml/sso?SAMLRequest=`)).toBe(true);
        answer = await idp.answer(url, spMetadata, email, o);
      }
      const posted = await fetch(answer.acs, {
        method: 'POST', redirect: 'manual',
        // A cross-site form post: the browser sends the IdP's origin and none of ObjectOS's (SameSite=Lax) cookies.
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: IDP_ORIGIN },
        body: new URLSearchParams({ SAMLResponse: answer.SAMLResponse, ...(answer.RelayState ? { RelayState: answer.RelayState } : {}) }),
      });
      jar.take(base(), posted);
      const location = posted.headers.get('location');
      const session = (await (await fetch(`${base()}/api/auth/get-session`, { headers: { cookie: jar.header(base()) } })).json()) as { user: { id: string; email: string }; session: { activeOrganizationId: string | null } } | null;
      return { status: posted.status, location: location ? new URL(location, base()) : null, body: location ? '' : await posted.text(), session, answer };
    };

    beforeAll(async () => {
      dns = await startTxtDns();
      const port = await freePort();
      rig = await startRulesApp({ engine, slug: `saml-${engine}`, extra: { 'security/acme_saml.sso.yaml': mapping(engine) }, env: { PORT: String(port), OBJECTOS_PUBLIC_URL: `http://127.0.0.1:${port}`, OBJECTOS_SSO_ISSUERS: IDP_ORIGIN } });
      idp = startSamlIdp(IDP_ORIGIN);
      org = (await rig.q<{ activeOrganization: { id: string } }>('{ activeOrganization { id } }')).activeOrganization.id;
      const made = await fetch(`${rig.base}/api/auth/sso/register`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${rig.owner}` },
        body: JSON.stringify({
          providerId: 'acme-saml', issuer: idp.entityID, domain: 'saml.acme.test', organizationId: org,
          samlConfig: {
            entryPoint: `${IDP_ORIGIN}/saml/sso`, cert: samlKeys('saml-idp').cert, callbackUrl: `${rig.base}/welcome`,
            idpMetadata: { metadata: idp.metadata }, spMetadata: {}, wantAssertionsSigned: true, identifierFormat: EMAIL_FORMAT,
            mapping: { email: 'email', name: 'displayName', extraFields: { groups: 'groups' } },
          },
        }),
      });
      expect(made.status, await made.clone().text()).toBe(200);
      await proveSsoDomains(dns, rig.base, rig.owner, 'acme-saml', ['saml.acme.test']);
      const meta = await fetch(`${rig.base}/api/auth/sso/saml2/sp/metadata?providerId=acme-saml&format=xml`);
      expect(meta.status).toBe(200);
      spMetadata = await meta.text();
    }, 120_000);
    afterAll(async () => {
      await dns?.close();
      await rig?.close();
    });

    it('a signed assertion signs the user in, a member of the organization, in it', async () => {
      const r = await signIn('hana@saml.acme.test');
      expect(r.location?.toString(), r.body).toBe(`${base()}/welcome`);
      expect(r.session?.user.email).toBe('hana@saml.acme.test');
      expect(r.session?.session.activeOrganizationId).toBe(org);
      const members = await rig.q<{ members: { roles: string[]; user: { email: string } }[] }>('{ members { roles user { email } } }');
      expect(members.members.find((m) => m.user.email === 'hana@saml.acme.test')?.roles).toEqual(['member']);
    });

    it('just-in-time access from the groups attribute, at each sign-in', async () => {
      const accessOf = async (userId: string) => (await rig.app.identity!.database.run<{ role: string | null; groups: string[] }>(
        'select role, groups from security.member_access where organization_id = $1 and user_id = $2', [org, userId]))[0];
      const roleOf = async (email: string) => (await rig.q<{ members: { roles: string[]; user: { email: string } }[] }>('{ members { roles user { email } } }')).members.find((m) => m.user.email === email)?.roles;
      const support = await signIn('nia@saml.acme.test', { groups: ['support', 'other'] });
      expect(support.session?.user.email, `${support.status} ${support.location} ${support.body}`).toBe('nia@saml.acme.test');
      expect(await accessOf(support.session!.user.id)).toEqual({ role: 'support_agent', groups: ['key_account_team'] });
      expect(await roleOf('nia@saml.acme.test')).toEqual(['member']);
      await signIn('nia@saml.acme.test', { groups: ['admins'] });
      expect(await roleOf('nia@saml.acme.test')).toEqual(['admin']);
      expect(await accessOf(support.session!.user.id)).toEqual({ role: null, groups: [] });
    });

    it('refused with no session: another key\'s signature, a replayed assertion, a clock past the skew; a clock within it is accepted', async () => {
      const refused = (r: Awaited<ReturnType<typeof signIn>>) => {
        expect(r.session, `${r.status} ${r.location} ${r.body}`).toBeNull();
        return `${r.status} ${r.location?.searchParams.get('error') ?? ''}: ${r.location?.searchParams.get('error_description') ?? r.body}`;
      };
      const INVALID = '302 saml_error: Invalid SAML response';
      expect(refused(await signIn('ivan@saml.acme.test', { signWith: 'saml-forger' }))).toBe(INVALID);

      const first = await signIn('jo@saml.acme.test');
      expect(first.session?.user.email).toBe('jo@saml.acme.test');
      // Posted again: the AuthnRequest it answers was used up.
      expect(refused(await signIn('jo@saml.acme.test', {}, first.answer))).toBe('302 invalid_saml_response: Unknown or expired request ID');

      // Assertions are valid 5 minutes from issue, and 5 minutes of skew are allowed. The IdP's clock
      // 12 minutes behind: expired 7 minutes ago. 7 minutes ahead: not valid for 7 more minutes. Refused.
      expect(refused(await signIn('kai@saml.acme.test', { clockOffsetMs: -12 * 60_000 }))).toBe(INVALID);
      expect(refused(await signIn('kai@saml.acme.test', { clockOffsetMs: 7 * 60_000 }))).toBe(INVALID);
      // 3 minutes ahead, or 7 behind (expired 2 minutes ago): within the skew.
      for (const [email, offset] of [['lu@saml.acme.test', 3], ['max@saml.acme.test', -7]] as const) {
        const r = await signIn(email, { clockOffsetMs: offset * 60_000 });
        expect(r.session?.user.email, `${r.status} ${r.location} ${r.body}`).toBe(email);
      }
      // Audited in the organization's trail: the registration, its domain's verification, 6 sign-ins (hana, nia twice before; jo, lu, max),
      // the access each sign-in was given (the mapping applies to every one), 4 refusals.
      await rig.app.audit?.capture.drain();
      const trail = await rig.app.identity!.database.run<{ event_type: string; n: string }>(
        `select event_type, count(*)::text as n from audit.events where tenant_id = $1 and details->>'providerId' = 'acme-saml' group by event_type order by event_type`, [org]);
      expect(trail).toEqual([
        { event_type: 'auth.login', n: '6' }, { event_type: 'auth.login_failed', n: '4' }, { event_type: 'authz.role_assigned', n: '6' }, { event_type: 'system.config_changed', n: '1' }, { event_type: 'system.integration_added', n: '1' },
      ]);
    });
  });
}
