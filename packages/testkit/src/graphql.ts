export interface GraphQLResult<T = Record<string, unknown>> {
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
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
