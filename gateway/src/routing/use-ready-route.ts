import type { Plugin } from 'graphql-yoga';
import type { CheckOutcome, Readiness } from '@objectos/observability';
import type { SupergraphHealth } from './live-supergraph.ts';

/**
 * `GET /ready` on the gateway (see @objectos/observability readiness), beside `/health` (which answers
 * the supergraph's state: the process is alive and serving a composition).
 */
export function useReadyRoute(readiness: Readiness): Plugin {
  return {
    async onRequest({ request, url, endResponse }) {
      if (url.pathname !== '/ready' || request.method !== 'GET') return;
      endResponse(await readiness.respond(request)!);
    },
  };
}

/**
 * The gateway's view of its subgraphs, for readiness: `degraded` (still ready) when one is down or the
 * last recomposition failed. Never `unhealthy`: the gateway keeps serving the last good supergraph and
 * answers what the others can, and every replica sees the same subgraphs, so taking this one out of
 * rotation would help no one. Each subgraph process reports its own readiness.
 */
export function subgraphsCheck(health: () => SupergraphHealth): () => CheckOutcome {
  return () => {
    const h = health();
    const down = h.subgraphs.filter((s) => s.state === 'down').map((s) => s.name);
    if (down.length) return { status: 'degraded', message: `subgraphs down: ${down.join(', ')}` };
    if (h.lastFailure) return { status: 'degraded', message: `last recomposition failed (${h.lastFailure.subgraphs.join(', ')}); serving the previous supergraph` };
    return { status: 'healthy' };
  };
}
