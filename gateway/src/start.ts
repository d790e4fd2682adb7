import type { Server } from 'node:http';
import type { AuditSubgraph } from '@objectos/audit-subgraph';
import type { AutomationSubgraph, JobRuntime } from '@objectos/automation-subgraph';
import type { DataSubgraph } from '@objectos/data-subgraph';
import { databasePlugin } from '@objectos/db';
import { eventsPlugin, realtimePlugin, redisProbePlugin } from '@objectos/events';
import type { IdentitySubgraph } from '@objectos/identity-subgraph';
import { createKernel, type Kernel } from '@objectos/kernel';
import { loadMetadata } from '@objectos/metadata';
import type { MetricsSubgraph } from '@objectos/metrics-subgraph';
import { createLogger, createReadiness } from '@objectos/observability';
import { compile, hasWorkflow } from '@objectos/schema';
import type { FlowRuntime, WorkflowSubgraph } from '@objectos/workflow-subgraph';
import type { ObjectOSConfig } from './config.ts';
import type { Gateway } from './create-gateway.ts';
import { resolveSecret } from './secret.ts';
import { hotReloadPlugin, RELOADED, type HotReload } from './dev/hot-reload.ts';
import type { Reloadable } from './dev/reloadable.ts';
import type { Realtime } from './realtime/ws-server.ts';
import type { Serving } from './serve.ts';
import { jobsPlugin, notificationsPlugin } from './plugins/core.ts';
import { gatewayPlugin } from './plugins/gateway.ts';
import { auditPlugin, automationPlugin, dataPlugin, identityPlugin, metricsPlugin, workflowPlugin } from './plugins/subgraphs.ts';

export interface RunningObjectOS {
  url: string;
  gateway: Gateway;
  data: DataSubgraph | null;
  identity: IdentitySubgraph | null;
  audit: AuditSubgraph | null;
  automation: AutomationSubgraph | null;
  /** Record state machines and flows (when the metadata has any). */
  workflow: WorkflowSubgraph | null;
  /** Flow execution in this process (when the metadata has flows and the workflow subgraph runs here). */
  flows: FlowRuntime | null;
  /** The queue, notifications and schedules of this process (embedded mode). */
  jobs: JobRuntime | null;
  /** Health, metrics and the startup report as GraphQL (null when it failed to start: degraded). */
  metrics: MetricsSubgraph | null;
  /** The plugin kernel: every component above is a plugin of it (startup report, health). */
  kernel: Kernel;
  /** Development: the metadata folder is watched and an edit served without a restart (OBJECTOS_WATCH); else null. */
  hotReload: HotReload | null;
  server: Server;
  /** graphql-ws on the same endpoint. */
  realtime: Realtime;
  stop(): Promise<void>;
}

/** Hooks a test may give: `now`, the clock workflow rules read (see the job runtime). */
export interface StartHooks {
  now?: () => number;
}

/**
 * Starts ObjectOS as plugins of one kernel: the shared modules (database, events, realtime, jobs,
 * notifications), the subgraphs in process (unless configured as remote), metrics, and last the
 * gateway, which listens. Each starts in dependency order within its timeout; a required one failing
 * stops startup with a report naming it (KernelStartupError). Nothing listens until everything
 * composed and migrated.
 */
