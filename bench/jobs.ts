import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type * as BullMQ from '../packages/jobs/node_modules/bullmq/dist/esm/index.js';
import type * as IORedis from '../packages/jobs/node_modules/ioredis/built/index.js';
import { connectDatabase, type Database } from '@objectos/db';
import { createTestDatabase, type TestDatabase } from '@objectos/testkit';
import { createBullQueue, createPgQueue, jobIdOf, type JobQueue } from '../packages/jobs/src/index.ts';
import { f, mib, pct, sleep } from './stats.ts';

/**
 * What the job queue layer (packages/jobs) costs and how fast each backend moves no-op jobs, in one process
 * (producers and workers together; Redis and PostgreSQL on loopback).
 *
 * 1. BullMQ: enqueue-and-complete throughput of BENCH_JOBS no-op jobs through
 *      ours    createBullQueue → register(concurrency C) → enqueue(queue, data, { key }) — what the product runs;
 *      bullmq  plain BullMQ: Queue.add(name, data) + Worker(concurrency C), default job options (the baseline);
 *      bullmq+opts (diagnostic, BENCH_DIAGNOSE=0 drops it) plain BullMQ with the job options our layer sets
 *              (jobId = name-based UUID, priority, attempts 3 + exponential backoff; removeOnComplete/Fail by age on the worker)
 *              and the same stored shape, without our enqueue-time duplicate check (EXISTS) and our attempt
 *              wrapper (createAttempts): splits the overhead into "BullMQ features we opt into" and "our own code".
 *    Same Redis, each run with its own unique key prefix (keys deleted after the run, and checked gone), same
 *    worker concurrency, same producer: a sliding window of BENCH_IN_FLIGHT enqueues in flight. A run's clock
 *    starts at the first enqueue and stops when the backend has recorded every job completed (BullMQ's completed
 *    set / pg-boss state 'completed'); every job's handler must have run exactly once. Warm-up run per variant,
 *    then BENCH_ROUNDS rounds, the variants' order rotating each round. Per run: jobs/s, the enqueue phase alone,
 *    this process's CPU per job, Redis's CPU per job (Redis-wide: any other client counts too), and the Redis
 *    commands this process sent per job (counted in ioredis, by command / BullMQ script) and the socket writes
 *    they took (net.Socket writes to Redis: a write is a system call, so commands that share one are cheaper).
 *    Targets (the issue): ours ≥ 1,000 jobs/s, and overhead ≤ 20 % (ours/bullmq median jobs/s ≥ 0.80).
 * 2. pg-boss: the embedded queue (createPgQueue on PGlite memory://, as npm start without DATABASE_URL) and, with
 *    DATABASE_URL, pg-boss on PostgreSQL (a fresh database, dropped at the end): BENCH_EMBEDDED_JOBS no-op jobs,
 *    same producer window and worker concurrency, BENCH_PG_ROUNDS rounds after a warm-up; default poll interval.
 *    The SQL statements pg-boss ran per job are counted (PGlite: the engine's query/exec; PostgreSQL: pg's
 *    Client.prototype.query — the pg module pg-boss loads is the one bench loads).
 * 3. Enqueue-to-start latency: BENCH_LATENCY_RATE jobs/s for BENCH_LATENCY_SECONDS per backend, paced (not a
 *    burst), the enqueue time (performance.now() just before enqueue is called) in the payload; latency = handler
 *    start − that time. Also the enqueue call itself (until its promise resolves). pg-boss: the producer in the
 *    worker's own queue instance wakes the worker (enqueue → waker), so that row is the in-process case; on
 *    PostgreSQL a second row sends from another queue instance (as another process would): the worker only
 *    finds those jobs by polling (250 ms).
 * Memory: peak RSS per run (sampled every 100 ms) and heap after each part, of this whole process.
 * Everything shares the machine's cores with Redis/PostgreSQL (and whatever else runs): the load average is
 * printed per part; CPU per job is the figure least moved by other load, jobs/s the most.
 * Env: BENCH_PARTS=bullmq,pgboss,latency  BENCH_JOBS=10000  BENCH_ROUNDS=3  BENCH_CONCURRENCY=50 (worker)
 *      BENCH_IN_FLIGHT=100 (producer)  BENCH_DIAGNOSE=1  BENCH_EMBEDDED_JOBS=2000  BENCH_PG_ROUNDS=2
 *      BENCH_LATENCY_RATE=200  BENCH_LATENCY_SECONDS=5  BENCH_TIMEOUT=120 (s, per run)
 *      BENCH_VARIANTS=ours,bullmq,opts (part 1's variants; one alone for profiling, e.g. with node --cpu-prof)
 *      REDIS_URL (default redis://127.0.0.1:6379)  DATABASE_URL (pg-boss on PostgreSQL when set)
 * Run: npm run bench:jobs  (~2 min on 2 cores with DATABASE_URL set)
 */
