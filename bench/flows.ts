import { mkdtemp, mkdir, cp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type * as IORedis from '../packages/jobs/node_modules/ioredis/built/index.js';
import { createTestDatabase, gql, signIn, TEST_SECRET, withHeaders, type FetchHandler, type TestDatabase } from '@objectos/testkit';
import { readConfig } from '../gateway/src/config.ts';
import { startObjectOS, type RunningObjectOS } from '../gateway/src/start.ts';

/**
 * Flow execution (subgraphs/workflow) under load, through one running ObjectOS (`npm start`'s path:
 * gateway, subgraphs and the job worker in this process; PGlite, or PostgreSQL with BullMQ on Redis with
 * BENCH_ENGINE=postgres+redis and DATABASE_URL, REDIS_URL).
 * 1. BENCH_INSTANCES runs of a 10-node flow (assignment, create_record, decision, a timer wait of
 *    BENCH_WAIT_S, update_record, get_record…) started at once by BENCH_CONCURRENCY clients through
 *    startFlow; instances/s = runs / (last completed − first started); step latency = the time from one
 *    step's end to the next step's end in the same run (the queue, the node and its commit), the gap
 *    after the wait left out (that is the timer: reported as its lateness, resumed − due).
 * 2. BENCH_INSTANCES runs parked on a timer wait (BENCH_PARK_S), the server stopped, started again on the
 *    same database once every timer is due: how long until all of them resumed and completed.
 * Env: BENCH_PARTS=concurrent,restart  BENCH_INSTANCES=1000  BENCH_CONCURRENCY=32  BENCH_WAIT_S=2  BENCH_PARK_S=45
 *      BENCH_ENGINE=pglite|postgres+redis
 * Run: npm run bench:flows
 */
// ioredis is a dependency of packages/jobs, not of bench: loaded from there (to delete the run's BullMQ keys).
const { Redis } = createRequire(new URL('../packages/jobs/package.json', import.meta.url))('ioredis') as typeof IORedis;
const num = (k: string, d: number) => Number(process.env[k] ?? d);
const PARTS = (process.env['BENCH_PARTS'] ?? 'concurrent,restart').split(',');
const [INSTANCES, CONCURRENCY, WAIT_S, PARK_S] = [num('BENCH_INSTANCES', 1000), num('BENCH_CONCURRENCY', 32), num('BENCH_WAIT_S', 2), num('BENCH_PARK_S', 45)];
const ENGINE = (process.env['BENCH_ENGINE'] ?? 'pglite') as 'pglite' | 'postgres+redis';
const PASSWORD = 'Sup3r-secret-pass!';
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};
const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const mib = (b: number) => (b / 2 ** 20).toFixed(0);
const log = (line: string) => process.stderr.write(`  ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** start → init → make → check → (big | small) → nap → touch → read → done: 10 nodes, 9 run per instance. */
const TEN_NODES = `name: bench_ten
type: autolaunched
variables:
  - { name: n, type: number, isInput: true }
  - { name: label, type: text }
  - { name: task_id, type: text }
  - { name: task, type: record, object: task }
nodes:
  - { id: start, type: start }
  - { id: init, type: assignment, config: { assignments: [ { variable: label, value: "Bench {!n}" } ] } }
  - { id: make, type: create_record, config: { object: task, values: { subject: "{!label}" }, outputVariable: task_id } }
  - { id: check, type: decision }
  - { id: big, type: assignment, config: { assignments: [ { variable: label, value: "big {!n}" } ] } }
  - { id: small, type: assignment, config: { assignments: [ { variable: label, value: "small {!n}" } ] } }
  - { id: nap, type: wait, waitEventConfig: { eventType: timer, timerDuration: "+${WAIT_S}s" } }
  - { id: touch, type: update_record, config: { object: task, recordId: "{!task_id}", values: { subject: "{!label}" } } }
  - { id: read, type: get_record, config: { object: task, recordId: "{!task_id}", outputVariable: task } }
  - { id: done, type: end }
edges:
  - { id: e1, source: start, target: init }
  - { id: e2, source: init, target: make }
  - { id: e3, source: make, target: check }
  - { id: e4, source: check, target: big, type: conditional, condition: "n >= 500" }
  - { id: e5, source: check, target: small, type: default }
  - { id: e6, source: big, target: nap }
  - { id: e7, source: small, target: nap }
  - { id: e8, source: nap, target: touch }
  - { id: e9, source: touch, target: read }
  - { id: e10, source: read, target: done }
`;
const PARKED = `name: bench_park
type: autolaunched
variables:
  - { name: n, type: number, isInput: true }
nodes:
  - { id: start, type: start }
  - { id: park, type: wait, waitEventConfig: { eventType: timer, timerDuration: "+${PARK_S}s" } }
  - { id: make, type: create_record, config: { object: task, values: { subject: "Parked {!n}" } } }
  - { id: done, type: end }
edges:
  - { id: a, source: start, target: park }
  - { id: b, source: park, target: make }
  - { id: c, source: make, target: done }
`;

interface Stack { app: RunningObjectOS; who: FetchHandler; sql<T>(text: string, params?: unknown[]): Promise<T[]> }

/** One ObjectOS on `dir` (PGlite) or `pg` (PostgreSQL + Redis under `prefix`); signs up the owner the first time, signs in after. */
async function openStack(dir: string, pg: TestDatabase | null, prefix: string, first: boolean): Promise<Stack> {
  const app = await startObjectOS(readConfig({
    OBJECTOS_SECRET: TEST_SECRET, OBJECTOS_SEED: 'false', OBJECTOS_METADATA: join(dir, 'metadata'), OBJECTOS_RATE_LIMIT: '0', NODE_ENV: 'development',
    HOST: '127.0.0.1', PORT: '0', OBJECTOS_DATA_DIR: join(dir, 'data'), OBJECTOS_SECRET_FILE: join(dir, 'secret'),
    ...(pg ? { DATABASE_URL: pg.url, REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', OBJECTOS_JOBS_PREFIX: prefix } : {}),
  }, []));
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const auth = (path: string, body: unknown, token?: string) =>
    fetch(`${base}/api/auth${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  if (first) await auth('/sign-up/email', { email: 'bench@flows.test', password: PASSWORD, name: 'Bench' });
  const token = await signIn(base, 'bench@flows.test', PASSWORD);
  if (first) {
    const org = (await (await auth('/organization/create', { name: 'Bench Flows', slug: 'bench-flows' }, token)).json()) as { id: string };
    await auth('/organization/set-active', { organizationId: org.id }, token);
  }
  const database = app.data!.database;
  return { app, who: withHeaders(`${base}/graphql`, { authorization: `Bearer ${token}` }), sql: <T>(text: string, params: unknown[] = []) => database.run<T>(text, params) };
}

async function withDir<T>(fn: (dir: string, pg: TestDatabase | null, prefix: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(os.tmpdir(), 'objectos-bench-flows-'));
  await cp('metadata', join(dir, 'metadata'), { recursive: true });
  await mkdir(join(dir, 'metadata', 'workflows'), { recursive: true });
  await writeFile(join(dir, 'metadata', 'workflows', 'bench_ten.flow.yaml'), TEN_NODES);
  await writeFile(join(dir, 'metadata', 'workflows', 'bench_park.flow.yaml'), PARKED);
  const pg = ENGINE === 'pglite' ? null : await createTestDatabase();
  const prefix = `objectos-bench-flows-${process.pid}-${Date.now()}`;
  try {
    return await fn(dir, pg, prefix);
  } finally {
    await pg?.drop();
    if (pg) {
      const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379');
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
      redis.disconnect();
    }
    await rm(dir, { recursive: true, force: true });
  }
}

/** Connections the server had closed as idle when a client reused them (a keep-alive race under a saturated event loop): sent again. */
let resets = 0;

/** Starts `n` runs of `flow` with BENCH_CONCURRENCY clients; their ids. */
async function startMany(s: Stack, flow: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  const start = (i: number) => gql<{ startFlow: { id: string } }>(s.who, 'mutation($n: String!, $i: JSON) { startFlow(name: $n, inputs: $i) { id } }', { n: flow, i: { n: i } });
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < n) {
      const i = next++;
      const r = await start(i).catch((e: unknown) => {
        // The request never reached the server (its socket was already closed): nothing was started.
        if ((e as { cause?: { code?: string } }).cause?.code !== 'ECONNRESET') throw e;
        resets++;
        return start(i);
      });
      if (r.errors?.length) throw new Error(JSON.stringify(r.errors));
      ids.push(r.data!.startFlow.id);
    }
  }));
  return ids;
}

