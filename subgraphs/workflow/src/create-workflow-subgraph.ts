import { buildSubgraphSchema, type GraphQLResolverMap } from '@apollo/subgraph';
import { sql } from 'drizzle-orm';
import { parse, type GraphQLSchema } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { createDataClient, queueStateActions } from '@objectos/automation-subgraph';
import { ensureApprovalTables, ensureStateHistoryTable, queryRows, type Database } from '@objectos/db';
import { createChannel, type Channel } from '@objectos/events';
import type { JobQueue } from '@objectos/jobs';
import { createLogger, useCorrelatedErrors, type Logger } from '@objectos/observability';
import { audienceKey, createMemoryReplayStore, principalOf, usePrincipalGuard, type Principal, type ReplayStore } from '@objectos/principal';
import { governedObjects, guardEntityTypes, scalarResolvers, workflowSdl, type CompiledSchema } from '@objectos/schema';
import { createTransitions, member, workflowError } from './transitions.ts';
import { flowResolvers } from './flows/flow-resolvers.ts';
import { createApprovals, type ApprovalChange, type Approvals } from './approvals/engine.ts';
import { approvalResolvers } from './approvals/resolvers.ts';
import { createFlowRuntime, type FlowRuntime } from './flows/flow-runtime.ts';

export interface WorkflowSubgraphOptions {
  /** OBJECTOS_SECRET: requests must carry a principal signed with the key derived from it. */
  secret: string;
  database: Database;
  /** The same compiled metadata as the data subgraph. */
  compiled: CompiledSchema;
  /** Where state changes are written and records read: the data subgraph's in-process fetch, or DATA_URL. */
  data: { fetch: (request: Request) => Promise<Response>; url: string };
  /** Where a transition's actions are queued (the automation workers run them). */
  queue: JobQueue;
  replay?: ReplayStore;
  logger?: Logger;
  /**
   * Flow execution, needed when the metadata has flows: registered on this process's job queue (see
   * createFlowRuntime); opened here, once the data subgraph its record nodes write through answers.
   */
  flows?: FlowRuntime;
  /** Redis, when set: a change of someone's pending approvals reaches their subscription on every replica. */
  redisUrl?: string;
  /** The clock approvals' due times are read on (tests inject one). @default Date.now */
  now?: () => number;
  /** How often due escalations the delayed jobs have not run are looked for. @default 5000 */
  escalationSweepMs?: number;
}

export interface WorkflowSubgraph {
  name: 'workflow';
  sdl: string;
  schema: GraphQLSchema;
  fetch: (request: Request) => Promise<Response>;
  /** Approval processes (null without any): the escalation job's handler calls it. */
  approvals: Approvals | null;
  close(): Promise<void>;
}

interface Ctx {
  principal: Principal;
}

interface HistoryRow { id: string; machine: string; event: string; from_state: string; to_state: string; actor_id: string | null; comment: string | null; created_at: Date }

/**
 * The workflow subgraph: record state machines from metadata. A governed record's state field changes
 * only through `transition` (the data subgraph refuses any other write of it), whose guards are checked
 * here, and whose actions the automation workers run once it has committed.
 */
