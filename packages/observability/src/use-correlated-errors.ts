import { randomUUID } from 'node:crypto';
import { getOperationAST, GraphQLError, type DocumentNode, type ExecutionResult } from 'graphql';
import { isAsyncIterable, mapAsyncIterator, type Plugin } from 'graphql-yoga';
import type { Logger } from './logger.ts';
import { errorCodeLabel, graphqlDuration, graphqlErrors, graphqlOperations, metricsEnabled, operationLabel } from './metrics.ts';

export const REQUEST_ID_HEADER = 'x-request-id';
const VALID_ID = /^[A-Za-z0-9._:-]{8,80}$/;

/** What a server says about an error the generic rules do not cover: a code and a safe message. */
export type ClassifyError = (error: GraphQLError, chain: unknown[]) => { code: string; message: string } | null;

export interface CorrelatedErrorsOptions {
  logger: Logger;
  /** Server-specific rules (timeouts, limits…), tried first. */
  classify?: ClassifyError;
  /** The `service` label of this server's GraphQL metrics. @default the logger's `service` binding */
  service?: string;
}

/** The error and everything it wraps (originalError / cause), outermost first. */
export function errorChain(error: unknown): unknown[] {
  const out: unknown[] = [];
  for (let cur: unknown = error; cur && out.length < 8; cur = (cur as { originalError?: unknown }).originalError ?? (cur as { cause?: unknown }).cause) out.push(cur);
  return out;
}

/** What a request's operation is counted as, and when its parsing began. */
interface Operation {
  operation: string;
  type: string;
  started: number;
}

/**
 * The one place a server masks, codes and correlates errors. Every request gets an id (a valid
 * incoming `x-request-id`, as the gateway forwards it, or a new one), echoed in the response header
 * and in every error's `extensions.requestId`. Unexpected errors become "Unexpected error." with code
 * INTERNAL_SERVER_ERROR, and their detail (stack, SQL) goes only to the log line carrying the same id.
 *
 * Every server of ObjectOS has this plugin, so it also counts what they all serve: operations by name
 * (bounded by operationLabel) and type with their duration (from parsing to the result: for a
 * subscription, until its stream starts), and errors by the code the client finally sees.
 */
export function useCorrelatedErrors({ logger, classify, service: named }: CorrelatedErrorsOptions): Plugin<{ requestId?: string }> {
  // A logger made by createLogger names its service; a stand-in (tests pass partial loggers) may not.
  const bound = typeof logger.bindings === 'function' ? (logger.bindings() as { service?: unknown }).service : undefined;
  const service = named ?? (typeof bound === 'string' ? bound : 'unknown');
  const operations = new WeakMap<Request, Operation>();
  const countErrors = (errors: readonly unknown[] | undefined): void => {
    if (!errors?.length || !metricsEnabled()) return;
    for (const e of errors) graphqlErrors.inc({ service, code: errorCodeLabel((e as { extensions?: { code?: unknown } } | null)?.extensions?.code) });
  };
  const ids = new WeakMap<Request, string>();
  const idOf = (request: Request): string => {
    let id = ids.get(request);
    if (!id) {
      const given = request.headers.get(REQUEST_ID_HEADER);
      id = given && VALID_ID.test(given) ? given : randomUUID();
      ids.set(request, id);
    }
    return id;
  };
  const fix = (e: GraphQLError, requestId: string): GraphQLError => {
    const chain = errorChain(e);
    const ruled = classify?.(e, chain);
    const expected = !e.originalError || e.originalError instanceof GraphQLError;
    const code = ruled?.code ?? (typeof e.extensions?.['code'] === 'string' && expected ? (e.extensions['code'] as string) : null);
    if (!ruled && (!expected || (code === null && e.path))) {
      logger.error({ requestId, path: e.path?.join('.'), err: e.originalError ?? e }, 'unexpected error');
      return new GraphQLError('Unexpected error.', { ...(e.path ? { path: e.path } : {}), extensions: { code: 'INTERNAL_SERVER_ERROR', requestId } });
    }
    // A rule-classified error is expected: one line with its code and, for the operator, its innermost
    // cause (an unreachable subgraph's address, say), no stack. The client gets the rule's message only.
    if (ruled) {
      const inner = chain.length > 1 ? chain[chain.length - 1] : null;
      const cause = inner instanceof Error ? `${inner.name}: ${inner.message}` : undefined;
      logger.warn({ requestId, path: e.path?.join('.'), code: ruled.code, ...(cause ? { cause } : {}) }, ruled.message);
    }
    return new GraphQLError(ruled?.message ?? e.message, {
      nodes: e.nodes ?? null,
      path: e.path ?? null,
      extensions: { ...e.extensions, code: code ?? 'BAD_USER_INPUT', requestId },
    });
  };
  return {
    onRequest({ request }) {
      idOf(request);
    },
    onContextBuilding({ context, extendContext }) {
      extendContext({ requestId: idOf(context.request) });
    },
    // The operation as parsed (from the parse cache too: these hooks run either way), named by the request.
    onParse({ context }) {
      if (!metricsEnabled()) return;
      const started = performance.now();
      return ({ result }) => {
        const { request, params } = context as { request?: Request; params?: { operationName?: string | null } };
        if (!request || !result || result instanceof Error) return;
        const operation = getOperationAST(result as DocumentNode, params?.operationName ?? undefined);
        operations.set(request, { operation: operationLabel(operation?.name?.value ?? params?.operationName), type: operation?.operation ?? 'unknown', started });
      };
    },
    onResultProcess({ request, result, setResult }) {
      const requestId = idOf(request);
      const fixed = (r: ExecutionResult): ExecutionResult =>
        r.errors?.length ? { ...r, errors: r.errors.map((e) => (e instanceof GraphQLError ? fix(e, requestId) : e)) } : r;
      const op = operations.get(request);
      if (op && metricsEnabled()) {
        operations.delete(request);
        const labels = { service, operation: op.operation, type: op.type };
        graphqlOperations.inc(labels);
        graphqlDuration.observe(labels, (performance.now() - op.started) / 1000);
      }
      // A stream (subscription events over SSE, and through it WebSocket): every event's errors too.
      if (isAsyncIterable(result))
        return setResult(mapAsyncIterator(result as AsyncIterable<ExecutionResult>, (r) => {
          const out = fixed(r);
          countErrors(out.errors);
          return out;
        }));
      // A result passed through as text (the gateway's one hop) has no `errors` key: never parsed here.
      if (Array.isArray(result) || !result || typeof result !== 'object' || !('errors' in result)) return;
      const out = fixed(result as ExecutionResult);
      countErrors(out.errors);
      setResult(out);
    },
    onResponse({ request, response }) {
      response.headers.set(REQUEST_ID_HEADER, idOf(request));
    },
  };
}
