import { loadavg } from 'node:os';
import autocannon from 'autocannon';
import { cpuMs, postgresCpuBetween, postgresCpuMs, sampleRss } from './process.ts';
import type { Target } from './targets.ts';

/** One autocannon run against one target. */
export interface Run {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  /** Connection errors and timeouts. */
  errors: number;
  timeouts: number;
  non2xx: number;
  /** 2xx answers whose body carried GraphQL errors (or no data). */
  graphqlErrors: number;
  /** Largest RSS of the target's process during the run, MiB. */
  rssMiB: number;
  /** One-minute load average at the end of the run (the machine may be shared). */
  load1: number;
  /** CPU time the target's process used per answered request (µs), NaN where /proc is missing. */
  cpuUsPerRequest: number;
  /** CPU time PostgreSQL's processes used per answered request (µs), NaN where /proc is missing. */
  postgresUsPerRequest: number;
}

/** A body is good when it has data and no `errors` (checked on every response, for every target alike). */
export const goodBody = (body: string): boolean => body.startsWith('{"data":') && !body.includes('"errors":[');

/** `connections` connections for `seconds`, sampling the target's RSS every 200 ms meanwhile. */
export async function load(target: Pick<Target, 'url' | 'headers' | 'sign' | 'process'>, query: string, connections: number, seconds: number): Promise<Run> {
  const rss = sampleRss(target.process.pid);
  const cpuBefore = cpuMs(target.process.pid);
  const postgresBefore = postgresCpuMs();
  try {
    const body = JSON.stringify({ query });
    const headers = { 'content-type': 'application/json', ...target.headers };
    const { sign } = target;
    const path = new URL(target.url).pathname;
    const r = await autocannon({
      url: target.url,
      method: 'POST',
      headers,
      body,
      // A target that takes only signed calls gets a fresh signature per request (autocannon rebuilds it).
      ...(sign ? { requests: [{ method: 'POST' as const, path, body, setupRequest: (req: autocannon.Request) => ({ ...req, headers: { ...headers, ...sign('POST', path, body) } }) }] } : {}),
      connections,
      duration: seconds,
      // A stalled request counts as a timeout rather than holding the run open.
      timeout: 30,
      verifyBody: (body) => goodBody(typeof body === 'string' ? body : body ? body.toString() : ''),
    });
    return {
      rps: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      requests: r.requests.total,
      errors: r.errors,
      timeouts: r.timeouts,
      non2xx: r.non2xx,
      graphqlErrors: r.mismatches,
      rssMiB: await rss.stop(),
      load1: loadavg()[0]!,
      cpuUsPerRequest: perRequest(cpuBefore, cpuMs(target.process.pid), r.requests.total),
      postgresUsPerRequest: perRequest(0, postgresCpuBetween(postgresBefore, postgresCpuMs()), r.requests.total),
    };
  } catch (e) {
    await rss.stop();
    throw e;
  }
}

const perRequest = (before: number | null, after: number | null, requests: number): number =>
  before === null || after === null || requests === 0 ? Number.NaN : ((after - before) * 1000) / requests;

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** The runs of one target for one query at one connection count, summarised. */
export interface Cell {
  target: string;
  runs: Run[];
  /** Median req/s of the runs. */
  rps: number;
  /** Medians of the runs' p50 and p99 (of the runs that completed a request; NaN if none did). */
  p50: number;
  p99: number;
  /** Largest RSS seen in any of the runs. */
  peakRssMiB: number;
  /** Median CPU µs per request of the runs (the target's process, all threads). */
  cpuUsPerRequest: number;
  /** Median PostgreSQL CPU µs per request of the runs. */
  postgresUsPerRequest: number;
  errors: number;
  non2xx: number;
  graphqlErrors: number;
}

export function summarise(target: string, runs: Run[]): Cell {
  const sum = (f: (r: Run) => number) => runs.reduce((n, r) => n + f(r), 0);
  // A run that completed nothing (every request outlived it) has no latency to speak of.
  const timed = runs.filter((r) => r.requests > 0);
  return {
    target,
    runs,
    rps: median(runs.map((r) => r.rps)),
    p50: timed.length ? median(timed.map((r) => r.p50)) : Number.NaN,
    p99: timed.length ? median(timed.map((r) => r.p99)) : Number.NaN,
    peakRssMiB: Math.max(...runs.map((r) => r.rssMiB)),
    cpuUsPerRequest: median(runs.map((r) => r.cpuUsPerRequest)),
    postgresUsPerRequest: median(runs.map((r) => r.postgresUsPerRequest)),
    errors: sum((r) => r.errors),
    non2xx: sum((r) => r.non2xx),
    graphqlErrors: sum((r) => r.graphqlErrors),
  };
}