const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const PARTS = (process.env['BENCH_PARTS'] ?? 'bullmq,pgboss,latency').split(',');
const REDIS_URL = process.env['REDIS_URL'] || 'redis://127.0.0.1:6379';
const [JOBS, ROUNDS, CONCURRENCY, IN_FLIGHT] = [num('BENCH_JOBS', 10_000), num('BENCH_ROUNDS', 3), num('BENCH_CONCURRENCY', 50), num('BENCH_IN_FLIGHT', 100)];
const [EMBEDDED_JOBS, PG_ROUNDS] = [num('BENCH_EMBEDDED_JOBS', 2_000), num('BENCH_PG_ROUNDS', 2)];
const [RATE, SECONDS, TIMEOUT_MS] = [num('BENCH_LATENCY_RATE', 200), num('BENCH_LATENCY_SECONDS', 5), num('BENCH_TIMEOUT', 120) * 1000];
const DIAGNOSE = process.env['BENCH_DIAGNOSE'] !== '0';
/** For profiling one variant alone (BENCH_VARIANTS=ours node --cpu-prof …); the comparison needs ours and bullmq. */
const ONLY = process.env['BENCH_VARIANTS']?.split(',');
const TARGET_RATE = 1_000;
const TARGET_RATIO = 0.8;
const QUEUE = 'bench.noop';
const KEEP_SECONDS = 7 * 86_400; // as packages/jobs/src/bullmq-queue.ts

