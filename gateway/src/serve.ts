import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '@objectos/observability';
import type { Gateway } from './create-gateway.ts';
import { attachRealtime, type Realtime } from './realtime/ws-server.ts';

export interface Serving {
  url: string;
  server: Server;
  /** graphql-ws on the same endpoint. */
  realtime: Realtime;
  /** Stops accepting, closes sockets and connections, then disposes the gateway. */
  close(): Promise<void>;
}

/** One HTTP server for the gateway: GraphQL over HTTP and SSE, graphql-ws on the same path. */
export async function serveGateway(gateway: Gateway, listen: { host: string; port: number }): Promise<Serving> {
  const server = createServer(gateway.yoga);
  const realtime = attachRealtime(server, gateway, { logger: createLogger('gateway') });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = listen.host === '127.0.0.1' || listen.host === '0.0.0.0' ? 'localhost' : listen.host;
  return {
    url: `http://${host}:${port}${gateway.graphqlEndpoint}`,
    server,
    realtime,
    async close() {
      await realtime.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await gateway.dispose();
    },
  };
}
