import type { Db } from '@objectos/db';
import type { JobContext, JobQueue } from '@objectos/jobs';
import type { FlowModel, FlowNode } from '@objectos/metadata';
import { graphOf, type FlowGraph } from './flow-graph.ts';
import { NodeError, nodeErrorOf, RETRY_KEY, runNode, type NodeDeps } from './flow-nodes.ts';
import { claimRun, commitSteps, loadRun, releaseRun, resumeRun, type NewStep, type Resumption, type RunRow } from './flow-store.ts';
import { failed, succeeded, type Transition } from './flow-transitions.ts';

/** The queue that advances runs: one job moves one run through nodes until it waits, ends or uses its budget. */
export const FLOW_QUEUE = 'workflow.flow';
/** A node runs at most this long (its own timeoutMs, an http or script timeout, bounded by this). */
const MAX_NODE_MS = 5 * 60_000;
/** How long a job holds its run: past the longest node, so only a dead job's lease runs out. */
export const LEASE_MS = MAX_NODE_MS + 60_000;
export const FLOW_JOBS = { attempts: 10, backoffMs: 1_000, timeoutMs: LEASE_MS } as const;
/** Nodes one job runs before it hands the run to a job of its own (other runs get their turn). */
const BUDGET_MS = 2_000;
/**
 * Nodes without effects outside the run (reads and sandboxed scripts included): their steps are committed
 * with the next step (a crash before that runs them again, which changes nothing outside).
 */
const NO_EFFECT = new Set<FlowNode['type']>(['start', 'decision', 'assignment', 'loop', 'get_record', 'script']);
const MAX_BATCH = 50;
/** A timer job may fire this much before its due time (the queue's clock and the database's). */
const EARLY_MS = 1_000;

/** `resume`: the step a waiting run waits at (a timer, a retry's delay, a subflow). */
export interface FlowJob {
  runId: string;
  resume?: number;
}

export interface RunnerDeps extends NodeDeps {
  db: Db;
  queue: JobQueue;
  onError: (e: unknown) => void;
}

export interface FlowRunner {
  /** The job handler of {@link FLOW_QUEUE}. */
  handle(job: FlowJob, ctx: JobContext): Promise<unknown>;
  /** Queues the job that advances a running run from its step `seq` (keyed: queuing twice adds one job). */
  advance(run: Pick<RunRow, 'id' | 'organization_id'>, seq: number, salt?: string): Promise<{ created: boolean }>;
  /** Queues what a run that this process cannot move now still needs (a timer, a child, its parent). */
  followUp(run: RunRow): Promise<void>;
  /** The node a waiting run resumes to (after its wait node). */
  graphFor(run: RunRow): FlowGraph | null;
}

const finished = (r: Pick<RunRow, 'status'>) => r.status === 'completed' || r.status === 'failed' || r.status === 'cancelled';

function timeoutOf(n: FlowNode): number {
  const own = n.type === 'http_request' ? n.config.timeoutMs + 1_000 : n.type === 'script' ? n.config.timeout + 5_000 : 60_000;
  return Math.min(n.timeoutMs ?? own, MAX_NODE_MS);
}

