import type { Server } from 'node:http';
import { createDataSubgraph, type DataSubgraph } from '@objectos/data-subgraph';
import { connectDatabase, pingDatabase, type Database } from '@objectos/db';
import { createChangeFeed, createEventBus, registerRedisProbe } from '@objectos/events';
import { createReadiness } from '@objectos/observability';
import { createIdentitySubgraph, securityNamesOf, type IdentitySubgraph } from '@objectos/identity-subgraph';
import { loadMetadata } from '@objectos/metadata';
import { compile, hasWorkflow } from '@objectos/schema';
import { createAuditSubgraph, type AuditSubgraph } from '@objectos/audit-subgraph';
import { createAutomationSubgraph, createJobRuntime, type AutomationSubgraph, type JobRuntime } from '@objectos/automation-subgraph';
import { remotePrincipalResolver } from '@objectos/principal';
import { createFlowRuntime, createWorkflowSubgraph, registerApprovalHandlers, type FlowRuntime, type WorkflowSubgraph } from '@objectos/workflow-subgraph';
import type { ObjectOSConfig } from './config.ts';
import { createGateway, type Gateway, type SubgraphSource } from './create-gateway.ts';
import { resolveSecret } from './secret.ts';
import type { Realtime } from './realtime/ws-server.ts';
import { serveGateway } from './serve.ts';
import { commonGatewayOptions } from './gateway-options.ts';

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
 * Starts ObjectOS: the identity and data subgraphs in process (unless configured as remote) on one
 * database, the gateway over every subgraph, and one HTTP endpoint. Nothing listens until everything
 * composed and migrated.
 */
