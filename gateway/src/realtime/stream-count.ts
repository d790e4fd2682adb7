import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { metrics } from '@objectos/observability';

/** How a subscription reaches its client: a graphql-ws socket, or an HTTP stream (SSE). */
export type Transport = 'ws' | 'sse';

/**
 * What the WebSocket server adds to the server context of each operation it runs through yoga
 * (the operation is then counted as `ws`, not as the HTTP stream it is internally). A server context
 * is never built from a client's request, so no client can claim it.
 */
export const WS_CONTEXT = { transport: 'ws' } as const;

export interface StreamCount {
  plugin: Plugin;
  /** Subscriptions running now, by transport. */
  active(): Record<Transport, number>;
  /**
   * Reports them as objectos_subscriptions_active until the returned function is called: once per
   * gateway however many servers carry its sockets (each holds it while it runs).
   */
  report(): () => void;
}

/**
 * Counts the subscriptions the gateway is streaming, by transport: +1 when a subscription's stream
 * starts, -1 once when it ends in any way (completed, failed, or returned by a client that left).
 * The stream is wrapped by hand, not with an async generator: a generator's `return()` would wait for
 * the next event before the client's departure reached the stream beneath.
 */
export function createStreamCount(): StreamCount {
  const counts: Record<Transport, number> = { ws: 0, sse: 0 };
  const plugin: Plugin = {
    onSubscribe({ args }) {
      const transport: Transport = (args.contextValue as { transport?: unknown } | undefined)?.transport === 'ws' ? 'ws' : 'sse';
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable(result)) return;
          counts[transport]++;
          setResult(counted(result, () => counts[transport]--));
        },
      };
    },
  };
  const active = () => ({ ...counts });
  let holders = 0;
  let unreport: (() => void) | null = null;
  const report = () => {
    if (holders++ === 0) unreport = metrics.subscriptionsActive.add(() => Object.entries(active()).map(([transport, value]) => ({ labels: { transport }, value })));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--holders === 0) unreport?.();
    };
  };
  return { plugin, active, report };
}

function counted<T>(source: AsyncIterable<T>, onEnd: () => void): AsyncIterableIterator<T> {
  const it = source[Symbol.asyncIterator]();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () => it.next().then((r) => {
      if (r.done) end();
      return r;
    }, (e: unknown) => {
      end();
      throw e;
    }),
    return: (value?: unknown) => {
      end();
      return it.return ? it.return(value) : Promise.resolve({ done: true, value: undefined } as IteratorResult<T>);
    },
    throw: (e?: unknown) => {
      end();
      return it.throw ? it.throw(e) : Promise.reject(e);
    },
  };
}
