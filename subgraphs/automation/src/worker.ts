import { createServer } from 'node:http';
import { runtimeFromEnv } from './process-env.ts';

/**
 * The worker (services mode): delivers notifications and runs metadata schedules, as many replicas as
 * wanted (each tick fires once between them). PORT (4005) serves GET /health for the healthcheck.
 * Environment as `runtimeFromEnv`.
 */
async function main(): Promise<void> {
  const { runtime, close } = await runtimeFromEnv(true);
  const port = Number(process.env['PORT'] ?? 4005);
  const host = process.env['HOST'] ?? '127.0.0.1';
  const server = createServer((req, res) => {
    res.statusCode = req.url === '/health' && req.method === 'GET' ? 200 : 404;
    res.end();
  });
  server.listen(port, host, () => console.log(`worker running ${runtime.queue.backend} queues ${runtime.queue.queues().join(', ')}; health on http://${host}:${port}/health`));
  const stop = () => server.close(() => void close().then(() => process.exit(0)));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  console.error(`worker failed to start:\n${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
