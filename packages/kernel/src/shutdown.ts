import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';

/**
 * Requests in flight on a server, so shutdown can wait for them: each counted from its arrival to its
 * response's end (or its connection's close).
 */
export interface InFlight {
  listener: RequestListener;
  readonly count: number;
  /** Resolves once nothing is in flight, or after `timeoutMs` (then with how many were still running). */
  drained(timeoutMs: number): Promise<number>;
}

/** Server-sent event streams (subscriptions) last as long as their client: not waited for, closed after the drain. */
export const isEventStream = (req: IncomingMessage): boolean => (req.headers.accept ?? '').includes('text/event-stream');

export function trackInFlight(listener: RequestListener, exclude: (req: IncomingMessage) => boolean = isEventStream): InFlight {
  let count = 0;
  const waiters = new Set<() => void>();
  const done = () => {
    count--;
    if (count === 0) for (const w of waiters) w();
  };
  return {
    listener(req: IncomingMessage, res: ServerResponse) {
      if (exclude(req)) return void listener(req, res);
      count++;
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        done();
      };
      res.once('finish', end);
      res.once('close', end);
      listener(req, res);
    },
    get count() {
      return count;
    },
    drained(timeoutMs) {
      if (count === 0) return Promise.resolve(0);
      return new Promise<number>((resolve) => {
        const timer = setTimeout(() => {
          waiters.delete(w);
          resolve(count);
        }, timeoutMs);
        const w = () => {
          clearTimeout(timer);
          waiters.delete(w);
          resolve(0);
        };
        waiters.add(w);
      });
    },
  };
}

/**
 * Graceful close of an HTTP server: stop accepting (the listening socket closes at once), close idle
 * keep-alive connections, wait for the requests in flight (at most `timeoutMs`), then close what is
 * left. Returns how many requests were cut at the deadline (0 when all finished).
 */
export async function closeGracefully(server: Server, inFlight: InFlight, timeoutMs: number): Promise<number> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // A connection that finishes its request while closing is idle again: closed as it goes idle.
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  const cut = await inFlight.drained(timeoutMs);
  clearInterval(sweep);
  server.closeAllConnections();
  await closed;
  return cut;
}
