import { createAuditSubgraph, type AuditSubgraph } from '@objectos/audit-subgraph';
import { createAutomationSubgraph, type AutomationSubgraph, type JobRuntime } from '@objectos/automation-subgraph';
import { createDataSubgraph, type DataSubgraph, type DataSubgraphOptions } from '@objectos/data-subgraph';
import { queryRows, type Database } from '@objectos/db';
import { sql } from 'drizzle-orm';
import type { ChangeFeed, EventBus } from '@objectos/events';
import { createIdentitySubgraph, securityNamesOf, type IdentitySubgraph, type IdentitySubgraphOptions, type SecurityNames } from '@objectos/identity-subgraph';
import { pluginManifest, type Kernel, type Plugin, type PluginSecurityManifest } from '@objectos/kernel';
import type { MetadataModel } from '@objectos/metadata';
import { combinedSource, createMetricsSubgraph, kernelSource, remoteSource, type MetricsSubgraph, type RemoteProcess } from '@objectos/metrics-subgraph';
import type { Notifier } from '@objectos/notifications';
import type { Readiness } from '@objectos/observability';
import type { CompiledSchema } from '@objectos/schema';
import { createFlowRuntime, createWorkflowSubgraph, registerApprovalHandlers, type FlowRuntime, type WorkflowSubgraph } from '@objectos/workflow-subgraph';
import type { TargetAllowance } from '@objectos/notifications';
import type { SubgraphSource } from '../create-gateway.ts';
import { reloadable } from '../dev/reloadable.ts';
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
      const security = securityNamesOf(model.security);
      identity = await createIdentitySubgraph({
        ...rest, security, ssoMappings: model.security.ssoMappings, groups: model.security.groups, scimMappings: model.security.scimMappings, database: ctx.getService<Database>('database'), bus: ctx.getService<EventBus>('bus'), ...(notifier ? { notifier } : {}),
      });
      ctx.registerService('identity', identity);
      ctx.registerService<SubgraphSource>('subgraph:identity', { name: 'identity', url: internal('identity'), sdl: identity.sdl, fetch: identity.fetch });
      // Read at each assignment: the development reload (dev/hot-reload.ts) puts the edited metadata's names in it.
      ctx.registerService<SecurityNames>('identity.securityNames', security);
    },
    destroy: () => identity?.dispose(),
  };
}

