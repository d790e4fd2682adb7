import type { Plugin } from 'graphql-yoga';
import { ANONYMOUS, credentialsOf, type Principal } from '@objectos/principal';
import type { PrincipalCache } from './principal-cache.ts';
import { recordAuthentication } from './auth-metrics.ts';

interface Authentication {
  principal: Principal;
  /** When the session behind it expires (none for API keys without expiry). */
  expiresAt: number | undefined;
}

const authenticated = new WeakMap<Request, Authentication>();

const SIGN_IN_HINT = 'Sign in first: send the session cookie, `Authorization: Bearer <session token>` or `x-api-key: <key>` (sign in at /api/auth/sign-in/email).';

/** The authenticated principal of a GraphQL request (anonymous until the plugin ran). */
export const principalOfRequest = (request: Request): Principal => authenticated.get(request)?.principal ?? ANONYMOUS;

/** How a request was authenticated; undefined for anonymous requests, guests included (nothing to re-check). */
export const authenticationOf = (request: Request): Authentication | undefined => {
  const a = authenticated.get(request);
  return a && a.principal.kind !== 'anonymous' ? a : undefined;
};

/**
 * The one authentication point: every GraphQL request is authenticated here, before rate limits,
 * parsing or any subgraph call. Bad credentials end the request with 401 (or 403 when the user must
 * act first: enable 2FA, change an expired password). Anonymous requests are refused unless the
 * metadata grants the guest profile something (`allowAnonymous`).
 */
export interface AuthenticationOptions {
  graphqlEndpoint: string;
  allowAnonymous: boolean;
  signInHint?: string;
  /** Other routes authenticated the same way (the audit export, metadata); an entry ending in `/` covers every path below it. */
  paths?: readonly string[];
  /** A request refused here (the audit trail's security.access_denied). */
  onRefused?: (request: Request, serverContext: unknown, code: string, message: string) => void;
  /** What an Authorization header carries, for the auth metrics' method. @default 'bearer' (a session token) */
  bearer?: 'bearer' | 'jwt';
}

export function useAuthentication(cache: PrincipalCache, options: AuthenticationOptions): Plugin {
  return {
    async onRequest({ request, url, endResponse, serverContext }) {
      const path = url.pathname;
      if (path !== options.graphqlEndpoint && !options.paths?.some((p) => p === path || (p.endsWith('/') && path.startsWith(p)))) return;
      const credentials = credentialsOf(request.headers);
      const r = await cache.authenticate(credentials);
      recordAuthentication(credentials, r, { bearer: options.bearer ?? 'bearer', allowAnonymous: options.allowAnonymous });
      if ('failure' in r) {
        options.onRefused?.(request, serverContext, r.failure.code, r.failure.message);
        endResponse(
          Response.json(
            { errors: [{ message: r.failure.message, extensions: { code: r.failure.code } }] },
            { status: r.failure.status, ...(r.failure.status === 401 ? { headers: { 'www-authenticate': 'Bearer realm="objectos"' } } : {}) },
          ),
        );
        return;
      }
      if (r.principal.kind === 'anonymous' && !options.allowAnonymous) {
        options.onRefused?.(request, serverContext, 'UNAUTHENTICATED', 'no credentials');
        endResponse(
          Response.json(
            {
              errors: [
                {
                  message: options.signInHint ?? SIGN_IN_HINT,
                  extensions: { code: 'UNAUTHENTICATED' },
                },
              ],
            },
            { status: 401, headers: { 'www-authenticate': 'Bearer realm="objectos"' } },
          ),
        );
        return;
      }
      // A guest (anonymous, served in an organization) is remembered too: its principal carries the organization.
      if (r.principal.kind !== 'anonymous' || r.principal.organizationId !== null) authenticated.set(request, { principal: r.principal, expiresAt: r.expiresAt });
    },
  };
}
