import type { Plugin } from 'graphql-yoga';
import type { Principal } from './principal.ts';
import { verifyPrincipal } from './sign.ts';

const principals = new WeakMap<Request, Principal>();

/**
 * Yoga plugin for every subgraph: a request without a valid, fresh gateway signature ends with 401
 * before parsing, so `_entities`, `_service` and every resolver are out of reach around the gateway.
 */
export function usePrincipalGuard(key: string, options: { maxAgeMs?: number } = {}): Plugin {
  return {
    onRequest({ request, endResponse }) {
      const r = verifyPrincipal(request.headers, key, options);
      if (r.ok) {
        principals.set(request, r.principal);
        return;
      }
      endResponse(
        new Response(JSON.stringify({ errors: [{ message: `Unauthorized: ${r.reason}`, extensions: { code: 'UNAUTHENTICATED' } }] }), {
          status: 401,
          headers: { 'content-type': 'application/json', 'www-authenticate': 'ObjectOS-HMAC' },
        }),
      );
    },
  };
}

/** The verified principal of a request that passed {@link usePrincipalGuard}. */
export function principalOf(request: Request): Principal {
  const p = principals.get(request);
  if (!p) throw new Error('no verified principal on this request (is usePrincipalGuard installed?)');
  return p;
}
