import { pingDatabase } from '@objectos/db';
import { registerRedisProbe } from '@objectos/events';
import { listenWithProbes } from '@objectos/observability';
import { runtimeFromEnv } from './process-env.ts';

/**
 * The worker (services mode): delivers notifications and runs metadata schedules, as many replicas as
 * wanted (each tick fires once between them). PORT (4005) serves GET /health (alive) and GET /ready
 * (started, database and Redis answer; not while shutting down) for the healthcheck.
 * Environment as `runtimeFromEnv`.
 */
async function main(): Promise<void> {
  const port = Number(process.env['PORT'] ?? 4005);
  const host = process.env['HOST'] ?? '127.0.0.1';
  // Listens at once: `/health` answers while it migrates, `/ready` only once started (see readiness).
  const { readiness, probes, server } = await listenWithProbes(port, host);
  const redisProbe = registerRedisProbe(readiness, process.env['REDIS_URL'] || undefined);
  const { runtime, database, close } = await runtimeFromEnv(true);
  readiness.register('database', () => pingDatabase(database));
  probes.serve((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  readiness.started();
  console.log(`worker running ${runtime.queue.backend} queues ${runtime.queue.queues().join(', ')}; health on http://${host}:${port}/health, readiness on /ready`);
  const stop = () => {
    readiness.stopping();
    server.close(() => void close().then(() => redisProbe?.close()).then(() => process.exit(0)));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  console.error(`worker failed to start:\n${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
