import type { RequestListener } from 'node:http';
import { createLogger, currentTracing, listenWithProbes, redact, startTracing, type Readiness } from '@objectos/observability';
import { createKernel, type Kernel, type Plugin } from './kernel.ts';
import { closeGracefully, trackInFlight } from './shutdown.ts';

export interface ProcessSpec {
  /** The process's name: its logs' `service`, its traces' `objectos-<name>`, its HTTP metrics' service. */
  name: string;
  port: number;
  host: string;
  /** The plugins of this process (their readiness checks go on `readiness`; `kernel` is the one they run on). */
  plugins(readiness: Readiness, kernel: Kernel): Plugin[];
  /** The application once every plugin started (its GraphQL server). */
  app(kernel: Kernel): RequestListener;
  /** How its log names it once listening. @default `<name> subgraph` */
  label?: string;
  /** Its API's path, in that log line. @default '/graphql' */
  path?: string;
  /** Said once listening with every plugin started (e.g. a demo password). */
  started?(kernel: Kernel, url: string): void;
}

const envMs = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a whole number of milliseconds, got "${raw}"`);
  return Number(raw);
};

/**
 * Runs one service process (services mode) on the kernel: tracing (when configured), the probes at
 * once (`/health` while migrating), every plugin in dependency order (a required one failing exits 1
 * with the startup report naming it), then the application, `/startup` (the startup report), and a
 * graceful shutdown on SIGTERM/SIGINT: not ready at once, stop accepting, finish requests in flight
 * (OBJECTOS_SHUTDOWN_TIMEOUT_MS, default 10 s), destroy plugins in reverse (workers finish their job),
 * flush traces, exit 0.
 */
export async function runProcess(spec: ProcessSpec): Promise<void> {
  await startTracing({ serviceName: `objectos-${spec.name}` });
  const logger = createLogger(spec.name);
  const shutdownMs = envMs('OBJECTOS_SHUTDOWN_TIMEOUT_MS', 10_000);
  const { readiness, probes, server, operations } = await listenWithProbes(spec.port, spec.host, spec.name);
  const kernel = createKernel({ logger: createLogger('kernel'), timeoutMs: envMs('OBJECTOS_PLUGIN_TIMEOUT_MS', 60_000) });
  for (const p of spec.plugins(readiness, kernel)) kernel.use(p);
  let stopping: Promise<void> | null = null;
  const stop = (signal: string) => {
    stopping ??= (async () => {
      logger.info({ signal }, 'shutting down: not ready, finishing requests in flight');
      readiness.stopping();
      const cut = await closeGracefully(server, inFlight, shutdownMs);
      if (cut) logger.warn({ cut }, `requests still running after ${shutdownMs} ms were cut`);
      await kernel.shutdown();
      await operations?.close();
      await currentTracing()?.shutdown();
      logger.info('stopped');
    })();
    void stopping.then(() => process.exit(0), (e: unknown) => {
      logger.error({ err: e instanceof Error ? e.message : String(e) }, 'shutdown failed');
      process.exit(1);
    });
  };
  const inFlight = trackInFlight((req, res) => app(req, res));
  let app: RequestListener = (_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
    res.end(JSON.stringify({ errors: [{ message: 'starting', extensions: { code: 'SERVICE_UNAVAILABLE' } }] }));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    await kernel.bootstrap();
  } catch (e) {
    // The kernel logged the report; the message names the plugin and carries the report too.
    console.error(`${spec.name} failed to start:\n${e instanceof Error ? e.message : String(e)}`);
    server.close();
    await operations?.close();
    process.exit(1);
  }
  kernel.attach(readiness);
  const application = spec.app(kernel);
  app = (req, res) => {
    if ((req.url ?? '').split('?')[0] === '/startup' && req.method === 'GET') {
      const plugins = kernel.startupReport().map((r) => (r.error ? { ...r, error: { ...r.error, message: redact(r.error.message) } } : r));
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ process: spec.name, plugins }));
      return;
    }
    application(req, res);
  };
  probes.serve(inFlight.listener);
  readiness.started();
  const url = `http://${spec.host}:${(server.address() as { port: number }).port}${spec.path ?? '/graphql'}`;
  logger.info({ url }, `${spec.label ?? `${spec.name} subgraph`} listening on ${url}`);
  spec.started?.(kernel, url);
}
