import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';

export interface ObjectOSClientOptions {
  /** The gateway endpoint, e.g. http://localhost:4000/graphql. */
  url: string;
  /** Extra headers (authentication, once identity lands). */
  headers?: Record<string, string>;
  /** Defaults to the global fetch; pass an in-process handler in tests. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /** The graphql-ws endpoint for subscriptions. @default `url` with ws(s):// */
  wsUrl?: string;
  /** A WebSocket implementation where there is no global one (Node 20: `import WebSocket from 'ws'`). */
  webSocketImpl?: unknown;
}

/** What a subscription reports: each result, then an error or the end. */
export interface SubscriptionHandlers<TResult> {
  next(data: TResult): void;
  error?(error: ObjectOSClientError): void;
  complete?(): void;
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
export function createObjectOSClient({ url, headers = {}, fetch: doFetch = fetch, wsUrl, webSocketImpl }: ObjectOSClientOptions) {
  let ws: Client | null = null;
  // Credentials go in connectionParams (browsers send the session cookie with the upgrade themselves).
  const connectionParams = Object.fromEntries(Object.entries(headers).filter(([k]) => ['authorization', 'x-api-key'].includes(k.toLowerCase())));
  const socket = (): Client =>
    (ws ??= createClient({
      url: wsUrl ?? url.replace(/^http/, 'ws'),
      connectionParams,
      lazy: true,
      ...(webSocketImpl ? { webSocketImpl } : {}),
    }));
  const toError = (e: unknown): ObjectOSClientError => {
    if (e instanceof ObjectOSClientError) return e;
    if (Array.isArray(e)) return new ObjectOSClientError(e as ObjectOSErrorEntry[]);
    const close = e as { code?: number; reason?: string };
    if (typeof close?.code === 'number') return new ObjectOSClientError([{ message: close.reason || `connection closed (${close.code})`, extensions: { code: close.code === 4403 ? 'FORBIDDEN' : 'CONNECTION_CLOSED', closeCode: close.code } }]);
    return new ObjectOSClientError([{ message: e instanceof Error ? e.message : String(e) }]);
  };
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
    /**
     * A typed subscription over graphql-ws (one socket per client, opened on first use). Returns the
     * function that ends it. Errors, including those refusing the operation, come as ObjectOSClientError.
     */
    subscribe<TResult, TVariables>(document: TypedDocumentNode<TResult, TVariables>, variables: TVariables, handlers: SubscriptionHandlers<TResult>): () => void {
      return socket().subscribe<TResult>({ query: print(document), variables: (variables ?? {}) as Record<string, unknown> }, {
        next: (r) => {
          if (r.errors?.length) handlers.error?.(new ObjectOSClientError(r.errors as ObjectOSErrorEntry[]));
          else if (r.data) handlers.next(r.data);
        },
        error: (e) => handlers.error?.(toError(e)),
        complete: () => handlers.complete?.(),
      });
    },
    /** Closes the subscription socket, if one was opened. */
    async close(): Promise<void> {
      await ws?.dispose();
      ws = null;
    },
  };
}
