import { audienceKey } from './audience.ts';
import { PRINCIPAL_ENDPOINT, type Credentials, type Resolution } from './credentials.ts';
import { SYSTEM } from './principal.ts';
import { signRequest } from './signed-request.ts';

/** Credentials → principal (or why not): the identity subgraph's answer. */
export type ResolvePrincipal = (credentials: Credentials) => Promise<Resolution>;

/** Resolves principals with the identity subgraph over HTTP (services mode): POST {@link PRINCIPAL_ENDPOINT}. */
export function remotePrincipalResolver(identity: { fetch: (r: Request) => Promise<Response>; baseUrl: string }, secret: string, timeoutMs = 5_000): ResolvePrincipal {
  const key = audienceKey(secret, 'identity');
  return async (credentials: Credentials): Promise<Resolution> => {
    const request = new Request(new URL(PRINCIPAL_ENDPOINT, identity.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(credentials),
      signal: AbortSignal.timeout(timeoutMs),
    });
    // Signed over these credentials: the header pair is worth nothing for another lookup.
    const res = await identity.fetch(await signRequest(request, key, 'identity', SYSTEM));
    if (!res.ok) throw new Error(`identity subgraph answered ${res.status} to a principal lookup`);
    return (await res.json()) as Resolution;
  };
}
