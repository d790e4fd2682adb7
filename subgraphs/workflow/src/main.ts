import { createServerAdapter } from '@whatwg-node/server';
import { runtimeFromEnv } from '@objectos/automation-subgraph';
import { pingDatabase } from '@objectos/db';
import { registerRedisProbe } from '@objectos/events';
import { createLogger, listenWithProbes } from '@objectos/observability';
import { createReplayStore } from '@objectos/principal';
import { compile } from '@objectos/schema';
import { createWorkflowSubgraph } from './create-workflow-subgraph.ts';

/**
 * Runs the workflow subgraph as its own process (services mode): PORT (4006), HOST, DATA_URL (the data
 * subgraph, where state changes are written), OBJECTOS_NAME_PREFIX, and the job runtime's environment
 * (DATABASE_URL, REDIS_URL, OBJECTOS_SECRET, OBJECTOS_METADATA): it queues transitions' actions, which
 * the automation workers run.
 */
async function main(): Promise<void> {
  const port = Number(process.env['PORT'] ?? 4006);
  const host = process.env['HOST'] ?? '127.0.0.1';
  const dataUrl = process.env['DATA_URL'];
  if (!dataUrl) throw new Error('DATA_URL is required: state changes are written through the data subgraph');
  const { readiness, probes, server } = await listenWithProbes(port, host);
  const redisProbe = registerRedisProbe(readiness, process.env['REDIS_URL'] || undefined);
  const { runtime, database, model, close } = await runtimeFromEnv(false);
  const prefix = process.env['OBJECTOS_NAME_PREFIX'];
  const compiled = compile(model, prefix ? { namePrefix: prefix } : {});
  const replayLog = createLogger('principal-guard');
  const replay = createReplayStore(process.env['REDIS_URL'] || undefined, { onError: (e) => replayLog.warn({ err: e.message }, 'signature replay store unavailable: single use checked in this process only') });
  await replay.ready;
  const workflow = await createWorkflowSubgraph({
    secret: process.env['OBJECTOS_SECRET']!, database, compiled, queue: runtime.queue, replay, data: { fetch: (r: Request) => fetch(r), url: dataUrl },
  });
  readiness.register('database', () => pingDatabase(database));
  probes.serve(createServerAdapter(workflow.fetch));
  readiness.started();
  console.log(`workflow subgraph listening on http://${host}:${(server.address() as { port: number }).port}/graphql`);
  const stop = () => {
    readiness.stopping();
    server.close(() => void close().then(() => replay.close()).then(() => redisProbe?.close()).then(() => process.exit(0)));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  console.error(`workflow subgraph failed to start:\n${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
