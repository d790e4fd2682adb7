import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@objectos/db';
import { createTestDatabase, services, type Spawned } from '@objectos/testkit';
import { createBullQueue, type JobQueue, type QueueCounts } from '../src/index.ts';
import { dropKeys } from './backends.ts';
import { WORKER_QUEUE_OPTIONS } from './fixtures/worker-options.ts';
import { midJob, poll, PrivateCluster, PrivateRedis, Resources, startReceiver } from './fault-helpers.ts';

/** Jobs per queue and per test. */
const N = 40;
/** Worker processes started twice and a backlog worked through, on a loaded 2-core CI machine. */
const PROCESS_TEST_MS = 240_000;
const READY = /worker ready/;
const keysOf = (prefix: string) => Array.from({ length: N }, (_, i) => `${prefix}-${i}`);

interface EffectStats {
  rows: number;
  keys: string[];
  recorded: number;
  attempts: number;
  /** Keys attempted more than once (by one worker or by both), with their attempt count and workers. */
  repeated: { key: string; n: number; pids: number }[];
}

async function effectStats(database: Database): Promise<EffectStats> {
  const [rows] = await database.run<{ n: number }>('select count(*)::int as n from effect_log', []);
  const keys = (await database.run<{ key: string }>('select distinct key from effect_log order by key', [])).map((r) => r.key);
  const [recorded] = await database.run<{ n: number }>('select count(*)::int as n from jobs.effects', []);
  const [attempts] = await database.run<{ n: number }>('select count(*)::int as n from attempt_log', []);
  const repeated = await database.run<{ key: string; n: number; pids: number }>(
    'select key, count(*)::int as n, count(distinct pid)::int as pids from attempt_log group by key having count(*) > 1 order by key', []);
  return { rows: rows!.n, keys, recorded: recorded!.n, attempts: attempts!.n, repeated };
}

/** The effect rows so far (0 before the worker made the table). */
async function effectRows(database: Database): Promise<number> {
  const [exists] = await database.run<{ t: string | null }>("select to_regclass('public.effect_log')::text as t", []);
  if (!exists?.t) return 0;
  return (await database.run<{ n: number }>('select count(*)::int as n from effect_log', []))[0]!.n;
}

/** Every acknowledged job ran: the DB effect exactly once per key, nothing lost, nothing doubled. */
function expectExactlyOnce(stats: EffectStats, keys: string[]): void {
  expect(stats.rows).toBe(N);
  expect(stats.keys).toEqual([...keys].sort());
  expect(stats.recorded).toBe(N);
}

/** A sending queue in the test process (BullMQ), with the queues the worker works. */
async function sender(resources: Resources, redisUrl: string, prefix: string, queues: string[], errors: unknown[] = []): Promise<JobQueue> {
  const q = createBullQueue({ redisUrl, prefix, onError: (e) => errors.push(e) });
  for (const name of queues) q.declare(name, WORKER_QUEUE_OPTIONS);
  resources.add(() => q.stop(1_000));
  await q.start({ work: false });
  return q;
}

async function enqueueAll(q: JobQueue, queue: string, keys: string[]): Promise<void> {
  for (const [i, key] of keys.entries()) expect((await q.enqueue(queue, { i }, { key })).created).toBe(true);
}

/**
 * Waits until every job of the queues completed (failing at once if `worker` exits meanwhile);
 * then nothing is waiting, active, retrying or dead.
 */
async function allCompleted(q: JobQueue, queues: string[], worker: Spawned, timeoutMs = 120_000): Promise<void> {
  const read = async () => {
    if (worker.child.exitCode !== null || worker.child.signalCode !== null)
      throw new Error(`the worker exited (${worker.child.exitCode ?? worker.child.signalCode}) before the jobs completed; output:\n${worker.output().slice(-4_000)}`);
    return q.counts();
  };
  const counts = await poll('every job to complete', read, (c) => queues.every((name) => c.find((x) => x.queue === name)?.completed === N), timeoutMs);
  for (const name of queues)
    expect(counts.find((c) => c.queue === name)).toEqual<QueueCounts>({ queue: name, paused: false, waiting: 0, active: 0, delayed: 0, retrying: 0, failed: 0, completed: N, cancelled: 0 });
}

