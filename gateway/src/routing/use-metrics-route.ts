import type { Plugin } from 'graphql-yoga';
import { metricsRoute, type MetricsAccess } from '@objectos/observability';

/**
 * `GET /metrics` on the gateway's port, beside `/ready` (after the body bound and the origin policy,
 * before authentication: a scraper has no session). Served only with the configured bearer token
 * (OBJECTOS_METRICS_TOKEN): 401 with another, 404 when none is configured (metrics are then on the
 * operations port, OBJECTOS_METRICS_PORT, if anywhere).
 */
export function useMetricsRoute(access: MetricsAccess): Plugin {
  return {
    async onRequest({ request, endResponse }) {
      const answer = metricsRoute(request, access);
      if (answer) endResponse(await answer);
    },
  };
}
