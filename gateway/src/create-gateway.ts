import { getStitchedSchemaFromSupergraphSdl } from '@graphql-tools/federation';
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import type { GraphQLSchema } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { composeSupergraph, scalarResolvers, type CompiledSchema } from '@objectos/schema';
import { createLogger, REQUEST_ID_HEADER, useCorrelatedErrors, type Logger } from '@objectos/observability';
import { classifyGatewayError } from './classify-error.ts';
import { createSubgraphExecutor } from './routing/subgraph-executor.ts';
import { PROTECTION_DEFAULTS, type ProtectionOptions } from './protection/protection-options.ts';
import { createGraphiQLRenderer, GRAPHIQL_OPTIONS } from './graphiql.ts';
import { useProtection } from './protection/use-protection.ts';
import { useBodyLimit } from './protection/read-bounded.ts';
import { clientAddress, ipKey } from './protection/client-ip.ts';
import { createLimiter, createRateLimit, type Limiter } from './protection/use-rate-limit.ts';
import { PRINCIPAL_HEADER, SYSTEM, audienceKey, encodePrincipal, signInit, signPrincipal, signRequest, type Principal } from '@objectos/principal';
import type { EventBus } from '@objectos/events';
import { createPrincipalCache, type PrincipalCache, type ResolvePrincipal } from './auth/principal-cache.ts';
import { principalOfRequest, useAuthentication } from './auth/use-authentication.ts';
import { createAccessWatch, type AccessWatch } from './auth/access-watch.ts';
import { useLiveAccess } from './auth/use-live-access.ts';
import { corsOf, createOriginPolicy, useOriginPolicy, type OriginPolicy } from './auth/origin-policy.ts';
import { useIdentityProxy } from './auth/identity-proxy.ts';
import { buildDecisionTable, type DecisionTable } from './security/decisions.ts';
import { loadSecurity } from './security/load-security.ts';
import { applyShield, buildShield, type ShieldSetup } from './security/shield.ts';
import { useFieldAccess } from './security/use-field-access.ts';
import { buildOwnership } from './routing/ownership.ts';
import { useSingleHop, type LocalRead, type SubgraphCall } from './routing/use-single-hop.ts';

/**
 * A subgraph the gateway routes to: in-process (`fetch` given) or over HTTP at `url`. Its `name` is the
 * audience of every signature sent to it: `data` and `identity` (INTERNAL_AUDIENCES) are ObjectOS's own
 * and get their internal keys; any other name is external and gets a key no internal subgraph accepts.
 */
export interface SubgraphSource {
  name: string;
  url: string;
  /** SDL; fetched from `{ _service { sdl } }` when absent. */
  sdl?: string;
  /** In-process handler: requests never leave the process. */
  fetch?: (request: Request) => Promise<Response>;
  /**
   * In process only: a query the subgraph compiles answered as response text for the principal (null:
   * use `fetch`). Nothing crosses a process boundary, so the principal object is handed over as is.
   */
  readCompiled?: LocalRead;
}

export interface GatewayAuthOptions {
  /** OBJECTOS_SECRET: the key principals are signed with is derived from it. */
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
  /** Share attempt counters across replicas. */
  redisUrl?: string;
  /** @default false */
  trustProxy?: boolean;
  /** Live streams and sockets re-check their session this often (auth events act at once). @default 30000 */
  recheckMs?: number;
}