function withTimeout<T>(p: Promise<T>, ms: number, node: FlowNode): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NodeError(`${node.id} did not finish within ${ms} ms`, true)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export function createFlowRunner(deps: RunnerDeps): FlowRunner {
  const { db, queue } = deps;
  const flowOf = (name: string): FlowModel | undefined => deps.flows.get(name);
  const graphFor = (run: RunRow) => {
    const f = flowOf(run.flow);
    return f ? graphOf(f) : null;
  };

  const advance = async (run: Pick<RunRow, 'id' | 'organization_id'>, seq: number, salt?: string) =>
    queue.enqueue(FLOW_QUEUE, { runId: run.id } satisfies FlowJob, { key: `${run.id}:${seq}${salt ? `:${salt}` : ''}`, tenant: run.organization_id });
  // A wait that is due goes before runs still starting: a timer is a promise about time, a new run is not.
  const resumeLater = (run: Pick<RunRow, 'id' | 'organization_id'>, seq: number, due?: string) =>
    queue.enqueue(FLOW_QUEUE, { runId: run.id, resume: seq } satisfies FlowJob, { key: `${run.id}:${seq}:resume`, tenant: run.organization_id, priority: 'high', ...(due ? { runAt: new Date(due) } : {}) });

  /** The parent a finished subflow run returns to (it waits at the step that started it). */
  async function returnToParent(run: RunRow): Promise<void> {
    const seq = Number(run.trigger['seq']);
    if (run.parent_run_id && Number.isInteger(seq)) await resumeLater({ id: run.parent_run_id, organization_id: run.organization_id }, seq);
  }

  async function followUp(run: RunRow): Promise<void> {
    if (finished(run)) return returnToParent(run);
    const w = run.waiting_for;
    if (run.status !== 'waiting' || !w) return;
    if (w.kind === 'timer' || w.kind === 'retry') await resumeLater(run, w.seq, w.due);
    else if (w.kind === 'child') {
      const child = await loadRun(db, w.child);
      if (child && finished(child)) await resumeLater(run, w.seq);
      else if (child) await advance(child, 1);
    }
  }

  /** After a commit: the jobs the run's new place needs. */
  async function afterCommit(run: RunRow, t: Transition, seq: number, handOver: boolean): Promise<void> {
    if (t.status === 'waiting' && t.waitingFor) {
      const w = t.waitingFor;
      if (w.kind === 'timer' || w.kind === 'retry') await resumeLater(run, w.seq, w.due);
      else if (w.kind === 'child' && t.child) await advance({ id: t.child.id, organization_id: run.organization_id }, 1);
    } else if (t.status === 'completed' || t.status === 'failed') await returnToParent(run);
    else if (t.status === 'running' && handOver) await advance(run, seq);
  }

  /** Runs the run's nodes from where it is, committing as it goes, until it waits, ends, or the budget is spent. */
  async function run(row: RunRow): Promise<unknown> {
    const flow = flowOf(row.flow);
    if (!flow) {
      const t: Transition = { step: null, status: 'failed', variables: row.variables, next: null, waitingFor: null, error: `flow ${row.flow} is no longer in the metadata` };
      if (await commitSteps(db, row, row.step_seq, [], { ...t, nextNode: null, keepLease: false })) await afterCommit(row, t, row.step_seq, false);
      return { failed: t.error };
    }
    const graph = graphOf(flow);
    const deadline = Date.now() + BUDGET_MS;
    let from = row.step_seq;
    let vars = row.variables;
    let at = row.next_node;
    let pending: NewStep[] = [];
    let ran = 0;
    for (;;) {
      const seq = from + pending.length;
      const node = at === null ? undefined : graph.node(at);
      let t: Transition;
      if (!node) {
        t = { step: null, status: 'failed', variables: vars, next: null, waitingFor: null, error: `flow ${flow.name} has no node "${at}" to go on with (changed metadata?)` };
      } else {
        const retry = vars[RETRY_KEY] as { node: string; attempt: number } | undefined;
        const where = { node, seq, attempt: retry?.node === node.id ? retry.attempt : 1, startedAt: new Date() };
        try {
          t = succeeded(await withTimeout(runNode({ run: row, graph, node, variables: vars, seq }, deps), timeoutOf(node), node), where, vars);
        } catch (e) {
          t = failed(flow, graph, vars, nodeErrorOf(e), where);
        }
        if (t.status === 'running' && t.next === null) t = { ...t, status: 'failed', error: `${node.id} has no next node to go on with` };
        if (t.step) pending.push(t.step);
        ran++;
      }
      const inTime = Date.now() < deadline;
      if (node && t.status === 'running' && NO_EFFECT.has(node.type) && t.step?.status === 'succeeded' && inTime && pending.length < MAX_BATCH) {
        vars = t.variables;
        at = t.next;
        continue;
      }
      const goOn = t.status === 'running' && inTime;
      const won = await commitSteps(db, row, from, pending, {
        status: t.status, variables: t.variables, nextNode: t.next, waitingFor: t.waitingFor, keepLease: goOn,
        ...(t.outputs ? { outputs: t.outputs } : {}), ...(t.error !== undefined ? { error: t.error } : {}),
      }, t.child ? [t.child] : []);
      // Another job moved the run on, or it was cancelled: nothing of this attempt stays.
      if (!won) return { superseded: true, steps: ran };
      from += pending.length;
      pending = [];
      vars = t.variables;
      at = t.next;
      await afterCommit(row, t, from, !goOn);
      if (!goOn) return { status: t.status, steps: ran, next: t.next };
    }
  }

  /**
   * Ends a wait whose time came (a timer, a retry's delay) or whose subflow finished: the run as it is
   * then (running and held by this job, or failed), or null when there is nothing to resume here.
   */
  async function resume(runId: string, seq: number, job: string): Promise<RunRow | null> {
    const row = await loadRun(db, runId);
    const w = row?.waiting_for;
    if (!row || row.status !== 'waiting' || !w || w.seq !== seq) return null;
    const graph = graphFor(row);
    const node = row.next_node === null ? undefined : graph?.node(row.next_node);
    const lease = { job, ms: LEASE_MS };
    if (!graph || !node) return resumeRun(db, row.id, seq, { fail: `flow ${row.flow} has no node "${row.next_node}" to resume at (changed metadata?)`, variables: row.variables, nextNode: null, step: null });
    if (w.kind === 'timer' || w.kind === 'retry') {
      // Early (another clock): the queue runs the job again after its backoff.
      if (Date.parse(w.due) > Date.now() + EARLY_MS) throw new Error(`run ${row.id}: its ${w.kind} is due at ${w.due}`);
      const r: Resumption = w.kind === 'timer'
        ? { variables: row.variables, nextNode: graph.next(node.id), step: { status: 'succeeded', output: { resumedAt: new Date().toISOString() }, error: null }, lease }
        : { variables: row.variables, nextNode: node.id, step: null, lease };
      return resumeRun(db, row.id, seq, r);
    }
    if (w.kind !== 'child' || node.type !== 'subflow') return null;
    const child = await loadRun(db, w.child);
    if (!child || !finished(child)) return null;
    if (child.status === 'completed') {
      const outputs = child.outputs ?? {};
      const variables = { ...row.variables, ...Object.fromEntries(Object.entries(node.config.outputs).map(([mine, theirs]) => [mine, outputs[theirs] ?? null])) };
      return resumeRun(db, row.id, seq, { variables, nextNode: graph.next(node.id), step: { status: 'succeeded', output: outputs, error: null }, lease });
    }
    // The subflow failed: a failure of this node, with its fault edge or the flow's error handling.
    const t = failed(graph.flow, graph, row.variables, new NodeError(`subflow ${child.flow} ${child.status}${child.error ? `: ${child.error}` : ''}`, false), { node, seq, attempt: 1, startedAt: row.updated_at });
    const step = { status: 'failed' as const, output: null, error: t.step?.error ?? null };
    const done = await resumeRun(db, row.id, seq, t.status === 'failed' ? { fail: t.error!, variables: t.variables, nextNode: null, step } : { variables: t.variables, nextNode: t.next, step, lease });
    if (done && t.status === 'failed') await returnToParent(row);
    return done;
  }

  return {
    advance,
    followUp,
    graphFor,
    async handle(job, ctx) {
      const resumed = job.resume === undefined ? null : await resume(job.runId, job.resume, ctx.id);
      // Resumed, the run is held by this job already; otherwise it is taken if it runs and nobody holds it.
      const row = resumed?.status === 'running' ? resumed : await claimRun(db, job.runId, ctx.id, LEASE_MS);
      if (!row) {
        // Not running, or another job holds it: make sure what it waits for is queued (this job may be the retry of one that died before).
        const seen = await loadRun(db, job.runId);
        if (seen) await followUp(seen);
        return { skipped: seen ? seen.status : 'no such run' };
      }
      try {
        return await run(row);
      } catch (e) {
        // A failure of the runtime itself (the database): the queue retries; the run resumes from its last commit.
        await releaseRun(db, row.id, ctx.id).catch(() => {});
        throw e;
      }
    },
  };
}
