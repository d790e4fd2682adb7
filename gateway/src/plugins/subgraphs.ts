import { createAuditSubgraph, type AuditSubgraph } from '@objectos/audit-subgraph';
import { createAutomationSubgraph, type AutomationSubgraph, type JobRuntime } from '@objectos/automation-subgraph';
import { createDataSubgraph, type DataSubgraph } from '@objectos/data-subgraph';
import { queryRows, type Database } from '@objectos/db';
import { sql } from 'drizzle-orm';
import type { ChangeFeed, EventBus } from '@objectos/events';
import { createIdentitySubgraph, securityNamesOf, type IdentitySubgraph, type IdentitySubgraphOptions } from '@objectos/identity-subgraph';
import { pluginManifest, type Kernel, type Plugin, type PluginSecurityManifest } from '@objectos/kernel';
import type { MetadataModel } from '@objectos/metadata';
import { combinedSource, createMetricsSubgraph, kernelSource, remoteSource, type MetricsSubgraph, type RemoteProcess } from '@objectos/metrics-subgraph';
import type { Notifier } from '@objectos/notifications';
import type { Readiness } from '@objectos/observability';
import type { CompiledSchema } from '@objectos/schema';
import { createFlowRuntime, createWorkflowSubgraph, registerApprovalHandlers, type FlowRuntime, type WorkflowSubgraph } from '@objectos/workflow-subgraph';
import type { TargetAllowance } from '@objectos/notifications';
import type { SubgraphSource } from '../create-gateway.ts';
import { OBJECTOS_VERSION, type QueueRegistrar } from './core.ts';

const GRAPHQL_SUBGRAPH = 'com.objectos.protocol.graphql-federation-subgraph.v2';

/**
 * An outbox's health: the age of its oldest row not yet moved on. Past 30 s its relay is behind
 * (warning: the process is degraded), past 5 minutes it is not working (failed).
 */
async function outboxCheck(db: Database, name: string, oldest: ReturnType<typeof sql>): Promise<{ name: string; status: 'passed' | 'warning' | 'failed'; message: string }> {
  const [row] = await queryRows<{ lag: number | string | null }>(db.db, sql`select extract(epoch from now() - (${oldest}))::float8 as lag`);
  const lag = Math.max(0, Number(row?.lag ?? 0) || 0);
  return { name, status: lag > 300 ? 'failed' : lag > 30 ? 'warning' : 'passed', message: lag ? `oldest unpublished change ${lag.toFixed(1)} s old` : 'nothing waiting' };
}
const internal = (name: string) => `http://${name}.objectos.internal/graphql`;

/** Where data writes of rules, transitions and flows go: the in-process data subgraph, or DATA_URL. */
export interface DataRoute {
  fetch: (request: Request) => Promise<Response>;
  url: string;
}

/** Runs user code (sandboxed scripts) and calls the network (webhooks, connectors): said in its manifest. */
const userCodeSecurity = (what: string): Omit<PluginSecurityManifest, 'pluginId'> => ({
  trustLevel: 'verified',
  permissions: {
    permissions: [
      { resource: 'code.execute', actions: ['execute'], scope: 'QuickJS sandbox (packages/sandbox): no process, require or fetch; memory and time bounded', description: `${what} scripts` },
      { resource: 'network.http', actions: ['send'], scope: 'public addresses only unless OBJECTOS_WEBHOOK_ALLOW; SSRF guard on every hop', description: `${what} http calls and connectors` },
      { resource: 'data.record', actions: ['create', 'read', 'update', 'delete'], scope: 'through the data subgraph, as the runtime or as the running user', description: 'record actions' },
    ],
    defaultGrant: 'deny',
  },
  sandbox: { enabled: true, level: 'strict', description: 'scripts run in a worker thread with QuickJS' },
  policy: { networkAllowList: 'OBJECTOS_WEBHOOK_ALLOW' },
});

