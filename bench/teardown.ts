import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { pct } from './stats.ts';

/** With BENCH_PROFILE_TEARDOWN=<file>: a CPU profile of this process from `start` to `stop` (open it in Chrome DevTools). */
export async function profileTeardown(): Promise<() => Promise<string | null>> {
  const file = process.env['BENCH_PROFILE_TEARDOWN'];
  if (!file) return async () => null;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    await writeFile(file, JSON.stringify(profile));
    return file;
  };
}

/**
 * How long each subscription outlived its socket, as the server saw both go: `sockets()` and
 * `subscriptions()` (one subscription per socket) are sampled every millisecond or so while clients
 * leave; the k-th socket to close is paired with the k-th subscription to end (first in, first out).
 * The samples are taken on the server's own event loop, so a busy loop delays them: a lag is never
 * measured shorter than it was.
 */
export function watchTeardown(sockets: () => number, subscriptions: () => number, total: number) {
  const closed: number[] = [];
  const ended: number[] = [];
  const t0 = performance.now();
  const sample = () => {
    const t = performance.now() - t0;
    while (closed.length < total - sockets()) closed.push(t);
    while (ended.length < total - subscriptions()) ended.push(t);
  };
  const timer = setInterval(sample, 1);
  return {
    /** Stops sampling; the lag (ms) of each subscription past its socket: p50, p99, max. */
    stop() {
      clearInterval(timer);
      sample();
      const lags = ended.map((t, k) => t - (closed[k] ?? t));
      return { p50: pct(lags, 50), p99: pct(lags, 99), max: lags.length ? Math.max(...lags) : NaN, n: lags.length };
    },
  };
}