export interface GatewayOptions {
  subgraphs: readonly SubgraphSource[];
  /** Authentication: every request is authenticated here and subgraphs get the principal signed. */
  auth: GatewayAuthOptions;
  /**
   * Origins browsers may call from (the public URL and OBJECTOS_TRUSTED_ORIGINS), for HTTP, SSE and
   * WebSocket alike; the endpoint's own host is always allowed. @default [] (same host only)
   */
  origins?: readonly string[];
  /** @default '/graphql' */
  graphqlEndpoint?: string;
  /** @default false */
  graphiql?: boolean;
  /** Limits, introspection, CSRF and trusted documents; safe defaults (introspection off). */
  protection?: ProtectionOptions;
  /**
   * Send an operation one subgraph answers whole straight to it, its answer passed through (see
   * routing/use-single-hop.ts); off: every operation runs through the stitched schema. @default true
   */
  singleHop?: boolean;
  /** Longest wait for one subgraph call; past it the field fails with code TIMEOUT. @default 10000 */
  subgraphTimeoutMs?: number;
  /** Where error log lines go (pino). @default createLogger('gateway') */
  logger?: Logger;
  /**
   * The compiled metadata whose security plan the gateway enforces (graphql-shield and validation).
   * @default fetched from each subgraph's METADATA_ENDPOINT (subgraphs without one have no ObjectOS metadata)
   */
  security?: CompiledSchema;
}

export interface Gateway {
  supergraphSdl: string;
  /** The public schema as served: every resolver wrapped by its shield rule. */
  schema: GraphQLSchema;
  /** Access decisions per field, the shield rule tree built from them and the compiled plans they came from. */
  security: { table: DecisionTable; shield: ShieldSetup };
  yoga: YogaServerInstance<Record<string, unknown>, Record<string, unknown>>;
  /** In-process handler; `serverContext` is what the node adapter passes (`{ req, res }`). */
  fetch: (request: Request, serverContext?: Record<string, unknown>) => Promise<Response>;
  /** The principal cache (tests read its size and evictions). */
  principals: PrincipalCache;
  /** Holds every live transport (sockets, SSE streams) on its principal's access. */
  access: AccessWatch;
  /** The one origin policy of HTTP, SSE and WebSocket (CORS, cross-site cookies, the upgrade's Origin). */
  origins: OriginPolicy;
  /** Where GraphQL is served (HTTP and WebSocket). */
  graphqlEndpoint: string;
  /** Anonymous requests are served (the guest profile). */
  allowAnonymous: boolean;
  /** Limits other transports apply before handing a request to yoga. */
  limits: { maxBodyBytes: number };
  /** Closes what the gateway opened (the rate limiter's Redis connection). */
  dispose(): Promise<void>;
}

type FetchFn = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** A subgraph may still be starting (compose, rolling restarts): try a few times before giving up. */
async function fetchSdl(s: SubgraphSource, secret: string, attempts = 5): Promise<string> {
  for (let i = 1; ; i++) {
    try {
      return await fetchSdlOnce(s, secret);
    } catch (e) {
      if (i >= attempts) throw e;
      await new Promise((r) => setTimeout(r, 500 * i));
    }
  }
}

async function fetchSdlOnce(s: SubgraphSource, secret: string): Promise<string> {
  const doFetch: FetchFn = s.fetch ? (input, init) => s.fetch!(new Request(input, init)) : fetch;
  let body: { data?: { _service?: { sdl?: string } }; errors?: { message: string }[] };
  try {
    const query = JSON.stringify({ query: '{ _service { sdl } }' });
    const res = await doFetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signPrincipal(SYSTEM, audienceKey(secret, s.name), { audience: s.name, method: 'POST', url: s.url, body: query }) },
      body: query,
      signal: AbortSignal.timeout(10_000),
    });
    body = (await res.json()) as typeof body;
  } catch (e) {
    throw new Error(`subgraph "${s.name}" at ${s.url} did not answer with its SDL: ${(e as Error).message}`);
  }
  const sdl = body.data?._service?.sdl;
  if (!sdl) throw new Error(`subgraph "${s.name}" at ${s.url} did not return its SDL: ${body.errors?.map((e) => e.message).join('; ') ?? 'no _service field'}`);
  return sdl;
}