describe.skipIf(!services.postgres || !services.redis)('jobs survive faults: services mode (BullMQ on Redis, effects in PostgreSQL)', () => {
  it('a worker killed with SIGKILL mid-job: another finishes; N DB effects exactly once and N external keys, repeats carrying the same key', async () => {
    const resources = new Resources();
    const prefix = `objectos-fault-${randomBytes(4).toString('hex')}`;
    try {
      const pg = await createTestDatabase('objectos_jobfault');
      resources.add(() => pg.drop());
      resources.add(() => dropKeys([prefix]));
      const database = await connectDatabase({ databaseUrl: pg.url });
      resources.add(() => database.close());
      const receiver = await startReceiver(resources);
      const q = await sender(resources, services.redis!, prefix, ['effect.write', 'external.post']);
      const effectKeys = keysOf('effect');
      const postKeys = keysOf('post');
      await enqueueAll(q, 'effect.write', effectKeys);
      await enqueueAll(q, 'external.post', postKeys);

      const env = { JOBS_DATABASE_URL: pg.url, JOBS_REDIS_URL: services.redis!, JOBS_PREFIX: prefix, JOBS_LOCK_MS: '1000', JOBS_WORK_MS: '300', JOBS_RECEIVER_URL: receiver.url };
      const first = resources.worker(env);
      await first.waitFor(READY, 90_000);
      await midJob(first, 'effect.write', 6);
      expect(await first.kill('SIGKILL')).toBeNull();
      const atKill = await effectRows(database);
      expect(atKill).toBeLessThan(N);

      const second = resources.worker(env);
      await second.waitFor(READY, 90_000);
      await allCompleted(q, ['effect.write', 'external.post'], second);

      const stats = await effectStats(database);
      expectExactlyOnce(stats, effectKeys);
      // The kill interrupted at least one attempt: its job ran again (in the second worker), its effect once.
      expect(stats.repeated.length).toBeGreaterThan(0);
      const pids = await database.run<{ pid: number }>('select distinct pid from attempt_log order by pid', []);
      expect(pids.map((r) => r.pid).sort()).toEqual([first.child.pid, second.child.pid].sort());

      // External effects: every key arrived, and every request (repeats included) carries its job's key.
      const requests = receiver.requests;
      expect(new Set(requests.map((r) => r.idempotencyKey)).size).toBe(N);
      expect([...new Set(requests.map((r) => r.idempotencyKey!))].sort()).toEqual([...postKeys].sort());
      for (const r of requests) expect(r.bodyKey).toBe(r.idempotencyKey);
      console.log(`[job-faults] kill -9: ${atKill}/${N} effects done at the kill; ${stats.repeated.length} effect job(s) attempted again ` +
        `(${stats.attempts} attempts for ${N} effects); ${requests.length - N} repeated external request(s), all with their key`);
    } finally {
      await resources.release();
    }
  }, PROCESS_TEST_MS);

  it('Redis killed with SIGKILL mid-run and restarted on its append-only file: every acknowledged job completes, its effect exactly once', async () => {
    const resources = new Resources();
    try {
      const pg = await createTestDatabase('objectos_jobfault');
      resources.add(() => pg.drop());
      const database = await connectDatabase({ databaseUrl: pg.url });
      resources.add(() => database.close());
      const redis = await PrivateRedis.start(resources);
      const senderErrors: unknown[] = [];
      const q = await sender(resources, redis.url, 'objectos-aof', ['effect.write'], senderErrors);
      const keys = keysOf('aof');
      await enqueueAll(q, 'effect.write', keys);

      const worker = resources.worker({ JOBS_DATABASE_URL: pg.url, JOBS_REDIS_URL: redis.url, JOBS_PREFIX: 'objectos-aof', JOBS_LOCK_MS: '1000', JOBS_WORK_MS: '300' });
      await worker.waitFor(READY, 90_000);
      await midJob(worker, 'effect.write', 6);
      const before = redis.pid;
      await redis.kill();
      const atKill = await effectRows(database);
      expect(atKill).toBeLessThan(N);
      await new Promise((r) => setTimeout(r, 1_000));
      await redis.launch();
      expect(redis.pid).not.toBe(before);

      await allCompleted(q, ['effect.write'], worker);
      expectExactlyOnce(await effectStats(database), keys);
      // The same worker process carried on through the outage.
      expect(worker.child.exitCode).toBeNull();
      console.log(`[job-faults] Redis kill -9: ${atKill}/${N} effects done at the kill; all ${N} completed after the restart, each effect once`);
    } finally {
      await resources.release();
    }
  }, PROCESS_TEST_MS);

  it('PostgreSQL restarted (immediate, as a crash) mid-run: interrupted attempts run again, every effect exactly once, no job stuck', async () => {
    const resources = new Resources();
    const prefix = `objectos-fault-${randomBytes(4).toString('hex')}`;
    try {
      const cluster = await PrivateCluster.start(resources);
      resources.add(() => dropKeys([prefix]));
      const database = await connectDatabase({ databaseUrl: cluster.url });
      resources.add(() => database.close());
      const q = await sender(resources, services.redis!, prefix, ['effect.write']);
      const keys = keysOf('pg');
      await enqueueAll(q, 'effect.write', keys);

      const worker = resources.worker({ JOBS_DATABASE_URL: cluster.url, JOBS_REDIS_URL: services.redis!, JOBS_PREFIX: prefix, JOBS_LOCK_MS: '2000', JOBS_WORK_MS: '300' });
      await worker.waitFor(READY, 90_000);
      await midJob(worker, 'effect.write', 6);
      await cluster.restart();
      const afterRestart = await effectRows(database);
      expect(afterRestart).toBeLessThan(N);

      await allCompleted(q, ['effect.write'], worker);
      const stats = await effectStats(database);
      expectExactlyOnce(stats, keys);
      // The restart cut attempts in the middle of their transaction; they ran again (attempt numbers grow).
      expect(stats.repeated.length).toBeGreaterThan(0);
      expect(worker.child.exitCode).toBeNull();
      console.log(`[job-faults] PostgreSQL restart: ${afterRestart}/${N} effects done just after it; ${stats.repeated.length} job(s) attempted again`);
    } finally {
      await resources.release();
    }
  }, PROCESS_TEST_MS);
});