export async function startObjectOS(config: ObjectOSConfig, hooks: StartHooks = {}): Promise<RunningObjectOS> {
  const secret = resolveSecret(config);
  const model = await loadMetadata(config.metadataDir);
  // Compiled once for every subgraph (the same names, the same plans).
  const compiled = compile(model, config.namePrefix ? { namePrefix: config.namePrefix } : {});
  const remote = config.remoteSubgraphs;
  const embedded = !remote['data'] || !remote['identity'];
  // `/ready`: not until every plugin started; then the database, Redis and the plugins' state.
  const readiness = createReadiness();
  const kernel = createKernel({ logger: createLogger('kernel'), timeoutMs: config.pluginTimeoutMs });
  // Workflow rules, transitions and flows write through the data subgraph (in process, or remote).
  const dataUrl = remote['data'] ?? 'http://data.objectos.internal/graphql';
  // A subgraph's instance serving now: a development reload replaces them (dev/hot-reload.ts).
  const serving = <T>(name: string): T | null => kernel.getService<Reloadable<T>>(`reload:${name}`)?.current() ?? kernel.getService<T>(name) ?? null;
  const dataRoute = { fetch: (r: Request, context?: Record<string, unknown>): Promise<Response> => serving<DataSubgraph>('data')?.fetch(r, context) ?? fetch(r), url: dataUrl };
  const workflowHere = hasWorkflow(model) && !remote['workflow'];
  kernel.use(redisProbePlugin(readiness, config.redisUrl)).use(eventsPlugin(config.redisUrl)).use(realtimePlugin(config.redisUrl));
  if (embedded) {
    kernel.use(databasePlugin({ ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}), dataDir: config.dataDir, statementTimeoutMs: config.statementTimeoutMs, readiness }));
    kernel.use(jobsPlugin({
      model, secret, work: config.runJobs, delivery: config.delivery, data: dataRoute,
      ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}), ...(config.redisUrl ? { redisUrl: config.redisUrl } : {}),
      ...(config.jobsPrefix ? { prefix: config.jobsPrefix } : {}), ...(hooks.now ? { now: hooks.now } : {}),
    }));
    kernel.use(notificationsPlugin(config.delivery));
  }
  if (!remote['identity'])
    kernel.use(identityPlugin({
      model, emailOtp: config.emailOtp, ssoIssuers: config.ssoIssuers, ssoDomainVerification: config.ssoDomainVerification, social: config.social, secret, baseURL: config.publicUrl, trustedOrigins: [new URL(config.publicUrl).origin, ...config.trustedOrigins],
      policy: model.defaultPolicy, seedDemo: config.seed, operators: config.operators, impersonationMinutes: config.impersonationMinutes,
      ...(config.namePrefix ? { namePrefix: config.namePrefix } : {}),
    }));
  if (!remote['data']) kernel.use(dataPlugin({ compiled, secret, seed: config.seed, maxBulk: config.bulkMax, changeRetentionMs: config.changeRetentionHours * 3_600_000 }));
  // The audit trail with the other in-process subgraphs; remote when OBJECTOS_SUBGRAPHS names an `audit`.
  if (embedded && !remote['audit']) kernel.use(auditPlugin({ compiled, secret }));
  if (embedded && !remote['automation']) kernel.use(automationPlugin({ compiled, secret }));
  if (embedded && workflowHere)
    kernel.use(workflowPlugin({
      compiled, secret, data: dataRoute, ...(config.redisUrl ? { redisUrl: config.redisUrl } : {}),
      ...(config.delivery.allow ? { allow: config.delivery.allow } : {}), ...(hooks.now ? { now: hooks.now } : {}),
    }));
  if (!remote['metrics'])
    kernel.use(metricsPlugin({ compiled, secret, kernel: () => kernel, readiness, remote: Object.entries(remote).map(([name, url]) => ({ name, url })) }));
  // Only when every subgraph built from the metadata runs here: another process loads it itself.
  if (config.watch && RELOADED.every((name) => !remote[name]))
    kernel.use(hotReloadPlugin({
      metadataDir: config.metadataDir, model, remote, graceMs: config.subgraphTimeoutMs, stopping: () => readiness.lifecycle === 'stopping',
      ...(config.namePrefix ? { namePrefix: config.namePrefix } : {}),
    }));
  kernel.use(gatewayPlugin(config, secret, readiness));
  await kernel.bootstrap();
  // Degraded while an optional plugin (metrics) is down.
  kernel.attach(readiness);
  readiness.started();
  const service = <T>(name: string): T | null => kernel.getService<T>(name) ?? null;
  const listening = service<Serving>('serving')!;
  return {
    url: listening.url,
    gateway: service<Gateway>('gateway')!,
    get data() {
      return serving<DataSubgraph>('data');
    },
    identity: service('identity'),
    get audit() {
      return serving<AuditSubgraph>('audit');
    },
    get automation() {
      return serving<AutomationSubgraph>('automation');
    },
    get workflow() {
      return serving<WorkflowSubgraph>('workflow');
    },
    flows: service('flows'),
    jobs: service('jobs'),
    get metrics() {
      return serving<MetricsSubgraph>('metrics');
    },
    kernel,
    hotReload: service('hotReload'),
    server: listening.server,
    realtime: listening.realtime,
    async stop() {
      // Not ready from the first moment of shutdown, before anything closes.
      readiness.stopping();
      await kernel.shutdown();
    },
  };
}
