import { setMaxListeners } from 'node:events';
import type { PGlite } from '@electric-sql/pglite';
import { PgBoss, type Db as IDatabase, type Job, type JobAttempt } from 'pg-boss';
import { groupCalls } from '@objectos/db';
import { createAttempts, createRegistry, errorText, prepare, type QueueSettings, type StoredJob } from './common.ts';
import { instrumentedAttempt, watchQueueDepth, type DepthState } from './instrument.ts';
import type { EnqueueOptions, JobHandler, JobPriority, JobQueue, JobRun, JobStatus, ListOptions, QueueCounts } from './types.ts';
import { createLogger } from '@objectos/observability/logger';

/** Errors of background work (no caller to throw to) go to the log. */
const log = createLogger('jobs');

export interface PgQueueOptions {
  /** PostgreSQL: pg-boss opens its own small pool. */
  databaseUrl?: string;
  /** Embedded: the process's PGlite (one engine per data folder). */
  pglite?: PGlite;
  /** How often an idle worker looks for jobs, in ms. @default 250 */
  pollMs?: number;
  /** How often pg-boss fails jobs whose worker vanished (past their timeout). @default 5 */
  superviseSeconds?: number;
  onError?: (e: unknown) => void;
}

/** How far ahead a delayed job sent in this process gets a wake-up timer. */
const WAKE_AHEAD_MS = 60_000;
const PRIORITY: Record<JobPriority, number> = { critical: 40, high: 30, normal: 20, low: 10, background: 0 };
const PRIORITY_OF = (n: number): JobPriority => (n >= 40 ? 'critical' : n >= 30 ? 'high' : n >= 20 ? 'normal' : n >= 10 ? 'low' : 'background');
const KEEP_SECONDS = 7 * 86_400;
/** pg-boss expires an attempt this long after our own timeout: its expiry only recovers jobs of a worker that died. */
const EXPIRY_GRACE_S = 2;
/** Completions this close together are one statement (jobs finish a few ms apart under load). */
const GATHER_MS = 5;

/**
 * pg-boss on PGlite runs through a custom `db`: parameterless multi-statement SQL goes to `exec`
 * (a prepared statement holds one command), and the rows of every statement come back together
 * (pg-boss checks). Checked against pg-boss 12.38 on Node 20 (its engines field says 22; the queue,
 * retries, expiry and SKIP LOCKED fetches it uses all ran here).
 */
function pgliteDb(pglite: PGlite): IDatabase {
  return {
    async executeSql(text: string, values?: unknown[]) {
      if (!values || values.length === 0) return { rows: (await pglite.exec(text)).flatMap((r) => r.rows as unknown[]) };
      return { rows: (await pglite.query(text, values)).rows };
    },
  };
}

interface Row {
  id: string;
  name: string;
  priority: number;
  data: StoredJob;
  state: string;
  retry_limit: number;
  retry_count: number;
  start_after: Date;
  started_on: Date | null;
  created_on: Date;
  completed_on: Date | null;
  output: { message?: string; error?: string } | null;
  due: boolean;
}