export async function createWorkflowSubgraph(o: WorkflowSubgraphOptions): Promise<WorkflowSubgraph> {
  const compiled = o.compiled;
  const model = compiled.model;
  const logger = o.logger ?? createLogger('workflow');
  const F = (n: string) => compiled.inflection.sharedField(n);
  await ensureStateHistoryTable(o.database.db);
  const data = createDataClient({ plan: compiled.plan, security: compiled.security, fetch: o.data.fetch, url: o.data.url, secret: o.secret, db: o.database.db });
  const transitions = createTransitions({ compiled, data });
  const sdl = workflowSdl(compiled);
  if (model.flows.length > 0 && !o.flows) throw new Error('the metadata has flows: the workflow subgraph needs the flow runtime registered on the job queue (createFlowRuntime)');
  // Without flows, an idle one: the flow API answers (no flows, no runs) and nothing is registered.
  const flowRuntime = o.flows ?? createFlowRuntime({ db: o.database.db, compiled, data: o.data, secret: o.secret });
  await flowRuntime.open();
  const flows = flowResolvers(flowRuntime, compiled);
  // Approval processes: their tables, the live list's channel, and a sweep for escalations the delayed jobs have not run.
  let approvals: Approvals | null = null;
  let approvalApi: ReturnType<typeof approvalResolvers> | null = null;
  let changes: Channel<ApprovalChange> | null = null;
  let sweep: NodeJS.Timeout | null = null;
  if (model.approvals.length > 0) {
    await ensureApprovalTables(o.database.db);
    changes = createChannel<ApprovalChange>('objectos:approvals', o.redisUrl);
    await changes.ready;
    approvals = createApprovals({ compiled, db: o.database.db, data, queue: o.queue, changes, ...(o.now ? { now: o.now } : {}) });
    approvalApi = approvalResolvers({ approvals, compiled, db: o.database.db, data, changes });
    if (model.approvals.some((a) => a.escalation)) {
      const engine = approvals;
      sweep = setInterval(() => void engine.sweepEscalations().catch((e: unknown) => logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'escalation sweep failed')), o.escalationSweepMs ?? 5_000);
      sweep.unref();
    }
  }
  const rename = (fields: Record<string, unknown>) => Object.fromEntries(Object.entries(fields).map(([k, v]) => [F(k), v]));

  const entities = Object.fromEntries(governedObjects(compiled.plan, model).map((p) => [p.typeName, {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    workflowState: (ref: { id: string }, _: unknown, ctx: Ctx) => transitions.state(ctx.principal, p.object.name, ref.id),
  }]));

  const resolvers = {
    ...scalarResolvers,
    ...entities,
    ...flows.types,
    ...(approvalApi ? { Subscription: approvalApi.Subscription } : {}),
    Query: {
      ...rename(flows.Query),
      ...approvalApi?.Query,
      [F('stateMachines')]: (_: unknown, __: unknown, ctx: Ctx) => {
        member(ctx.principal);
        return model.stateMachines.map((m) => ({ ...m, states: m.states.map((s) => ({ ...s })), transitions: m.transitions.map((t) => ({ ...t })) }));
      },
      [F('workflowHistory')]: async (_: unknown, a: { object: string; id: string }, ctx: Ctx) => {
        transitions.machineFor(a.object);
        // Only for a record the caller can read (another tenant's, or a hidden one, is "not found").
        if (!(await transitions.state(ctx.principal, a.object, a.id))) throw workflowError('NOT_FOUND', `No ${a.object} with id "${a.id}" that you can read`);
        const rows = await queryRows<HistoryRow>(o.database.db, sql`select id, machine, event, from_state, to_state, actor_id, comment, created_at from workflow.state_history
          where organization_id = ${ctx.principal.organizationId} and object = ${a.object} and record_id = ${a.id}::uuid order by seq`);
        return rows.map((r) => ({ id: r.id, machine: r.machine, event: r.event, from: r.from_state, to: r.to_state, actorId: r.actor_id, comment: r.comment, createdAt: new Date(r.created_at) }));
      },
    },
    Mutation: {
      ...rename(flows.Mutation),
      ...approvalApi?.Mutation,
      [F('transition')]: async (_: unknown, a: { object: string; id: string; event: string; comment?: string | null }, ctx: Ctx) => {
        const taken = await transitions.take(ctx.principal, a.object, a.id, a.event, a.comment ?? null);
        const { org } = member(ctx.principal);
        const m = transitions.machineFor(a.object);
        // Committed: the actions are queued now (a crash here leaves them to the workers' sweep).
        await queueStateActions(o.database.db, o.queue, model, { id: taken.historyId, org, machine: m.name, event: taken.event, from: taken.from, to: taken.to, object: a.object, recordId: a.id, actorId: ctx.principal.userId })
          .catch((e: unknown) => logger.warn({ err: e instanceof Error ? e.message : String(e), transition: taken.historyId }, 'transition actions not queued yet: the sweep will'));
        const state = await transitions.state(ctx.principal, a.object, a.id);
        return { id: taken.historyId, object: a.object, recordId: a.id, event: taken.event, from: taken.from, to: taken.to, state };
      },
    },
  } as unknown as GraphQLResolverMap<Ctx>;

  const schema = guardEntityTypes(buildSubgraphSchema([{ typeDefs: parse(sdl), resolvers }]));
  const yoga = createYoga<Record<string, unknown>, Ctx>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: false,
    landingPage: false,
    maskedErrors: false,
    maxRequestBodySize: false,
    plugins: [usePrincipalGuard({ key: audienceKey(o.secret, 'workflow'), audience: 'workflow', replay: o.replay ?? createMemoryReplayStore() }), useCorrelatedErrors({ logger })],
    context: ({ request }) => ({ principal: principalOf(request) }),
  });
  return {
    name: 'workflow',
    sdl,
    schema,
    approvals,
    async close() {
      if (sweep) clearInterval(sweep);
      await changes?.close();
    },
    async fetch(request) {
      const url = new URL(request.url);
      if (url.pathname === '/graphql') return yoga.fetch(request);
      return Response.json({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${url.pathname}` } }, { status: 404 });
    },
  };
}