export function dataPlugin(options: { compiled: CompiledSchema; secret: string; seed: boolean; maxBulk?: number; changeRetentionMs?: number }): Plugin {
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
      const demo = ctx.getOptionalService<IdentitySubgraph>('identity')?.demo;
      const org = demo?.organizationId;
      // At start its access rules serve at once; a reload's instance records them once it serves (hot-reload.ts).
      const build = (compiled: CompiledSchema, seed: boolean, atStart: boolean) => createDataSubgraph({
        metadata: compiled, database: ctx.getService<Database>('database'), secret: options.secret, recordRules: atStart,
        seed: seed && Boolean(org), changeFeed: ctx.getService<ChangeFeed>('changeFeed'), presenceChannel: ctx.getService<NonNullable<DataSubgraphOptions['presenceChannel']>>('presenceChannel'), ...(org ? { seedOrganizationId: org } : {}),
        ...(demo?.userId ? { seedOwnerId: demo.userId } : {}),
        ...(options.maxBulk ? { maxBulk: options.maxBulk } : {}),
        ...(options.changeRetentionMs ? { changeRetentionMs: options.changeRetentionMs } : {}),
      });
      data = await build(options.compiled, options.seed, true);
      ctx.registerService('data', data);
      database = ctx.getService<Database>('database');
      const sourceOf = (d: DataSubgraph): SubgraphSource => ({ name: 'data', url: internal('data'), sdl: d.sdl, fetch: d.fetch, ...(d.readCompiled ? { readCompiled: d.readCompiled } : {}) });
      ctx.registerService<SubgraphSource>('subgraph:data', sourceOf(data));
      // Built again on edited metadata (dev/hot-reload.ts): migrated as here, never seeded. A retired one's
      // relay stops at once (the new one publishes with the new rules); its subscriptions keep streaming.
      ctx.registerService('reload:data', reloadable('data', { get: () => data!, set: (d) => (data = d) }, (compiled) => build(compiled, false, false), {
        source: sourceOf, dispose: (d) => d.dispose(), streams: (d) => d.hub.size(), quiesce: (d) => d.relay.close(),
      }));
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
      const build = (compiled: CompiledSchema) => createAuditSubgraph({ database: ctx.getService<Database>('database'), secret: options.secret, metadata: compiled, bus: ctx.getService<EventBus>('bus'), changeFeed: ctx.getService<ChangeFeed>('changeFeed') });
      const sourceOf = (a: AuditSubgraph): SubgraphSource => ({ name: 'audit', url: internal('audit'), sdl: a.sdl, fetch: a.fetch });
      audit = await build(options.compiled);
      ctx.registerService('audit', audit);
      ctx.registerService<SubgraphSource>('subgraph:audit', sourceOf(audit));
      ctx.registerService('reload:audit', reloadable('audit', { get: () => audit!, set: (a) => (audit = a) }, build, { source: sourceOf, dispose: (a) => a.dispose() }));
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
      const build = (compiled: CompiledSchema) => createAutomationSubgraph({ secret: options.secret, database: ctx.getService<Database>('database'), compiled, runtime: ctx.getService<JobRuntime>('jobs') });
      const sourceOf = (a: AutomationSubgraph): SubgraphSource => ({ name: 'automation', url: internal('automation'), sdl: a.sdl, fetch: a.fetch });
      automation = build(options.compiled);
      ctx.registerService('automation', automation);
      ctx.registerService<SubgraphSource>('subgraph:automation', sourceOf(automation));
      // Its API only: the job runtime it reads keeps the rules it started with.
      ctx.registerService('reload:automation', reloadable('automation', { get: () => automation!, set: (a) => (automation = a) }, build, { source: sourceOf, dispose: () => {} }));
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
      const build = (compiled: CompiledSchema) => createWorkflowSubgraph({
        secret: options.secret, database: ctx.getService<Database>('database'), compiled, data: options.data, queue: ctx.getService<JobRuntime>('jobs').queue,
        ...(flows ? { flows } : {}), ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}), ...(options.now ? { now: options.now } : {}),
      });
      const sourceOf = (w: WorkflowSubgraph): SubgraphSource => ({ name: 'workflow', url: internal('workflow'), sdl: w.sdl, fetch: w.fetch });
      workflow = await build(options.compiled);
      ctx.registerService('workflow', workflow);
      if (flows) ctx.registerService('flows', flows);
      ctx.registerService<SubgraphSource>('subgraph:workflow', sourceOf(workflow));
      // The flow runtime registered on the queue at init stays: flows run as they were at start.
      ctx.registerService('reload:workflow', reloadable('workflow', { get: () => workflow!, set: (w) => (workflow = w) }, build, { source: sourceOf, dispose: (w) => w.close() }));
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
      const build = (compiled: CompiledSchema) => createMetricsSubgraph({ secret: options.secret, compiled, source });
      const sourceOf = (m: MetricsSubgraph): SubgraphSource => ({ name: 'metrics', url: internal('metrics'), sdl: m.sdl, fetch: m.fetch });
      metrics = build(options.compiled);
      ctx.registerService('metrics', metrics);
      ctx.registerService<SubgraphSource>('subgraph:metrics', sourceOf(metrics));
      ctx.registerService('reload:metrics', reloadable('metrics', { get: () => metrics!, set: (m) => (metrics = m) }, build, { source: sourceOf, dispose: () => {} }));
    },
  };
}
