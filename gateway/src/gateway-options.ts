import { readFile } from 'node:fs/promises';
import type { ObjectOSConfig } from './config.ts';
import type { GatewayOptions } from './create-gateway.ts';

/** The gateway settings every mode takes from the configuration: origins, GraphiQL, timeouts, protection, polling. */
export async function commonGatewayOptions(config: ObjectOSConfig): Promise<Omit<GatewayOptions, 'auth' | 'subgraphs' | 'supergraph'>> {
  const trustedDocuments = config.trustedDocumentsFile
    ? (JSON.parse(await readFile(config.trustedDocumentsFile, 'utf8')) as Record<string, string>)
    : undefined;
  return {
    origins: [new URL(config.publicUrl).origin, ...config.trustedOrigins],
    publicUrl: config.publicUrl,
    pollMs: config.pollMs,
    queryPlanner: config.queryPlanner,
    // GraphiQL needs introspection to be useful.
    graphiql: config.graphiql && config.introspection,
    subgraphTimeoutMs: config.subgraphTimeoutMs,
    ...(config.metrics.token ? { metricsToken: config.metrics.token } : {}),
    protection: {
      introspection: config.introspection,
      maxCost: config.maxCost,
      ...(trustedDocuments ? { trustedDocuments } : {}),
      ...(config.rateLimitPerMinute > 0
        ? { rateLimit: { points: config.rateLimitPerMinute, durationSeconds: 60, trustProxy: config.trustProxy, ...(config.redisUrl ? { redisUrl: config.redisUrl } : {}) } }
        : {}),
    },
  };
}
