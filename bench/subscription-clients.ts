import { performance } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/**
 * The subscribers of bench/subscriptions.ts, in a process of their own (forked, driven over IPC): the
 * server's process then holds the server alone, so its CPU, memory per subscriber and mutation latency
 * are the server's, as they would be with clients on other machines. Times are epoch milliseconds
 * (`performance.timeOrigin + performance.now()`), comparable across the two processes on one machine.
 */
export type ToClients =
  | { type: 'open'; url: string; query: string; from: number; to: number; headers: Record<string, string>[] }
  | { type: 'run'; tag: string; N: number }
  | { type: 'collect' }
  | { type: 'dispose' };
export type FromClients =
  | { type: 'opened'; to: number }
  | { type: 'ready' }
  | { type: 'progress'; received: number; errors: number }
  | { type: 'tally'; arrivals: number[]; counts: number[]; errors: string[]; stray: number; received: number; lastArrival: number; rss: number; cpuMs: number }
  | { type: 'disposed' }
  | { type: 'failed'; error: string };

export const epochNow = (): number => performance.timeOrigin + performance.now();

type Got = { accountChanged: { eventId: string; op: string; record: { id: string; name: string } | null } };
interface Tally { tag: string; N: number; S: number; arrivals: Float64Array; counts: Uint16Array; errors: string[]; stray: number; received: number; lastArrival: number }

if (process.send) {
  const send = (m: FromClients) => process.send!(m);
  const pool: Client[] = [];
  let disposing = false;
  let tally: Tally = { tag: '\u0000', N: 0, S: 0, arrivals: new Float64Array(0), counts: new Uint16Array(0), errors: [], stray: 0, received: 0, lastArrival: 0 };
  let progress: NodeJS.Timeout | null = null;
  let cpu0 = process.cpuUsage();

  const open = (m: Extract<ToClients, { type: 'open' }>) => {
    for (let k = m.from; k < m.to; k++) {
      const c = createClient({
        url: m.url,
        webSocketImpl: WebSocket,
        connectionParams: m.headers[k % m.headers.length]!,
        retryAttempts: 0,
        lazy: true,
        on: { closed: (e) => !disposing && tally.errors.push(`subscriber ${k}: socket closed ${(e as { code?: number }).code} ${String((e as { reason?: unknown }).reason ?? '')}`) },
      });
      pool.push(c);
      c.subscribe<Got>({ query: m.query }, {
        next: (r) => {
          const now = epochNow();
          const t = tally;
          const ch = r.data?.accountChanged;
          const name = ch?.record?.name;
          const i = typeof name === 'string' && name.startsWith(t.tag) ? Number(name.slice(t.tag.length)) : -1;
          if (!ch || i < 0 || i >= t.N || k >= t.S || ch.op !== (i % 2 === 0 ? 'CREATED' : 'UPDATED')) {
            t.stray++;
            if (t.errors.length < 5) t.errors.push(`subscriber ${k}: unexpected ${JSON.stringify(r)}`);
            return;
          }
          if (t.counts[k * t.N + i]!++ === 0) t.arrivals[k * t.N + i] = now;
          t.received++;
          t.lastArrival = now;
        },
        error: (e) => tally.errors.push(`subscriber ${k}: error ${JSON.stringify(e)}`),
        complete: () => !disposing && tally.errors.push(`subscriber ${k}: completed early`),
      });
    }
    send({ type: 'opened', to: m.to });
  };

  process.on('message', (raw) => {
    const m = raw as ToClients;
    try {
      if (m.type === 'open') open(m);
      else if (m.type === 'run') {
        const S = pool.length;
        tally = { tag: m.tag, N: m.N, S, arrivals: new Float64Array(S * m.N), counts: new Uint16Array(S * m.N), errors: [], stray: 0, received: 0, lastArrival: 0 };
        cpu0 = process.cpuUsage();
        progress ??= setInterval(() => send({ type: 'progress', received: tally.received, errors: tally.errors.length }), 20);
        send({ type: 'ready' });
      } else if (m.type === 'collect') {
        if (progress) clearInterval(progress);
        progress = null;
        const t = tally;
        const cpu = process.cpuUsage(cpu0);
        send({ type: 'tally', arrivals: Array.from(t.arrivals), counts: Array.from(t.counts), errors: t.errors, stray: t.stray, received: t.received, lastArrival: t.lastArrival, rss: process.memoryUsage().rss, cpuMs: (cpu.user + cpu.system) / 1000 });
      } else if (m.type === 'dispose') {
        disposing = true;
        void Promise.all(pool.splice(0).map((c) => c.dispose())).then(() => send({ type: 'disposed' }));
      }
    } catch (e) {
      send({ type: 'failed', error: String((e as Error).stack ?? e) });
    }
  });
  process.on('disconnect', () => process.exit(0));
}
