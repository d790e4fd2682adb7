import { getStitchedSchemaFromSupergraphSdl } from '@graphql-tools/federation';
import type { Plugin } from 'graphql-yoga';
import { MapperKind, mapSchema, type Executor } from '@graphql-tools/utils';
import type { GraphQLSchema } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { scalarResolvers, type CompiledSchema } from '@objectos/schema';
import { createLogger, createReadiness, REQUEST_ID_HEADER, useCorrelatedErrors, useResultHandoff, type Logger, type Readiness } from '@objectos/observability';
import { classifyGatewayError } from './classify-error.ts';
import { createSubgraphExecutor } from './routing/subgraph-executor.ts';
import { PROTECTION_DEFAULTS, type ProtectionOptions } from './protection/protection-options.ts';
import { createGraphiQLRenderer, GRAPHIQL_OPTIONS } from './graphiql.ts';
import { useProtection } from './protection/use-protection.ts';
import { useBodyLimit } from './protection/read-bounded.ts';
import { clientAddress, ipKey } from './protection/client-ip.ts';
import { createLimiter, createRateLimit, type Limiter } from './protection/use-rate-limit.ts';
import { ANONYMOUS, CLIENT_AGENT_HEADER, CLIENT_IP_HEADER, JWKS_PATH, PRINCIPAL_HEADER, SYSTEM, audienceKey, createSubgraphTokenIssuer, encodePrincipal, type Principal } from '@objectos/principal';
import { createPrincipalCache, type PrincipalCache, type ResolvePrincipal } from './auth/principal-cache.ts';
import { principalOfRequest, useAuthentication } from './auth/use-authentication.ts';
import { useGuestRefusals } from './auth/guest.ts';
import { createAccessWatch, type AccessWatch } from './auth/access-watch.ts';
import { useLiveAccess } from './auth/use-live-access.ts';
import { corsOf, createOriginPolicy, useOriginPolicy, type OriginPolicy } from './auth/origin-policy.ts';
import { AUTH_BASE_PATH, useIdentityProxy } from './auth/identity-proxy.ts';
import { buildDecisionTable, type DecisionTable } from './security/decisions.ts';
import { loadSecurity } from './security/load-security.ts';
import { applyShield, buildShield, type ShieldSetup } from './security/shield.ts';
import { useFieldAccess } from './security/use-field-access.ts';
import { denialOf, useDenialAudit } from './security/use-denial-audit.ts';
import { AUDIT_EXPORT_PATH, auditSink, useAuditExport } from './routing/use-audit-routes.ts';
import { createAccessDeniedAggregator, type AccessDeniedAggregator } from '@objectos/events';
import { internalOwnership, type Ownership } from './routing/ownership.ts';
import { resolverOf, type GatewayAuthOptions } from './auth/auth-modes.ts';
import { createSenders, type Sender } from './routing/senders.ts';
import { startLiveSupergraph, type LiveSupergraph, type SubgraphSdl, type SupergraphHealth } from './routing/live-supergraph.ts';
import { useAtomicRefused, useSingleHop, type LocalRead, type RequestContext } from './routing/use-single-hop.ts';
import { singleHopSenders } from './routing/single-hop-senders.ts';
import { createQueryPlanExecutor, useQueryPlan } from './routing/use-query-plan.ts';
import { subgraphsCheck, useReadyRoute } from './routing/use-ready-route.ts';
import { useMetricsRoute } from './routing/use-metrics-route.ts';
import { META_PATH, useMetaRoutes } from './routing/use-meta-routes.ts';
import { useGatewayRoutes } from './routing/use-gateway-routes.ts';
import { createStreamCount, type StreamCount } from './realtime/stream-count.ts';

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
  /** In-process handler: requests never leave the process (a server context, say `handoff()`'s, may go along). */
  fetch?: (request: Request, serverContext?: Record<string, unknown>) => Promise<Response>;
  /**
   * In process only: a query the subgraph compiles answered as response text for the principal (null:
   * use `fetch`). Nothing crosses a process boundary, so the principal object is handed over as is.
   */
  readCompiled?: LocalRead;
}

export type { GatewayAuthOptions } from './auth/auth-modes.ts';

