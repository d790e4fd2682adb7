import { genericOAuth } from 'better-auth/plugins';
import type { SocialConfig } from './social-config.ts';

export type { SocialConfig } from './social-config.ts';

/** better-auth's `socialProviders` option for the built-in providers configured. */
export function socialProvidersOf(c: SocialConfig | undefined) {
  return {
    ...(c?.google ? { google: { ...c.google } } : {}),
    ...(c?.github ? { github: { ...c.github } } : {}),
    ...(c?.microsoft ? { microsoft: { clientId: c.microsoft.clientId, clientSecret: c.microsoft.clientSecret, tenantId: c.microsoft.tenantId } } : {}),
  };
}

/** better-auth's generic OAuth plugin with the generic providers configured (code flow with PKCE). */
export const genericOAuthPlugin = (c: SocialConfig | undefined) => genericOAuth({
  config: (c?.generic ?? []).map((g) => ({ providerId: g.providerId, discoveryUrl: g.discoveryUrl, clientId: g.clientId, clientSecret: g.clientSecret, scopes: g.scopes, pkce: true })),
});

/** The origins of the generic providers' discovery documents (better-auth fetches only trusted ones). */
export const socialOrigins = (c: SocialConfig | undefined): string[] => (c?.generic ?? []).map((g) => new URL(g.discoveryUrl).origin);
