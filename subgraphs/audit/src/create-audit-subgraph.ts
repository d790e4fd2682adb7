import { sql } from 'drizzle-orm';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph';
import { GraphQLError, parse, type GraphQLSchema } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { createRecordAccess, type ReadableIds } from '@objectos/data-subgraph';
import { connectDatabase, queryRows, type Database, type DatabaseOptions } from '@objectos/db';
import { auditEvent, ensureEventTables, nameUuid, recordAuditEvents, type AuditEvent, type ChangeFeed, type EventBus } from '@objectos/events';
import { loadMetadata, type MetadataModel } from '@objectos/metadata';
import { createLogger, REQUEST_ID_HEADER, useCorrelatedErrors, type Logger } from '@objectos/observability';
import { AUDIT_EVENTS_ENDPOINT, AUDIT_EXPORT_ENDPOINT, audienceKey, createMemoryReplayStore, principalOf, usePrincipalGuard, verifyRequest, type Principal, type ReplayStore } from '@objectos/principal';
import { accessFor, compile, guardEntityTypes, scalarResolvers, trackedObjects, type Access, type CompiledSchema } from '@objectos/schema';
import { auditScope } from './audit-access.ts';
import { createAuditCapture, type AuditCapture } from './capture.ts';
import { exportEvents, exportWhere } from './export.ts';
import { recordHistory } from './history.ts';
import { auditEvents, type AuditEventWhere } from './query.ts';
import { scheduleRetention } from './retention.ts';
import { ensureAuditTables } from './store.ts';
import { suspiciousActivity } from './suspicious.ts';
import { verifyAuditChain } from './verify.ts';

export interface AuditSubgraphOptions extends DatabaseOptions {
  /** OBJECTOS_SECRET: requests must carry a principal signed with the key derived from it. */
  secret: string;
  /** A connection shared with the other in-process subgraphs (embedded mode: one PGlite). Not closed by dispose. */
  database?: Database;
  /** Metadata folder, loaded model, or compiled schema. @default 'metadata' */
  metadata?: string | MetadataModel | CompiledSchema;
  /** Prefix of its GraphQL names, as the data subgraph's (OBJECTOS_NAME_PREFIX). */
  namePrefix?: string;
  /** Where auth events are published (account locks reach every gateway's principal cache) and heard (capture at once). */
  bus?: EventBus;
  /** Committed record changes: each one means audit events were queued (capture at once). */
  changeFeed?: ChangeFeed;
  /** How often the queue is looked at without a signal. @default 500 */
  pollMs?: number;
  /** How often the retention purge runs. @default 24 h */
  retentionIntervalMs?: number;
  replay?: ReplayStore;
  logger?: Logger;
}

export interface AuditContext {
  principal: Principal;
  requestId: string | null;
  /** Record access of this request, batched per object (field history). */
  readable: (object: string, id: string) => Promise<boolean>;
  /** The principal's access, computed once per request (not once per record of a list). */
  access: () => Access;
}

