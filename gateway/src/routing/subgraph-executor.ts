import { GraphQLError, print, type DocumentNode, type ExecutionResult } from 'graphql';
import type { ExecutionRequest, Executor } from '@graphql-tools/utils';
import { resultStream } from '../realtime/sse-stream.ts';
import { byStatus, subgraphCall } from './subgraph-call.ts';

type Send = (url: string, init: RequestInit) => Promise<Response>;

export interface SubgraphExecutorOptions {
  /** The subgraph's name: what errors name (never its URL or the query sent to it). */
  name: string;
  url: string;
  /** Sends one call (signed for this subgraph by the caller). */
  send: Send;
  /** Headers of one call (the principal and the request id). */
  headers: (request: ExecutionRequest) => Record<string, string>;
  /** Queries and mutations end after this long; a subscription lasts as long as its client. */
  timeoutMs: number;
}

const printed = new WeakMap<DocumentNode, string>();
const printOnce = (document: DocumentNode): string => {
  let text = printed.get(document);
  if (text === undefined) printed.set(document, (text = print(document)));
  return text;
};

/** An error the client may see: the subgraph's name and what went wrong, nothing about how it was called. */
const failure = (name: string, code: string, message: string, cause?: unknown): GraphQLError =>
  new GraphQLError(`Subgraph "${name}" ${message}`, { extensions: { code, subgraph: name }, ...(cause instanceof Error ? { originalError: cause } : {}) });

const isTimeout = (e: unknown): boolean => e instanceof Error && e.name === 'TimeoutError';

/** A call that did not get an answer (past its timeout, or the subgraph unreachable), as the client sees it. */
export const callFailure = (name: string, e: unknown): GraphQLError =>
  isTimeout(e) ? failure(name, 'TIMEOUT', 'did not answer in time', e) : failure(name, 'SUBGRAPH_UNAVAILABLE', 'could not be reached', e);

/** A subgraph answered something that is not a GraphQL result (no JSON, or neither data nor errors). */
export const notAResult = (name: string, status: number): GraphQLError => failure(name, 'SUBGRAPH_ERROR', `answered HTTP ${status} without a GraphQL result`);

/** A subgraph answer's text as a GraphQL result (whatever the status: GraphQL over HTTP), or null when it is not one. */
export function parseResult(text: string): { data?: Record<string, unknown> | null; errors?: unknown[] } | null {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return null;
  }
  return body && typeof body === 'object' && ('data' in body || 'errors' in body) ? (body as { data?: Record<string, unknown> | null; errors?: unknown[] }) : null;
}

/** The answer's text as a result; `valid` false when it was not a GraphQL result (then a coded stand-in). */
async function readResult(name: string, response: Response, until: Promise<never>): Promise<{ result: ExecutionResult; valid: boolean }> {
  const body = parseResult(await Promise.race([response.text(), until]));
  return body ? { result: body as ExecutionResult, valid: true } : { result: { errors: [notAResult(name, response.status)] }, valid: false };
}

/**
 * The executor the stitched path calls each subgraph with (operations that span subgraphs; one
 * subgraph's operations take the one-hop path). Each call has its own AbortController, tied to the
 * client's request and to its timeout, and released when the call ends: nothing is added to a
 * signal shared between calls (`@graphql-tools/executor-http` combined every call with one
 * long-lived dispose signal and left a listener on it until garbage collection, hence
 * MaxListenersExceededWarning past 10 calls). Failures name the subgraph, never its URL or query.
 */
export function createSubgraphExecutor(o: SubgraphExecutorOptions): Executor {
  return (async (request: ExecutionRequest) => {
    const subscription = request.operationType === 'subscription';
    // The client's request (yoga puts it in the context): a client that goes away cancels the call.
    const client = request.signal ?? (request.context as { request?: Request } | undefined)?.request?.signal;
    if (client?.aborted) return { errors: [failure(o.name, 'CANCELLED', 'call was cancelled: the client went away')] };
    const ctrl = new AbortController();
    const onClientAbort = () => ctrl.abort(client?.reason);
    client?.addEventListener('abort', onClientAbort, { once: true });
    const timer = subscription ? null : setTimeout(() => ctrl.abort(new DOMException(`Subgraph "${o.name}" did not answer in time`, 'TimeoutError')), o.timeoutMs);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (timer) clearTimeout(timer);
      client?.removeEventListener('abort', onClientAbort);
    };
    // Settles (rejects) when the call is aborted, so a fetch that ignores its signal cannot outlive it.
    const until = new Promise<never>((_, reject) => ctrl.signal.addEventListener('abort', () => reject(ctrl.signal.reason), { once: true }));
    until.catch(() => {});
    const body = JSON.stringify({
      query: printOnce(request.document),
      ...(request.variables && Object.keys(request.variables).length ? { variables: request.variables } : {}),
      ...(request.operationName ? { operationName: request.operationName } : {}),
    });
    let streaming = false;
    try {
      const headers = { 'content-type': 'application/json', accept: subscription ? 'text/event-stream' : 'application/graphql-response+json, application/json', ...o.headers(request) };
      // Timed (and traced) until the answer is read; a subscription's, until its stream starts.
      const answer = await subgraphCall(o.name, headers, async (sent) => {
        const response = await Promise.race([o.send(o.url, { method: 'POST', headers: sent, body, signal: ctrl.signal }), until]);
        if (subscription && (response.headers.get('content-type') ?? '').includes('text/event-stream')) return { response, result: null, valid: true };
        return { response, ...(await readResult(o.name, response, until)) };
      }, {
        outcomeOf: ({ response, valid }) => (valid ? byStatus(response.status) : 'error'),
        onThrow: (e) => (client?.aborted && !isTimeout(e) ? 'cancelled' : isTimeout(e) ? 'timeout' : 'error'),
      });
      if (!answer.result) {
        streaming = true;
        // Ended by the subgraph, the client or the consumer: the call is released and aborted.
        return resultStream(answer.response, () => {
          release();
          ctrl.abort();
        });
      }
      return answer.result;
    } catch (e) {
      if (client?.aborted && !isTimeout(e)) return { errors: [failure(o.name, 'CANCELLED', 'call was cancelled: the client went away', e)] };
      return { errors: [callFailure(o.name, e)] };
    } finally {
      if (!streaming) release();
    }
  }) as Executor;
}
