import type { Plugin } from 'graphql-yoga';
import type { Principal } from './principal.ts';
import { createMemoryReplayStore, type ReplayStore } from './replay-store.ts';
import { verifyRequest } from './signed-request.ts';

const principals = new WeakMap<Request, Principal>();

export interface PrincipalGuardOptions {
  /** This subgraph's key: `audienceKey(secret, audience)`. */
  key: string;
  /** This subgraph's name; signatures made for any other subgraph are refused. */
  audience: string;
  /** Where accepted signatures are remembered (single use). @default this process's memory */
  replay?: ReplayStore;
  /** @default DEFAULT_MAX_AGE_MS */
  maxAgeMs?: number;
}

/** The 401 every subgraph answers to a call the gateway did not sign for it, this request and this body. */
export function unauthorizedResponse(reason: string): Response {
  return new Response(JSON.stringify({ errors: [{ message: `Unauthorized: ${reason}`, extensions: { code: 'UNAUTHENTICATED' } }] }), {
    status: 401,
    headers: { 'content-type': 'application/json', 'www-authenticate': 'ObjectOS-HMAC' },
  });
}

/**
 * Yoga plugin for every subgraph: a request without a valid, fresh, unused gateway signature for this
 * subgraph, method, path and body ends with 401 before parsing, so `_entities`, `_service` and every
 * resolver are out of reach around the gateway.
 */
export function usePrincipalGuard({ key, audience, replay = createMemoryReplayStore(), maxAgeMs }: PrincipalGuardOptions): Plugin {
  return {
    async onRequest({ request, setRequest, endResponse, fetchAPI }) {
      // The body is read once, here, and handed on as bytes (no clone, no second stream).
      const r = await verifyRequest(request, key, audience, { replay, consume: true, ...(maxAgeMs !== undefined ? { maxAgeMs } : {}) });
      if (r.ok) {
        const passed = r.body ? new fetchAPI.Request(request.url, { method: request.method, headers: request.headers, body: r.body, signal: request.signal }) : request;
        if (passed !== request) setRequest(passed);
        principals.set(passed, r.principal);
        return;
      }
      endResponse(unauthorizedResponse(r.reason));
    },
  };
}

/** The verified principal of a request that passed {@link usePrincipalGuard}. */
export function principalOf(request: Request): Principal {
  const p = principals.get(request);
  if (!p) throw new Error('no verified principal on this request (is usePrincipalGuard installed?)');
  return p;
}
