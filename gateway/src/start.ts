import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDataSubgraph, type DataSubgraph } from '@objectos/data-subgraph';
import type { ObjectOSConfig } from './config.ts';
import { createGateway, type Gateway, type SubgraphSource } from './create-gateway.ts';

export interface RunningObjectOS {
  url: string;
  gateway: Gateway;
  data: DataSubgraph | null;
  server: Server;
  stop(): Promise<void>;
}

/**
 * Starts ObjectOS: the data subgraph in process (unless configured as remote), the gateway over every
 * subgraph, and one HTTP endpoint. Nothing listens until everything composed and migrated.
 */
export async function startObjectOS(config: ObjectOSConfig): Promise<RunningObjectOS> {
  const data = config.remoteSubgraphs['data']
    ? null
    : await createDataSubgraph({
        metadata: config.metadataDir,
        ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : { dataDir: config.dataDir }),
        seed: config.seed,
        statementTimeoutMs: config.statementTimeoutMs,
      });
  try {
    const subgraphs: SubgraphSource[] = Object.entries(config.remoteSubgraphs).map(([name, url]) => ({ name, url }));
    if (data) subgraphs.unshift({ name: 'data', url: 'http://data.objectos.internal/graphql', sdl: data.sdl, fetch: data.fetch });
    const trustedDocuments = config.trustedDocumentsFile
      ? (JSON.parse(await readFile(config.trustedDocumentsFile, 'utf8')) as Record<string, string>)
      : undefined;
    const gateway = await createGateway({
      subgraphs,
      // GraphiQL needs introspection to be useful.
      graphiql: config.graphiql && config.introspection,
      subgraphTimeoutMs: config.subgraphTimeoutMs,
      protection: {
        introspection: config.introspection,
        ...(trustedDocuments ? { trustedDocuments } : {}),
        ...(config.rateLimitPerMinute > 0
          ? { rateLimit: { points: config.rateLimitPerMinute, durationSeconds: 60, trustProxy: config.trustProxy, ...(config.redisUrl ? { redisUrl: config.redisUrl } : {}) } }
          : {}),
      },
    });
    const server = createServer(gateway.yoga);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const host = config.host === '127.0.0.1' || config.host === '0.0.0.0' ? 'localhost' : config.host;
    return {
      url: `http://${host}:${port}/graphql`,
      gateway,
      data,
      server,
      async stop() {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await gateway.dispose();
        await data?.dispose();
      },
    };
  } catch (e) {
    await data?.dispose();
    throw e;
  }
}
