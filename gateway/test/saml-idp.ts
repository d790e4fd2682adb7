import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as samlify from 'samlify';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';

/** A signing key pair of the test IdP (`saml-idp`) or of someone forging its answers (`saml-forger`): self-signed, test-only. */
export const samlKeys = (name: 'saml-idp' | 'saml-forger') => ({ key: readFileSync(join(FIXTURES, `${name}.key`), 'utf8'), cert: readFileSync(join(FIXTURES, `${name}.crt`), 'utf8') });

export interface SamlAnswer { acs: string; SAMLResponse: string; RelayState: string | null }

export interface SamlIdp {
  entityID: string;
  /** Its metadata (entity ID, signing certificate, single sign-on URL): what an organization registers. */
  metadata: string;
  /**
   * Answers the AuthnRequest in a redirect-binding URL (where ObjectOS sent the browser) for `email`, as
   * a signed login response to post to the service provider's ACS. `signWith` signs as someone else;
   * `clockOffsetMs` makes its clock run that far ahead (or behind); `groups` is sent as a `groups` attribute.
   */
  answer(url: string, spMetadata: string, email: string, o?: { signWith?: 'saml-forger'; clockOffsetMs?: number; groups?: string[] }): Promise<SamlAnswer>;
}

/** Where the attribute statement goes: samlify escapes tag values, so XML is put in after. */
const ATTRIBUTES = 'OBJECTOS_ATTRIBUTE_STATEMENT';

/** A multi-valued `groups` attribute, as Okta and Entra send group membership. */
const attributeStatement = (groups: string[] | undefined): string => groups === undefined ? '' : `<saml:AttributeStatement><saml:Attribute Name="groups" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${
  groups.map((g) => `<saml:AttributeValue xsi:type="xs:string">${g.replace(/[<&"]/g, '')}</saml:AttributeValue>`).join('')}</saml:Attribute></saml:AttributeStatement>`;

/** A SAML 2.0 identity provider built with samlify (redirect binding in, POST binding out), in process. */
export function startSamlIdp(origin: string): SamlIdp {
  const entityID = `${origin}/saml/metadata`;
  const idpOf = (keys: { key: string; cert: string }) => samlify.IdentityProvider({
    entityID, privateKey: keys.key, signingCert: keys.cert, nameIDFormat: [EMAIL_FORMAT], wantAuthnRequestsSigned: false,
    singleSignOnService: [{ Binding: samlify.Constants.namespace.binding.redirect, Location: `${origin}/saml/sso` }],
  });
  const idp = idpOf(samlKeys('saml-idp'));
  return {
    entityID,
    metadata: idp.getMetadata(),
    async answer(url, spMetadata, email, o = {}) {
      const sp = samlify.ServiceProvider({ metadata: spMetadata });
      const u = new URL(url);
      const query = Object.fromEntries(u.searchParams);
      const octetString = u.search.slice(1);
      const request = await idp.parseLoginRequest(sp, 'redirect', { query, octetString });
      const signer = o.signWith ? idpOf(samlKeys(o.signWith)) : idp;
      const offset = o.clockOffsetMs ?? 0;
      const relayState = u.searchParams.get('RelayState');
      const made = await signer.createLoginResponse(sp, request as unknown as Parameters<typeof idp.createLoginResponse>[1], 'post', { email }, {
        ...(relayState ? { relayState } : {}),
        // The default template, with this IdP's clock (which may be off).
        customTagReplacement: (template: string) => {
          const now = new Date(Date.now() + offset);
          const later = new Date(now.getTime() + 5 * 60_000).toISOString();
          const acs = sp.entityMeta.getAssertionConsumerService('post') as string;
          const id = `_${crypto.randomUUID()}`;
          const context = samlify.SamlLib.replaceTagsByValue(template, {
            ID: id, AssertionID: `_${crypto.randomUUID()}`, Destination: acs, Audience: sp.entityMeta.getEntityID(), EntityID: sp.entityMeta.getEntityID(),
            SubjectRecipient: acs, Issuer: entityID, IssueInstant: now.toISOString(), AssertionConsumerServiceURL: acs,
            StatusCode: samlify.Constants.StatusCode.Success, ConditionsNotBefore: now.toISOString(), ConditionsNotOnOrAfter: later,
            SubjectConfirmationDataNotOnOrAfter: later, NameIDFormat: EMAIL_FORMAT, NameID: email,
            InResponseTo: (request as { extract?: { request?: { id?: string } } }).extract?.request?.id ?? '', AuthnStatement: '', AttributeStatement: ATTRIBUTES,
          }).replace(ATTRIBUTES, attributeStatement(o.groups));
          return { id, context };
        },
      });
      return { acs: (made as { entityEndpoint: string }).entityEndpoint, SAMLResponse: made.context, RelayState: relayState };
    },
  };
}
