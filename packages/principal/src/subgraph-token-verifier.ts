import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Plugin } from 'graphql-yoga';
import { freezePrincipal, isPrincipal, type Principal } from './principal.ts';
import { PRINCIPAL_CLAIM } from './subgraph-token.ts';

/**
 * The check an external subgraph runs on each call from the ObjectOS gateway (no shared secret): the
 * `Authorization: Bearer` token must be signed by a key of the gateway's JWKS, name this subgraph as its
 * audience and the gateway as its issuer, and be unexpired. Keys are fetched once and refreshed when a
 * token names an unknown key id (key rotation), with jose's remote key set.
 *
 * ```ts
 * import { useSubgraphToken, principalOfToken } from '@objectos/principal';
 * const yoga = createYoga({ schema, plugins: [useSubgraphToken({
 *   jwksUrl: 'https://objectos.example.com/.well-known/jwks.json',
 *   issuer: 'https://objectos.example.com',
 *   audience: 'billing',
 * })] });
 * // in a resolver: principalOfToken(context.request).organizationId
 * ```
 */
export interface SubgraphTokenVerifierOptions {
  /** The gateway's `/.well-known/jwks.json`, or a key set in hand (tests, air-gapped set-ups). */
  jwks: string | URL | JWTVerifyGetKey;
  /** This subgraph's name, as the gateway knows it (its entry in OBJECTOS_SUBGRAPHS). */
  audience: string;
  /** The gateway's public URL (OBJECTOS_PUBLIC_URL). */
  issuer: string;
  /** Clock skew accepted between gateway and subgraph. @default 5 s */
  clockToleranceSeconds?: number;
  /**
   * Answer `{ _service { sdl } }` (that query alone) without a token, as Federation subgraphs usually do:
   * the gateway composes before it serves its JWKS. Turn it off if the schema itself is secret.
   * @default true
   */
  publicSdl?: boolean;
}

export type TokenCheck = { ok: true; principal: Principal } | { ok: false; reason: string };

export function createSubgraphTokenVerifier(options: SubgraphTokenVerifierOptions): (authorization: string | null) => Promise<TokenCheck> {
  const keys = typeof options.jwks === 'function' ? options.jwks : createRemoteJWKSet(new URL(options.jwks));
  return async (authorization) => {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (!token) return { ok: false, reason: 'no gateway token (Authorization: Bearer)' };
    try {
      const { payload } = await jwtVerify(token, keys, {
        audience: options.audience,
        issuer: options.issuer,
        algorithms: ['EdDSA'],
        clockTolerance: options.clockToleranceSeconds ?? 5,
        requiredClaims: ['exp', 'iat', 'aud', 'iss'],
      });
      const p = payload[PRINCIPAL_CLAIM];
      if (!isPrincipal(p)) return { ok: false, reason: 'the token carries no principal' };
      return { ok: true, principal: freezePrincipal(p) };
    } catch (e) {
      if (e instanceof errors.JWTExpired) return { ok: false, reason: 'the gateway token has expired' };
      if (e instanceof errors.JWTClaimValidationFailed) return { ok: false, reason: `the gateway token is not for this subgraph (${e.claim})` };
      if (e instanceof errors.JOSEError) return { ok: false, reason: `the gateway token is not valid (${e.code})` };
      throw e;
    }
  };
}

const principals = new WeakMap<Request, Principal>();

const SDL_QUERY = /^\s*(?:query\s*\w*\s*)?\{\s*_service\s*\{\s*sdl\s*\}\s*\}\s*$/;

/** True for a POST whose only operation is the SDL query (no other field, no variables to hide one in). */
async function asksOnlySdl(request: Request): Promise<boolean> {
  if (request.method !== 'POST') return false;
  const text = await request.clone().text();
  if (text.length > 512) return false;
  try {
    const body = JSON.parse(text) as { query?: unknown };
    return typeof body.query === 'string' && SDL_QUERY.test(body.query);
  } catch {
    return false;
  }
}

/** Yoga plugin for an external subgraph: calls without a valid gateway token end with 401 before parsing. */
export function useSubgraphToken(options: SubgraphTokenVerifierOptions): Plugin {
  const verify = createSubgraphTokenVerifier(options);
  return {
    async onRequest({ request, endResponse }) {
      if (options.publicSdl !== false && (await asksOnlySdl(request))) return;
      const r = await verify(request.headers.get('authorization'));
      if (r.ok) {
        principals.set(request, r.principal);
        return;
      }
      endResponse(
        new Response(JSON.stringify({ errors: [{ message: `Unauthorized: ${r.reason}`, extensions: { code: 'UNAUTHENTICATED' } }] }), {
          status: 401,
          headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer' },
        }),
      );
    },
  };
}

/** The caller of a request that passed {@link useSubgraphToken}. */
export function principalOfToken(request: Request): Principal {
  const p = principals.get(request);
  if (!p) throw new Error('no verified gateway token on this request (is useSubgraphToken installed?)');
  return p;
}
