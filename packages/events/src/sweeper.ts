import { detached } from '@objectos/observability/tracing';

/** A job run on signals and on a timer, never twice at once (see createSweeper). */
export interface Sweeper {
  /** Run now (or once more after the current run). */
  kick(): void;
  /** Resolves when a run that started after the call has finished (tests, shutdown). */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Runs `work` every `intervalMs` and whenever kicked: one run at a time, a kick during a run asks for
 * one more run after it, and a failed run waits for the next tick (`onError` says why). The relay
 * (outbox → feed) and the audit capture (queue → trail) both sweep this way.
 */
export function createSweeper(work: () => Promise<void>, intervalMs: number, onError: (e: Error) => void): Sweeper {
  let running: Promise<void> | null = null;
  let again = false;
  let closed = false;
  const run = (): Promise<void> => {
    if (closed) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          // Outside the trace and request of whoever kicked: a run serves whatever is pending, and the
          // rows it moves carry their own traces.
          await detached(work);
        } catch (e) {
          onError(e as Error);
          return;
        }
      } while (again && !closed);
    })().finally(() => {
      running = null;
    });
    return running;
  };
  const timer = setInterval(() => void run(), intervalMs);
  timer.unref();
  void run();
  return {
    kick: () => void run(),
    async drain() {
      while (running) await running;
      await run();
    },
    async close() {
      closed = true;
      clearInterval(timer);
      while (running) await running;
    },
  };
}
