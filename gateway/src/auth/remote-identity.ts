import { SYSTEM, deriveKey, signPrincipal } from '@objectos/principal';
import type { Credentials, Resolution, ResolvePrincipal } from './principal-cache.ts';

/** Resolves principals with the identity subgraph over HTTP (services mode): POST /internal/principal. */
export function remotePrincipalResolver(identity: { fetch: (r: Request) => Promise<Response>; baseUrl: string }, secret: string, timeoutMs = 5_000): ResolvePrincipal {
  const key = deriveKey(secret, 'principal-hmac');
  return async (credentials: Credentials): Promise<Resolution> => {
    const res = await identity.fetch(
      new Request(new URL('/internal/principal', identity.baseUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signPrincipal(SYSTEM, key) },
        body: JSON.stringify(credentials),
        signal: AbortSignal.timeout(timeoutMs),
      }),
    );
    if (!res.ok) throw new Error(`identity subgraph answered ${res.status} to a principal lookup`);
    return (await res.json()) as Resolution;
  };
}
