import { createSourceEventStream, execute, GraphQLError, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';

/**
 * An event's results, per selection: the fan-out hands every subscriber of a group (same user, same
 * access, same `where`) the same payload object, so the payload is the key and the entry goes when the
 * last subscriber has taken it.
 */
const results = new WeakMap<object, Map<string, Promise<ExecutionResult>>>();
const documentIds = new WeakMap<DocumentNode, number>();
let nextDocumentId = 0;

/** What the shared results are counted in: executions run, deliveries that reused one, and JSON texts made of them (tests, bench). */
export interface SharedDeliveryStats { executions: number; reused: number; serialized: number }

/**
 * Subscription events executed and serialized once per group and selection. Each subscriber's stream
 * maps its events as graphql-js's `subscribe` does (the payload as root value, the operation's
 * selection executed), except that a payload already executed for the same selection, variables and
 * principal returns that result: one execution, and one JSON text for yoga's SSE writer (a result's own
 * `stringify`, which yoga prefers to JSON.stringify). Sharing is by object identity: a payload built for
 * one group is never handed to another, and the key holds the whole principal, so what the selection
 * reaches beyond the payload (relationships, read through the first subscriber's context) is read with
 * the same access. A result with errors is not given a shared text (yoga rewrites errors per request).
 */
export function useSharedDeliveries(principalKeyOf: (context: unknown) => string | null, stats?: SharedDeliveryStats): Plugin {
  return {
    onSubscribe({ args, setSubscribeFn }) {
      const principal = principalKeyOf(args.contextValue);
      if (principal === null) return;
      let id = documentIds.get(args.document);
      if (id === undefined) documentIds.set(args.document, (id = nextDocumentId++));
      const key = `${principal}\u0000${id}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}`;
      setSubscribeFn(async (a: ExecutionArgs) => {
        const source = await createSourceEventStream(a);
        if (!isAsyncIterable(source)) return source;
        return mapEvents(source, a, (payload) => {
          if (payload === null || typeof payload !== 'object') return Promise.resolve(execute({ ...a, rootValue: payload }));
          let byKey = results.get(payload);
          if (!byKey) results.set(payload, (byKey = new Map()));
          const known = byKey.get(key);
          if (known) {
            if (stats) stats.reused++;
            return known;
          }
          if (stats) stats.executions++;
          const result = Promise.resolve(execute({ ...a, rootValue: payload })).then((r) => withText(r, stats));
          byKey.set(key, result);
          return result;
        });
      });
    },
  };
}

/** The result, serialized once whoever writes it (yoga's SSE writer calls `result.stringify(result)` when it has one). */
function withText(result: ExecutionResult, stats?: SharedDeliveryStats): ExecutionResult {
  if (result.errors?.length) return result;
  let text: string | null = null;
  const serialize = (r: unknown) => {
    if (stats) stats.serialized++;
    return JSON.stringify(r);
  };
  const own = (r: unknown) => (r === result ? (text ??= serialize(r)) : serialize(r));
  Object.defineProperty(result, 'stringify', { value: own, enumerable: false });
  return result;
}

/**
 * The events of a source stream mapped to results, ended with it: `return()` reaches the source at once
 * (the subscription leaves the fan-out), and an error of the source is raised as graphql-js raises it.
 */
function mapEvents(source: AsyncIterable<unknown>, a: ExecutionArgs, map: (payload: unknown) => Promise<ExecutionResult>): AsyncGenerator<ExecutionResult, void, unknown> {
  const it = source[Symbol.asyncIterator]();
  const operation = a.document.definitions.find((d) => d.kind === 'OperationDefinition' && (a.operationName == null || d.name?.value === a.operationName));
  const raise = (error: unknown): never => {
    // As @graphql-tools/executor (yoga's engine) wraps it: the original's message and extensions, at the operation.
    const e = error instanceof Error ? error : new Error(String(error));
    throw new GraphQLError(e.message, { originalError: e, ...(operation ? { nodes: [operation] } : {}) });
  };
  const mapped: AsyncGenerator<ExecutionResult, void, unknown> = {
    async next() {
      let r: IteratorResult<unknown>;
      try {
        r = await it.next();
      } catch (error) {
        return raise(error);
      }
      if (r.done) return { done: true, value: undefined };
      return { done: false, value: await map(r.value) };
    },
    async return() {
      await it.return?.();
      return { done: true, value: undefined };
    },
    async throw(error: unknown) {
      await it.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return mapped;
}