// BullMQ and ioredis are dependencies of packages/jobs, not of bench: loaded from there (the same module instances
// our layer uses, so the command counter below sees both).
const fromJobs = createRequire(new URL('../packages/jobs/package.json', import.meta.url));
const { Queue, Worker } = fromJobs('bullmq') as typeof BullMQ;
const { Redis } = fromJobs('ioredis') as typeof IORedis;
type RedisClient = IORedis.Redis;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const hex = () => randomBytes(4).toString('hex');
const progress = (line: string) => process.stderr.write(`  ${line}\n`);
const errors: string[] = [];
const onError = (e: unknown) => {
  if (errors.push(e instanceof Error ? e.message : String(e)) <= 3) progress(`queue error: ${e instanceof Error ? e.message : String(e)}`);
};
async function within<T>(what: string, p: Promise<T>, ms = TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

// ---- Redis: the bench's own connection (never counted), commands this process sends, key cleanup ----------
const admin: RedisClient = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
admin.on('error', () => {});

/**
 * While `on`: every command ioredis sends from this process (except on `admin`), by name (BullMQ scripts by
 * their name), and every SQL statement pg-boss runs (PGlite: the engine's query/exec; PostgreSQL: pg's
 * Client.prototype.query, the pg module pg-boss loads too), by what it does.
 */
const sent = { on: false, commands: new Map<string, number>(), writes: 0 };
const countCommand = (name: string | null) => name !== null && sent.commands.set(name, (sent.commands.get(name) ?? 0) + 1);
/** The bench's own statements (polling for completion) start with this and are not counted. */
const BENCH_SQL = '/* bench */';
/** pg-boss 12's statements by what they do (anything else by its first words). */
function statementKind(text: string): string | null {
  if (text.startsWith(BENCH_SQL)) return null;
  const s = text.replace(/\s+/g, ' ').trim();
  if (/^INSERT INTO \w+\.job/i.test(s)) return 'insert job (send)';
  if (/^WITH results AS \( UPDATE/i.test(s) && s.includes("state = 'completed'")) return 'complete (one job)';
  if (/^WITH next AS/i.test(s)) return 'fetch (batch)';
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}
{
  type Query = (this: pg.Client, ...args: unknown[]) => unknown;
  const proto = pg.Client.prototype as unknown as { query: Query };
  const original = proto.query;
  proto.query = function (this: pg.Client, ...args: unknown[]) {
    if (sent.on) {
      const q = args[0];
      countCommand(statementKind(typeof q === 'string' ? q : typeof q === 'object' && q && 'text' in q ? String((q as { text: unknown }).text) : '?'));
    }
    return original.apply(this, args);
  };
}
/** Counts the statements run on this PGlite (pg-boss's custom db calls query and exec). */
function countStatements(engine: NonNullable<Database['pglite']>): void {
  const e = engine as unknown as Record<'query' | 'exec', (text: string, ...rest: unknown[]) => unknown>;
  for (const m of ['query', 'exec'] as const) {
    const original = e[m].bind(engine);
    e[m] = (text: string, ...rest: unknown[]) => {
      if (sent.on) countCommand(statementKind(text));
      return original(text, ...rest);
    };
  }
}
{
  type Cmd = { name: string; args: unknown[] };
  type Send = (this: RedisClient, command: Cmd, stream?: unknown) => unknown;
  const proto = Redis.prototype as unknown as { sendCommand: Send };
  const original = proto.sendCommand;
  const scriptNames = new WeakMap<object, Map<string, string>>();
  const scriptOf = (conn: RedisClient, sha: string): string => {
    let names = scriptNames.get(conn);
    if (!names) scriptNames.set(conn, (names = new Map()));
    if (!names.has(sha)) {
      const set = (conn as unknown as { scriptsSet?: Record<string, { sha: string }> }).scriptsSet ?? {};
      for (const [name, s] of Object.entries(set)) names.set(s.sha, name);
    }
    return names.get(sha) ?? 'evalsha(?)';
  };
  proto.sendCommand = function (this: RedisClient, command: Cmd, stream?: unknown) {
    if (sent.on && this !== admin) countCommand(command.name === 'evalsha' ? `script ${scriptOf(this, String(command.args[0]))}` : command.name);
    return original.call(this, command, stream);
  };
}
{
  // Every socket write (one write or writev call) of this process except the bench's own Redis connection.
  type Write = (this: net.Socket, ...args: unknown[]) => unknown;
  const proto = net.Socket.prototype as unknown as { _writeGeneric: Write };
  const original = proto._writeGeneric;
  proto._writeGeneric = function (this: net.Socket, ...args: unknown[]) {
    if (sent.on && this !== admin.stream) sent.writes++;
    return original.apply(this, args);
  };
}

async function redisInfo(): Promise<{ cpuS: number; clients: number }> {
  const text = `${await admin.info('cpu')}\n${await admin.info('clients')}`;
  const field = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(text)?.[1] ?? NaN);
  return { cpuS: field('used_cpu_user') + field('used_cpu_sys'), clients: field('connected_clients') };
}

async function keysOf(prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}
/** Deletes a run's keys; the count left must be 0. */
async function dropKeys(prefix: string): Promise<number> {
  const keys = await keysOf(prefix);
  for (let i = 0; i < keys.length; i += 500) await admin.del(...keys.slice(i, i + 500));
  return (await keysOf(prefix)).length;
}

// ---- one backend as the benchmark drives it ------------------------------------------------------------------
interface Payload { i: number; t: number }
interface Harness {
  send(data: Payload): Promise<unknown>;
  /** Jobs the backend has recorded completed. */
  completed(): Promise<number>;
  close(): Promise<void>;
}
interface Variant {
  name: string;
  /** A fresh, started queue whose no-op handler calls `onJob`; its queue/keys are its own. */
  open(onJob: (data: Payload) => void): Promise<Harness>;
  /** 'redis': commands/CPU columns apply. */
  kind: 'redis' | 'pg';
}

/** Our layer on BullMQ (what the product runs in services mode). */
const oursBull: Variant = {
  name: 'ours (createBullQueue)',
  kind: 'redis',
  async open(onJob) {
    const prefix = `objectos-bench-jobs-${process.pid}-${hex()}`;
    const q = createBullQueue({ redisUrl: REDIS_URL, prefix, onError });
    q.register<Payload>(QUEUE, async (d) => onJob(d), { concurrency: CONCURRENCY });
    await q.start();
    let n = 0;
    const run = `${hex()}-`;
    return {
      send: (data) => q.enqueue(QUEUE, data, { key: `${run}${n++}` }),
      completed: () => admin.zcard(`${prefix}:${QUEUE}:completed`),
      async close() {
        await q.stop();
        await closeCheck(prefix);
      },
    };
  },
};

/** Plain BullMQ with the same connection layout as ours (one connection for the Queue, a duplicate for the Worker). */
function plainBull(withOurOptions: boolean): Variant {
  return {
    name: withOurOptions ? 'bullmq+opts (diagnostic)' : 'bullmq (plain)',
    kind: 'redis',
    async open(onJob) {
      const prefix = `objectos-bench-jobs-${process.pid}-${hex()}`;
      const connection: RedisClient = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
      connection.on('error', onError);
      const workerConnection = connection.duplicate();
      const queue = new Queue(QUEUE, { connection, prefix });
      queue.on('error', onError);
      const worker = withOurOptions
        ? new Worker<{ p: Payload }>(QUEUE, async (job) => onJob(job.data.p), { connection: workerConnection, prefix, concurrency: CONCURRENCY, lockDuration: 30_000, stalledInterval: 15_000, maxStalledCount: 5, removeOnComplete: { age: KEEP_SECONDS }, removeOnFail: { age: KEEP_SECONDS * 4 } })
        : new Worker<Payload>(QUEUE, async (job) => onJob(job.data), { connection: workerConnection, prefix, concurrency: CONCURRENCY });
      worker.on('error', onError);
      await worker.waitUntilReady();
      let n = 0;
      const run = `${hex()}-`;
      return {
        send: withOurOptions
          ? (data) => {
              const key = `${run}${n++}`;
              return queue.add(QUEUE, { k: key, t: null, p: data, to: 30_000 }, {
                jobId: jobIdOf(QUEUE, key), priority: 3, attempts: 3, backoff: { type: 'exponential', delay: 1_000, jitter: 0.5 },
              });
            }
          : (data) => queue.add(QUEUE, data),
        completed: () => admin.zcard(`${prefix}:${QUEUE}:completed`),
        async close() {
          await worker.close();
          await queue.close();
          connection.disconnect();
          workerConnection.disconnect();
          await closeCheck(prefix);
        },
      };
    },
  };
}

const leftovers: string[] = [];
async function closeCheck(prefix: string): Promise<void> {
  const left = await dropKeys(prefix);
  if (left) leftovers.push(`${prefix}: ${left} keys left after deleting`);
}

async function completedRows(db: Database, queue: string): Promise<number> {
  return (await db.run<{ n: number }>(`${BENCH_SQL} select count(*)::int as n from pgboss.job where name = $1 and state = 'completed'`, [queue]))[0]!.n;
}

/** pg-boss behind our layer; each `open` is a fresh queue instance with its own queue name, on `database`. */
function pgBoss(name: string, database: () => Promise<{ db: Database; pglite: boolean; url?: string }>): Variant {
  return {
    name,
    kind: 'pg',
    async open(onJob) {
      const { db, pglite, url } = await database();
      const queueName = `${QUEUE}_${hex()}`;
      const q = pglite ? await createPgQueue({ pglite: db.pglite!, onError }) : await createPgQueue({ databaseUrl: url!, onError });
      q.register<Payload>(queueName, async (d) => onJob(d), { concurrency: CONCURRENCY });
      await q.start();
      let n = 0;
      const run = `${hex()}-`;
      return {
        send: (data) => q.enqueue(queueName, data, { key: `${run}${n++}` }),
        completed: async () => completedRows(db, queueName),
        async close() {
          await q.stop();
          // The next run starts from an empty job table, as the first did.
          await db.run('delete from pgboss.job where name = $1', [queueName]);
        },
      };
    },
  };
}

/** pg-boss on PostgreSQL with the producer in a second queue instance (declare + start({ work: false })): no in-process wake-up. */
function pgBossRemoteProducer(database: () => Promise<{ db: Database; url?: string }>): Variant {
  return {
    name: 'pg-boss PostgreSQL, producer in another queue instance',
    kind: 'pg',
    async open(onJob) {
      const { db, url } = await database();
      const queueName = `${QUEUE}_${hex()}`;
      const worker = await createPgQueue({ databaseUrl: url!, onError });
      worker.register<Payload>(queueName, async (d) => onJob(d), { concurrency: CONCURRENCY });
      await worker.start();
      const producer: JobQueue = await createPgQueue({ databaseUrl: url!, onError });
      producer.declare(queueName);
      await producer.start({ work: false });
      let n = 0;
      const run = `${hex()}-`;
      return {
        send: (data) => producer.enqueue(queueName, data, { key: `${run}${n++}` }),
        completed: async () => completedRows(db, queueName),
        async close() {
          await producer.stop();
          await worker.stop();
          await db.run('delete from pgboss.job where name = $1', [queueName]);
        },
      };
    },
  };
}

// ---- throughput: enqueue N (window of IN_FLIGHT), until the backend has N completed ---------------------------
interface Run {
  variant: string; run: string; jobs: number; seconds: number; rate: number; enqueueRate: number;
  handled: number; duplicates: number; cpuMsPerK: number; redisCpuMsPerK: number; commandsPerJob: number; writesPerJob: number;
  commands: Map<string, number>; peakRss: number; heapUsed: number;
}

function memorySampler(): () => number {
  let peak = process.memoryUsage().rss;
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
  return () => (clearInterval(t), Math.max(peak, process.memoryUsage().rss));
}

async function throughput(v: Variant, jobs: number, run: string): Promise<Run> {
  const seen = new Uint8Array(jobs);
  let handled = 0;
  let duplicates = 0;
  let allHandled!: () => void;
  const handledAll = new Promise<void>((r) => (allHandled = r));
  const h = await v.open((d) => {
    if (seen[d.i]) duplicates++;
    else if (((seen[d.i] = 1), ++handled === jobs)) allHandled();
  });
  try {
    const redis0 = v.kind === 'redis' ? await redisInfo() : null;
    Object.assign(sent, { on: true, commands: new Map(), writes: 0 });
    const peak = memorySampler();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let next = 0;
    let enqueuedAt = NaN;
    const producing = Promise.all(Array.from({ length: Math.min(IN_FLIGHT, jobs) }, async () => {
      while (next < jobs) {
        const i = next++;
        await h.send({ i, t: performance.now() });
      }
    })).then(() => void (enqueuedAt = performance.now()));
    await within(`${v.name} ${run}: all ${jobs} handlers`, Promise.all([producing, handledAll]));
    await within(`${v.name} ${run}: ${jobs} recorded completed`, (async () => {
      while ((await h.completed()) < jobs) await sleep(2);
    })());
    const t1 = performance.now();
    sent.on = false;
    const cpu = process.cpuUsage(cpu0);
    const peakRss = peak();
    const redis1 = v.kind === 'redis' ? await redisInfo() : null;
    const seconds = (t1 - t0) / 1000;
    const total = [...sent.commands.values()].reduce((a, b) => a + b, 0);
    const r: Run = {
      variant: v.name, run, jobs, seconds, rate: jobs / seconds, enqueueRate: jobs / ((enqueuedAt - t0) / 1000), handled, duplicates,
      cpuMsPerK: ((cpu.user + cpu.system) / 1000 / jobs) * 1000,
      redisCpuMsPerK: redis0 && redis1 ? ((redis1.cpuS - redis0.cpuS) * 1000 / jobs) * 1000 : NaN,
      commandsPerJob: total / jobs, writesPerJob: v.kind === 'redis' ? sent.writes / jobs : NaN,
      commands: new Map(sent.commands), peakRss, heapUsed: process.memoryUsage().heapUsed,
    };
    progress(`${v.name} ${run}: ${jobs} jobs in ${f(seconds, 2)} s = ${f(r.rate, 0)} jobs/s (enqueue phase ${f(r.enqueueRate, 0)}/s)${duplicates ? `, ${duplicates} DUPLICATE runs` : ''}`);
    return r;
  } finally {
    sent.on = false;
    await h.close();
  }
}

// ---- latency: paced enqueues, handler start − enqueue time ---------------------------------------------------
interface Latency { variant: string; sent: number; rate: number; p50: number; p99: number; max: number; enqP50: number; enqP99: number; peakRss: number }

async function latency(v: Variant): Promise<Latency> {
  const n = Math.round(RATE * SECONDS);
  const lat: number[] = [];
  const enq: number[] = [];
  let allHandled!: () => void;
  const handledAll = new Promise<void>((r) => (allHandled = r));
  const h = await v.open((d) => {
    if (lat.push(performance.now() - d.t) === n) allHandled();
  });
  try {
    // A short warm-up burst, not measured, so the first measured jobs do not pay for JIT and first statements.
    const warm = Array.from({ length: 20 }, (_, i) => h.send({ i: -1 - i, t: performance.now() }));
    await Promise.all(warm);
    await within(`${v.name}: warm-up`, (async () => {
      while (lat.length < 20) await sleep(5);
    })());
    lat.length = 0;
    const peak = memorySampler();
    const pending: Promise<unknown>[] = [];
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const wait = t0 + (i * 1000) / RATE - performance.now();
      if (wait >= 1) await sleep(wait);
      const t = performance.now();
      pending.push(h.send({ i, t }).then(() => enq.push(performance.now() - t)));
    }
    const sentS = (performance.now() - t0) / 1000;
    await within(`${v.name}: ${n} latency jobs`, Promise.all([Promise.all(pending), handledAll]));
    const r: Latency = { variant: v.name, sent: n, rate: n / sentS, p50: pct(lat, 50), p99: pct(lat, 99), max: Math.max(...lat), enqP50: pct(enq, 50), enqP99: pct(enq, 99), peakRss: peak() };
    progress(`${v.name}: enqueue→start p50 ${f(r.p50, 2)} ms, p99 ${f(r.p99, 2)} ms (${n} jobs at ${f(r.rate, 0)}/s)`);
    return r;
  } finally {
    await h.close();
  }
}

