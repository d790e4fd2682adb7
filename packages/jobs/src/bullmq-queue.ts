import { Queue, Worker, type Job, type JobsOptions, type JobType } from 'bullmq';
import { Redis } from 'ioredis';
import { coalesceWrites } from './coalesce-writes.ts';
import { createAttempts, createRegistry, prepare, type StoredJob } from './common.ts';
import { instrumentedAttempt, watchQueueDepth } from './instrument.ts';
import type { EnqueueOptions, JobPriority, JobQueue, JobRun, JobStatus, ListOptions, QueueCounts } from './types.ts';
import { createLogger } from '@objectos/observability/logger';

/** Errors of background work (no caller to throw to) go to the log. */
const log = createLogger('jobs');

export interface BullQueueOptions {
  redisUrl: string;
  /** Key prefix in Redis. @default 'objectos' */
  prefix?: string;
  /**
   * How long a worker's hold on a job lasts without renewal: a worker that dies loses its jobs to
   * another after about this long (BullMQ's stalled-job check). @default 30000
   */
  lockMs?: number;
  onError?: (e: unknown) => void;
}

/**
 * BullMQ's priorities: 1 is the most urgent. Every job is prioritized, `normal` too: BullMQ takes jobs without a
 * priority (its wait list) before any prioritized one, so an unprioritized `normal` job would pass a waiting `critical` one.
 */
const PRIORITY: Record<JobPriority, number> = { critical: 1, high: 2, normal: 3, low: 4, background: 5 };
const PRIORITY_OF = (n: number | undefined): JobPriority => (['critical', 'high', 'normal', 'low', 'background'] as const)[(n ?? 3) - 1] ?? 'normal';
const KEEP_SECONDS = 7 * 86_400;
/**
 * How long finished jobs are kept: completed 7 days (the idempotency window), dead letters 28. Set on the worker
 * (BullMQ applies it when a job without its own finishes there; a job that stalled too often fails there too), not
 * in every job's options, which BullMQ packs, stores as JSON and parses back for each job.
 */
const KEEP_JOBS = { removeOnComplete: { age: KEEP_SECONDS }, removeOnFail: { age: KEEP_SECONDS * 4 } } as const;
/** Listing and per-tenant counts read at most this many jobs per state (the monitor's view of a huge backlog is its newest part). */
const SCAN_LIMIT = 5_000;

type BullStored = StoredJob & { to: number };
type CancelRedis = Redis & { objectosCancel(jobKey: string, indexKey: string, id: string, run: string, now: number, keepSeconds: number): Promise<number> };
/** The hash field that marks a job key as a cancelled job's tombstone (BullMQ's own job hashes never have it). */
const TOMBSTONE = 'objectosCancelled';
/**
 * After BullMQ has removed a cancelled job: a tombstone hash at the job's own key (so BullMQ's add, which
 * answers an existing key as a duplicate, never re-creates it), expiring like a completed job, and the id in
 * a time index for the monitor. Refused (0) when the key was taken again meanwhile.
 */
const CANCEL_LUA = `if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], '${TOMBSTONE}', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[3]) - tonumber(ARGV[4]) * 1000)
return 1`;