export interface GatewayOptions {
  /** The subgraphs to compose (and recompose as their SDL changes). */
  subgraphs?: readonly SubgraphSource[];
  /**
   * Or a supergraph given whole (plain Federation gateway mode): its text, or a reader polled for changes
   * (a file, a registry URL). Subgraphs are called at the URLs it names.
   */
  supergraph?: string | (() => Promise<string>);
  /** Poll subgraph SDLs (or the supergraph reader) this often; 0: never. @default 10000 */
  pollMs?: number;
  /** The gateway's public URL: the issuer of the tokens external subgraphs receive. @default 'urn:objectos:gateway' */
  publicUrl?: string;
  /** Authentication: ObjectOS sessions (default), JWTs from a JWKS, or none; subgraphs get the principal signed. */
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
  /**
   * How operations across subgraphs run: `stitching` (@graphql-tools/federation) or `rust` (Hive's Rust
   * query planner through @graphql-hive/router-runtime, each fetch through the same executor). Operations
   * one subgraph answers whole take the one hop either way. @default 'stitching'
   */
  queryPlanner?: 'stitching' | 'rust';
  /** Longest wait for one subgraph call; past it the field fails with code TIMEOUT. @default 10000 */
  subgraphTimeoutMs?: number;
  /** Where error log lines go (pino). @default createLogger('gateway') */
  logger?: Logger;
  /**
   * What `/ready` answers: the process's checks (its database, Redis), to which the gateway adds
   * `subgraphs`. The caller marks it started once serving. @default its own, started once created
   */
  readiness?: Readiness;
  /** `GET /metrics` on this endpoint needs `Authorization: Bearer <metricsToken>`; 404 when unset. */
  metricsToken?: string;
  /**
   * The compiled metadata whose security plan the gateway enforces (graphql-shield and validation).
   * @default fetched from each subgraph's METADATA_ENDPOINT (subgraphs without one have no ObjectOS metadata)
   */
  security?: CompiledSchema;
}

export interface Gateway {
  /** The supergraph being served (it changes when subgraphs do). */
  readonly supergraphSdl: string;
  /** The public schema as served: every resolver wrapped by its shield rule. */
  readonly schema: GraphQLSchema;
  /** Access decisions per field, the shield rule tree built from them and the compiled plans they came from. */
  readonly security: { table: DecisionTable; shield: ShieldSetup };
  yoga: YogaServerInstance<Record<string, unknown>, Record<string, unknown>>;
  /** In-process handler; `serverContext` is what the node adapter passes (`{ req, res }`). */
  fetch: (request: Request, serverContext?: Record<string, unknown>) => Promise<Response>;
  /** The principal cache (tests read its size and evictions). */
  principals: PrincipalCache;
  /** Holds every live transport (sockets, SSE streams) on its principal's access. */
  access: AccessWatch;
  /** The one origin policy of HTTP, SSE and WebSocket (CORS, cross-site cookies, the upgrade's Origin). */
  origins: OriginPolicy;
  /** Refused requests, counted into security.access_denied events (flushed every 10 s, and by `flush`). */
  denials: AccessDeniedAggregator;
  /** Where GraphQL is served (HTTP and WebSocket). */
  graphqlEndpoint: string;
  /** Anonymous requests are served (the guest profile). */
  allowAnonymous: boolean;
  /** How bearer credentials are checked: ObjectOS session tokens, or JWTs (the auth metrics' method). */
  bearer: 'bearer' | 'jwt';
  /** Subscriptions streaming now, by transport (the realtime server reports them as metrics). */
  streams: StreamCount;
  /** Limits other transports apply before handing a request to yoga. */
  limits: { maxBodyBytes: number };
  /** What `/health` answers: the supergraph served and each subgraph's state. */
  health(): SupergraphHealth;
  /** What `/ready` answers (checks run on each probe). */
  readiness: Readiness;
  /** Polls subgraphs (or the supergraph source) now; true when a new supergraph is served. */
  refresh(): Promise<boolean>;
  /** Serves these instead (a development reload), swapped in with the schema; requests in flight finish on the old. Throws if not composed. */
  replaceSubgraphs(subgraphs: readonly SubgraphSource[]): Promise<void>;
  /** Closes what the gateway opened (the rate limiter's Redis connection, the poll timer). */
  dispose(): Promise<void>;
}

/** What requests run on, rebuilt whole when the supergraph changes. */
interface Routing {
  schema: GraphQLSchema;
  table: DecisionTable;
  shield: ShieldSetup;
  /** Which ObjectOS subgraph answers which field (the one-hop path); null when not known (a given supergraph). */
  owned: Ownership | null;
  /** The Rust query planner's executor (queryPlanner: 'rust'), else null. */
  planned: Executor | null;
  /** The subgraphs this supergraph routes to, by name (the one-hop path's calls). */
  byName: ReadonlyMap<string, Sender>;
  /** Their in-process compiled reads (the one-hop path's), by name. */
  reads: ReadonlyMap<string, LocalRead>;
}

