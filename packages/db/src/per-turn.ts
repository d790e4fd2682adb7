/**
 * Calls made within one turn of the event loop go out as one: `flush` receives every item given during
 * the turn, in order, and answers with one result per item in the same order. A statement per item is
 * most of the cost on PGlite (one connection, run on this thread), where N updates become one.
 * A flush that fails rejects every caller of its turn.
 */
export function perTurn<T, R>(flush: (items: T[]) => Promise<readonly R[]>): (item: T) => Promise<R> {
  let batch: { items: T[]; result: Promise<readonly R[]> } | null = null;
  return (item) => {
    if (!batch) {
      const items: T[] = [];
      const result = new Promise<readonly R[]>((resolve, reject) => setImmediate(() => {
        batch = null;
        flush(items).then(resolve, reject);
      }));
      batch = { items, result };
    }
    const i = batch.items.push(item) - 1;
    return batch.result.then((rs) => rs[i]!);
  };
}