// ---- printing ------------------------------------------------------------------------------------------------
function memoryLine(what: string): void {
  const m = process.memoryUsage();
  console.log(`\nMemory after ${what} (this whole process): RSS ${mib(m.rss)} MiB, heap used ${mib(m.heapUsed)} / total ${mib(m.heapTotal)} MiB, external ${mib(m.external)} MiB; load average now ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}`);
}
function runTable(runs: Run[], redis: boolean): void {
  console.log(`| variant | run | jobs | s | jobs/s | enqueue phase jobs/s | handled once | duplicates | CPU ms / 1k jobs (this process) |${redis ? ' CPU ms / 1k jobs (redis-server) | commands / job | socket writes / job |' : ' SQL statements / job |'} peak RSS MiB |`);
  console.log(`|---|---|---:|---:|---:|---:|---:|---:|---:|${redis ? '---:|---:|---:|' : '---:|'}---:|`);
  for (const r of runs)
    console.log(`| ${r.variant} | ${r.run} | ${r.jobs} | ${f(r.seconds, 2)} | ${f(r.rate, 0)} | ${f(r.enqueueRate, 0)} | ${r.handled} | ${r.duplicates} | ${f(r.cpuMsPerK, 0)} |${redis ? ` ${f(r.redisCpuMsPerK, 0)} | ${f(r.commandsPerJob, 2)} | ${f(r.writesPerJob, 2)} |` : ` ${f(r.commandsPerJob, 2)} |`} ${mib(r.peakRss)} |`);
}
function commandTable(runs: Run[], variants: string[], title: string): void {
  const per = variants.map((name) => {
    const rs = runs.filter((r) => r.variant === name);
    const jobs = rs.reduce((a, r) => a + r.jobs, 0);
    const m = new Map<string, number>();
    for (const r of rs) for (const [k, n] of r.commands) m.set(k, (m.get(k) ?? 0) + n);
    return { name, jobs, m };
  });
  const names = [...new Set(per.flatMap((p) => [...p.m.keys()]))].sort((a, b) => (per[0]!.m.get(b) ?? 0) - (per[0]!.m.get(a) ?? 0));
  console.log(`\n${title}\n`);
  console.log(`| command | ${per.map((p) => p.name).join(' | ')} |\n|---|${per.map(() => '---:').join('|')}|`);
  for (const k of names) {
    const cells = per.map((p) => f((p.m.get(k) ?? 0) / p.jobs, 3));
    if (cells.some((c) => c !== '0.000')) console.log(`| ${k} | ${cells.join(' | ')} |`);
  }
}