/** Polls until `count` runs of `flow` have `status` (bounded); the count reached. */
async function waitFor(s: Stack, flow: string, status: string, count: number, limitMs: number): Promise<number> {
  const end = Date.now() + limitMs;
  for (;;) {
    const [{ n }] = (await s.sql<{ n: number }>('select count(*)::int as n from workflow.flow_runs where flow = $1 and status = $2', [flow, status])) as [{ n: number }];
    if (n >= count || Date.now() > end) return n;
    await sleep(200);
  }
}

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
sampler.unref();

async function concurrent(): Promise<void> {
  await withDir(async (dir, pg, prefix) => {
    const s = await openStack(dir, pg, prefix, true);
    try {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const ids = await startMany(s, 'bench_ten', INSTANCES);
      const startedS = (performance.now() - t0) / 1000;
      log(`${INSTANCES} runs started in ${f(startedS)} s`);
      const done = await waitFor(s, 'bench_ten', 'completed', INSTANCES, 600_000);
      const wallS = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const failed = await s.sql<{ n: number }>("select count(*)::int as n from workflow.flow_runs where flow = 'bench_ten' and status <> 'completed'");
      const [{ n: total }] = (await s.sql<{ n: number }>("select count(*)::int as n from workflow.flow_runs where flow = 'bench_ten'")) as [{ n: number }];
      if (total !== INSTANCES) log(`${total} runs in the database for ${INSTANCES} started`);
      const steps = await s.sql<{ run_id: string; seq: number; node: string; started_at: Date; finished_at: Date; input: { due?: string } | null }>(
        "select run_id::text, seq, node, started_at, finished_at, input from workflow.flow_steps where run_id = any($1::uuid[]) order by run_id, seq", [ids]);
      const node: number[] = [];
      const latency: number[] = [];
      const lateness: number[] = [];
      let due = 0;
      for (let i = 0; i < steps.length; i++) {
        const st = steps[i]!;
        const prev = i > 0 && steps[i - 1]!.run_id === st.run_id ? steps[i - 1]! : null;
        if (st.node === 'nap') due = Date.parse(st.input?.due ?? '');
        else node.push(new Date(st.finished_at).getTime() - new Date(st.started_at).getTime());
        // The wait's own end is its resumption, and the step after it starts at the timer: both are the timer's lateness.
        if (prev?.node === 'nap') lateness.push(new Date(st.started_at).getTime() - due);
        else if (prev && st.node !== 'nap') latency.push(new Date(st.finished_at).getTime() - new Date(prev.finished_at).getTime());
      }
      console.log(`### 1. ${INSTANCES} concurrent runs of a 10-node flow with a ${WAIT_S} s timer wait (${CONCURRENCY} clients starting them)\n`);
      console.log(`completed ${done} / ${INSTANCES} (others: ${failed[0]!.n}) in ${f(wallS)} s from the first start: **${f(done / wallS)} instances/s** (starts took ${f(startedS)} s; the wait alone is ${WAIT_S} s)`);
      console.log(`steps: ${steps.length}; step latency (previous step's end → this step's end, same run): p50 ${f(pct(latency, 50))} ms, **p99 ${f(pct(latency, 99))} ms**, max ${f(Math.max(...latency))} ms`);
      console.log(`node time alone: p50 ${f(pct(node, 50))} ms, p99 ${f(pct(node, 99))} ms; timer lateness (resumed − due): p50 ${f(pct(lateness, 50))} ms, p99 ${f(pct(lateness, 99))} ms`);
      console.log(`CPU (this process: server and clients) ${f((cpu.user + cpu.system) / 1000 / INSTANCES, 1)} ms per instance; peak RSS ${mib(peakRss)} MiB\n`);
    } finally {
      await s.app.stop();
    }
  });
}