describe('jobs survive faults: embedded (pg-boss on PGlite)', () => {
  it('the process killed with SIGKILL mid-job and started again: every acknowledged job runs, its effect exactly once', async () => {
    const resources = new Resources();
    try {
      const dir = await resources.tempDir('jobs-embedded');
      const keys = keysOf('embedded');
      const first = resources.worker({ JOBS_PGLITE_DIR: dir, JOBS_ENQUEUE: String(N), JOBS_WORK_MS: '100' });
      await first.waitFor(READY, 90_000);
      await first.waitFor(new RegExp(`^enqueued ${N}$`, 'm'), 60_000);
      await midJob(first, 'effect.write', 6);
      expect(await first.kill('SIGKILL')).toBeNull();
      const doneAtKill = first.output().match(/^done effect\.write /gm)?.length ?? 0;
      expect(doneAtKill).toBeLessThan(N);

      const second = resources.worker({ JOBS_PGLITE_DIR: dir, JOBS_EXPECT: String(N) });
      await second.waitFor(READY, 90_000);
      await second.waitFor(/^all done$/m, 120_000);
      expect(await second.kill('SIGTERM')).toBe(0);

      // The folder is free again: count in it.
      const database = await connectDatabase({ dataDir: dir });
      try {
        const stats = await effectStats(database);
        expectExactlyOnce(stats, keys);
        expect(stats.repeated.length).toBeGreaterThan(0);
        const states = await database.run<{ state: string; n: number }>("select state::text as state, count(*)::int as n from pgboss.job where name = 'effect.write' group by 1", []);
        expect(states).toEqual([{ state: 'completed', n: N }]);
        console.log(`[job-faults] embedded kill -9: ${doneAtKill}/${N} done at the kill; ${stats.repeated.length} job(s) attempted again; all ${N} effects once`);
      } finally {
        await database.close();
      }
    } finally {
      await resources.release();
    }
  }, PROCESS_TEST_MS);
});