// ---- part 1: BullMQ, ours vs plain ---------------------------------------------------------------------------
async function bullmqPart(): Promise<void> {
  const clients0 = (await redisInfo()).clients;
  const variants = [oursBull, plainBull(false), ...(DIAGNOSE ? [plainBull(true)] : [])].filter((v, i) => !ONLY || ONLY.includes(['ours', 'bullmq', 'opts'][i]!));
  for (const v of variants) await throughput(v, Math.min(2_000, JOBS), 'warm-up');
  const runs: Run[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const order = variants.map((_, i) => variants[(i + round - 1) % variants.length]!);
    for (const v of order) runs.push(await throughput(v, JOBS, `r${round}`));
  }
  await sleep(200);
  const clients1 = (await redisInfo()).clients;
  const med = (name: string) => median(runs.filter((r) => r.variant === name).map((r) => r.rate));
  const ours = med(oursBull.name);
  const plain = med(plainBull(false).name);
  const ratio = ours / plain;
  const pairs = runs.filter((r) => r.variant === oursBull.name).map((r) => r.rate / (runs.find((p) => p.variant === plainBull(false).name && p.run === r.run)?.rate ?? NaN));
  const dup = runs.reduce((a, r) => a + r.duplicates, 0);
  const short = runs.filter((r) => r.handled !== r.jobs).length;

  console.log(`\n### 1. BullMQ: enqueue-and-complete throughput, our layer vs plain BullMQ\n`);
  console.log(`${JOBS} no-op jobs per run; worker concurrency ${CONCURRENCY}; producer window ${IN_FLIGHT} enqueues in flight; producer and worker in this one process; Redis ${REDIS_URL.replace(/\/\/[^@]*@/, '//…@')} (loopback).`);
  console.log(`Clock: first enqueue → the backend's completed set holds all ${JOBS}. One warm-up run per variant (${Math.min(2_000, JOBS)} jobs, not shown), then ${ROUNDS} rounds, order rotating.\n`);
  runTable(runs, true);
  console.log(`\n| variant | median jobs/s | median enqueue phase jobs/s | median CPU ms / 1k jobs (node) | median CPU ms / 1k jobs (redis) |\n|---|---:|---:|---:|---:|`);
  for (const v of variants) {
    const rs = runs.filter((r) => r.variant === v.name);
    console.log(`| ${v.name} | ${f(median(rs.map((r) => r.rate)), 0)} | ${f(median(rs.map((r) => r.enqueueRate)), 0)} | ${f(median(rs.map((r) => r.cpuMsPerK)), 0)} | ${f(median(rs.map((r) => r.redisCpuMsPerK)), 0)} |`);
  }
  commandTable(runs, variants.map((v) => v.name), "Redis commands sent per job by this process (all measured runs; counted in ioredis' sendCommand, BullMQ's Lua scripts by name; the worker's blocking bzpopmin included):");
  if (!Number.isFinite(ratio)) {
    console.log('\n(ours and bullmq did not both run: no ratio, no verdict)');
    memoryLine('part 1');
    return;
  }
  console.log(`\nours / bullmq (median jobs/s): **${f(ratio, 3)}** (per round: ${pairs.map((p) => f(p, 3)).join(', ')}); throughput lost to our layer ${f((1 - ratio) * 100)} %, time per job +${f((1 / ratio - 1) * 100)} %`);
  const cpu = (name: string) => median(runs.filter((r) => r.variant === name).map((r) => r.cpuMsPerK));
  console.log(`CPU of this process per job, ours / bullmq (medians): ${f(cpu(oursBull.name) / cpu(plainBull(false).name), 2)} (${f(cpu(oursBull.name), 0)} vs ${f(cpu(plainBull(false).name), 0)} µs); less sensitive to other load on the machine than jobs/s`);
  if (variants.length === 3) {
    const opts = med(plainBull(true).name);
    console.log(`bullmq+opts / bullmq: ${f(opts / plain, 3)} (what BullMQ's own handling of our job options costs); ours / bullmq+opts: ${f(ours / opts, 3)} (what our code around BullMQ costs)`);
  }
  console.log(`Target overhead ≤ 20 % (ours/bullmq ≥ ${TARGET_RATIO}): **${ratio >= TARGET_RATIO ? 'PASS' : 'FAIL'}** (${f(ratio, 3)})`);
  console.log(`Target ≥ ${TARGET_RATE.toLocaleString('en')} jobs/s through our layer: **${ours >= TARGET_RATE ? 'PASS' : 'FAIL'}** (median ${f(ours, 0)} jobs/s)`);
  console.log(`Every job's handler ran exactly once: ${dup === 0 && short === 0 ? 'yes' : `NO (${dup} duplicate runs, ${short} runs short)`}; keys left after cleanup: ${leftovers.length ? leftovers.join('; ') : 'none'}; Redis clients connected before/after this part: ${clients0}/${clients1}`);
  if (dup || short || leftovers.length) process.exitCode = 1;
  memoryLine('part 1');
}