export interface AuditSubgraph {
  name: 'audit';
  sdl: string;
  schema: GraphQLSchema;
  /** `/graphql` and `/export`, both behind the gateway's signature. */
  fetch: (request: Request) => Promise<Response>;
  capture: AuditCapture;
  database: Database;
  dispose(): Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** What the gateway may send: its own refusals, well formed. */
function isDenial(e: unknown): e is AuditEvent {
  const v = e as Partial<AuditEvent> | null;
  return typeof v === 'object' && v !== null && v.eventType === 'security.access_denied' && typeof v.id === 'string' && UUID.test(v.id)
    && typeof v.timestamp === 'string' && !Number.isNaN(Date.parse(v.timestamp)) && typeof v.description === 'string'
    && typeof v.actor === 'object' && v.actor !== null && typeof v.severity === 'string' && typeof v.result === 'string';
}

async function compiledFrom(m: AuditSubgraphOptions['metadata'], namePrefix: string | undefined): Promise<CompiledSchema> {
  const options = namePrefix ? { namePrefix } : {};
  if (m === undefined || typeof m === 'string') return compile(await loadMetadata(m ?? 'metadata'), options);
  return 'plan' in m ? m : compile(m, options);
}

/** Record access asked once per object per tick: the records of one response are checked in one statement. */
function batchedReadable(readableIds: ReadableIds, principal: Principal): AuditContext['readable'] {
  const pending = new Map<string, { ids: Set<string>; result: Promise<Set<string>> }>();
  return (object, id) => {
    let batch = pending.get(object);
    if (!batch) {
      const ids = new Set<string>();
      const result = new Promise<Set<string>>((resolve, reject) => setImmediate(() => {
        pending.delete(object);
        readableIds(principal, object, [...ids]).then(resolve, reject);
      }));
      pending.set(object, (batch = { ids, result }));
    }
    batch.ids.add(id);
    return batch.result.then((s) => s.has(id));
  };
}

/** `system.config_changed` when this start's metadata differs from the last start's (once, whichever replica sees it). */
async function recordConfigChange(database: Database, compiled: CompiledSchema): Promise<void> {
  await database.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(7734016)`);
    const [prev] = await queryRows<{ value: string }>(tx, sql`select value from audit.state where key = 'metadata_hash'`);
    if (prev?.value === compiled.hash) return;
    await recordAuditEvents(tx, [auditEvent({
      id: nameUuid(`config:${prev?.value ?? ''}:${compiled.hash}`),
      eventType: 'system.config_changed',
      severity: 'notice',
      actor: { type: 'system', id: null },
      tenantId: null,
      description: prev ? `metadata changed (${prev.value.slice(0, 12)} → ${compiled.hash.slice(0, 12)})` : `metadata loaded (${compiled.hash.slice(0, 12)})`,
      details: { previousHash: prev?.value ?? null, hash: compiled.hash, objects: Object.keys(compiled.plan.objects) },
    })]);
    await tx.execute(sql`insert into audit.state (key, value) values ('metadata_hash', ${compiled.hash}) on conflict (key) do update set value = excluded.value`);
  });
}

/**
 * The audit subgraph: moves queued events into a hash-chained, append-only trail in its own schema
 * (`audit`), answers `auditEvents` and `verifyAuditChain`, adds `history` to every tracked record type
 * (extending the data subgraph's entities), streams exports, purges by retention, and reacts to
 * suspicious activity. Compiled from the same metadata as the data subgraph.
 */
export async function createAuditSubgraph(options: AuditSubgraphOptions): Promise<AuditSubgraph> {
  const compiled = await compiledFrom(options.metadata, options.namePrefix);
  const config = compiled.model.audit;
  const owned = !options.database;
  const database = options.database ?? (await connectDatabase(options));
  const logger = options.logger ?? createLogger('audit');
  const key = audienceKey(options.secret, 'audit');
  const replay = options.replay ?? createMemoryReplayStore();
  const stops: (() => unknown)[] = [];
  try {
    await ensureEventTables(database.db);
    await ensureAuditTables(database.db);
    await recordConfigChange(database, compiled);
    const authTables = (await queryRows<{ t: string | null }>(database.db, sql`select to_regclass('auth."user"')::text as t`))[0]?.t != null;
    const bus = options.bus;
    const capture = createAuditCapture({
      db: database.db,
      config,
      ...(options.pollMs ? { pollMs: options.pollMs } : {}),
      afterAppend: suspiciousActivity(config, { authTables }),
      // Locks and ended sessions end access everywhere at once: principal caches and sockets listen for them.
      onStored: (events: readonly AuditEvent[]) => { for (const e of events) if (e.actor.type === 'system' && (e.eventType === 'auth.account_locked' || e.eventType === 'auth.session_revoked')) void bus?.publish(e).catch(() => {}); },
      logger,
    });
    stops.push(() => capture.close());
    // Queued by this process or another: look shortly after the signal (the queueing transaction commits first).
    const soon = () => setTimeout(() => capture.kick(), 20).unref();
    if (options.changeFeed) stops.push(options.changeFeed.subscribe(soon));
    if (bus) stops.push(bus.subscribe('', (e) => { if (e.actor.type !== 'system') soon(); }));
    const retention = scheduleRetention(database.db, config, { ...(options.retentionIntervalMs ? { intervalMs: options.retentionIntervalMs } : {}), logger });
    stops.push(() => retention.close());

    const sdl = compiled.subgraphs.audit.sdl;
    const readableIds = createRecordAccess(database.db, compiled);
    const names = compiled.inflection;
    const entityResolvers = Object.fromEntries(trackedObjects(compiled.plan).map((p) => [p.typeName, {
      __resolveReference: (ref: { id: string }) => ({ __typename: p.typeName, id: ref.id }),
      history: async (parent: { id: string }, args: { first?: number | null; after?: string | null }, ctx: AuditContext) =>
        recordHistory(database.db, compiled, ctx.principal, ctx.access(), p.object.name, parent.id, await ctx.readable(p.object.name, parent.id), args),
    }]));
    const resolvers = {
      ...scalarResolvers,
      ...entityResolvers,
      Query: {
        [names.sharedField('auditEvents')]: (_: unknown, args: { where?: AuditEventWhere; orderBy?: string; first?: number; after?: string }, ctx: AuditContext) =>
          auditEvents(database.db, auditScope(compiled, ctx.principal, 'viewAuditLog'), args),
        [names.sharedField('verifyAuditChain')]: (_: unknown, args: { from?: Date | null; to?: Date | null }, ctx: AuditContext) =>
          verifyAuditChain(database.db, auditScope(compiled, ctx.principal, 'viewAuditLog'), args.from ?? null, args.to ?? null),
      },
    } as unknown as GraphQLResolverMap<AuditContext>;
    const schema = guardEntityTypes(buildSubgraphSchema([{ typeDefs: parse(sdl), resolvers }]));
    const yoga = createYoga<Record<string, unknown>, AuditContext>({
      schema,
      graphqlEndpoint: '/graphql',
      graphiql: false,
      landingPage: false,
      maskedErrors: false,
      maxRequestBodySize: false,
      plugins: [usePrincipalGuard({ key, audience: 'audit', replay }), useCorrelatedErrors({ logger })],
      context: ({ request }) => {
        const principal = principalOf(request);
        let access: Access | undefined;
        return {
          principal, requestId: request.headers.get(REQUEST_ID_HEADER), readable: batchedReadable(readableIds, principal),
          access: () => (access ??= accessFor(compiled.plan, compiled.security, principal)),
        };
      },
    });

    const problem = (status: number, code: string, message: string) => Response.json({ error: { code, message } }, { status });
    async function handle(request: Request): Promise<Response> {
      const url = new URL(request.url);
      if (url.pathname === '/graphql') return yoga.fetch(request);
      if (url.pathname === '/health' && request.method === 'GET') return new Response(null, { status: 200 });
      if (url.pathname === AUDIT_EXPORT_ENDPOINT && request.method === 'GET') return exportRoute(request, url);
      if (url.pathname === AUDIT_EVENTS_ENDPOINT && request.method === 'POST') return eventsRoute(request);
      return problem(404, 'NOT_FOUND', `no route ${request.method} ${url.pathname}`);
    }
    async function exportRoute(request: Request, url: URL): Promise<Response> {
      const verdict = await verifyRequest(request, key, 'audit', { replay });
      if (!verdict.ok) return problem(401, 'UNAUTHENTICATED', `Unauthorized: ${verdict.reason}`);
      const format = url.searchParams.get('format') ?? 'ndjson';
      if (format !== 'ndjson' && format !== 'csv') return problem(400, 'BAD_USER_INPUT', `format: "${format}" is not ndjson or csv`);
      try {
        const scope = auditScope(compiled, verdict.principal, 'exportAuditLog');
        const where = exportWhere(url.searchParams);
        return await exportEvents(database.db, scope, verdict.principal, format, where, request.headers.get(REQUEST_ID_HEADER));
      } catch (e) {
        if (!(e instanceof GraphQLError) && !(e instanceof Error && /^\w+: /.test(e.message))) throw e;
        const code = e instanceof GraphQLError ? String(e.extensions['code'] ?? 'BAD_USER_INPUT') : 'BAD_USER_INPUT';
        return problem(code === 'FORBIDDEN' ? 403 : 400, code, e.message);
      }
    }
    /** The gateway's aggregated denials: signed by it as the system, security.access_denied only, bounded. */
    async function eventsRoute(request: Request): Promise<Response> {
      const verdict = await verifyRequest(request, key, 'audit', { replay, consume: true });
      if (!verdict.ok) return problem(401, 'UNAUTHENTICATED', `Unauthorized: ${verdict.reason}`);
      if (verdict.principal.kind !== 'system') return problem(403, 'FORBIDDEN', 'only the gateway records events here');
      const body = verdict.body ? new TextDecoder().decode(verdict.body) : '';
      if (body.length > 2_000_000) return problem(413, 'PAYLOAD_TOO_LARGE', 'at most 2 MB of events per call');
      let events: unknown;
      try {
        events = JSON.parse(body);
      } catch {
        return problem(400, 'BAD_USER_INPUT', 'the body is not JSON');
      }
      if (!Array.isArray(events) || events.length > 1_000 || !events.every(isDenial))
        return problem(400, 'BAD_USER_INPUT', 'expected an array of at most 1000 security.access_denied events');
      await recordAuditEvents(database.db, events);
      capture.kick();
      return new Response(null, { status: 202 });
    }

    return {
      name: 'audit',
      sdl,
      schema,
      fetch: handle,
      capture,
      database,
      dispose: async () => {
        for (const stop of stops.reverse()) await stop();
        if (owned) await database.close();
      },
    };
  } catch (e) {
    for (const stop of stops.reverse()) await stop();
    if (owned) await database.close();
    throw e;
  }
}