export function identityPlugin(options: Omit<IdentitySubgraphOptions, 'database' | 'bus' | 'notifier' | 'security'> & { model: MetadataModel }): Plugin {
  let identity: IdentitySubgraph | null = null;
  return {
    name: 'identity', version: OBJECTOS_VERSION,
    manifest: pluginManifest({
      name: 'identity', version: OBJECTOS_VERSION, implements: [GRAPHQL_SUBGRAPH, 'com.objectos.protocol.better-auth.v1'],
      provides: [{ id: 'com.objectos.subgraph.identity', name: 'identity', methods: ['resolve'], events: ['auth.login', 'auth.logout', 'auth.session_revoked'] }],
      requires: ['database', 'events', { pluginId: 'notifications', optional: true }],
    }),
    async start(ctx) {
      const { model, ...rest } = options;
      const notifier = ctx.getOptionalService<Notifier>('notifier');
      identity = await createIdentitySubgraph({
        ...rest, security: securityNamesOf(model.security), database: ctx.getService<Database>('database'), bus: ctx.getService<EventBus>('bus'), ...(notifier ? { notifier } : {}),
      });
      ctx.registerService('identity', identity);
      ctx.registerService<SubgraphSource>('subgraph:identity', { name: 'identity', url: internal('identity'), sdl: identity.sdl, fetch: identity.fetch });
    },
    destroy: () => identity?.dispose(),
  };
}

export function dataPlugin(options: { compiled: CompiledSchema; secret: string; seed: boolean }): Plugin {
  let data: DataSubgraph | null = null;
  let database: Database | null = null;
  return {
    name: 'data', version: OBJECTOS_VERSION,
    manifest: pluginManifest({
      name: 'data', version: OBJECTOS_VERSION, implements: [GRAPHQL_SUBGRAPH],
      provides: [{ id: 'com.objectos.subgraph.data', name: 'data', methods: ['find', 'create', 'update', 'delete'], events: ['record.created', 'record.updated', 'record.deleted'] }],
      requires: ['database', 'realtime', { pluginId: 'identity', optional: true }],
    }),
    async start(ctx) {
      const org = ctx.getOptionalService<IdentitySubgraph>('identity')?.demo?.organizationId;
      data = await createDataSubgraph({
        metadata: options.compiled, database: ctx.getService<Database>('database'), secret: options.secret,
        seed: options.seed && Boolean(org), changeFeed: ctx.getService<ChangeFeed>('changeFeed'), ...(org ? { seedOrganizationId: org } : {}),
      });
      ctx.registerService('data', data);
      database = ctx.getService<Database>('database');
      ctx.registerService<SubgraphSource>('subgraph:data', { name: 'data', url: internal('data'), sdl: data.sdl, fetch: data.fetch, ...(data.readCompiled ? { readCompiled: data.readCompiled } : {}) });
    },
    // The change outbox's relay: what is committed reaches subscriptions, the audit trail and the rules.
    healthCheck: async () => ({ checks: [await outboxCheck(database!, 'outbox relay', sql`select created_at from events.outbox where published_at is null order by id limit 1`)] }),
    destroy: () => data?.dispose(),
  };
}

export function auditPlugin(options: { compiled: CompiledSchema; secret: string }): Plugin {
  let audit: AuditSubgraph | null = null;
  return {
    name: 'audit', version: OBJECTOS_VERSION,
    manifest: pluginManifest({
      name: 'audit', version: OBJECTOS_VERSION, implements: [GRAPHQL_SUBGRAPH],
      provides: [{ id: 'com.objectos.subgraph.audit', name: 'audit', methods: ['record', 'query', 'export', 'verify'] }],
      requires: ['database', 'events', 'realtime'],
    }),
    async start(ctx) {
      audit = await createAuditSubgraph({ database: ctx.getService<Database>('database'), secret: options.secret, metadata: options.compiled, bus: ctx.getService<EventBus>('bus'), changeFeed: ctx.getService<ChangeFeed>('changeFeed') });
      ctx.registerService('audit', audit);
      ctx.registerService<SubgraphSource>('subgraph:audit', { name: 'audit', url: internal('audit'), sdl: audit.sdl, fetch: audit.fetch });
    },
    destroy: () => audit?.dispose(),
  };
}

