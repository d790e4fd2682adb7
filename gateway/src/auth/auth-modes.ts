import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ANONYMOUS, SYSTEM, type Principal, type Resolution } from '@objectos/principal';
import type { EventBus } from '@objectos/events';
import type { ResolvePrincipal } from './principal-cache.ts';

/** ObjectOS sessions and API keys, checked by the identity subgraph (the default). */
export interface ObjectOSAuthOptions {
  mode?: 'objectos';
  /** OBJECTOS_SECRET: the keys subgraph calls are signed with are derived from it. */
  secret: string;
  /** Credentials → principal: the identity subgraph (in process or over HTTP). */
  resolve: ResolvePrincipal;
  /** The identity subgraph's HTTP routes, served at /api/auth/*. */
  identity?: { fetch: (request: Request) => Promise<Response>; baseUrl: string };
  /** How long a resolved session or API key is reused. @default 5000 */
  cacheTtlMs?: number;
  /** Auth events that evict cached principals (revocations, bans, membership changes). */
  bus?: EventBus;
  /** Serve anonymous requests (the guest profile). @default false */
  allowAnonymous?: boolean;
  /** Sign-in and 2FA attempts per account and IP per 10 s. @default 3 */
  attemptsPerAccount?: number;
  /** Sign-in and 2FA attempts per IP per 10 s, whatever the account. @default 30 */
  attemptsPerIp?: number;
  /** SCIM requests per minute per provisioning token. @default 600 */
  scimRequestsPerMinute?: number;
  /** Share attempt counters across replicas. */
  redisUrl?: string;
  /** @default false */
  trustProxy?: boolean;
  /** Live streams and sockets re-check their session this often (auth events act at once). @default 30000 */
  recheckMs?: number;
}

/**
 * Bearer JWTs from your own identity provider, verified against its JWKS (plain gateway mode). The
 * token's `sub` is the user; the organization and roles come from the claims named here, so the
 * provider is trusted for them: configure it to issue only what each user may claim.
 */
export interface JwtAuthOptions {
  mode: 'jwt';
  secret: string;
  /** The provider's JWKS URL (or a key set in hand). */
  jwks: string | URL | JWTVerifyGetKey;
  /** Required `iss`, when set. */
  issuer?: string;
  /** Required `aud`, when set. */
  audience?: string;
  /** Claim holding the organization (tenant) id. @default 'org_id' */
  organizationClaim?: string;
  /** Claim holding the roles (an array, or a space- or comma-separated string). @default 'roles' */
  rolesClaim?: string;
  /** Serve requests without a token as anonymous. @default false */
  allowAnonymous?: boolean;
  /** How long a verified token is reused (never past its `exp`). @default 5000 */
  cacheTtlMs?: number;
}

/** No authentication (a private network): every request is anonymous and served. */
export interface NoAuthOptions {
  mode: 'none';
  secret: string;
}

export type GatewayAuthOptions = ObjectOSAuthOptions | JwtAuthOptions | NoAuthOptions;

const invalid = (message: string): Resolution => ({ failure: { status: 401, code: 'UNAUTHENTICATED', message } });

const rolesOf = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((r): r is string => typeof r === 'string') : typeof v === 'string' ? v.split(/[\s,]+/).filter(Boolean) : [];

/** The principal a verified token stands for. */
export function principalOfJwt(payload: JWTPayload, options: Pick<JwtAuthOptions, 'organizationClaim' | 'rolesClaim'> = {}): Principal {
  const org = payload[options.organizationClaim ?? 'org_id'];
  // Nothing but the user, the organization and the roles comes from the token (no sets, no platform role).
  return {
    ...SYSTEM,
    kind: 'user',
    userId: payload.sub ?? null,
    organizationId: typeof org === 'string' && org ? org : null,
    roles: rolesOf(payload[options.rolesClaim ?? 'roles']),
  };
}

/** Credentials → principal for JWT mode: a missing token is anonymous; a bad one is refused, saying why. */
export function jwtResolver(options: JwtAuthOptions): ResolvePrincipal {
  const keys = typeof options.jwks === 'function' ? options.jwks : createRemoteJWKSet(new URL(options.jwks));
  return async (credentials) => {
    const auth = credentials.authorization;
    if (!auth) return { principal: ANONYMOUS };
    const token = /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
    if (!token) return invalid('Send the token as `Authorization: Bearer <JWT>`.');
    try {
      const { payload } = await jwtVerify(token, keys, {
        ...(options.issuer ? { issuer: options.issuer } : {}),
        ...(options.audience ? { audience: options.audience } : {}),
        requiredClaims: ['sub', 'exp'],
      });
      return { principal: principalOfJwt(payload, options), expiresAt: payload.exp! * 1000 };
    } catch (e) {
      if (e instanceof errors.JWTExpired) return invalid('The token has expired.');
      if (e instanceof errors.JWTClaimValidationFailed) return invalid(`The token's "${e.claim}" claim is not accepted here.`);
      if (e instanceof errors.JOSEError) return invalid(`The token is not valid (${e.code}).`);
      throw e;
    }
  };
}

/** How the gateway authenticates requests, whatever the mode. */
export function resolverOf(auth: GatewayAuthOptions): { resolve: ResolvePrincipal; allowAnonymous: boolean; cacheTtlMs?: number } {
  if (auth.mode === 'none') return { resolve: async () => ({ principal: ANONYMOUS }), allowAnonymous: true };
  if (auth.mode === 'jwt') return { resolve: jwtResolver(auth), allowAnonymous: auth.allowAnonymous ?? false, ...(auth.cacheTtlMs !== undefined ? { cacheTtlMs: auth.cacheTtlMs } : {}) };
  return { resolve: auth.resolve, allowAnonymous: auth.allowAnonymous ?? false, ...(auth.cacheTtlMs !== undefined ? { cacheTtlMs: auth.cacheTtlMs } : {}) };
}