/** Services mode: BullMQ + ioredis behind {@link JobQueue}. */
export function createBullQueue(options: BullQueueOptions): JobQueue {
  const prefix = options.prefix ?? 'objectos';
  const onError = options.onError ?? ((e: unknown) => log.error({ err: e, backend: 'bullmq' }, 'queue error'));
  // Commands issued in one turn of the event loop (an enqueue's check and add, many enqueues) leave in one socket write.
  const connection = coalesceWrites(new Redis(options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false }));
  connection.on('error', onError);
  connection.defineCommand('objectosCancel', { numberOfKeys: 2, lua: CANCEL_LUA });
  const queues = new Map<string, Queue>();
  const workers: Worker[] = [];
  const registry = createRegistry();
  const { known, handlers } = registry;
  const attempts = createAttempts();
  const jobKey = (queue: string, id: string) => `${prefix}:${queue}:${id}`;
  /** Cancelled job ids by cancel time (ms). */
  const cancelledKey = (queue: string) => `${prefix}:${queue}:objectos:cancelled-at`;
  let started = false;
  let unwatch = () => {};

  const queueOf = (name: string): Queue => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection, prefix });
      q.on('error', onError);
      queues.set(name, q);
    }
    return q;
  };
  async function toRun(read: Job<BullStored>, state?: string): Promise<JobRun> {
    const s = state ?? (await read.getState());
    // The hash is read before the state: a job that finished in between is read again, so its status and
    // its outcome (failedReason, finishedOn) agree.
    const job = state === undefined && (s === 'completed' || s === 'failed') && !read.finishedOn
      ? (((await queueOf(read.queueName).getJob(read.id!)) as Job<BullStored> | undefined) ?? read) : read;
    const status: JobStatus =
      s === 'active' ? 'active' : s === 'completed' ? 'completed' : s === 'failed' ? 'dead'
        : s === 'delayed' ? (job.attemptsMade > 0 ? 'retrying' : 'delayed') : 'waiting';
    const finished = job.finishedOn ? new Date(job.finishedOn) : null;
    const started = job.processedOn ? new Date(job.processedOn) : null;
    return {
      id: job.id!, queue: job.queueName, key: job.data.k, tenant: job.data.t, status, priority: PRIORITY_OF(job.opts.priority),
      attempts: job.attemptsStarted, maxAttempts: job.opts.attempts ?? 1, error: status === 'completed' ? null : job.failedReason || null,
      data: job.data.p, createdAt: new Date(job.timestamp), runAt: new Date(job.timestamp + (job.delay ?? 0)),
      startedAt: started, finishedAt: finished, durationMs: finished && started ? finished.getTime() - started.getTime() : null,
    };
  }

  const parseTombstone = (text: string): JobRun => {
    const run = JSON.parse(text) as JobRun;
    return { ...run, createdAt: new Date(run.createdAt), finishedAt: run.finishedAt && new Date(run.finishedAt), runAt: run.runAt && new Date(run.runAt), startedAt: null };
  };
  const keptSince = () => Date.now() - KEEP_SECONDS * 1000;

  /** The newest cancelled jobs still kept (at most SCAN_LIMIT per queue). */
  async function cancelledRuns(names: string[], tenant: string | undefined): Promise<JobRun[]> {
    const out: JobRun[] = [];
    for (const name of names) {
      const ids = await connection.zrevrangebyscore(cancelledKey(name), '+inf', keptSince(), 'LIMIT', 0, SCAN_LIMIT);
      const texts = await Promise.all(ids.map((id) => connection.hget(jobKey(name, id), TOMBSTONE)));
      for (const text of texts) {
        if (!text) continue;
        const run = parseTombstone(text);
        if (tenant === undefined || run.tenant === tenant) out.push(run);
      }
    }
    return out;
  }

  const TYPES: Record<JobStatus, JobType[]> = {
    waiting: ['waiting', 'prioritized'], delayed: ['delayed'], retrying: ['delayed'], active: ['active'],
    completed: ['completed'], dead: ['failed'], cancelled: [],
  };

  async function scan(o: ListOptions & { limit: number }): Promise<JobRun[]> {
    const names = o.queue ? [o.queue] : [...known.keys()];
    const statuses = o.status ? [o.status] : (['waiting', 'delayed', 'active', 'completed', 'dead'] as JobStatus[]);
    const runs: JobRun[] = [];
    for (const name of names) {
      const q = queueOf(name);
      for (const status of statuses) {
        for (const type of TYPES[status]) {
          const jobs = (await q.getJobs([type], 0, SCAN_LIMIT - 1)) as Job<BullStored>[];
          for (const job of jobs) {
            if (!job?.id || (o.tenant !== undefined && job.data.t !== o.tenant)) continue;
            const run = await toRun(job, type === 'prioritized' ? 'waiting' : type);
            if (!o.status || run.status === o.status) runs.push(run);
          }
        }
      }
    }
    if (!o.status || o.status === 'cancelled') runs.push(...(await cancelledRuns(names, o.tenant)));
    return runs.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime()).slice(0, o.limit);
  }

  /** The job under this id, or its tombstone when it was cancelled. */
  async function findJob(id: string): Promise<Job<BullStored> | JobRun | undefined> {
    for (const name of known.keys()) {
      const tombstone = await connection.hget(jobKey(name, id), TOMBSTONE);
      if (tombstone) return parseTombstone(tombstone);
      const job = (await queueOf(name).getJob(id)) as Job<BullStored> | undefined;
      if (job) return job;
    }
    return undefined;
  }
  /** A job BullMQ holds (not a tombstone). */
  const liveJob = async (id: string) => {
    const found = await findJob(id);
    return found && 'opts' in found ? found : undefined;
  };

  const queue: JobQueue = {
    backend: 'bullmq',
    register: registry.register,
    declare: registry.declare,
    async enqueue(name: string, data: unknown, o: EnqueueOptions) {
      const job = prepare(name, data, o, known);
      const q = queueOf(name);
      // BullMQ's add answers an existing job key (a job, or a cancelled job's tombstone) as a duplicate and
      // adds nothing, but does not say so: whether the key existed is asked on the same connection just
      // before, so Redis runs the EXISTS first, in the same round trip and socket write (coalesceWrites), not one more.
      // The job is never doubled (BullMQ's add is atomic per id); two enqueuers racing on one key may both hear `created`.
      const existed = connection.exists(jobKey(name, job.id));
      const stored: BullStored = { k: job.stored.k, t: job.stored.t, p: job.stored.p, to: job.timeoutMs, ...(job.stored.c ? { c: job.stored.c } : {}) };
      // Retention (removeOnComplete/removeOnFail) is the worker's (KEEP_JOBS), not in each job's options.
      const opts: JobsOptions = { jobId: job.id, priority: PRIORITY[job.priority], attempts: job.attempts, backoff: { type: 'exponential', delay: job.backoffMs, jitter: 0.5 } };
      if (job.runAt) opts.delay = Math.max(0, job.runAt.getTime() - Date.now());
      const added = q.add(name, stored, opts);
      const [before] = await Promise.all([existed, added]);
      return { id: job.id, created: before === 0 };
    },
    async start({ work = true } = {}) {
      if (started) return;
      started = true;
      for (const name of known.keys()) queueOf(name);
      if (!work) return;
      for (const [name, entry] of handlers) {
        const worker = new Worker<BullStored>(
          name,
          (job) => instrumentedAttempt(
            { queue: name, id: job.id!, attempt: job.attemptsMade + 1, maxAttempts: job.opts.attempts ?? 1, dueMs: job.attemptsMade === 0 ? job.timestamp + (job.opts.delay ?? 0) : null },
            job.data, () => attempts.run(entry.handler, job.data, { id: job.id!, queue: name, attempt: job.attemptsMade + 1 }, job.data.to ?? entry.settings.timeoutMs)),
          { connection: coalesceWrites(connection.duplicate()), prefix, ...KEEP_JOBS, concurrency: entry.settings.concurrency, lockDuration: options.lockMs ?? 30_000, stalledInterval: Math.max(500, Math.floor((options.lockMs ?? 30_000) / 2)), maxStalledCount: 5 },
        );
        worker.on('error', onError);
        workers.push(worker);
      }
      await Promise.all(workers.map((w) => w.waitUntilReady()));
      // The depth of the queues worked here, asked of Redis when scraped (a retry waiting for its time is delayed).
      unwatch = watchQueueDepth([...handlers.keys()], async () => (await Promise.all([...handlers.keys()].map(async (queue) => {
        const c = await queueOf(queue).getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'failed');
        return [
          { queue, state: 'waiting' as const, n: (c['waiting'] ?? 0) + (c['prioritized'] ?? 0) },
          { queue, state: 'delayed' as const, n: c['delayed'] ?? 0 },
          { queue, state: 'active' as const, n: c['active'] ?? 0 },
          { queue, state: 'failed' as const, n: c['failed'] ?? 0 },
        ];
      }))).flat());
    },
    async stop(graceMs = 10_000) {
      if (!started) return;
      unwatch();
      unwatch = () => {};
      const closing = Promise.allSettled(workers.map((w) => w.close()));
      const timedOut = await Promise.race([closing.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref())]);
      attempts.abortAll(new Error('worker stopping'));
      if (timedOut) await Promise.allSettled(workers.map((w) => w.close(true)));
      await Promise.allSettled([...queues.values()].map((q) => q.close()));
      await Promise.allSettled(workers.map((w) => w.disconnect()));
      connection.disconnect();
      started = false;
    },
    async getJob(id) {
      const found = await findJob(id);
      return !found ? null : 'opts' in found ? toRun(found) : found;
    },
    async list(o = {}) {
      return scan({ ...o, limit: Math.min(Math.max(o.limit ?? 50, 1), 500) });
    },
    async counts(o = {}) {
      const out: QueueCounts[] = [];
      for (const name of [...known.keys()].sort()) {
        const q = queueOf(name);
        const paused = await q.isPaused();
        if (o.tenant === undefined) {
          const c = await q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed');
          const retrying = ((await q.getJobs(['delayed'], 0, SCAN_LIMIT - 1)) as Job[]).filter((j) => j && j.attemptsMade > 0).length;
          out.push({ queue: name, paused, waiting: (c.waiting ?? 0) + (c.prioritized ?? 0), active: c.active ?? 0, delayed: (c.delayed ?? 0) - retrying, retrying,
            failed: c.failed ?? 0, completed: c.completed ?? 0, cancelled: await connection.zcount(cancelledKey(name), keptSince(), '+inf') });
        } else {
          const runs = await scan({ queue: name, tenant: o.tenant, limit: Number.MAX_SAFE_INTEGER });
          const n = (s: JobStatus) => runs.filter((r) => r.status === s).length;
          out.push({ queue: name, paused, waiting: n('waiting'), active: n('active'), delayed: n('delayed'), retrying: n('retrying'), failed: n('dead'), completed: n('completed'), cancelled: n('cancelled') });
        }
      }
      return out;
    },
    async retry(id) {
      const job = await liveJob(id);
      if (!job || (await job.getState()) !== 'delayed' || job.attemptsMade === 0) return false;
      await job.promote();
      return true;
    },
    async replay(id) {
      const job = await liveJob(id);
      if (!job || (await job.getState()) !== 'failed') return false;
      await job.retry('failed');
      return true;
    },
    async cancel(id) {
      const job = await liveJob(id);
      if (!job) return false;
      const state = await job.getState();
      if (!['waiting', 'prioritized', 'delayed'].includes(state)) return false;
      const run = { ...(await toRun(job, state)), status: 'cancelled' as const, finishedAt: new Date() };
      try {
        // Refused by BullMQ when a worker holds the job, so a started job is never cancelled under it.
        await job.remove();
      } catch {
        return false;
      }
      // An enqueue of the same key that slipped in after the removal keeps its new job (0): the cancel still happened.
      await (connection as CancelRedis).objectosCancel(jobKey(job.queueName, id), cancelledKey(job.queueName), id, JSON.stringify(run), Date.now(), KEEP_SECONDS);
      return true;
    },
    async pause(name) {
      await queueOf(name).pause();
    },
    async resume(name) {
      await queueOf(name).resume();
    },
    queues: () => [...known.keys()].sort(),
  };
  return queue;
}

