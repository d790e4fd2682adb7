import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse, type DocumentNode, type GraphQLSchema } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { loadMetadata, type MetadataModel } from '@objectos/metadata';
import { accessFor, compile, guardEntityTypes, ruleWatcher, type CompiledSchema } from '@objectos/schema';
import { connectDatabase, ensureEffectTable, ensureApprovalTables, ensureSecurityTables, ensureStateHistoryTable, type Database, type DatabaseOptions } from '@objectos/db';
import { audienceKey, CLIENT_AGENT_HEADER, CLIENT_IP_HEADER, METADATA_ENDPOINT, principalJson, principalOf, usePrincipalGuard, type Principal, type ReplayStore } from '@objectos/principal';
import type { Plugin } from 'graphql-yoga';
import { migrate, type MigrationResult } from './db/migrate.ts';
import { buildTables } from './db/tables.ts';
import type { DataSource } from './data-source.ts';
import { classifyDataError, dataError } from './errors.ts';
import { effectOf } from './effects.ts';
import { stateGuards, transitionOf } from './workflow/state-guard.ts';
import { createLogger, REQUEST_ID_HEADER, useCorrelatedErrors, useResultHandoff, type Logger } from '@objectos/observability';
import { createLoaders } from './loaders.ts';
import { useValidationWarnings } from './use-validation-warnings.ts';
import { useAtomicMutations } from './use-atomic.ts';
import { createCompiledReads } from './compiled/use-compiled-reads.ts';

import { buildResolvers, type DataContext } from './resolvers.ts';
import { seedDemoData, type SeedResult } from './seed.ts';
import { createChangeFeed, createMemoryChannel, type Channel, type ChangeFeed } from '@objectos/events';
import { createOutboxRelay, ensureOutbox, type ChangeContext, type OutboxRelay } from './events/outbox.ts';
import { createChangeHub } from './events/change-hub.ts';
import { createFanOut, type FanOut } from './events/fan-out.ts';
import { createLiveSubscriptions, handOver, serveSubscriptionAccess } from './events/access-left.ts';
import { recordRules, servedRules, type ServedRules } from './events/rule-epochs.ts';
import { createPresenceHub, type PresenceHub, type PresenceMessage } from './presence/presence-hub.ts';
import { createReadAudit, useReadAudit, type ReadAudit } from './events/read-audit.ts';
import { useSharedDeliveries, type SharedDeliveryStats } from './events/shared-deliveries.ts';

export interface DataSubgraphOptions extends DatabaseOptions {
  /** OBJECTOS_SECRET: requests must carry a principal signed with the key derived from it. */
  secret: string;
  /** A connection shared with the other in-process subgraphs (embedded mode: one PGlite). Not closed by dispose. */
  database?: Database;
  /** Organization that owns the seeded demo records (the demo account's). */
  seedOrganizationId?: string;
  /** User who owns the seeded demo records (the demo admin). */
  seedOwnerId?: string;
  /** Metadata folder, loaded model, or compiled schema. @default 'metadata' */
  metadata?: string | MetadataModel | CompiledSchema;
  /**
   * Prefix every generated GraphQL name (OBJECTOS_NAME_PREFIX), so this subgraph composes beside others
   * with their own `Account` or `accounts` (ignored when `metadata` is already compiled).
   */
  namePrefix?: string;
  /**
   * Record its access rules as served (an epoch, see events/rule-epochs.ts) when it is created: a start.
   * False: whoever builds it calls `serveRules` once it serves (a development reload, which may still
   * be refused). @default true
   */
  recordRules?: boolean;
  /** Seed demo records on first start (only into empty tables). @default false */
  seed?: boolean;
  /**
   * Answer reads of records with one SQL statement building the JSON (see compiled/); off: every
   * request runs through graphql-js resolvers (tests compare both). @default true
   */
  compiledReads?: boolean;
  /** @default 1000 */
  maxPageSize?: number;
  /** @default 100 */
  defaultPageSize?: number;
  /** Most records one bulk write may touch. @default OBJECTOS_BULK_MAX, else 1000 */
  maxBulk?: number;
  /** @default '/graphql' */
  graphqlEndpoint?: string;
  /** Show GraphiQL on GET (development). @default false */
  graphiql?: boolean;
  /** Where error log lines go (pino). @default createLogger('data') */
  logger?: Logger;
  /**
   * Where committed changes are published and read from for subscriptions: Redis pub/sub between
   * replicas (services mode). Not closed by dispose. @default in process
   */
  changeFeed?: ChangeFeed;
  /** Where replicas tell each other who is viewing which record (presence): Redis pub/sub between replicas. Not closed by dispose. @default in process */
  presenceChannel?: Channel<PresenceMessage>;
  /** How often presence is restated between replicas (a replica silent for 3 is gone). @default 10000 */
  presenceHeartbeatMs?: number;
  /** How often the outbox is swept for changes not yet published. @default 1000 */
  outboxSweepMs?: number;
  /** How long published change events are kept: how far back a subscription can replay (`after`). @default 24 h */
  changeRetentionMs?: number;
  /**
   * Where accepted gateway signatures are remembered (each is accepted once): Redis between replicas
   * (services mode). Not closed by dispose. @default in process
   */
  replay?: ReplayStore;
}

