import { Queue, Worker, type Job, type JobType } from 'bullmq';
import { Redis } from 'ioredis';
import { createAttempts, createRegistry, prepare, type StoredJob } from './common.ts';
import type { EnqueueOptions, JobPriority, JobQueue, JobRun, JobStatus, ListOptions, QueueCounts } from './types.ts';

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

/** BullMQ's priorities: 1 is the most urgent. Every job is prioritized so `critical` passes `normal`. */
const PRIORITY: Record<JobPriority, number> = { critical: 1, high: 2, normal: 3, low: 4, background: 5 };
const PRIORITY_OF = (n: number | undefined): JobPriority => (['critical', 'high', 'normal', 'low', 'background'] as const)[(n ?? 3) - 1] ?? 'normal';
const KEEP_SECONDS = 7 * 86_400;
/** Listing and per-tenant counts read at most this many jobs per state (the monitor's view of a huge backlog is its newest part). */
const SCAN_LIMIT = 5_000;

type BullStored = StoredJob & { to: number };
type KnownRedis = Redis & { objectosKnown(jobKey: string, cancelledKey: string, id: string): Promise<number> };

/** Services mode: BullMQ + ioredis behind {@link JobQueue}. */
export function createBullQueue(options: BullQueueOptions): JobQueue {
  const prefix = options.prefix ?? 'objectos';
  const onError = options.onError ?? ((e: unknown) => console.error('[jobs] bullmq:', e));
  // Auto-pipelining: commands issued in one tick (an enqueue's check, many enqueues) leave in one socket write.
  const connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false, enableAutoPipelining: true });
  connection.on('error', onError);
  // 1 when the job exists or its key was cancelled: one round trip, no MULTI.
  connection.defineCommand('objectosKnown', { numberOfKeys: 2, lua: "if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 1 end return 0" });
  const queues = new Map<string, Queue>();
  const workers: Worker[] = [];
  const registry = createRegistry();
  const { known, handlers } = registry;
  const attempts = createAttempts();
  const cancelledKey = (queue: string) => `${prefix}:${queue}:objectos:cancelled`;
  let started = false;

  const queueOf = (name: string): Queue => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection, prefix });
      q.on('error', onError);
      queues.set(name, q);
    }
    return q;
  };
  async function toRun(job: Job<BullStored>, state?: string): Promise<JobRun> {
    const s = state ?? (await job.getState());
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

  async function cancelledRuns(names: string[], tenant: string | undefined): Promise<JobRun[]> {
    const out: JobRun[] = [];
    for (const name of names)
      for (const text of Object.values(await connection.hgetall(cancelledKey(name)))) {
        const run = JSON.parse(text) as JobRun;
        if (tenant === undefined || run.tenant === tenant) out.push({ ...run, createdAt: new Date(run.createdAt), finishedAt: run.finishedAt && new Date(run.finishedAt), runAt: run.runAt && new Date(run.runAt), startedAt: null });
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

  async function findJob(id: string): Promise<Job<BullStored> | undefined> {
    for (const name of known.keys()) {
      const job = (await queueOf(name).getJob(id)) as Job<BullStored> | undefined;
      if (job) return job;
    }
    return undefined;
  }

  const queue: JobQueue = {
    backend: 'bullmq',
    register: registry.register,
    declare: registry.declare,
    async enqueue(name: string, data: unknown, o: EnqueueOptions) {
      const job = prepare(name, data, o, known);
      const q = queueOf(name);
      // BullMQ answers a duplicate id with the id itself, so whether the job exists (or was cancelled) is
      // asked first, in one script (a MULTI on this connection copies BullMQ's scripts per call). The job is
      // never doubled (BullMQ's add is atomic per id); two enqueuers racing on one key may both hear `created`.
      if ((await (connection as KnownRedis).objectosKnown(`${prefix}:${name}:${job.id}`, cancelledKey(name), job.id)) === 1) return { id: job.id, created: false };
      await q.add(name, { ...job.stored, to: job.timeoutMs } satisfies BullStored, {
        jobId: job.id,
        priority: PRIORITY[job.priority],
        ...(job.runAt ? { delay: Math.max(0, job.runAt.getTime() - Date.now()) } : {}),
        attempts: job.attempts,
        backoff: { type: 'exponential', delay: job.backoffMs, jitter: 0.5 },
        removeOnComplete: { age: KEEP_SECONDS },
        removeOnFail: { age: KEEP_SECONDS * 4 },
      });
      return { id: job.id, created: true };
    },
    async start({ work = true } = {}) {
      if (started) return;
      started = true;
      for (const name of known.keys()) queueOf(name);
      if (!work) return;
      for (const [name, entry] of handlers) {
        const worker = new Worker<BullStored>(
          name,
          async (job) => attempts.run(entry.handler, job.data, { id: job.id!, queue: name, attempt: job.attemptsMade + 1 }, job.data.to ?? entry.settings.timeoutMs),
          { connection: connection.duplicate(), prefix, concurrency: entry.settings.concurrency, lockDuration: options.lockMs ?? 30_000, stalledInterval: Math.max(500, Math.floor((options.lockMs ?? 30_000) / 2)), maxStalledCount: 5 },
        );
        worker.on('error', onError);
        workers.push(worker);
      }
      await Promise.all(workers.map((w) => w.waitUntilReady()));
    },
    async stop(graceMs = 10_000) {
      if (!started) return;
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
      const job = await findJob(id);
      if (job) return toRun(job);
      return (await cancelledRuns([...known.keys()], undefined)).find((r) => r.id === id) ?? null;
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
            failed: c.failed ?? 0, completed: c.completed ?? 0, cancelled: await connection.hlen(cancelledKey(name)) });
        } else {
          const runs = await scan({ queue: name, tenant: o.tenant, limit: Number.MAX_SAFE_INTEGER });
          const n = (s: JobStatus) => runs.filter((r) => r.status === s).length;
          out.push({ queue: name, paused, waiting: n('waiting'), active: n('active'), delayed: n('delayed'), retrying: n('retrying'), failed: n('dead'), completed: n('completed'), cancelled: n('cancelled') });
        }
      }
      return out;
    },
    async retry(id) {
      const job = await findJob(id);
      if (!job || (await job.getState()) !== 'delayed' || job.attemptsMade === 0) return false;
      await job.promote();
      return true;
    },
    async replay(id) {
      const job = await findJob(id);
      if (!job || (await job.getState()) !== 'failed') return false;
      await job.retry('failed');
      return true;
    },
    async cancel(id) {
      const job = await findJob(id);
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
      await connection.hset(cancelledKey(job.queueName), id, JSON.stringify(run));
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