// ---- part 2: pg-boss throughput ------------------------------------------------------------------------------
interface PgTarget { label: string; variant: Variant }
async function pgbossPart(targets: PgTarget[]): Promise<void> {
  const runs: Run[] = [];
  for (const t of targets) {
    await throughput(t.variant, Math.min(200, EMBEDDED_JOBS), 'warm-up');
    for (let round = 1; round <= PG_ROUNDS; round++) runs.push(await throughput(t.variant, EMBEDDED_JOBS, `r${round}`));
  }
  console.log(`\n### 2. pg-boss through our layer (createPgQueue): enqueue-and-complete throughput\n`);
  console.log(`${EMBEDDED_JOBS} no-op jobs per run; worker concurrency ${CONCURRENCY}; producer window ${IN_FLIGHT}; default poll interval (250 ms, woken by an in-process enqueue). A warm-up run of ${Math.min(200, EMBEDDED_JOBS)} jobs, then ${PG_ROUNDS} rounds; the queue's rows are deleted after each run.`);
  for (const t of targets) console.log(`- ${t.variant.name}: ${t.label}`);
  console.log('');
  runTable(runs, false);
  console.log(`\n| backend | median jobs/s | ≥ ${TARGET_RATE.toLocaleString('en')} jobs/s (the services-mode target, for reference) |\n|---|---:|---|`);
  for (const t of targets) {
    const m = median(runs.filter((r) => r.variant === t.variant.name).map((r) => r.rate));
    console.log(`| ${t.variant.name} | ${f(m, 0)} | ${m >= TARGET_RATE ? 'yes' : 'no'} |`);
  }
  commandTable(runs, targets.map((t) => t.variant.name), 'SQL statements per job (all measured runs; what pg-boss sent, by what it does; its background statements during the run included):');
  if (runs.some((r) => r.duplicates || r.handled !== r.jobs)) process.exitCode = 1;
  memoryLine('part 2');
}