/** Composes the subgraphs (or takes the given supergraph) and serves it as one GraphQL endpoint. */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const { auth, graphqlEndpoint = '/graphql', graphiql = false, protection = {}, subgraphTimeoutMs = 10_000, logger = createLogger('gateway') } = options;
  if (!options.subgraphs === !options.supergraph) throw new Error('createGateway needs either `subgraphs` to compose or a `supergraph`, not both');
  const { secret } = auth;
  // In process, requests are built with yoga's fetch API (set below): a string body stays a string,
  // where the global Request would wrap it in a stream for the subgraph to read back.
  const api: { Request: typeof Request } = { Request };
  const tokens = createSubgraphTokenIssuer({ secret, issuer: options.publicUrl ?? 'urn:objectos:gateway' });
  const senderOf = createSenders({ secret, tokens, api });
  const given = options.subgraphs ?? [];
  // The source each sender was made from (its in-process fetch and reads): senders of replaced subgraphs are new.
  const sourceBy = new WeakMap<Sender, SubgraphSource>();
  const senderFor = (make: typeof senderOf, s: SubgraphSource): Sender => { const sender = make(s); sourceBy.set(sender, s); return sender; };
  // The principal and request id travel to every subgraph (their log lines carry the id too).
  // The client's address and agent too, for the audit trail of what the subgraph does.
  const contextHeaders = (context?: RequestContext): Record<string, string> => {
    const id = context?.requestId;
    const client = context?.client;
    return {
      [PRINCIPAL_HEADER]: encodePrincipal(context?.principal ?? SYSTEM), ...(id ? { [REQUEST_ID_HEADER]: id } : {}),
      ...(client?.ip ? { [CLIENT_IP_HEADER]: client.ip } : {}), ...(client?.userAgent ? { [CLIENT_AGENT_HEADER]: client.userAgent.slice(0, 512) } : {}),
    };
  };
  const build = async (supergraphSdl: string, sdls: readonly SubgraphSdl[] | null, senders: readonly Sender[]): Promise<Routing> => {
    const byUrl = new Map(senders.map((s) => [s.url, s]));
    const executorFor = (target: Sender, url: string) => createSubgraphExecutor({
      name: target.name,
      url,
      send: target.send,
      headers: (request) => contextHeaders(request.context as RequestContext | undefined),
      timeoutMs: subgraphTimeoutMs,
    });
    const stitched = getStitchedSchemaFromSupergraphSdl({
      supergraphSdl,
      // Each subgraph is called by ObjectOS's own executor (routing/subgraph-executor.ts), found by URL
      // (the supergraph names subgraphs by their join__Graph value). The principal goes in `headers`
      // and becomes a signature or a token in `send`, over the exact body.
      onSubschemaConfig: (config) => {
        const target = byUrl.get(config.endpoint);
        if (!target) throw new Error(`the supergraph names a subgraph at ${config.endpoint || '(no url)'} the gateway was not given`);
        config.executor = executorFor(target, config.endpoint);
      },
      // The supergraph only knows scalar names; use ObjectOS's scalars so bad dates are refused here,
      // during validation, before any subgraph is called.
      onStitchedSchema: (stitched) =>
        mapSchema(stitched, { [MapperKind.SCALAR_TYPE]: (t) => scalarResolvers[t.name as keyof typeof scalarResolvers] ?? t }),
    });
    // Object- and field-level access from the same compiled security plan the data subgraph enforces:
    // graphql-shield on every field, and the same decisions during validation (no resolver runs). Only
    // ObjectOS's own subgraphs carry that plan: an external one cannot loosen it.
    const plans = options.security
      ? [options.security]
      : (await Promise.all(senders.filter((s) => s.internal).map((s) =>
          loadSecurity({ ...s, ...(sourceBy.get(s)?.fetch ? { fetch: sourceBy.get(s)!.fetch! } : {}) }, secret, (e) =>
            logger.warn({ subgraph: s.name, err: e.message }, 'subgraph metadata unreachable: only authentication is enforced on its fields'))))
        ).filter((c): c is CompiledSchema => c !== null);
    const table = buildDecisionTable(stitched, plans, auth.mode === 'none' ? 'allow' : 'authenticated');
    const shield = buildShield(table);
    const byName = new Map(senders.map((s) => [s.name, s]));
    let planned: Executor | null = null;
    if (options.queryPlanner === 'rust') {
      const executors = new Map(senders.map((s) => [s.name, executorFor(s, s.url)]));
      planned = await createQueryPlanExecutor(supergraphSdl, (name) => executors.get(name));
    }
    const reads = new Map(senders.flatMap((s) => (sourceBy.get(s)?.readCompiled ? [[s.name, sourceBy.get(s)!.readCompiled!] as const] : [])));
    return { schema: applyShield(stitched, shield), table, shield, owned: sdls ? internalOwnership(sdls, senders) : null, planned, byName, reads };
  };
  let setSchema: ((schema: GraphQLSchema) => void) | null = null;
  // The one hop's in-process reads: those of the routing served, swapped with its schema.
  const reads = new Map<string, LocalRead>();
  const serve = (routing: Routing) => {
    reads.clear();
    for (const [name, read] of routing.reads) reads.set(name, read);
    setSchema?.(routing.schema);
  };
  const live: LiveSupergraph<Routing> = await startLiveSupergraph<Routing>({
    input: options.supergraph
      ? { kind: 'supergraph', read: typeof options.supergraph === 'string' ? ((text) => async () => text)(options.supergraph) : options.supergraph, senderOf }
      : { kind: 'compose', subgraphs: given.map((s) => ({ sender: senderFor(senderOf, s), ...(s.sdl !== undefined ? { sdl: s.sdl } : {}) })) },
    build,
    onChange: serve,
    logger,
    ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
  });
  const current = () => live.current;
  serve(live.current);
  const readiness = options.readiness ?? createReadiness();
  const modeAuth = resolverOf(auth);
  const objectos = auth.mode === undefined || auth.mode === 'objectos' ? auth : null;
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
  const bus = objectos?.bus;
  const principals = createPrincipalCache(modeAuth.resolve, { ...(modeAuth.cacheTtlMs !== undefined ? { ttlMs: modeAuth.cacheTtlMs } : {}), ...(bus ? { bus } : {}) });
  const access = createAccessWatch(principals, {
    ...(bus ? { bus } : {}),
    ...(objectos?.recheckMs !== undefined ? { recheckMs: objectos.recheckMs } : {}),
    onError: (e) => logger.warn({ err: e.message }, 'live access re-check failed'),
  });
  // Refusals, aggregated, go to the audit subgraph's queue (nowhere when none is composed).
  const auditSender = () => current().byName.get('audit');
  const denials = createAccessDeniedAggregator({ sink: auditSink(auditSender), onError: (e) => logger.warn({ err: e.message }, 'access-denied events not recorded') });
  const trustProxy = objectos?.trustProxy ?? false;
  const close = async () => {
    readiness.stopping();
    await denials.close();
    live.close();
    access.close();
    principals.close();
    await Promise.all([rateLimit?.close(), ...limiters.map((l) => l.close())]);
  };
  const authPlugins: Plugin[] = auth.mode === 'none' ? [] : [
    useAuthentication(principals, {
      graphqlEndpoint,
      paths: [AUDIT_EXPORT_PATH, META_PATH, `${META_PATH}/`],
      onRefused: (request, server, code, message) => denials.note(denialOf(request, server, trustProxy, ANONYMOUS, code, message)),
      allowAnonymous: modeAuth.allowAnonymous,
      ...(auth.mode === 'jwt' ? { signInHint: 'Send a token from your identity provider: `Authorization: Bearer <JWT>`.', bearer: 'jwt' as const } : {}),
    }),
    ...(modeAuth.allowAnonymous ? [useGuestRefusals()] : []),
  ];
  if (objectos?.identity) {
    const perAccount = createLimiter({ name: 'sign_in_account', points: objectos.attemptsPerAccount ?? 3, durationSeconds: 10, keyPrefix: 'objectos:signin', redisUrl: objectos.redisUrl });
    const perIp = createLimiter({ name: 'sign_in_ip', points: objectos.attemptsPerIp ?? 30, durationSeconds: 10, keyPrefix: 'objectos:signin-ip', redisUrl: objectos.redisUrl });
    const scim = createLimiter({ name: 'scim_token', points: objectos.scimRequestsPerMinute ?? 600, durationSeconds: 60, keyPrefix: 'objectos:scim', redisUrl: objectos.redisUrl });
    limiters.push(perAccount, perIp, scim);
    authPlugins.unshift(useIdentityProxy({ ...objectos.identity, key: audienceKey(secret, 'identity'), trustProxy: objectos.trustProxy ?? false, perAccount, perIp, scim, principals }));
  }
  try {
    await Promise.all([rateLimit?.ready, ...limiters.map((l) => l.ready)]);
  } catch (e) {
    await close();
    throw e;
  }
  const origins = createOriginPolicy(options.origins);
  const hop = singleHopSenders({ sender: (name) => current().byName.get(name)!, headers: contextHeaders, timeoutMs: subgraphTimeoutMs });
  const maxBodyBytes = protection.maxBodyBytes ?? PROTECTION_DEFAULTS.maxBodyBytes;
  const swapSchema: Plugin = { onPluginInit: ({ setSchema: set }) => void (setSchema = set) };
  const streams = createStreamCount();
  const yoga = createYoga<Record<string, unknown>>({
    schema: current().schema,
    graphqlEndpoint,
    cors: corsOf(origins),
    graphiql: graphiql ? GRAPHIQL_OPTIONS : false,
    renderGraphiQL: createGraphiQLRenderer(),
    landingPage: false,
    healthCheckEndpoint: '/healthcheck',
    // useBodyLimit bounds every body on every route, first (413 from Content-Length, a cut for chunked
    // bodies): yoga's own limiter would wrap each body in a second stream and Request for nothing.
    maxRequestBodySize: false,
    // Masking, codes and correlation ids live in one plugin.
    maskedErrors: false,
    plugins: [
      swapSchema,
      // Health and the public keys follow the same body bound and origin policy as every route.
      useBodyLimit(maxBodyBytes), useOriginPolicy(origins), useGatewayRoutes({ '/health': () => live.health(), [JWKS_PATH]: () => tokens.jwks() }), useReadyRoute(readiness), useMetricsRoute(options.metricsToken ? { token: options.metricsToken } : {}), ...authPlugins, useAuditExport(auditSender), ...useProtection(protection, rateLimit),
      // Discovery and object metadata: after the rate limit (a REST route costs a request like any other).
      useMetaRoutes({
        graphqlEndpoint, sources: () => current().table.sources, health: () => live.health(), authPath: objectos?.identity ? AUTH_BASE_PATH : null,
        auditExportPath: AUDIT_EXPORT_PATH, metrics: Boolean(options.metricsToken), introspection: protection.introspection ?? PROTECTION_DEFAULTS.introspection,
      }),
      useFieldAccess(() => current().table), useLiveAccess(access), streams.plugin,
      // The planned executor first: the one hop, when it applies, replaces it (the last executeFn set wins).
      useQueryPlan(() => current().planned),
      ...(options.singleHop === false ? [useAtomicRefused()] : [useSingleHop({ owned: () => current().owned, ...hop, local: reads })]),
      useDenialAudit(denials, trustProxy),
      useCorrelatedErrors({ logger, classify: classifyGatewayError }),
      // Last: it picks the result processor after yoga's own (WebSocket operations take their results as texts).
      useResultHandoff(),
    ],
    context: ({ request, ...server }) => ({
      principal: principalOfRequest(request),
      client: { ip: clientAddress(request, server, trustProxy) ?? null, userAgent: request.headers.get('user-agent') },
    }),
  });
  api.Request = yoga.fetchAPI.Request;
  readiness.register('subgraphs', subgraphsCheck(() => live.health()));
  if (!options.readiness) readiness.started();
  return {
    get supergraphSdl() {
      return live.supergraphSdl;
    },
    get schema() {
      return current().schema;
    },
    get security() {
      return { table: current().table, shield: current().shield };
    },
    yoga,
    fetch: (request, serverContext = {}) => Promise.resolve(yoga.fetch(request, serverContext)),
    principals,
    denials,
    access,
    origins,
    graphqlEndpoint,
    allowAnonymous: modeAuth.allowAnonymous,
    bearer: auth.mode === 'jwt' ? 'jwt' : 'bearer',
    streams,
    limits: { maxBodyBytes },
    health: () => live.health(),
    readiness,
    refresh: () => live.refresh(),
    // Senders of their own: the old routing's keep calling the old instances while its requests finish.
    replaceSubgraphs: (subgraphs) => {
      const make = createSenders({ secret, tokens, api });
      return live.replace(subgraphs.map((s) => ({ sender: senderFor(make, s), ...(s.sdl !== undefined ? { sdl: s.sdl } : {}) })));
    },
    dispose: close,
  };
}