/** The embedded queue (and the PostgreSQL one when Redis is not configured): pg-boss behind {@link JobQueue}. */
export async function createPgQueue(options: PgQueueOptions): Promise<JobQueue> {
  if (!options.databaseUrl && !options.pglite) throw new Error('createPgQueue needs a databaseUrl or a PGlite');
  const embedded = !options.databaseUrl;
  const boss = new PgBoss({
    ...(options.databaseUrl ? { connectionString: options.databaseUrl, max: 4 } : { db: pgliteDb(options.pglite!) }),
    superviseIntervalSeconds: options.superviseSeconds ?? 5,
    // Schedules are ours (croner, once per tick through idempotent enqueue), so pg-boss's cron stays off.
    schedule: false,
  });
  const onError = options.onError ?? ((e: unknown) => log.error({ err: e, backend: 'pg-boss' }, 'queue error'));
  boss.on('error', onError);
  const sql = async <T>(text: string, values: unknown[] = []): Promise<T[]> => (await boss.getDb().executeSql(text, values)).rows as T[];
  const registry = createRegistry();
  const { known, handlers } = registry;
  const pollMs = options.pollMs ?? 250;
  const stopping = new AbortController();
  // One listener per idle loop (one per queue).
  setMaxListeners(0, stopping.signal);
  const attempts = createAttempts();
  const wakers = new Map<string, () => void>();
  const loops: Promise<void>[] = [];
  const running = new Set<Promise<void>>();
  let paused = new Set<string>();
  let started = false;
  let unwatch = () => {};

  async function refreshPaused(): Promise<void> {
    paused = new Set((await sql<{ queue: string }>('select queue from jobs.queue_state where paused')).map((r) => r.queue));
  }

  function statusOf(r: Row): JobStatus {
    switch (r.state) {
      case 'created': return r.due ? 'waiting' : 'delayed';
      case 'retry': return 'retrying';
      case 'active': return 'active';
      case 'completed': return 'completed';
      case 'cancelled': return 'cancelled';
      default: return 'dead';
    }
  }
  function toRun(r: Row): JobRun {
    const attempts = r.started_on ? r.retry_count + 1 : r.retry_count;
    const finished = r.state === 'completed' || r.state === 'failed' ? r.completed_on : null;
    return {
      id: r.id, queue: r.name, key: r.data.k, tenant: r.data.t, status: statusOf(r), priority: PRIORITY_OF(r.priority),
      attempts, maxAttempts: r.retry_limit + 1, error: r.state === 'completed' ? null : (r.output?.message ?? r.output?.error ?? null),
      data: r.data.p, createdAt: r.created_on, runAt: r.start_after, startedAt: r.started_on, finishedAt: finished,
      durationMs: finished && r.started_on ? finished.getTime() - r.started_on.getTime() : null,
    };
  }
  const COLUMNS = 'id, name, priority, data, state::text as state, retry_limit, retry_count, start_after, started_on, created_on, completed_on, output, start_after <= now() as due';
  const STATE_OF: Record<JobStatus, string> = {
    waiting: "state = 'created' and start_after <= now()", delayed: "state = 'created' and start_after > now()", active: "state = 'active'",
    retrying: "state = 'retry'", completed: "state = 'completed'", dead: "state = 'failed'", cancelled: "state = 'cancelled'",
  };

  /**
   * Completions of one queue go out as one statement per flush (those that come while one is running
   * go in the next): one per job cost a statement each (bench:jobs measured +43 % jobs/s on PGlite batched). A completion that does
   * not reach the database leaves the job active: it expires and runs again (at least once).
   */
  const completers = new Map<string, (attempt: JobAttempt) => Promise<void>>();
  function complete(queue: string, attempt: JobAttempt): Promise<void> {
    let c = completers.get(queue);
    if (!c) completers.set(queue, (c = groupCalls(async (attempts: JobAttempt[]) => {
      await boss.complete(queue, attempts).catch(onError);
      return attempts.map(() => undefined);
    }, { gatherMs: GATHER_MS })));
    return c(attempt);
  }

  async function runJob(queue: string, entry: { handler: JobHandler; settings: QueueSettings }, job: Job<StoredJob>): Promise<void> {
    const attempt = { id: job.id, retryCount: job.retryCount };
    const timeoutMs = Math.max(10, (job.expireInSeconds - EXPIRY_GRACE_S) * 1000);
    try {
      const facts = { queue, id: job.id, attempt: job.retryCount + 1, maxAttempts: job.data.a ?? entry.settings.attempts, dueMs: job.data.d ?? null };
      await instrumentedAttempt(facts, job.data, () => attempts.run(entry.handler, job.data, { id: job.id, queue, attempt: job.retryCount + 1 }, timeoutMs));
    } catch (e) {
      await boss.fail(queue, attempt, { message: errorText(e) }).catch(onError);
      return;
    }
    await complete(queue, attempt);
  }

  async function work(queue: string): Promise<void> {
    const entry = handlers.get(queue)!;
    const inflight = new Set<Promise<void>>();
    let lastPauseCheck = 0;
    while (!stopping.signal.aborted) {
      if (Date.now() - lastPauseCheck > 1_000) {
        lastPauseCheck = Date.now();
        await refreshPaused().catch(onError);
      }
      const room = entry.settings.concurrency - inflight.size;
      let jobs: Job<StoredJob>[] = [];
      // A fetch is one statement however many jobs it takes: with jobs in flight, wait for a quarter of the
      // slots to free up rather than fetching each freed slot alone (on PGlite a fetch costs milliseconds).
      const worthFetching = room > 0 && (inflight.size === 0 || room >= Math.max(1, Math.floor(entry.settings.concurrency / 4)));
      if (worthFetching && !paused.has(queue)) jobs = await boss.fetch<StoredJob>(queue, { batchSize: room }).catch((e: unknown) => (onError(e), []));
      for (const job of jobs) {
        const p = runJob(queue, entry, job).finally(() => (inflight.delete(p), running.delete(p), wakers.get(queue)?.()));
        inflight.add(p);
        running.add(p);
      }
      if (jobs.length === 0 || !worthFetching || inflight.size >= entry.settings.concurrency)
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, pollMs);
          function done() {
            clearTimeout(t);
            wakers.delete(queue);
            stopping.signal.removeEventListener('abort', done);
            resolve();
          }
          wakers.set(queue, done);
          stopping.signal.addEventListener('abort', done, { once: true });
        });
    }
  }

  async function findRow(id: string): Promise<Row | undefined> {
    return (await sql<Row>(`select ${COLUMNS} from pgboss.job where id = $1 and name = any($2::text[])`, [id, [...known.keys()]]))[0];
  }

  const queue: JobQueue = {
    backend: 'pg-boss',
    register: registry.register,
    declare: registry.declare,
    async enqueue(name: string, data: unknown, o: EnqueueOptions) {
      const job = prepare(name, data, o, known);
      job.stored.d = job.runAt ? job.runAt.getTime() : Date.now();
      job.stored.a = job.attempts;
      const id = await boss.send(name, job.stored as unknown as object, {
        id: job.id,
        priority: PRIORITY[job.priority],
        ...(job.runAt ? { startAfter: job.runAt } : {}),
        retryLimit: job.attempts - 1,
        retryDelay: Math.ceil(job.backoffMs / 1000),
        retryBackoff: job.backoffMs > 0,
        expireInSeconds: Math.ceil(job.timeoutMs / 1000) + EXPIRY_GRACE_S,
        deleteAfterSeconds: KEEP_SECONDS,
      });
      if (id && !job.runAt) wakers.get(name)?.();
      // A delayed job sent here and due within a minute wakes this process's worker when it is due, not at the
      // next poll (later ones are found by polling: no timer held for days, none past setTimeout's range).
      else if (id && job.runAt && job.runAt.getTime() - Date.now() < WAKE_AHEAD_MS) setTimeout(() => wakers.get(name)?.(), Math.max(0, job.runAt.getTime() - Date.now()) + 5).unref();
      return { id: job.id, created: id !== null };
    },
    async start({ work: doWork = true } = {}) {
      if (started) return;
      started = true;
      await boss.start();
      // Under a lock: replicas starting together would otherwise race on the catalog.
      await sql('do $$ begin perform pg_advisory_xact_lock(7734017); create schema if not exists jobs; create table if not exists jobs.queue_state (queue text primary key, paused boolean not null default false); end $$');
      for (const [name, s] of known) await boss.createQueue(name, { retryLimit: s.attempts - 1, retryDelay: Math.ceil(s.backoffMs / 1000), retryBackoff: s.backoffMs > 0, expireInSeconds: Math.ceil(s.timeoutMs / 1000) + EXPIRY_GRACE_S, deleteAfterSeconds: KEEP_SECONDS });
      if (embedded) {
        // One process owns a PGlite folder, so a job active at start lost its worker when the last process died.
        const orphans = await sql<{ id: string; name: string; retry_count: number }>("select id, name, retry_count from pgboss.job where state = 'active' and name = any($1::text[])", [[...known.keys()]]);
        for (const o of orphans) await boss.fail(o.name, { id: o.id, retryCount: o.retry_count }, { message: 'the process ended during this attempt' });
      }
      await refreshPaused();
      if (doWork) for (const name of handlers.keys()) loops.push(work(name));
      // The depth of the queues worked here, counted when scraped (one grouped statement). A retry waiting
      // for its time is delayed, as BullMQ has it.
      if (doWork)
        unwatch = watchQueueDepth([...handlers.keys()], () => sql<{ queue: string; state: DepthState; n: number }>(
          `select name as queue, case when state = 'active' then 'active' when state = 'failed' then 'failed' when start_after <= now() then 'waiting' else 'delayed' end as state,
             count(*)::int as n from pgboss.job where name = any($1::text[]) and state in ('created', 'retry', 'active', 'failed') group by 1, 2`, [[...handlers.keys()]]));
    },
    async stop(graceMs = 10_000) {
      if (!started) return;
      unwatch();
      unwatch = () => {};
      const drained = Promise.allSettled([...running]);
      await Promise.race([drained, new Promise((r) => setTimeout(r, graceMs).unref())]);
      stopping.abort();
      attempts.abortAll(new Error('worker stopping'));
      await Promise.allSettled(loops);
      await Promise.allSettled([...running]);
      await boss.stop({ graceful: false, close: true });
      started = false;
    },
    async getJob(id) {
      const r = await findRow(id);
      return r ? toRun(r) : null;
    },
    async list(o: ListOptions = {}) {
      const where = ['name = any($1::text[])'];
      const values: unknown[] = [o.queue ? [o.queue] : [...known.keys()]];
      if (o.tenant !== undefined) where.push(`data->>'t' = $${values.push(o.tenant)}`);
      if (o.status) where.push(STATE_OF[o.status]);
      const limit = Math.min(Math.max(o.limit ?? 50, 1), 500);
      return (await sql<Row>(`select ${COLUMNS} from pgboss.job where ${where.join(' and ')} order by created_on desc, id limit ${limit}`, values)).map(toRun);
    },
    async counts(o = {}) {
      const values: unknown[] = [[...known.keys()]];
      const tenant = o.tenant !== undefined ? `and data->>'t' = $${values.push(o.tenant)}` : '';
      const rows = await sql<{ name: string; state: string; due: boolean; n: number }>(
        `select name, state::text as state, start_after <= now() as due, count(*)::int as n from pgboss.job where name = any($1::text[]) ${tenant} group by 1, 2, 3`, values);
      await refreshPaused();
      return [...known.keys()].sort().map((name): QueueCounts => {
        const c: QueueCounts = { queue: name, paused: paused.has(name), waiting: 0, active: 0, delayed: 0, retrying: 0, failed: 0, completed: 0, cancelled: 0 };
        for (const r of rows.filter((x) => x.name === name)) {
          const s = statusOf({ state: r.state, due: r.due } as Row);
          if (s === 'dead') c.failed += r.n;
          else c[s] += r.n;
        }
        return c;
      });
    },
    async retry(id) {
      const r = await findRow(id);
      if (!r || r.state !== 'retry') return false;
      const res = await boss.update(r.name, undefined, { id, startAfter: new Date() });
      wakers.get(r.name)?.();
      return (res as { updated?: number }).updated !== 0;
    },
    async replay(id) {
      const r = await findRow(id);
      if (!r || r.state !== 'failed') return false;
      const res = await boss.retry(r.name, id);
      wakers.get(r.name)?.();
      return (res as { affected?: number }).affected! > 0;
    },
    async cancel(id) {
      // pg-boss's own cancel also takes active jobs; this one only takes jobs no worker holds, in one statement.
      const rows = await sql<{ id: string }>(
        "update pgboss.job set state = 'cancelled', completed_on = now() where id = $1 and name = any($2::text[]) and state in ('created', 'retry') returning id",
        [id, [...known.keys()]]);
      return rows.length > 0;
    },
    async pause(name) {
      await sql('insert into jobs.queue_state (queue, paused) values ($1, true) on conflict (queue) do update set paused = true', [name]);
      paused.add(name);
    },
    async resume(name) {
      await sql('insert into jobs.queue_state (queue, paused) values ($1, false) on conflict (queue) do update set paused = false', [name]);
      paused.delete(name);
      wakers.get(name)?.();
    },
    queues: () => [...known.keys()].sort(),
  };
  return queue;
}
