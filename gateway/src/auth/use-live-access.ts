import { createGraphQLError, isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { ExecutionResult } from 'graphql';
import { credentialsOf } from '@objectos/principal';
import type { AccessWatch, Watched } from './access-watch.ts';
import { authenticationOf } from './use-authentication.ts';

/**
 * A stream of results that ends, with one FORBIDDEN result, as soon as its watch ends; every result
 * waits for a re-check an auth event started, and is dropped if access did not survive it.
 */
export function endOnAccessLoss(source: AsyncIterable<ExecutionResult>, start: (end: (message: string) => void) => Watched): AsyncIterableIterator<ExecutionResult> {
  const it = source[Symbol.asyncIterator]();
  let finished = false;
  let last: ExecutionResult | null = null;
  // One waiter per pending next(), dropped when it settles: racing every next() against one long-lived
  // promise would keep a reaction (and the result it returned) per delivery for the stream's lifetime.
  let waiter: ((r: IteratorResult<ExecutionResult>) => void) | null = null;
  const cancel = () => void Promise.resolve(it.return?.()).catch(() => {});
  const watched = start((message) => {
    last = { errors: [createGraphQLError(message, { extensions: { code: 'FORBIDDEN' } })] };
    waiter?.({ value: last, done: false });
    // Ends the operation upstream too (down to the subgraph's subscription).
    cancel();
  });
  const close = (): IteratorResult<ExecutionResult> => {
    if (!finished) {
      finished = true;
      watched.stop();
      cancel();
    }
    return { value: undefined, done: true };
  };
  const closing = (): IteratorResult<ExecutionResult> => {
    const value = last;
    close();
    return value ? { value, done: false } : { value: undefined, done: true };
  };
  return {
    async next() {
      if (finished) return { value: undefined, done: true };
      if (last) return closing();
      let r: IteratorResult<ExecutionResult>;
      try {
        r = await Promise.race([it.next(), new Promise<IteratorResult<ExecutionResult>>((resolve) => (waiter = resolve))]);
      } finally {
        waiter = null;
      }
      if (last) return closing();
      if (r.done) return close();
      const ready = watched.ready();
      if (ready === true || (ready !== false && (await ready))) return r;
      return closing();
    },
    async return() {
      return close();
    },
    async throw(e: unknown) {
      close();
      throw e;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * Every live result the endpoint streams (subscriptions over SSE, and through it over WebSocket, and
 * any transport added later that goes through yoga) is held on the requester's access: an auth event
 * that ends or changes it ends the stream before the next delivery.
 */
export function useLiveAccess(watch: AccessWatch): Plugin<{ request: Request }> {
  const guard = (request: Request, result: AsyncIterable<ExecutionResult>): AsyncIterableIterator<ExecutionResult> | null => {
    const auth = authenticationOf(request);
    if (!auth) return null;
    return endOnAccessLoss(result, (end) => watch.watch(credentialsOf(request.headers), auth.principal, auth.expiresAt, end));
  };
  return {
    onSubscribe({ args }) {
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable(result)) return;
          const guarded = guard(args.contextValue.request, result);
          if (guarded) setResult(guarded);
        },
      };
    },
    onExecute({ args }) {
      return {
        onExecuteDone({ result, setResult }) {
          if (!isAsyncIterable(result)) return;
          const guarded = guard(args.contextValue.request, result);
          if (guarded) setResult(guarded as never);
        },
      };
    },
  };
}
