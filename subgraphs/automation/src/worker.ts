import { redisProbePlugin } from '@objectos/events';
import { runProcess } from '@objectos/kernel';
import type { JobRuntime } from './runtime.ts';
import { jobsFromEnvPlugin } from './process-env.ts';

/**
 * The worker (services mode): delivers notifications and runs metadata schedules, as many replicas as
 * wanted (each tick fires once between them). PORT (4005) serves GET /health (alive) and GET /ready
 * (started, database and Redis answer; not while shutting down) for the healthcheck. On SIGTERM it
 * finishes the jobs it is running (bounded) and takes no new one. Environment as `runtimeFromEnv`.
 */
runProcess({
  name: 'worker',
  label: 'worker',
  path: '',
  port: Number(process.env['PORT'] ?? 4005),
  host: process.env['HOST'] ?? '127.0.0.1',
  plugins: (readiness) => [redisProbePlugin(readiness, process.env['REDIS_URL'] || undefined), jobsFromEnvPlugin(true, readiness)],
  app: () => (_req, res) => {
    res.statusCode = 404;
    res.end();
  },
  started(kernel) {
    const runtime = kernel.getService<JobRuntime>('jobs')!;
    console.log(`worker running ${runtime.queue.backend} queues ${runtime.queue.queues().join(', ')}; health on /health, readiness on /ready`);
  },
}).catch((e: unknown) => {
  console.error(`worker failed to start:\n${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
