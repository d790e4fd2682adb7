export interface GraphQLResult<T = Record<string, unknown>> {
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
  extensions?: Record<string, unknown>;
}

export type FetchHandler = (request: Request) => Promise<Response>;

/** Sends one GraphQL operation to an in-process fetch handler or a URL. */
export async function gql<T = Record<string, unknown>>(
  target: FetchHandler | string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphQLResult<T>> {
  const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) };
  const res = typeof target === 'string' ? await fetch(target, init) : await target(new Request('http://objectos.test/graphql', init));
  return (await res.json()) as GraphQLResult<T>;
}

/** Like gql, but fails with the server's messages when the response has errors. */
export async function gqlOk<T = Record<string, unknown>>(target: FetchHandler | string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const r = await gql<T>(target, query, variables);
  if (r.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(r.errors)}`);
  return r.data as T;
}

/** A target (URL or handler) whose requests carry extra headers (credentials, origin…). */
export function withHeaders(target: FetchHandler | string, headers: Record<string, string>): FetchHandler {
  return async (r) => {
    const h = new Headers(r.headers);
    for (const [k, v] of Object.entries(headers)) h.set(k, v);
    if (typeof target !== 'string') return target(new Request(r, { headers: h }));
    const body = r.method === 'GET' || r.method === 'HEAD' ? undefined : await r.arrayBuffer();
    return fetch(target, { method: r.method, headers: h, ...(body ? { body } : {}) });
  };
}

/** Signs in with email and password at `<origin>/api/auth/sign-in/email`; returns the bearer token. */
export async function signIn(target: FetchHandler | string, email: string, password: string, headers: Record<string, string> = {}): Promise<string> {
  const url = typeof target === 'string' ? `${new URL(target).origin}/api/auth/sign-in/email` : 'http://objectos.test/api/auth/sign-in/email';
  const init = { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ email, password }) };
  const res = typeof target === 'string' ? await fetch(url, init) : await target(new Request(url, init));
  const token = res.headers.get('set-auth-token');
  if (!res.ok || !token) throw new Error(`sign-in as ${email} failed: ${res.status} ${await res.text()}`);
  return token;
}
