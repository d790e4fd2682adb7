/**
 * Most ids one statement binds. Id lists come from the server itself (batched lookups, the parents of
 * a page, the children a delete cascades to), not from a client's filter; split, a statement stays far
 * below PostgreSQL's 65,535 bind parameters however many rows are involved.
 */
export const MAX_IDS_PER_STATEMENT = 10_000;

/** `ids` in slices of at most `size`. */
export function chunks<T>(ids: readonly T[], size = MAX_IDS_PER_STATEMENT): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < ids.length; i += size) out.push(ids.slice(i, i + size));
  return out;
}

/** Runs `run` once per slice of `ids` (one after the other: they may share a transaction) and concatenates the rows. */
export async function inChunks<T, R>(ids: readonly T[], run: (slice: T[]) => Promise<R[]>, size = MAX_IDS_PER_STATEMENT): Promise<R[]> {
  if (ids.length <= size) return run([...ids]);
  const out: R[] = [];
  for (const slice of chunks(ids, size)) out.push(...(await run(slice)));
  return out;
}
