import { createGraphQLError, isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { ExecutionResult } from 'graphql';
import { credentialsOf } from '@objectos/principal';
import type { AccessWatch, Changed, Watched } from './access-watch.ts';
import { FAREWELL, type Farewell } from '../routing/use-single-hop.ts';
import { authenticationOf } from './use-authentication.ts';

/** How long a subscription's last events (LEFT, after an access change) may take to arrive before it ends anyway. */
const PARTING_MS = 5_000;

/**
 * A stream of results that ends, with one FORBIDDEN result, as soon as its watch ends; every result
 * waits for a re-check an auth event started, and is dropped if access did not survive it.
 *
 * With `farewell` (a one-hop subscription), an access that only changed (role, groups, permission sets)
 * is first told to the subgraph: it sends the ids of the records that left the subscriber's view (LEFT)
 * and ends the stream. What it sent after the results given so far, under the old access, is dropped;
 * the LEFT events are passed on, then the FORBIDDEN result.
 */
export function endOnAccessLoss(source: AsyncIterable<ExecutionResult>, start: (end: (message: string, changed?: Changed) => void) => Watched, farewell?: Farewell): AsyncIterableIterator<ExecutionResult> {
  const it = source[Symbol.asyncIterator]();
  let finished = false;
  let last: ExecutionResult | null = null;
  // One waiter per pending next(), dropped when it settles: racing every next() against one long-lived
  // promise would keep a reaction (and the result it returned) per delivery for the stream's lifetime.
  let waiter: ((r: IteratorResult<ExecutionResult>) => void) | null = null;
  // Results read from the source and given to the client; past `drop` (once the farewell answered), LEFT events.
  let read = 0;
  let given = 0;
  let parting: Promise<number | null> | null = null;
  let drop = Infinity;
  const cancel = () => void Promise.resolve(it.return?.()).catch(() => {});
  const wake = () => {
    waiter?.({ value: last!, done: false });
    // Ends the operation upstream too (down to the subgraph's subscription).
    cancel();
  };
  const watched = start((message, changed) => {
    last = { errors: [createGraphQLError(message, { extensions: { code: 'FORBIDDEN' } })] };
    if (!changed || !farewell) return wake();
    const sent = given;
    parting = farewell(changed.principal, sent).then((skip) => {
      if (skip === null) wake();
      else drop = sent + skip;
      return skip;
    }, () => (wake(), null));
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
  /** After the farewell: the results past `drop` (LEFT events) until the source ends, then FORBIDDEN. */
  const part = async (held: IteratorResult<ExecutionResult> | null): Promise<IteratorResult<ExecutionResult>> => {
    if ((await parting) === null) return closing();
    const deadline = Date.now() + PARTING_MS;
    for (let r = held; ; r = null) {
      if (!r) {
        let timer: NodeJS.Timeout | undefined;
        r = await Promise.race([it.next(), new Promise<null>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()), null)))]).finally(() => clearTimeout(timer));
        if (r === null || r.done) return closing();
        read++;
      }
      if (read > drop) return (given++, r);
    }
  };
  return {
    async next() {
      if (finished) return { value: undefined, done: true };
      if (parting) return part(null);
      if (last) return closing();
      let r: IteratorResult<ExecutionResult>;
      try {
        r = await Promise.race([it.next(), new Promise<IteratorResult<ExecutionResult>>((resolve) => (waiter = resolve))]);
      } finally {
        waiter = null;
      }
      if (r.value !== last && !r.done) read++;
      if (parting) return part(r.value === last ? null : r);
      if (last) return closing();
      if (r.done) return close();
      const ready = watched.ready();
      if (ready === true || (ready !== false && (await ready))) return (given++, r);
      return parting ? part(r) : closing();
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
  const guard = (context: { request: Request; [FAREWELL]?: Farewell }, result: AsyncIterable<ExecutionResult>): AsyncIterableIterator<ExecutionResult> | null => {
    const request = context.request;
    const auth = authenticationOf(request);
    if (!auth) return null;
    return endOnAccessLoss(result, (end) => watch.watch(credentialsOf(request.headers), auth.principal, auth.expiresAt, end), context[FAREWELL]);
  };
  return {
    onSubscribe({ args }) {
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable(result)) return;
          const guarded = guard(args.contextValue, result);
          if (guarded) setResult(guarded);
        },
      };
    },
    onExecute({ args }) {
      return {
        onExecuteDone({ result, setResult }) {
          if (!isAsyncIterable(result)) return;
          const guarded = guard(args.contextValue, result);
          if (guarded) setResult(guarded as never);
        },
      };
    },
  };
}