async function restart(): Promise<void> {
  await withDir(async (dir, pg, prefix) => {
    let s = await openStack(dir, pg, prefix, true);
    let stopped = false;
    try {
      const t0 = performance.now();
      await startMany(s, 'bench_park', INSTANCES);
      const parked = await waitFor(s, 'bench_park', 'waiting', INSTANCES, 300_000);
      const parkS = (performance.now() - t0) / 1000;
      const [{ last }] = (await s.sql<{ last: string }>("select max(waiting_for->>'due') as last from workflow.flow_runs where flow = 'bench_park'")) as [{ last: string }];
      if (parkS > PARK_S) log(`parking took ${f(parkS)} s, longer than the wait: raise BENCH_PARK_S`);
      log(`${parked} runs waiting after ${f(parkS)} s; stopping the server`);
      await s.app.stop();
      stopped = true;
      // Every timer falls due while nothing runs.
      await sleep(Math.max(0, Date.parse(last) - Date.now() + 1_000));
      const r0 = performance.now();
      const restartedAt = Date.now();
      s = await openStack(dir, pg, prefix, false);
      stopped = false;
      const readyS = (performance.now() - r0) / 1000;
      const done = await waitFor(s, 'bench_park', 'completed', INSTANCES, 600_000);
      const resumeS = (performance.now() - r0) / 1000;
      // When each run's step after the wait finished, from the restart (the jobs run as soon as the queue starts, before the endpoint listens).
      const after = (await s.sql<{ at: Date }>("select s.finished_at as at from workflow.flow_steps s join workflow.flow_runs r on r.id = s.run_id where r.flow = 'bench_park' and s.node = 'make'"))
        .map((x) => new Date(x.at).getTime() - restartedAt);
      const table = s.app.data!.source.plan.objects['task']!.table;
      const tasks = await s.sql<{ n: number; d: number }>(`select count(*)::int as n, count(distinct subject)::int as d from "${table}" where subject like 'Parked %'`);
      console.log(`### 2. ${INSTANCES} runs waiting on a ${PARK_S} s timer, the server stopped and started again once all were due\n`);
      console.log(`parked ${parked} in ${f(parkS)} s; from the restart: endpoint ready after ${f(readyS)} s, **${done} / ${INSTANCES} resumed and completed after ${f(resumeS)} s** (the step after the wait done: p50 ${f(pct(after, 50) / 1000, 2)} s, p99 ${f(pct(after, 99) / 1000, 2)} s, last ${f(Math.max(...after) / 1000, 2)} s)`);
      console.log(`tasks made after resuming: ${tasks[0]!.n} (${tasks[0]!.d} distinct); peak RSS ${mib(peakRss)} MiB\n`);
    } finally {
      if (!stopped) await s.app.stop();
    }
  });
}

// The development mail of each stack's sign-up (printed, not sent) is not part of the report.
const print = console.log.bind(console);
console.log = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && args[0].startsWith('[email]')) return;
  print(...args);
};

async function main(): Promise<void> {
  console.log(`Flow execution benchmark: ${ENGINE}, Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}\n`);
  if (PARTS.includes('concurrent')) await concurrent();
  if (PARTS.includes('restart')) await restart();
  const m = process.memoryUsage();
  if (resets > 0) console.log(`(${resets} start request(s) sent again after ECONNRESET on a reused connection)`);
  console.log(`Memory at the end: RSS ${mib(m.rss)} MiB, heap ${mib(m.heapUsed)} MiB, peak RSS ${mib(peakRss)} MiB; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}`);
}

main().then(() => process.exit(0), (e: unknown) => {
  console.error(e);
  process.exit(1);
});
