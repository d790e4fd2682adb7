import type { GatewayPlugin } from '@graphql-hive/gateway';
import {
  SYSTEM, audienceKey, createSubgraphTokenIssuer, credentialsOf, encodePrincipal, freezePrincipal,
  isInternalAudience, remotePrincipalResolver, signPayload, type Credentials, type Principal, type Resolution,
} from '@objectos/principal';

/**
 * ObjectOS's subgraphs behind Hive Gateway (or anything built on @graphql-hive/gateway-runtime):
 *
 * ```ts
 * // gateway.config.ts, next to the supergraph ObjectOS exports (schema/generated or your own composition)
 * import { defineConfig } from '@graphql-hive/gateway';
 * import { useObjectOS } from '@objectos/hive-gateway-plugin';
 * export const gatewayConfig = defineConfig({
 *   supergraph: './supergraph.graphql',
 *   plugins: () => [useObjectOS({ secret: process.env.OBJECTOS_SECRET!, identityUrl: 'http://identity:4002' })],
 * });
 * ```
 *
 * What it does, as ObjectOS's own gateway does:
 * - authenticates each GraphQL request from its session cookie, `Authorization: Bearer` or
 *   `x-api-key` through the identity subgraph (POST /internal/principal, signed), caching the answer
 *   for `cacheTtlMs`; bad credentials end with 401, and so does no credential unless `allowAnonymous`;
 * - signs the principal into every subgraph call: `data` and `identity` get the HMAC signature over the
 *   method, URL and exact body they require (single use, 30 s); any other subgraph gets a 60 s EdDSA
 *   token for its own audience, checkable against `jwksUrl`-published keys (ObjectOS's gateway serves
 *   them; this plugin derives the same key from the same secret).
 *
 * What stays with ObjectOS's gateway: the /api/auth routes (sign-in with its attempt limits), the
 * gateway-side shield and validation-time field checks, graphql-ws. Row, field and tenant security
 * are enforced by the data subgraph itself, so they hold behind any router.
 */
export interface ObjectOSPluginOptions {
  /** OBJECTOS_SECRET: the same as the subgraphs'. */
  secret: string;
  /** Where the identity subgraph listens (its origin; the principal endpoint is beneath it). */
  identityUrl: string;
  /** `iss` of the tokens external subgraphs get: ObjectOS's public URL. @default 'urn:objectos:gateway' */
  issuer?: string;
  /** @default 5000 */
  cacheTtlMs?: number;
  /** @default false */
  allowAnonymous?: boolean;
  /** Where GraphQL is served. @default '/graphql' */
  graphqlEndpoint?: string;
}

const ANONYMOUS_HINT = 'Sign in first: send the session cookie, `Authorization: Bearer <session token>` or `x-api-key: <key>`.';

export function useObjectOS(options: ObjectOSPluginOptions): GatewayPlugin {
  const { secret, cacheTtlMs = 5_000, graphqlEndpoint = '/graphql' } = options;
  const tokens = createSubgraphTokenIssuer({ secret, issuer: options.issuer ?? 'urn:objectos:gateway' });
  const keys = new Map<string, string>();
  const keyOf = (name: string) => {
    let k = keys.get(name);
    if (k === undefined) keys.set(name, (k = audienceKey(secret, name)));
    return k;
  };
  const principals = new WeakMap<Request, Principal>();
  const cache = new Map<string, { resolution: Resolution; until: number }>();
  // Subgraph URL → name, learnt as the gateway routes calls (the supergraph names each subgraph's URL).
  const names = new Map<string, string>();

  const lookup = remotePrincipalResolver({ fetch: (r) => fetch(r), baseUrl: options.identityUrl }, secret);
  const resolve = async (credentials: Credentials): Promise<Resolution> => {
    const cacheKey = JSON.stringify(credentials);
    const hit = cache.get(cacheKey);
    if (hit && hit.until > Date.now()) return hit.resolution;
    const resolution = await lookup(credentials);
    if ('principal' in resolution) {
      freezePrincipal(resolution.principal);
      if (cache.size >= 10_000) cache.clear();
      cache.set(cacheKey, { resolution, until: Math.min(Date.now() + cacheTtlMs, resolution.expiresAt ?? Infinity) });
    }
    return resolution;
  };

  return {
    async onRequest({ request, url, endResponse }) {
      if (url.pathname !== graphqlEndpoint) return;
      const credentials = credentialsOf(request.headers);
      const r = Object.keys(credentials).length > 0 ? await resolve(credentials) : null;
      const refuse = (status: number, code: string, message: string) =>
        endResponse(Response.json({ errors: [{ message, extensions: { code } }] }, { status, headers: status === 401 ? { 'www-authenticate': 'Bearer realm="objectos"' } : {} }));
      if (r && 'failure' in r) return refuse(r.failure.status, r.failure.code, r.failure.message);
      if (!r || r.principal.kind === 'anonymous') {
        if (!options.allowAnonymous) return refuse(401, 'UNAUTHENTICATED', ANONYMOUS_HINT);
        return;
      }
      principals.set(request, r.principal);
    },
    onSubgraphExecute({ subgraphName, transportEntry }) {
      if (transportEntry?.location) names.set(transportEntry.location, subgraphName);
    },
    async onFetch({ url, options: init, setOptions, context }) {
      const name = names.get(url);
      if (!name) return;
      const request = 'request' in context ? (context.request as Request) : undefined;
      const principal = (request && principals.get(request)) ?? SYSTEM;
      const body = init.body;
      if (body != null && typeof body !== 'string') throw new Error(`a call to subgraph "${name}" has a body that is not text: it cannot be signed`);
      const headers: Record<string, string> = { ...(init.headers as Record<string, string> | undefined) };
      if (isInternalAudience(name)) {
        Object.assign(headers, signPayload(encodePrincipal(principal), keyOf(name), { audience: name, method: (init.method ?? 'GET').toUpperCase(), url, body: body ?? null }));
      } else {
        headers['authorization'] = `Bearer ${await tokens.token(principal, name)}`;
      }
      setOptions({ ...init, headers });
    },
  };
}
