import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';

export interface ObjectOSClientOptions {
  /** The gateway endpoint, e.g. http://localhost:4000/graphql. */
  url: string;
  /** Extra headers (authentication, once identity lands). */
  headers?: Record<string, string>;
  /** Defaults to the global fetch; pass an in-process handler in tests. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
}

export interface ObjectOSErrorEntry {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; issues?: { field: string; constraint: string; message: string }[] } & Record<string, unknown>;
}

/** The server answered with errors; `errors` keeps each one's code and issues. */
export class ObjectOSClientError extends Error {
  constructor(readonly errors: ObjectOSErrorEntry[]) {
    super(errors.map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`).join('\n'));
    this.name = 'ObjectOSClientError';
  }
}

/** A minimal typed client: results and variables are typed by the generated documents. */
export function createObjectOSClient({ url, headers = {}, fetch: doFetch = fetch }: ObjectOSClientOptions) {
  return {
    async request<TResult, TVariables>(document: TypedDocumentNode<TResult, TVariables>, ...[variables]: TVariables extends Record<string, never> ? [] : [TVariables]): Promise<TResult> {
      const res = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
        body: JSON.stringify({ query: print(document), variables: variables ?? {} }),
      });
      const body = (await res.json()) as { data?: TResult | null; errors?: ObjectOSErrorEntry[] };
      if (body.errors?.length) throw new ObjectOSClientError(body.errors);
      if (!body.data) throw new ObjectOSClientError([{ message: `empty response (HTTP ${res.status})` }]);
      return body.data;
    },
  };
}
