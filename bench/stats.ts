/** The figures every bench prints: percentiles, fixed decimals, MiB, and a pause. */

/** The p-th percentile (nearest rank) of xs; NaN for none. */
export const pct = (xs: ArrayLike<number>, p: number): number => {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
/** x with d decimals, or '–' when it is not a number (nothing measured). */
export const f = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '–');
/** Bytes as whole MiB. */
export const mib = (b: number): string => (b / 2 ** 20).toFixed(0);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** The mean of xs; NaN for none. */
export const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
/** Waits (polling every 10 ms) until `ok()`; fails naming `what` after `ms`. */
export async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}
