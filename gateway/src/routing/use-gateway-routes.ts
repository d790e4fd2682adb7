import type { Plugin } from 'graphql-yoga';

/** Health and the public keys of external-subgraph tokens, beside GraphQL. */
export function useGatewayRoutes(routes: Record<string, () => unknown>): Plugin {
  return {
    onRequest({ url, request, endResponse }) {
      const route = routes[url.pathname];
      if (route && request.method === 'GET') endResponse(Response.json(route(), { headers: { 'cache-control': 'no-store' } }));
    },
  };
}
