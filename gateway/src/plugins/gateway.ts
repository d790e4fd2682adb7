import type { EventBus } from '@objectos/events';
import type { IdentitySubgraph } from '@objectos/identity-subgraph';
import { pluginManifest, type Plugin } from '@objectos/kernel';
import type { Readiness } from '@objectos/observability';
import { remotePrincipalResolver, type ResolvePrincipal } from '@objectos/principal';
import type { Database } from '@objectos/db';
import { guestResolver } from '../auth/guest.ts';
import type { ObjectOSConfig } from '../config.ts';
import { createGateway, type Gateway, type SubgraphSource } from '../create-gateway.ts';
import { commonGatewayOptions } from '../gateway-options.ts';
import { serveGateway, type Serving } from '../serve.ts';
import { OBJECTOS_VERSION } from './core.ts';

/** The in-process subgraphs, in the order the supergraph lists them. */
const LOCAL = ['identity', 'data', 'audit', 'automation', 'workflow', 'metrics'] as const;

/**
 * `gateway`: composes the subgraphs started before it (and the remote ones configured) and serves one
 * endpoint: GraphQL over HTTP and SSE, graphql-ws on the same path. It starts last and is what listens.
 */
export function gatewayPlugin(config: ObjectOSConfig, secret: string, readiness: Readiness): Plugin {
  let gateway: Gateway | null = null;
  let serving: Serving | null = null;
  return {
    name: 'gateway', version: OBJECTOS_VERSION,
    manifest: pluginManifest({
      name: 'gateway', version: OBJECTOS_VERSION, implements: ['com.objectos.protocol.graphql-federation-gateway.v2', 'com.objectos.protocol.graphql-over-http.v1'],
      provides: [{ id: 'com.objectos.service.gateway', name: 'gateway', methods: ['fetch', 'refresh'] }],
      requires: ['events', { pluginId: 'realtime', optional: true }, ...LOCAL.map((pluginId) => ({ pluginId, optional: true }))],
    }),
    async start(ctx) {
      const subgraphs: SubgraphSource[] = [
        ...LOCAL.flatMap((name) => ctx.getOptionalService<SubgraphSource>(`subgraph:${name}`) ?? []),
        ...Object.entries(config.remoteSubgraphs).map(([name, url]) => ({ name, url })),
      ];
      const identity = ctx.getOptionalService<IdentitySubgraph>('identity');
      const identityRoute = identity
        ? { fetch: identity.fetch, baseUrl: 'http://identity.objectos.internal' }
        : { fetch: (r: Request) => fetch(r), baseUrl: new URL(config.remoteSubgraphs['identity']!).origin };
      const resolvePrincipal: ResolvePrincipal = identity ? (c) => identity.resolve(new Headers(c as Record<string, string>)) : remotePrincipalResolver(identityRoute, secret);
      gateway = await createGateway({
        ...(await commonGatewayOptions(config)),
        readiness,
        subgraphs,
        auth: {
          secret,
          resolve: config.guestOrganization
            ? guestResolver(resolvePrincipal, config.guestOrganization, ctx.getOptionalService<Database>('database')?.db ?? null)
            : resolvePrincipal,
          allowAnonymous: config.guestOrganization !== null,
          identity: identityRoute,
          cacheTtlMs: config.authCacheMs,
          bus: ctx.getService<EventBus>('bus'),
          trustProxy: config.trustProxy,
          scimRequestsPerMinute: config.scimRequestsPerMinute,
          ...(config.redisUrl ? { redisUrl: config.redisUrl } : {}),
        },
      });
      ctx.registerService('gateway', gateway);
      serving = await serveGateway(gateway, { ...config, drainMs: config.shutdownTimeoutMs });
      ctx.registerService('serving', serving);
    },
    healthCheck() {
      const h = gateway!.health();
      const down = h.subgraphs.filter((s) => s.state === 'down');
      return {
        status: down.length ? 'degraded' : 'healthy',
        checks: h.subgraphs.map((s) => ({ name: `subgraph ${s.name}`, status: s.state === 'down' ? 'failed' : 'passed', message: `${s.state} since ${s.since}` })),
      };
    },
    async destroy() {
      // Serving closes the listener, the sockets and the gateway itself.
      if (serving) await serving.close();
      else await gateway?.dispose();
    },
  };
}
