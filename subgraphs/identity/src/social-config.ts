/** A provider configured by the operator: its client and, for a generic one, where its OpenID metadata is. */
export interface OAuthClient { clientId: string; clientSecret: string }
export interface GenericProvider extends OAuthClient { providerId: string; discoveryUrl: string; scopes: string[] }

/** Social sign-in as configured (OBJECTOS_GOOGLE_*, OBJECTOS_GITHUB_*, OBJECTOS_MICROSOFT_*, OBJECTOS_OAUTH_*). */
export interface SocialConfig {
  google?: OAuthClient;
  github?: OAuthClient;
  microsoft?: OAuthClient & { tenantId: string };
  /** Any OAuth 2.0 / OpenID Connect provider, by its discovery document. */
  generic: GenericProvider[];
}

const BUILT_IN = ['google', 'github', 'microsoft'] as const;

/**
 * Reads social sign-in from the environment. Each built-in provider needs both `OBJECTOS_<P>_CLIENT_ID`
 * and `OBJECTOS_<P>_CLIENT_SECRET` (Microsoft also takes `OBJECTOS_MICROSOFT_TENANT_ID`, default
 * `common`). `OBJECTOS_OAUTH_PROVIDERS=corp,partner` names generic providers, each with
 * `OBJECTOS_OAUTH_<ID>_DISCOVERY_URL`, `_CLIENT_ID`, `_CLIENT_SECRET` (and `_SCOPES`, space-separated,
 * default `openid email profile`). A half-configured provider is an error naming the missing variable.
 */
export function socialFromEnv(env: Record<string, string | undefined>): SocialConfig {
  const client = (prefix: string): OAuthClient | undefined => {
    const id = env[`${prefix}_CLIENT_ID`]?.trim();
    const secret = env[`${prefix}_CLIENT_SECRET`]?.trim();
    if (!id && !secret) return undefined;
    if (!id || !secret) throw new Error(`${prefix}_CLIENT_ID and ${prefix}_CLIENT_SECRET go together: ${!id ? `${prefix}_CLIENT_ID` : `${prefix}_CLIENT_SECRET`} is missing`);
    return { clientId: id, clientSecret: secret };
  };
  const config: SocialConfig = { generic: [] };
  for (const p of BUILT_IN) {
    const c = client(`OBJECTOS_${p.toUpperCase()}`);
    if (!c) continue;
    if (p === 'microsoft') config.microsoft = { ...c, tenantId: env['OBJECTOS_MICROSOFT_TENANT_ID']?.trim() || 'common' };
    else config[p] = c;
  }
  const ids = (env['OBJECTOS_OAUTH_PROVIDERS'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const providerId of ids) {
    if (!/^[a-z][a-z0-9-]{0,39}$/.test(providerId)) throw new Error(`OBJECTOS_OAUTH_PROVIDERS: "${providerId}" is not a provider id (lower-case letters, digits and dashes)`);
    if ((BUILT_IN as readonly string[]).includes(providerId)) throw new Error(`OBJECTOS_OAUTH_PROVIDERS: "${providerId}" is a built-in provider; configure it with OBJECTOS_${providerId.toUpperCase()}_CLIENT_ID/SECRET`);
    const prefix = `OBJECTOS_OAUTH_${providerId.toUpperCase().replace(/-/g, '_')}`;
    const discoveryUrl = env[`${prefix}_DISCOVERY_URL`]?.trim();
    if (!discoveryUrl) throw new Error(`${prefix}_DISCOVERY_URL is missing (the provider's /.well-known/openid-configuration)`);
    try {
      new URL(discoveryUrl);
    } catch {
      throw new Error(`${prefix}_DISCOVERY_URL is not a URL: "${discoveryUrl}"`);
    }
    const c = client(prefix);
    if (!c) throw new Error(`${prefix}_CLIENT_ID and ${prefix}_CLIENT_SECRET are missing`);
    const scopes = env[`${prefix}_SCOPES`]?.trim().split(/\s+/) ?? ['openid', 'email', 'profile'];
    config.generic.push({ providerId, discoveryUrl, scopes, ...c });
  }
  return config;
}

/**
 * OBJECTOS_SSO_DOMAIN_VERIFICATION (`true`, the default, or `false`): whether an SSO provider signs anyone
 * in only once its organization proved each of its domains with a DNS TXT record.
 */
export function ssoDomainVerificationFromEnv(env: Record<string, string | undefined>): boolean {
  const v = env['OBJECTOS_SSO_DOMAIN_VERIFICATION']?.trim() || 'true';
  if (v !== 'true' && v !== 'false') throw new Error(`OBJECTOS_SSO_DOMAIN_VERIFICATION: "${v}" is not true or false`);
  return v === 'true';
}
