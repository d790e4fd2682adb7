import { PRINCIPAL_ENDPOINT, SYSTEM, deriveKey, signPrincipal, type Credentials, type Resolution } from '@objectos/principal';
import type { ResolvePrincipal } from './principal-cache.ts';

/** Resolves principals with the identity subgraph over HTTP (services mode): POST {@link PRINCIPAL_ENDPOINT}. */
export function remotePrincipalResolver(identity: { fetch: (r: Request) => Promise<Response>; baseUrl: string }, secret: string, timeoutMs = 5_000): ResolvePrincipal {
  const key = deriveKey(secret, 'principal-hmac');
  return async (credentials: Credentials): Promise<Resolution> => {
    const res = await identity.fetch(
      new Request(new URL(PRINCIPAL_ENDPOINT, identity.baseUrl), {
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
