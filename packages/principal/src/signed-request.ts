import type { Principal } from './principal.ts';
import type { ReplayStore } from './replay-store.ts';
import { ANOTHER_BODY, bodyDigest, checkSignature, encodePrincipal, PRINCIPAL_HEADER, signPayload, type VerifyOptions, type VerifyResult } from './sign.ts';

const bodyless = (method: string) => method === 'GET' || method === 'HEAD';

/**
 * The same request with the principal signed for `audience` over its method, URL and exact body.
 * The principal is `principal` or, when absent, the one already set in {@link PRINCIPAL_HEADER}
 * (the gateway's executor sets it per call; only the fetch step sees the body).
 */
export async function signRequest(request: Request, key: string, audience: string, principal?: Principal): Promise<Request> {
  const payload = principal ? encodePrincipal(principal) : request.headers.get(PRINCIPAL_HEADER);
  if (!payload) throw new Error(`a call to subgraph "${audience}" has no principal to sign`);
  // Read once and resent as these bytes: what is hashed is exactly what the subgraph receives
  // (a FormData body, for one, only gets its multipart bytes and boundary when serialised).
  const body = bodyless(request.method) ? null : await request.arrayBuffer();
  const headers = new Headers(request.headers);
  for (const [k, v] of Object.entries(signPayload(payload, key, { audience, method: request.method, url: request.url, body }))) headers.set(k, v);
  return new Request(request.url, { method: request.method, headers, ...(body ? { body } : {}), signal: request.signal, redirect: request.redirect });
}

/**
 * The same call's `init` with the principal signed, when its body is already bytes in hand (a string,
 * as the gateway's executor sends JSON, or none): no Request is built or read. Null otherwise
 * ({@link signRequest} then reads the body).
 */
export function signInit(url: string, init: RequestInit, key: string, audience: string): RequestInit | null {
  if (init.body != null && typeof init.body !== 'string') return null;
  const headers = new Headers(init.headers);
  const payload = headers.get(PRINCIPAL_HEADER);
  if (!payload) throw new Error(`a call to subgraph "${audience}" has no principal to sign`);
  const method = (init.method ?? 'GET').toUpperCase();
  for (const [k, v] of Object.entries(signPayload(payload, key, { audience, method, url, body: init.body ?? null }))) headers.set(k, v);
  return { ...init, method, headers };
}

export interface VerifyRequestOptions extends VerifyOptions {
  /** Remembers accepted signatures; without one a signature may be used again within its window. */
  replay?: ReplayStore;
  /**
   * Read the body itself (not a clone) and return it: the caller, who then owns the bytes, passes them
   * on (a guard re-creates the request). @default false
   */
  consume?: boolean;
}

/**
 * Verifies a subgraph call: the signature (audience, key, method, path, query, freshness) first,
 * then the actual body against the signed digest (read from a clone, the request stays readable),
 * then single use. A request nobody signed is refused before its body is read.
 */
export async function verifyRequest(request: Request, key: string, audience: string, options: VerifyRequestOptions = {}): Promise<VerifyResult & { body?: ArrayBuffer | null }> {
  const { replay, consume = false, ...verify } = options;
  const checked = checkSignature(request.headers, key, { audience, method: request.method, url: request.url }, verify);
  if (!checked.ok) return checked;
  let body: ArrayBuffer | null;
  try {
    body = bodyless(request.method) ? null : await (consume ? request : request.clone()).arrayBuffer();
  } catch {
    return { ok: false, reason: 'unreadable request body' };
  }
  if (bodyDigest(body) !== checked.digest) return { ok: false, reason: ANOTHER_BODY };
  const ttl = checked.expiresAt - (verify.now ?? Date.now()) + 1;
  if (replay && !(await replay.claim(`${audience}:${checked.nonce}`, ttl))) return { ok: false, reason: 'gateway signature already used (replay)' };
  return { ok: true, principal: checked.principal, nonce: checked.nonce, expiresAt: checked.expiresAt, body };
}
