import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { metricsResponse, type MetricsSettings } from './metrics.ts';
import type { Readiness } from './readiness.ts';

/**
 * The operations port (OBJECTOS_METRICS_PORT): `/metrics` without a token, `/health` and `/ready`, on an
 * address of its own (OBJECTOS_METRICS_HOST, loopback by default) that the public never reaches, so a
 * scraper needs no secret and the application port need not serve metrics at all. Nothing else is
 * served there, and its requests are not counted in the HTTP metrics (scrapes would drown the traffic).
 */
export interface OperationsServer {
  server: Server;
  /** http://host:port (the port actually bound: 0 picks a free one). */
  url: string;
  close(): Promise<void>;
}

const NO_STORE = { 'cache-control': 'no-store' };

async function answer(req: IncomingMessage, res: ServerResponse, readiness: Readiness | undefined): Promise<void> {
  const method = req.method ?? 'GET';
  const path = (req.url ?? '/').split('?')[0];
  let response: Response;
  if (method !== 'GET' && method !== 'HEAD') response = Response.json({ error: 'method not allowed' }, { status: 405, headers: { allow: 'GET, HEAD' } });
  else if (path === '/metrics') response = await metricsResponse();
  else if (path === '/health' || path === '/ready')
    response = (readiness ? await readiness.respond(new Request(`http://operations${path}`, { method })) : null) ?? Response.json({ status: 'alive' }, { headers: NO_STORE });
  else response = Response.json({ error: 'the operations port serves /metrics, /health and /ready' }, { status: 404 });
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(method === 'HEAD' ? undefined : Buffer.from(await response.arrayBuffer()));
}

export async function startOperationsServer(options: { port: number; host: string; readiness?: Readiness }): Promise<OperationsServer> {
  const server = createServer((req, res) => {
    answer(req, res, options.readiness).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'metrics could not be collected' }));
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(options.port, options.host, resolve));
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  let closing: Promise<void> | null = null;
  return {
    server,
    url: `http://${host}:${port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Scrapers keep connections open: they must not hold the process's shutdown.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/**
 * The operations server of the process serving `app`, when OBJECTOS_METRICS_PORT is set (null when not):
 * listening now, and closed when `app` closes, so it never outlives the process's own port.
 */
export async function serveOperations(app: Server, settings: Pick<MetricsSettings, 'port' | 'host'>, readiness?: Readiness): Promise<OperationsServer | null> {
  if (settings.port === undefined) return null;
  const ops = await startOperationsServer({ port: settings.port, host: settings.host, ...(readiness ? { readiness } : {}) });
  app.once('close', () => void ops.close());
  return ops;
}
