import { createServerAdapter } from '@whatwg-node/server';
import { pingDatabase } from '@objectos/db';
import { registerRedisProbe } from '@objectos/events';
import { createLogger, listenWithProbes } from '@objectos/observability';
import { createReplayStore } from '@objectos/principal';
import { compile } from '@objectos/schema';
import { createAutomationSubgraph } from './create-automation-subgraph.ts';
import { runtimeFromEnv } from './process-env.ts';

/**
 * Runs the automation subgraph as its own process (services mode): the job monitor and notifications
 * API. PORT (4004), HOST, OBJECTOS_NAME_PREFIX, and the environment of `runtimeFromEnv`. It sends and
 * monitors only: workers (`worker.ts`) deliver and fire schedules.
 */
async function main(): Promise<void> {
  const port = Number(process.env['PORT'] ?? 4004);
  const host = process.env['HOST'] ?? '127.0.0.1';
  // Listens at once: `/health` answers while it migrates, `/ready` only once started (see readiness).
  const { readiness, probes, server } = await listenWithProbes(port, host);
  const redisProbe = registerRedisProbe(readiness, process.env['REDIS_URL'] || undefined);
  // The runtime's own connection and metadata serve the API too.
  const { runtime, database, model, close } = await runtimeFromEnv(false);
  const prefix = process.env['OBJECTOS_NAME_PREFIX'];
  const compiled = compile(model, prefix ? { namePrefix: prefix } : {});
  const replayLog = createLogger('principal-guard');
  const replay = createReplayStore(process.env['REDIS_URL'] || undefined, { onError: (e) => replayLog.warn({ err: e.message }, 'signature replay store unavailable: single use checked in this process only') });
  await replay.ready;
  const automation = createAutomationSubgraph({ secret: process.env['OBJECTOS_SECRET']!, database, compiled, runtime, replay });
  readiness.register('database', () => pingDatabase(database));
  probes.serve(createServerAdapter(automation.fetch));
  readiness.started();
  console.log(`automation subgraph listening on http://${host}:${(server.address() as { port: number }).port}/graphql`);
  const stop = () => {
    readiness.stopping();
    server.close(() => void close().then(() => replay.close()).then(() => redisProbe?.close()).then(() => process.exit(0)));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  console.error(`automation subgraph failed to start:\n${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