export async function startObjectOS(config: ObjectOSConfig, hooks: StartHooks = {}): Promise<RunningObjectOS> {
  const secret = resolveSecret(config);
  const model = await loadMetadata(config.metadataDir);
  // Compiled once for the data and audit subgraphs (the same names, the same plans).
  const compiled = compile(model, config.namePrefix ? { namePrefix: config.namePrefix } : {});
  const bus = createEventBus(config.redisUrl);
  // Committed record changes, for subscriptions (Redis between replicas in services mode).
  const changeFeed = createChangeFeed(config.redisUrl);
  const embedded = !config.remoteSubgraphs['data'] || !config.remoteSubgraphs['identity'];
  // `/ready`: not until everything below migrated, composed and listens; then the database and Redis.
  const readiness = createReadiness();
  const redisProbe = registerRedisProbe(readiness, config.redisUrl);
  let database: Database | null = null;
  let identity: IdentitySubgraph | null = null;
  let data: DataSubgraph | null = null;
  let audit: AuditSubgraph | null = null;
  let jobs: JobRuntime | null = null;
  let automation: AutomationSubgraph | null = null;
  let workflow: WorkflowSubgraph | null = null;
  let flows: FlowRuntime | null = null;
  const cleanup = async () => {
    await workflow?.close();
    await flows?.close();
    await jobs?.stop();
    await audit?.dispose();
    await data?.dispose();
    await identity?.dispose();
    await database?.close();
    await bus.close();
    await changeFeed.close();
    await redisProbe?.close();
  };
  try {
    await Promise.all([bus.ready, changeFeed.ready]);
    // One engine for every in-process subgraph: PGlite allows a single owner of its folder.
    if (embedded)
      database = await connectDatabase({
        ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : { dataDir: config.dataDir }),
        statementTimeoutMs: config.statementTimeoutMs,
      });
    if (database) readiness.register('database', () => pingDatabase(database!));
    // The queue and notifications of the in-process subgraphs (identity's mail goes through it).
    // Workflow rules write through the data subgraph (in process, made below, or remote).
    const dataUrl = config.remoteSubgraphs['data'] ?? 'http://data.objectos.internal/graphql';
    const dataFetch = (r: Request): Promise<Response> => (data ? data.fetch(r) : fetch(r));
    // The workflow subgraph runs here (unless remote), and with it flow execution: its queues are worked
    // in this process (registered before the queue starts; jobs wait until the subgraph has opened it).
    const workflowHere = hasWorkflow(model) && !config.remoteSubgraphs['workflow'];
    if (embedded && workflowHere && model.flows.length > 0)
      flows = createFlowRuntime({ db: database!.db, compiled, data: { fetch: dataFetch, url: dataUrl }, secret, ...(config.delivery.allow ? { allow: config.delivery.allow } : {}) });
    const flowRuntime = flows;
    if (embedded)
      jobs = await createJobRuntime({
        model, database: database!, secret, work: config.runJobs, delivery: config.delivery, changeFeed, data: { fetch: dataFetch, url: dataUrl },
        // Flows and approval escalations are worked here (escalations wait for the subgraph, made below).
        ...(flowRuntime || (workflowHere && model.approvals.length > 0) ? {
          register: (queue) => {
            flowRuntime?.register(queue);
            if (workflowHere && model.approvals.length > 0) registerApprovalHandlers(queue, () => {
              if (!workflow?.approvals) throw new Error('the workflow subgraph is not started yet');
              return workflow.approvals;
            });
          },
        } : {}),
        ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}), ...(config.redisUrl ? { redisUrl: config.redisUrl } : {}),
        ...(config.jobsPrefix ? { prefix: config.jobsPrefix } : {}), ...(hooks.now ? { now: hooks.now } : {}),
      });
    if (!config.remoteSubgraphs['identity'])
      identity = await createIdentitySubgraph({
        ...(jobs ? { notifier: jobs.notifier } : {}),
        emailOtp: config.emailOtp,
        database: database!,
        secret,
        baseURL: config.publicUrl,
        trustedOrigins: [new URL(config.publicUrl).origin, ...config.trustedOrigins],
        policy: model.defaultPolicy,
        security: securityNamesOf(model.security),
        bus,
        seedDemo: config.seed,
        operators: config.operators,
        impersonationMinutes: config.impersonationMinutes,
        ...(config.namePrefix ? { namePrefix: config.namePrefix } : {}),
      });
    if (!config.remoteSubgraphs['data'])
      data = await createDataSubgraph({
        metadata: compiled,
        database: database!,
        secret,
        seed: config.seed && Boolean(identity?.demo?.organizationId),
        changeFeed,
        ...(identity?.demo?.organizationId ? { seedOrganizationId: identity.demo.organizationId } : {}),
      });
    // The audit trail with the other in-process subgraphs; remote when OBJECTOS_SUBGRAPHS names an `audit`.
    if (embedded && !config.remoteSubgraphs['audit'])
      audit = await createAuditSubgraph({ database: database!, secret, metadata: compiled, bus, changeFeed });
    // The job monitor and notifications (this process delivers and fires schedules unless OBJECTOS_JOBS=off).
    if (jobs && !config.remoteSubgraphs['automation']) automation = createAutomationSubgraph({ secret, database: database!, compiled, runtime: jobs });
    // State machines and flows with the other in-process subgraphs; remote when OBJECTOS_SUBGRAPHS names a `workflow`.
    if (jobs && workflowHere)
      workflow = await createWorkflowSubgraph({
        secret, database: database!, compiled, data: { fetch: dataFetch, url: dataUrl }, queue: jobs.queue, ...(flows ? { flows } : {}),
        ...(config.redisUrl ? { redisUrl: config.redisUrl } : {}), ...(hooks.now ? { now: hooks.now } : {}),
      });
    const subgraphs: SubgraphSource[] = Object.entries(config.remoteSubgraphs).map(([name, url]) => ({ name, url }));
    if (workflow) subgraphs.unshift({ name: 'workflow', url: 'http://workflow.objectos.internal/graphql', sdl: workflow.sdl, fetch: workflow.fetch });
    if (automation) subgraphs.unshift({ name: 'automation', url: 'http://automation.objectos.internal/graphql', sdl: automation.sdl, fetch: automation.fetch });
    if (audit) subgraphs.unshift({ name: 'audit', url: 'http://audit.objectos.internal/graphql', sdl: audit.sdl, fetch: audit.fetch });
    if (data) subgraphs.unshift({ name: 'data', url: 'http://data.objectos.internal/graphql', sdl: data.sdl, fetch: data.fetch, ...(data.readCompiled ? { readCompiled: data.readCompiled } : {}) });
    if (identity) subgraphs.unshift({ name: 'identity', url: 'http://identity.objectos.internal/graphql', sdl: identity.sdl, fetch: identity.fetch });
    const identityRoute = identity
      ? { fetch: identity.fetch, baseUrl: 'http://identity.objectos.internal' }
      : { fetch: (r: Request) => fetch(r), baseUrl: new URL(config.remoteSubgraphs['identity']!).origin };
    const gateway = await createGateway({
      ...(await commonGatewayOptions(config)),
      readiness,
      subgraphs,
      auth: {
        secret,
        resolve: identity ? (c) => identity!.resolve(new Headers(c as Record<string, string>)) : remotePrincipalResolver(identityRoute, secret),
        identity: identityRoute,
        cacheTtlMs: config.authCacheMs,
        bus,
        trustProxy: config.trustProxy,
        ...(config.redisUrl ? { redisUrl: config.redisUrl } : {}),
      },
    });
    const serving = await serveGateway(gateway, config);
    readiness.started();
    return {
      url: serving.url,
      gateway,
      data,
      identity,
      audit,
      automation,
      workflow,
      flows,
      jobs,
      server: serving.server,
      realtime: serving.realtime,
      async stop() {
        // Not ready from the first moment of shutdown, before anything closes.
        readiness.stopping();
        await serving.close();
        await cleanup();
      },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
