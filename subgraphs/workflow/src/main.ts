import { createServerAdapter } from '@whatwg-node/server';
import { deliveryConfigFromEnv, runtimeFromEnv } from '@objectos/automation-subgraph';
import { pingDatabase } from '@objectos/db';
import { registerRedisProbe } from '@objectos/events';
import { createLogger, listenWithProbes } from '@objectos/observability';
import { createReplayStore } from '@objectos/principal';
import { compile } from '@objectos/schema';
import { createWorkflowSubgraph } from './create-workflow-subgraph.ts';
import { createFlowRuntime, type FlowRuntime } from './flows/flow-runtime.ts';
import { registerApprovalHandlers } from './approvals/runtime.ts';
import type { Approvals } from './approvals/engine.ts';

/**
 * Runs the workflow subgraph as its own process (services mode): PORT (4006), HOST, DATA_URL (the data
 * subgraph, where state changes are written), OBJECTOS_NAME_PREFIX, and the job runtime's environment
 * (DATABASE_URL, REDIS_URL, OBJECTOS_SECRET, OBJECTOS_METADATA): it queues transitions' actions, which
 * the automation workers run. It runs flows itself: their queues (`workflow.flow`, `workflow.flow_start`)
 * are worked here, with OBJECTOS_WEBHOOK_ALLOW and connector secrets for http and connector nodes.
 */
async function main(): Promise<void> {
  const port = Number(process.env['PORT'] ?? 4006);
  const host = process.env['HOST'] ?? '127.0.0.1';
  const dataUrl = process.env['DATA_URL'];
  if (!dataUrl) throw new Error('DATA_URL is required: state changes are written through the data subgraph');
  const { readiness, probes, server } = await listenWithProbes(port, host);
  const redisProbe = registerRedisProbe(readiness, process.env['REDIS_URL'] || undefined);
  const prefix = process.env['OBJECTOS_NAME_PREFIX'];
  const secret = process.env['OBJECTOS_SECRET']!;
  const data = { fetch: (r: Request) => fetch(r), url: dataUrl };
  // Made while the job runtime starts (its queue must know the flow queues before it starts).
  const made: { flows: FlowRuntime | null; compiled: ReturnType<typeof compile> | null; approvals: Approvals | null } = { flows: null, compiled: null, approvals: null };
  const { runtime, database, model, close } = await runtimeFromEnv(false, process.env, {
    register(queue, opened) {
      made.compiled = compile(opened.model, prefix ? { namePrefix: prefix } : {});
      // Approval escalations are worked here too, once the subgraph below is made.
      if (opened.model.approvals.length > 0) registerApprovalHandlers(queue, () => {
        if (!made.approvals) throw new Error('the workflow subgraph is not started yet');
        return made.approvals;
      });
      if (opened.model.flows.length === 0) return;
      const allow = deliveryConfigFromEnv(process.env).allow;
      made.flows = createFlowRuntime({ db: opened.database.db, compiled: made.compiled, data, secret, ...(allow ? { allow } : {}) });
      made.flows.register(queue);
    },
  });
  const compiled = made.compiled ?? compile(model, prefix ? { namePrefix: prefix } : {});
  const replayLog = createLogger('principal-guard');
  const replay = createReplayStore(process.env['REDIS_URL'] || undefined, { onError: (e) => replayLog.warn({ err: e.message }, 'signature replay store unavailable: single use checked in this process only') });
  await replay.ready;
  const flowRuntime = made.flows;
  const workflow = await createWorkflowSubgraph({
    secret, database, compiled, queue: runtime.queue, replay, data, ...(flowRuntime ? { flows: flowRuntime } : {}),
    ...(process.env['REDIS_URL'] ? { redisUrl: process.env['REDIS_URL'] } : {}),
  });
  made.approvals = workflow.approvals;
  readiness.register('database', () => pingDatabase(database));
  probes.serve(createServerAdapter(workflow.fetch));
  readiness.started();
  console.log(`workflow subgraph listening on http://${host}:${(server.address() as { port: number }).port}/graphql`);
  const stop = () => {
    readiness.stopping();
    server.close(() => void workflow.close().then(() => flowRuntime?.close()).then(close).then(() => replay.close()).then(() => redisProbe?.close()).then(() => process.exit(0)));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  console.error(`workflow subgraph failed to start:\n${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
