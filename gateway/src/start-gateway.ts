import { createEventBus, registerRedisProbe, type EventBus } from '@objectos/events';
import { createReadiness } from '@objectos/observability';
import { remotePrincipalResolver } from '@objectos/principal';
import type { ObjectOSConfig } from './config.ts';
import { createGateway, type Gateway, type GatewayAuthOptions } from './create-gateway.ts';
import { commonGatewayOptions } from './gateway-options.ts';
import { graphsOfSupergraph, readSupergraph } from './routing/supergraph.ts';
import { resolveSecret } from './secret.ts';
import { serveGateway, type Serving } from './serve.ts';

export interface RunningGateway extends Serving {
  gateway: Gateway;
  stop(): Promise<void>;
}

/**
 * The gateway alone (OBJECTOS_MODE=gateway): a plain Federation gateway in front of any subgraphs,
 * ObjectOS's own among them or not. It serves a supergraph you give it (OBJECTOS_SUPERGRAPH, a file
 * or URL) or composes OBJECTOS_SUBGRAPHS itself, and polls either for changes. No database: requests
 * are authenticated by the mode chosen (OBJECTOS_AUTH) and the principal reaches each subgraph signed.
 */
export async function startGatewayOnly(config: ObjectOSConfig): Promise<RunningGateway> {
  const secret = resolveSecret(config);
  const readGiven = config.supergraph ? () => readSupergraph(config.supergraph!) : null;
  const subgraphUrls = readGiven
    ? Object.fromEntries(graphsOfSupergraph(await readGiven()).map((g) => [g.name, g.url]))
    : config.remoteSubgraphs;
  let bus: EventBus | null = null;
  let auth: GatewayAuthOptions;
  if (config.auth === 'none') auth = { mode: 'none', secret };
  else if (config.auth === 'jwt') {
    const j = config.jwt!;
    auth = {
      mode: 'jwt', secret, jwks: j.jwksUrl, organizationClaim: j.organizationClaim, rolesClaim: j.rolesClaim, cacheTtlMs: config.authCacheMs,
      ...(j.issuer ? { issuer: j.issuer } : {}), ...(j.audience ? { audience: j.audience } : {}),
    };
  } else {
    const identityUrl = subgraphUrls['identity'];
    if (!identityUrl) throw new Error('OBJECTOS_AUTH=objectos needs the identity subgraph among the subgraphs; without it choose OBJECTOS_AUTH=jwt or none');
    const identity = { fetch: (r: Request) => fetch(r), baseUrl: new URL(identityUrl).origin };
    bus = createEventBus(config.redisUrl);
    await bus.ready;
    auth = {
      secret, resolve: remotePrincipalResolver(identity, secret), identity, cacheTtlMs: config.authCacheMs, bus, trustProxy: config.trustProxy, scimRequestsPerMinute: config.scimRequestsPerMinute,
      ...(config.redisUrl ? { redisUrl: config.redisUrl } : {}),
    };
  }
  // `/ready`: not until composed and listening; then Redis (rate limits, sign-in counters, auth events) when used.
  const readiness = createReadiness();
  const redisProbe = registerRedisProbe(readiness, config.redisUrl);
  try {
    const gateway = await createGateway({
      ...(await commonGatewayOptions(config)),
      readiness,
      ...(readGiven ? { supergraph: readGiven } : { subgraphs: Object.entries(config.remoteSubgraphs).map(([name, url]) => ({ name, url })) }),
      auth,
    });
    const serving = await serveGateway(gateway, config);
    readiness.started();
    return {
      ...serving,
      gateway,
      async stop() {
        readiness.stopping();
        await serving.close();
        await bus?.close();
        await redisProbe?.close();
      },
    };
  } catch (e) {
    await bus?.close();
    await redisProbe?.close();
    throw e;
  }
}