export type LocalRead = (principal: Principal, document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown> | null | undefined, requestId?: string | null) => Promise<string | null>;

export interface DataSubgraph {
  name: 'data';
  sdl: string;
  schema: GraphQLSchema;
  yoga: YogaServerInstance<Record<string, unknown>, DataContext>;
  /**
   * WHATWG fetch handler: use in-process, or mount on a node HTTP server via `yoga`. An in-process
   * caller may take a subscription's results as texts, not as an event stream (`handoff()` from
   * @objectos/observability, as `serverContext`).
   */
  fetch: (request: Request, serverContext?: Record<string, unknown>) => Promise<Response>;
  /**
   * For the gateway in the same process: a read the compiler covers, answered as response text
   * (`{"data":…}`) for this principal, or null (then call `fetch`, which words any error). The
   * document must be valid against this subgraph's schema (the gateway validated it).
   */
  readCompiled?: LocalRead;
  source: DataSource;
  database: Database;
  migration: MigrationResult;
  seeded: SeedResult | null;
  /** Publishes committed changes from the outbox. */
  relay: OutboxRelay;
  /** With AuditConfig `logReads`: the sampled reads' `data.read` events, queued without holding up the answer. */
  readAudit: Pick<ReadAudit, 'drain'> | null;
  /** Live subscriptions of this subgraph: the change hub's events fanned out to them, grouped (see createFanOut). */
  hub: FanOut;
  /** Subscription events executed and serialized (once per group, selection and principal), and deliveries that reused such a result. */
  deliveries: SharedDeliveryStats;
  /** Who is viewing which record (presence), shared with the other replicas over the presence channel. */
  presence: PresenceHub;
  /** The security model compiled from its metadata. */
  security: CompiledSchema['security'];
  /** Those rules as served: their digest, recorded as an epoch (subscribers resuming from before it are told what left their view). */
  rules: ServedRules;
  /** Records this instance's rules as served from now on (with `recordRules: false`, once it serves). */
  serveRules(): Promise<void>;
  /** What a request of this principal works on here (its organization, its access). */
  dataSourceOf(principal: Principal): DataSource;
  /**
   * A development reload replaced this instance by `next`: when the security model changed, each live
   * subscription here is told which records left its view under `next`'s rules (LEFT), then ends
   * (CONFLICT: subscribe again); otherwise they go on. How many ended.
   */
  handOver(next: DataSubgraph): Promise<number>;
  dispose(): Promise<void>;
}

/** The audit trail's actor of a write: who (and as whom), from where, in which request. */
function changeContextOf(principal: Principal, request: Request): ChangeContext {
  const h = request.headers;
  return {
    requestId: h.get(REQUEST_ID_HEADER),
    actorType: principal.kind === 'api_key' ? 'api_client' : principal.kind === 'user' ? 'user' : 'system',
    ipAddress: h.get(CLIENT_IP_HEADER),
    userAgent: h.get(CLIENT_AGENT_HEADER),
    impersonatedBy: principal.impersonatedBy,
  };
}

async function compiledFrom(m: DataSubgraphOptions['metadata'], namePrefix: string | undefined): Promise<CompiledSchema> {
  const options = namePrefix ? { namePrefix } : {};
  if (m === undefined || typeof m === 'string') return compile(await loadMetadata(m ?? 'metadata'), options);
  return 'plan' in m ? m : compile(m, options);
}

