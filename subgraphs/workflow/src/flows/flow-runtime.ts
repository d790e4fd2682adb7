import { createDataClient, FLOW_START_JOBS, FLOW_START_QUEUE, loadSandbox, type DeliveryConfig, type FlowStartJob, type Sandbox } from '@objectos/automation-subgraph';
import type { Db } from '@objectos/db';
import { jobIdOf, type JobQueue } from '@objectos/jobs';
import type { FlowModel } from '@objectos/metadata';
import type { CompiledSchema } from '@objectos/schema';
import { createFlowRunner, FLOW_JOBS, FLOW_QUEUE, type FlowJob, type FlowRunner } from './flow-runner.ts';
import { createFlowStarter, type FlowStarter } from './flow-starts.ts';
import { staleRuns } from './flow-store.ts';
import { ensureFlowTables } from './flow-tables.ts';
import { createLogger } from '@objectos/observability';

/** Errors of background work (no caller to throw to) go to the log. */
const log = createLogger('flows');

export interface FlowRuntimeOptions {
  db: Db;
  /** The same compiled metadata as the data subgraph. */
  compiled: CompiledSchema;
  /** Where record nodes write and read: the data subgraph's in-process fetch, or DATA_URL. */
  data: { fetch: (request: Request) => Promise<Response>; url: string };
  secret: string;
  /** Internal targets http and connector nodes may reach (OBJECTOS_WEBHOOK_ALLOW). @default none */
  allow?: DeliveryConfig['allow'];
  /** Where connector credentials are read. @default process.env */
  env?: NodeJS.ProcessEnv;
  onError?: (e: unknown) => void;
  /** How often runs nothing moves are looked for. @default 5000 */
  sweepMs?: number;
  /** How long a run waits unmoved before the sweep queues it again. @default 30000 */
  staleMs?: number;
  /** Jobs of each flow queue run at once in this process. @default 16 */
  concurrency?: number;
}

/**
 * Flow execution for the process that hosts the workflow subgraph: the handlers of `workflow.flow`
 * (advance a run) and `workflow.flow_start` (record changes and schedule ticks), registered on the job
 * runtime's queue before it starts (its `register` hook), worked once `open` has made the tables and
 * the data subgraph answers; and a sweep for runs a crash left without their next job.
 */
export interface FlowRuntime {
  flows: ReadonlyMap<string, FlowModel>;
  db: Db;
  /** Set by `register`. */
  readonly queue: JobQueue;
  readonly runner: FlowRunner;
  readonly starter: FlowStarter;
  register(queue: JobQueue): void;
  open(): Promise<void>;
  /** One pass of the sweep (it also runs every `sweepMs`): the runs it found nothing moving, queued again. */
  sweep(): Promise<number>;
  close(): Promise<void>;
}

export function createFlowRuntime(o: FlowRuntimeOptions): FlowRuntime {
  const onError = o.onError ?? ((e: unknown) => log.error({ err: e }, 'flow runtime error'));
  const flows = new Map(o.compiled.model.flows.map((f) => [f.name, f]));
  const data = createDataClient({ plan: o.compiled.plan, security: o.compiled.security, fetch: o.data.fetch, url: o.data.url, secret: o.secret, db: o.db });
  let sandbox: Promise<Sandbox> | null = null;
  let queue: JobQueue | null = null;
  let runner: FlowRunner | null = null;
  let starter: FlowStarter | null = null;
  let opened!: () => void;
  const ready = new Promise<void>((resolve) => (opened = resolve));
  let timer: NodeJS.Timeout | undefined;
  const need = <T>(x: T | null): T => {
    if (x === null) throw new Error('the flow runtime is not registered on a job queue yet');
    return x;
  };

  /** Runs nothing moves: queued again (keyed, so a run whose job is only late gets no second one). */
  async function sweep(): Promise<number> {
    const r = need(runner);
    const stale = await staleRuns(o.db, o.staleMs ?? 30_000);
    for (const run of stale) {
      if (run.status === 'waiting') {
        await r.followUp(run);
        continue;
      }
      const { created } = await r.advance(run, run.step_seq);
      if (created) continue;
      // Its job exists: when it finished without moving the run (its lease was held by a job that died), a new one.
      const job = await need(queue).getJob(jobIdOf(FLOW_QUEUE, `${run.id}:${run.step_seq}`));
      if (!job || ['completed', 'dead', 'cancelled'].includes(job.status)) await r.advance(run, run.step_seq, `sweep:${Math.floor(Date.now() / 60_000)}`);
    }
    return stale.length;
  }

  return {
    flows,
    db: o.db,
    get queue() {
      return need(queue);
    },
    get runner() {
      return need(runner);
    },
    get starter() {
      return need(starter);
    },
    register(q) {
      queue = q;
      runner = createFlowRunner({
        db: o.db, queue: q, onError, flows, data, model: o.compiled.model, allow: o.allow ?? {}, env: o.env ?? process.env,
        // QuickJS (WebAssembly) is loaded when a script node first runs.
        sandbox: () => (sandbox ??= loadSandbox()),
      });
      starter = createFlowStarter({ db: o.db, plan: o.compiled.plan, flows, runner });
      const r = runner;
      const s = starter;
      // Jobs wait for `open`: the data subgraph they write through is made after the queue starts.
      q.register<FlowJob>(FLOW_QUEUE, async (job, ctx) => (await ready, r.handle(job, ctx)), { ...FLOW_JOBS, concurrency: o.concurrency ?? 16 });
      q.register<FlowStartJob>(FLOW_START_QUEUE, async (job, ctx) => (await ready, s.handle(job, ctx)), { ...FLOW_START_JOBS, concurrency: 4 });
    },
    async open() {
      await ensureFlowTables(o.db);
      opened();
      // Opened again by a workflow subgraph rebuilt on edited metadata (development reload): one sweep.
      if (flows.size === 0 || !runner || timer) return;
      timer = setInterval(() => void sweep().catch(onError), o.sweepMs ?? 5_000);
      timer.unref();
    },
    sweep,
    async close() {
      clearInterval(timer);
      (await sandbox?.catch(() => null))?.close();
    },
  };
}
