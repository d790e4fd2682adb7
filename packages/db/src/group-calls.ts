/**
 * Group commit for calls: those made while the previous flush is still running (or within the same
 * turn of the event loop) go out together as the next flush. `flush` receives the items in order and
 * answers with one result per item, in the same order. Idle, a call is flushed on the next turn; under
 * load the batches grow by themselves. `gatherMs` waits that long after a batch's first call before
 * flushing it: on PGlite a statement runs to its end on this thread, so no call ever comes while one
 * runs, and calls a few milliseconds apart (actions finishing one by one) only group by waiting.
 * A statement per item was most of the cost on PGlite (one
 * connection, run on this thread), where N updates become one. A flush that fails rejects every caller
 * in it, and the next flush goes on.
 */
export function groupCalls<T, R>(flush: (items: T[]) => Promise<readonly R[]>, o: { gatherMs?: number } = {}): (item: T) => Promise<R> {
  let next: { items: T[]; result: Promise<readonly R[]> } | null = null;
  let running: Promise<unknown> = Promise.resolve();
  return (item) => {
    if (!next) {
      const items: T[] = [];
      const after = running;
      const result = new Promise<readonly R[]>((resolve, reject) => {
        const go = () => void after.then(() => {
          next = null;
          flush(items).then(resolve, reject);
        });
        if (o.gatherMs) setTimeout(go, o.gatherMs);
        else setImmediate(go);
      });
      running = result.catch(() => undefined);
      next = { items, result };
    }
    const i = next.items.push(item) - 1;
    return next.result.then((rs) => rs[i]!);
  };
}