/**
 * The metadata, for the gateway only (signed system principal): it compiles the same security plan and
 * builds its graphql-shield rules from it, so one metadata folder drives both enforcement points.
 */
function serveMetadata(compiled: CompiledSchema): Plugin {
  const body = JSON.stringify({ objectos: 'metadata/1', model: compiled.model, ...(compiled.namePrefix ? { namePrefix: compiled.namePrefix } : {}) });
  return {
    onRequest({ request, url, endResponse }) {
      if (url.pathname !== METADATA_ENDPOINT) return;
      const ok = principalOf(request).kind === 'system';
      endResponse(new Response(ok ? body : JSON.stringify({ error: 'forbidden' }), { status: ok ? 200 : 403, headers: { 'content-type': 'application/json' } }));
    },
  };
}

/** The data subgraph: compiled SDL served by graphql-yoga as a Federation v2 subgraph over drizzle. */
export async function createDataSubgraph(options: DataSubgraphOptions): Promise<DataSubgraph> {
  const { seed = false, maxPageSize = 1000, defaultPageSize = 100, graphqlEndpoint = '/graphql', graphiql = false } = options;
  const maxBulk = options.maxBulk ?? Number(process.env['OBJECTOS_BULK_MAX'] ?? 1000);
  if (!Number.isInteger(maxBulk) || maxBulk < 1) throw new Error(`OBJECTOS_BULK_MAX must be a positive integer (records one bulk write may touch), got "${process.env['OBJECTOS_BULK_MAX']}"`);
  const compiled = await compiledFrom(options.metadata, options.namePrefix);
  const owned = !options.database;
  const database = options.database ?? (await connectDatabase(options));
  const key = audienceKey(options.secret, 'data');
  const logger = options.logger ?? createLogger('data');
  const feed = options.changeFeed ?? createChangeFeed();
  let relay: OutboxRelay | null = null;
  let hub: FanOut | null = null;
  const presenceChannel = options.presenceChannel ?? createMemoryChannel<PresenceMessage>();
  const presence = createPresenceHub(presenceChannel, options.presenceHeartbeatMs ? { heartbeatMs: options.presenceHeartbeatMs } : {});
  const stopEvents = async () => {
    presence.close();
    if (!options.presenceChannel) await presenceChannel.close();
    hub?.close();
    await relay?.close();
    if (!options.changeFeed) await feed.close();
  };
  try {
    const tables = buildTables(compiled.plan);
    const migration = await migrate(database.db, compiled.plan, tables);
    await ensureSecurityTables(database.db);
    await ensureOutbox(database.db);
    const rules = servedRules(compiled.namePrefix ?? '', compiled.security);
    if (options.recordRules !== false) await recordRules(database.db, rules, compiled.security);
    await ensureEffectTable(database.db);
    if (compiled.model.stateMachines.length > 0) await ensureStateHistoryTable(database.db);
    if (compiled.model.approvals.length > 0) await ensureApprovalTables(database.db);
    const watcher = ruleWatcher(compiled.model, compiled.plan);
    relay = createOutboxRelay(database.db, feed, { logger, audit: compiled.model.audit.enabled, ...(watcher ? { automation: watcher } : {}), ...(options.outboxSweepMs ? { sweepMs: options.outboxSweepMs } : {}), ...(options.changeRetentionMs ? { retentionMs: options.changeRetentionMs } : {}) });
    hub = createFanOut(database, createChangeHub(feed), compiled.plan);
    const source: DataSource = {
      db: database.db, plan: compiled.plan, tables, maxPageSize, defaultPageSize, maxBulk, tenant: null, actor: null, sc: null, changes: relay,
      stateGuards: stateGuards(compiled.model.stateMachines, compiled.plan.objects),
      approvalObjects: new Set(compiled.model.approvals.filter((a) => a.lockRecord).map((a) => a.object)),
    };
    const seeded = seed && options.seedOrganizationId
      ? await seedDemoData({ ...source, tenant: options.seedOrganizationId, actor: options.seedOwnerId ?? null })
      : null;
    const sdl = compiled.subgraphs.data.sdl;
    const accesses = new Map<string, ReturnType<typeof accessFor>>();
    const reads = options.compiledReads === false ? null : createCompiledReads(database);
    const readAudit = createReadAudit(database.db, compiled.model.audit, logger);
    // Every request works on a copy of the source confined to its principal's organization.
    const contextOf = (principal: Principal, request?: Request, extensions?: unknown): DataContext => {
      // One string per principal (computed once for a frozen one, as the guard and the gateway hand out).
      const principalKey = principalJson(principal);
      // Access depends on the principal alone: computed once per distinct principal (bounded).
      let access = accesses.get(principalKey);
      if (!access) {
        if (accesses.size >= 1_000) accesses.clear();
        accesses.set(principalKey, (access = accessFor(compiled.plan, compiled.security, principal)));
      }
      const effect = effectOf(principal, extensions);
      const transition = transitionOf(principal, extensions);
      const ds: DataSource = {
        ...source, tenant: principal.organizationId, actor: principal.userId,
        sc: { plan: compiled.plan, security: compiled.security, access, tables },
        ...(request ? { context: { ...changeContextOf(principal, request), ...(effect?.automation ? { automation: effect.automation } : {}) } } : {}),
        ...(effect ? { effect } : {}),
        ...(transition ? { transition } : {}),
      };
      return { ds, principal, principalKey, loaders: createLoaders(ds) };
    };
    const named = createLiveSubscriptions();
    const schema = guardEntityTypes(buildSubgraphSchema([{ typeDefs: parse(sdl), resolvers: buildResolvers(source, { fanOut: hub, presence, named, rules }, compiled.inflection) }]));
    const deliveries: SharedDeliveryStats = { executions: 0, reused: 0, serialized: 0 };
    const yoga = createYoga<Record<string, unknown>, DataContext>({
      schema,
      graphqlEndpoint,
      graphiql,
      landingPage: false,
      maskedErrors: false,
      // The guard reads the body of a signed request whole before anything else (an unsigned one is
      // refused unread): yoga's limiter would only wrap those bytes in a second stream.
      maxRequestBodySize: false,
      plugins: [usePrincipalGuard({ key, audience: 'data', ...(options.replay ? { replay: options.replay } : {}) }), serveMetadata(compiled), serveSubscriptionAccess(named, (p) => contextOf(p).ds), ...(readAudit ? [useReadAudit(readAudit, principalOf, (r) => r.headers.get(REQUEST_ID_HEADER))] : []), ...(reads ? [reads.plugin] : []), useValidationWarnings(), useAtomicMutations(), useSharedDeliveries((c) => (c as DataContext).principalKey ?? null, deliveries), useCorrelatedErrors({ logger, classify: classifyDataError }), useResultHandoff()],
      context: ({ request, params }) => contextOf(principalOf(request), request, params?.extensions),
    });
    return {
      name: 'data',
      sdl,
      schema,
      yoga,
      fetch: (request, serverContext) => Promise.resolve(serverContext ? yoga.fetch(request, serverContext) : yoga.fetch(request)),
      readCompiled: reads
        ? async (principal, document, operationName, variables, requestId) => {
            const text = await reads.read(contextOf(principal), { schema, document, operationName, variableValues: variables });
            // Null: the caller sends it through `fetch`, where the read audit sees it.
            if (text !== null) readAudit?.(principal, document, operationName, requestId ?? null);
            return text;
          }
        : undefined,
      source,
      database,
      migration,
      seeded,
      relay,
      readAudit,
      hub,
      deliveries,
      presence,
      security: compiled.security,
      rules,
      serveRules: () => recordRules(database.db, rules, compiled.security),
      dataSourceOf: (principal) => contextOf(principal).ds,
      async handOver(next) {
        if (next.rules.digest === rules.digest) return 0;
        return handOver(named, (p) => next.dataSourceOf(p), { rules: next.rules, end: dataError('CONFLICT',
          'The sharing and access rules this subscription ran under were replaced; records that left your view under the new ones were told (LEFT). Subscribe again, with after: the eventId of the last change you received.') });
      },
      dispose: async () => {
        // What was noted before shutdown is queued, not lost with the connection.
        await readAudit?.drain();
        await stopEvents();
        if (owned) await database.close();
      },
    };
  } catch (e) {
    await stopEvents();
    if (owned) await database.close();
    throw e;
  }
}