export function automationPlugin(options: { compiled: CompiledSchema; secret: string }): Plugin {
  let automation: AutomationSubgraph | null = null;
  return {
    name: 'automation', version: OBJECTOS_VERSION,
    manifest: pluginManifest({
      name: 'automation', version: OBJECTOS_VERSION, implements: [GRAPHQL_SUBGRAPH],
      provides: [{ id: 'com.objectos.subgraph.automation', name: 'automation', methods: ['automationRules', 'jobRuns', 'retryJob', 'replayDeadLetter'] }],
      requires: ['database', 'jobs'],
      security: userCodeSecurity('workflow rule'),
    }),
    start(ctx) {
      automation = createAutomationSubgraph({ secret: options.secret, database: ctx.getService<Database>('database'), compiled: options.compiled, runtime: ctx.getService<JobRuntime>('jobs') });
      ctx.registerService('automation', automation);
      ctx.registerService<SubgraphSource>('subgraph:automation', { name: 'automation', url: internal('automation'), sdl: automation.sdl, fetch: automation.fetch });
    },
  };
}

/**
 * `workflow`: state machines, approvals and flows. At `init` it adds its job handlers (flows,
 * approval escalations) to the queue, which starts later in the jobs plugin's `start`.
 */
export function workflowPlugin(options: { compiled: CompiledSchema; secret: string; data: DataRoute; redisUrl?: string; allow?: TargetAllowance; now?: () => number }): Plugin {
  let workflow: WorkflowSubgraph | null = null;
  let flows: FlowRuntime | null = null;
  const { model } = options.compiled;
  return {
    name: 'workflow', version: OBJECTOS_VERSION,
    manifest: pluginManifest({
      name: 'workflow', version: OBJECTOS_VERSION, implements: [GRAPHQL_SUBGRAPH],
      provides: [{ id: 'com.objectos.subgraph.workflow', name: 'workflow', methods: ['transition', 'approve', 'reject', 'startFlow'] }],
      requires: ['database', 'jobs', { pluginId: 'data', optional: true }],
      security: userCodeSecurity('flow'),
    }),
    init(ctx) {
      const registrars = ctx.getService<QueueRegistrar[]>('jobs.registrars');
      registrars.push((queue) => {
        if (model.flows.length > 0) {
          flows = createFlowRuntime({ db: ctx.getService<Database>('database').db, compiled: options.compiled, data: options.data, secret: options.secret, ...(options.allow ? { allow: options.allow } : {}) });
          flows.register(queue);
        }
        if (model.approvals.length > 0) registerApprovalHandlers(queue, () => {
          if (!workflow?.approvals) throw new Error('the workflow subgraph is not started yet');
          return workflow.approvals;
        });
      });
    },
    async start(ctx) {
      workflow = await createWorkflowSubgraph({
        secret: options.secret, database: ctx.getService<Database>('database'), compiled: options.compiled, data: options.data, queue: ctx.getService<JobRuntime>('jobs').queue,
        ...(flows ? { flows } : {}), ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}), ...(options.now ? { now: options.now } : {}),
      });
      ctx.registerService('workflow', workflow);
      if (flows) ctx.registerService('flows', flows);
      ctx.registerService<SubgraphSource>('subgraph:workflow', { name: 'workflow', url: internal('workflow'), sdl: workflow.sdl, fetch: workflow.fetch });
    },
    async destroy() {
      await workflow?.close();
      await flows?.close();
    },
  };
}

/**
 * `metrics`: health, metrics and the startup report as GraphQL. Optional: the process serves without
 * it (degraded), since nothing else depends on it.
 */
export function metricsPlugin(options: { compiled: CompiledSchema; secret: string; kernel: () => Kernel; readiness: Readiness; remote?: RemoteProcess[] }): Plugin {
  let metrics: MetricsSubgraph | null = null;
  return {
    name: 'metrics', version: OBJECTOS_VERSION, optional: true,
    manifest: pluginManifest({
      name: 'metrics', version: OBJECTOS_VERSION, implements: [GRAPHQL_SUBGRAPH, 'com.objectos.protocol.prometheus-exposition.v1'],
      provides: [{ id: 'com.objectos.subgraph.metrics', name: 'metrics', methods: ['health', 'metrics', 'startupReport'] }],
    }),
    start(ctx) {
      const local = kernelSource(options.kernel(), 'objectos', options.readiness);
      const source = options.remote?.length ? combinedSource([local, remoteSource(options.remote)]) : local;
      metrics = createMetricsSubgraph({ secret: options.secret, compiled: options.compiled, source });
      ctx.registerService('metrics', metrics);
      ctx.registerService<SubgraphSource>('subgraph:metrics', { name: 'metrics', url: internal('metrics'), sdl: metrics.sdl, fetch: metrics.fetch });
    },
  };
}