// ---- part 3: latency -----------------------------------------------------------------------------------------
async function latencyPart(variants: Variant[]): Promise<void> {
  const rows: Latency[] = [];
  for (const v of variants) rows.push(await latency(v));
  console.log(`\n### 3. Enqueue-to-start latency at a steady ${RATE} jobs/s for ${SECONDS} s (${Math.round(RATE * SECONDS)} jobs per backend)\n`);
  console.log(`Latency = handler start − performance.now() just before enqueue() was called (same process, same clock); "enqueue call" = until enqueue()'s promise resolved. Worker concurrency ${CONCURRENCY}; 20 unmeasured warm-up jobs first.\n`);
  console.log('| backend | sent at jobs/s | enqueue→start p50 ms | p99 ms | max ms | enqueue call p50 ms | p99 ms | peak RSS MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.variant} | ${f(r.rate, 0)} | ${f(r.p50, 2)} | ${f(r.p99, 2)} | ${f(r.max, 1)} | ${f(r.enqP50, 2)} | ${f(r.enqP99, 2)} | ${mib(r.peakRss)} |`);
  memoryLine('part 3');
}

// ---- main ----------------------------------------------------------------------------------------------------
const warnings = new Map<string, number>();
process.on('warning', (w) => warnings.set(`${w.name}: ${w.message}`, (warnings.get(`${w.name}: ${w.message}`) ?? 0) + 1));
const began = performance.now();
const cpus = os.cpus();
console.log('\nJob queue benchmark (packages/jobs): BullMQ through our layer vs plain BullMQ, pg-boss (PGlite, PostgreSQL), enqueue-to-start latency');
console.log(`Machine: ${cpus.length} × ${cpus[0]?.model.trim() ?? '?'}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')} (1/5/15 min), ${mib(os.totalmem())} MiB RAM, Node ${process.version}`);

const haveRedis = await admin.connect().then(() => admin.ping()).then(() => true, () => false);
if (haveRedis) console.log(`Redis ${/redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? '?'} at ${REDIS_URL.replace(/\/\/[^@]*@/, '//…@')}`);
else console.log(`Redis not reachable at ${REDIS_URL.replace(/\/\/[^@]*@/, '//…@')}: no BullMQ parts.`);
if (!process.env['DATABASE_URL']) console.log('DATABASE_URL not set: pg-boss on PGlite only.');

let pglite: Database | null = null;
let pgDb: TestDatabase | null = null;
let pgConn: Database | null = null;
const embedded = async () => {
  if (!pglite) countStatements((pglite = await connectDatabase({ dataDir: 'memory://' })).pglite!);
  return { db: pglite, pglite: true };
};
const postgres = async () => {
  if (!pgConn) {
    pgDb = await createTestDatabase('objectos_bench_jobs');
    pgConn = await connectDatabase({ databaseUrl: pgDb.url, poolSize: 2 });
  }
  return { db: pgConn, pglite: false, url: pgDb!.url };
};
const pgTargets: PgTarget[] = [{ label: 'PGlite memory:// in this process (one connection), as the embedded mode', variant: pgBoss('pg-boss PGlite (embedded)', embedded) }];
if (process.env['DATABASE_URL']) pgTargets.push({ label: 'PostgreSQL on loopback, a fresh database; pg-boss pool max 4', variant: pgBoss('pg-boss PostgreSQL', postgres) });

try {
  if (PARTS.includes('bullmq') && haveRedis) await bullmqPart();
  if (PARTS.includes('pgboss')) await pgbossPart(pgTargets);
  if (PARTS.includes('latency')) {
    const vs: Variant[] = [...(haveRedis ? [oursBull, plainBull(false)] : []), ...pgTargets.map((t) => t.variant)];
    if (process.env['DATABASE_URL']) vs.push(pgBossRemoteProducer(postgres));
    await latencyPart(vs);
  }
} finally {
  await (pglite as Database | null)?.close();
  await (pgConn as Database | null)?.close();
  await (pgDb as TestDatabase | null)?.drop();
  admin.disconnect();
}
if (errors.length) console.log(`\nQueue errors reported: ${errors.length} (first: ${errors[0]})`);
for (const [w, n] of warnings) console.log(`\nNode warning during the run (×${n}): ${w}`);
console.log(`\nTotal ${f((performance.now() - began) / 1000, 0)} s; load average now ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}`);