/** Composes the subgraphs into a supergraph and serves it as one GraphQL endpoint. */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const { subgraphs, auth, graphqlEndpoint = '/graphql', graphiql = false, protection = {}, subgraphTimeoutMs = 10_000, logger = createLogger('gateway') } = options;
  const sdls = await Promise.all(subgraphs.map(async (s) => ({ name: s.name, url: s.url, sdl: s.sdl ?? (await fetchSdl(s, auth.secret)) })));
  const supergraphSdl = composeSupergraph(sdls);
  // Each subgraph's sender: in process or over HTTP, every call signed for it alone (see `sign`).
  // In process, requests are built with yoga's fetch API (set below): a string body stays a string,
  // where the global Request would wrap it in a stream for the subgraph to read back.
  const api: { Request: typeof Request } = { Request };
  const senders = new Map(subgraphs.map((s) => {
    const send: FetchFn = s.fetch ? (input, init) => s.fetch!(new api.Request(input, init)) : fetch;
    return [s.url, { source: s, key: audienceKey(auth.secret, s.name), send }];
  }));
  // Each call signed now, for this subgraph only, over its method, path and exact body, with a fresh
  // nonce: what one call carries is worth nothing for another call or another subgraph.
  const signedSend = (to: NonNullable<ReturnType<typeof senders.get>>) => (async (input: string, init: RequestInit = {}) => {
    const signed = signInit(input, init, to.key, to.source.name);
    return signed ? to.send(input, signed) : to.send(await signRequest(new Request(input, init), to.key, to.source.name));
  }) as FetchFn;
  // The principal and request id travel to every subgraph (their log lines carry the id too).
  const contextHeaders = (context?: { requestId?: string; principal?: Principal }): Record<string, string> => {
    const id = context?.requestId;
    return { [PRINCIPAL_HEADER]: encodePrincipal(context?.principal ?? SYSTEM), ...(id ? { [REQUEST_ID_HEADER]: id } : {}) };
  };
  const byName = new Map([...senders.values()].map((s) => [s.source.name, { url: s.source.url, send: signedSend(s) }]));
  const stitched = getStitchedSchemaFromSupergraphSdl({
    supergraphSdl,
    // Each subgraph is called by ObjectOS's own executor (routing/subgraph-executor.ts), found by URL
    // (the supergraph names subgraphs by their join__Graph value). The principal goes in `headers`
    // unsigned and is signed in `send`, over the exact body.
    onSubschemaConfig: (config) => {
      const target = senders.get(config.endpoint);
      if (!target) throw new Error(`the supergraph names a subgraph at ${config.endpoint || '(no url)'} the gateway was not given`);
      config.executor = createSubgraphExecutor({
        name: target.source.name,
        url: config.endpoint,
        send: signedSend(target),
        headers: (request) => contextHeaders(request.context as { requestId?: string; principal?: Principal } | undefined),
        timeoutMs: subgraphTimeoutMs,
      });
    },
    // The supergraph only knows scalar names; use ObjectOS's scalars so bad dates are refused here,
    // during validation, before any subgraph is called.
    onStitchedSchema: (stitched) =>
      mapSchema(stitched, { [MapperKind.SCALAR_TYPE]: (t) => scalarResolvers[t.name as keyof typeof scalarResolvers] ?? t }),
  });
  // Object- and field-level access from the same compiled security plan the data subgraph enforces:
  // graphql-shield on every field, and the same decisions during validation (no resolver runs).
  const sources = options.security
    ? [options.security]
    : (await Promise.all(subgraphs.map((s) =>
        loadSecurity(s, auth.secret, (e) => logger.warn({ subgraph: s.name, err: e.message }, 'subgraph metadata unreachable: only authentication is enforced on its fields'))))
      ).filter((c): c is CompiledSchema => c !== null);
  const table = buildDecisionTable(stitched, sources);
  const shieldSetup = buildShield(table);
  const schema = applyShield(stitched, shieldSetup);
  // Budgets per principal: a user or API key has its own, anonymous clients share their IP's.
  const rl = protection.rateLimit || undefined;
  const rateLimit = rl
    ? createRateLimit({
        ...rl,
        key: (request, ctx) => {
          const p = principalOfRequest(request);
          return p.apiKeyId ? `key:${p.apiKeyId}` : p.userId ? `user:${p.userId}` : ipKey(clientAddress(request, ctx, rl.trustProxy ?? false));
        },
      })
    : undefined;
  const limiters: Limiter[] = [];
  const principals = createPrincipalCache(auth.resolve, { ...(auth.cacheTtlMs !== undefined ? { ttlMs: auth.cacheTtlMs } : {}), ...(auth.bus ? { bus: auth.bus } : {}) });
  const access = createAccessWatch(principals, {
    ...(auth.bus ? { bus: auth.bus } : {}),
    ...(auth.recheckMs !== undefined ? { recheckMs: auth.recheckMs } : {}),
    onError: (e) => logger.warn({ err: e.message }, 'live access re-check failed'),
  });
  const close = async () => {
    access.close();
    principals.close();
    await Promise.all([rateLimit?.close(), ...limiters.map((l) => l.close())]);
  };
  const authPlugins = [useAuthentication(principals, { graphqlEndpoint, allowAnonymous: auth.allowAnonymous ?? false })];
  if (auth.identity) {
    const perAccount = createLimiter({ points: auth.attemptsPerAccount ?? 3, durationSeconds: 10, keyPrefix: 'objectos:signin', redisUrl: auth.redisUrl });
    const perIp = createLimiter({ points: auth.attemptsPerIp ?? 30, durationSeconds: 10, keyPrefix: 'objectos:signin-ip', redisUrl: auth.redisUrl });
    limiters.push(perAccount, perIp);
    authPlugins.unshift(useIdentityProxy({ ...auth.identity, key: audienceKey(auth.secret, 'identity'), trustProxy: auth.trustProxy ?? false, perAccount, perIp, principals }));
  }
  try {
    await Promise.all([rateLimit?.ready, ...limiters.map((l) => l.ready)]);
  } catch (e) {
    await close();
    throw e;
  }
  const origins = createOriginPolicy(options.origins);
  const singleHopCall: SubgraphCall = (name, body, context) => {
    const to = byName.get(name)!;
    const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...contextHeaders(context) };
    return to.send(to.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(subgraphTimeoutMs) });
  };
  const maxBodyBytes = protection.maxBodyBytes ?? PROTECTION_DEFAULTS.maxBodyBytes;
  const yoga = createYoga<Record<string, unknown>>({
    schema,
    graphqlEndpoint,
    cors: corsOf(origins),
    graphiql: graphiql ? GRAPHIQL_OPTIONS : false,
    renderGraphiQL: createGraphiQLRenderer(),
    landingPage: false,
    // useBodyLimit bounds every body on every route, first (413 from Content-Length, a cut for chunked
    // bodies): yoga's own limiter would wrap each body in a second stream and Request for nothing.
    maxRequestBodySize: false,
    // Masking, codes and correlation ids live in one plugin.
    maskedErrors: false,
    plugins: [
      useBodyLimit(maxBodyBytes), useOriginPolicy(origins), ...authPlugins, ...useProtection(protection, rateLimit), useFieldAccess(table), useLiveAccess(access),
      ...(options.singleHop === false ? [] : [useSingleHop({ owned: buildOwnership(sdls), call: singleHopCall, local: new Map(subgraphs.flatMap((s) => (s.readCompiled ? [[s.name, s.readCompiled] as const] : []))) })]),
      useCorrelatedErrors({ logger, classify: classifyGatewayError }),
    ],
    context: ({ request }) => ({ principal: principalOfRequest(request) }),
  });
  api.Request = yoga.fetchAPI.Request;
  return {
    supergraphSdl,
    schema,
    security: { table, shield: shieldSetup },
    yoga,
    fetch: (request, serverContext = {}) => Promise.resolve(yoga.fetch(request, serverContext)),
    principals,
    access,
    origins,
    graphqlEndpoint,
    allowAnonymous: auth.allowAnonymous ?? false,
    limits: { maxBodyBytes },
    dispose: close,
  };
}
