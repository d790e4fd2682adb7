import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeGracefully, trackInFlight } from '@objectos/kernel';
import { createLogger, instrumentListener, serveOperations, type MetricsSettings, type OperationsServer } from '@objectos/observability';
import type { Gateway } from './create-gateway.ts';
import { attachRealtime, type Realtime } from './realtime/ws-server.ts';

export interface Serving {
  url: string;
  server: Server;
  /** graphql-ws on the same endpoint. */
  realtime: Realtime;
  /** The operations port (`/metrics`, `/health`, `/ready`), when OBJECTOS_METRICS_PORT is set. */
  operations: OperationsServer | null;
  /**
   * Graceful: stops accepting, finishes the requests in flight (at most `drainMs`, OBJECTOS_SHUTDOWN_TIMEOUT_MS),
   * closes WebSockets with 1001 (clients reconnect elsewhere) and event streams, then disposes the gateway.
   */
  close(): Promise<void>;
}

/**
 * One HTTP server for the gateway: GraphQL over HTTP and SSE, graphql-ws on the same path, every
 * request counted and traced (instrumentListener); and the operations port beside it when configured.
 */
export async function serveGateway(gateway: Gateway, listen: { host: string; port: number; metrics?: Pick<MetricsSettings, 'port' | 'host'>; drainMs?: number }): Promise<Serving> {
  const inFlight = trackInFlight(gateway.yoga);
  const server = createServer(instrumentListener('gateway', inFlight.listener));
  const logger = createLogger('gateway');
  const realtime = attachRealtime(server, gateway, { logger });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  let operations: OperationsServer | null = null;
  try {
    if (listen.metrics) operations = await serveOperations(server, listen.metrics, gateway.readiness);
  } catch (e) {
    // Its port taken: nothing is left listening.
    await realtime.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw e;
  }
  const { port } = server.address() as AddressInfo;
  const host = listen.host === '127.0.0.1' || listen.host === '0.0.0.0' ? 'localhost' : listen.host;
  return {
    url: `http://${host}:${port}${gateway.graphqlEndpoint}`,
    server,
    realtime,
    operations,
    async close() {
      const drainMs = listen.drainMs ?? 10_000;
      // Sockets are told to go away while the last HTTP requests finish: they carry no request to wait for.
      const [cut] = await Promise.all([closeGracefully(server, inFlight, drainMs), realtime.close()]);
      if (cut) logger.warn({ cut }, `requests still running after ${drainMs} ms were cut`);
      await operations?.close();
      await gateway.dispose();
    },
  };
}
