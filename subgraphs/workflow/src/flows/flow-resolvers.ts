import { randomUUID } from 'node:crypto';
import { coerceFlowInputs, FlowInputError, type FlowModel } from '@objectos/metadata';
import type { Principal } from '@objectos/principal';
import { accessFor, type CompiledSchema } from '@objectos/schema';
import { GraphQLError } from 'graphql';
import { member, workflowError } from '../transitions.ts';
import { flowVariables } from './flow-nodes.ts';
import type { FlowRuntime } from './flow-runtime.ts';
import { cancelRuns, listRuns, loadRun, resumeRun, stepsOf, type RunRow, type RunStatus } from './flow-store.ts';

interface Ctx {
  principal: Principal;
}

/** A run as the API shows it; `__full`: its variables and step data may be shown to this caller. */
interface RunView {
  id: string;
  flow: string;
  flowVersion: number;
  status: RunStatus;
  runAs: string;
  startedBy: string | null;
  trigger: Record<string, unknown>;
  nextNode: string | null;
  waitingFor: unknown;
  variables: Record<string, unknown> | null;
  outputs: Record<string, unknown> | null;
  error: string | null;
  parentRunId: string | null;
  startedAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
  __org: string;
  __full: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_JSON = 64 * 1024;
const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function boundedJson(what: string, v: unknown): void {
  const size = Buffer.byteLength(JSON.stringify(v ?? null));
  if (size > MAX_JSON) throw workflowError('BAD_USER_INPUT', `${what}: at most ${MAX_JSON} bytes of JSON (got ${size})`);
}

/**
 * The flow API of the workflow subgraph: who sees a run (the organization's runs with manageWorkflows,
 * else the runs you started; another organization's run does not exist for you), who may start a flow
 * (one of its permission sets, or manageWorkflows), and signals and cancels on visible runs.
 */
export function flowResolvers(runtime: FlowRuntime, compiled: CompiledSchema) {
  const T = (n: string) => compiled.inflection.sharedType(n);
  const access = (p: Principal) => accessFor(compiled.plan, compiled.security, p);
  const manages = (p: Principal) => (access(p).systemPermissions as readonly string[]).includes('manageWorkflows');

  /** Variables and step data read in system context are for workflow managers; a user-mode run read only what its user may. */
  const view = (r: RunRow, manager: boolean): RunView => {
    const full = manager || r.run_as === 'user';
    return {
      id: r.id, flow: r.flow, flowVersion: r.flow_version, status: r.status, runAs: r.run_as, startedBy: r.started_by, trigger: r.trigger, nextNode: r.next_node,
      waitingFor: r.waiting_for, variables: full ? flowVariables(r.variables) : null, outputs: r.outputs, error: r.error, parentRunId: r.parent_run_id,
      startedAt: r.started_at, updatedAt: r.updated_at, finishedAt: r.finished_at, __org: r.organization_id, __full: full,
    };
  };

  /** A run the caller may see, or NOT_FOUND (another tenant's, someone else's without manageWorkflows, or none). */
  async function visible(p: Principal, id: string): Promise<{ run: RunRow; manager: boolean }> {
    const { org, userId } = member(p);
    const run = UUID.test(id) ? await loadRun(runtime.db, id, org) : null;
    const manager = manages(p);
    if (!run || (!manager && run.started_by !== userId)) throw workflowError('NOT_FOUND', `No flow run with id "${id}" that you can see`);
    return { run, manager };
  }

  function startable(p: Principal, name: string): FlowModel {
    const flow = runtime.flows.get(name);
    if (!flow) throw workflowError('NOT_FOUND', `No flow named "${name}" (flows: ${[...runtime.flows.keys()].sort().join(', ') || 'none'})`);
    if (flow.type !== 'autolaunched') throw workflowError('BAD_USER_INPUT', `Flow ${name} is a ${flow.type} flow: it starts on ${flow.type === 'schedule' ? 'its schedule' : 'record changes'}, not through startFlow`);
    if (flow.status !== 'active') throw workflowError('BAD_USER_INPUT', `Flow ${name} is ${flow.status}: only active flows run`);
    const a = access(p);
    const sets = flow.permissionSets ?? [];
    if (!(a.systemPermissions as readonly string[]).includes('manageWorkflows') && !sets.some((s) => a.permissionSets.includes(s)))
      throw workflowError('FORBIDDEN', `You cannot start flow ${name}: it needs ${sets.length ? `one of the permission sets ${sets.join(', ')} or ` : ''}the manageWorkflows permission`);
    return flow;
  }

  return {
    types: {
      [T('FlowRun')]: {
        steps: async (r: RunView) => (await stepsOf(runtime.db, r.id, r.__org)).map((s) => ({
          seq: s.seq, node: s.node, type: s.type, status: s.status, input: r.__full ? s.input : null, output: r.__full ? s.output : null, error: s.error,
          attempt: s.attempt, startedAt: s.started_at, finishedAt: s.finished_at, duration: s.finished_at ? s.finished_at.getTime() - s.started_at.getTime() : null,
        })),
      },
    },
    Query: {
      flows: (_: unknown, __: unknown, ctx: Ctx) => {
        member(ctx.principal);
        return [...runtime.flows.values()].map((f) => ({
          name: f.name, label: f.label ?? f.name, description: f.description ?? null, type: f.type, status: f.status, version: f.version, runAs: f.runAs,
          variables: f.variables.map((v) => ({ name: v.name, type: v.type, object: v.object ?? null, isInput: v.isInput, isOutput: v.isOutput })),
        }));
      },
      flowRuns: async (_: unknown, a: { where?: { flow?: string | null; status?: RunStatus | null; startedBy?: string | null } | null; first?: number | null }, ctx: Ctx) => {
        const { org, userId } = member(ctx.principal);
        const first = a.first ?? 50;
        if (!Number.isInteger(first) || first < 1 || first > 500) throw workflowError('BAD_USER_INPUT', `first: from 1 to 500 (got ${first})`);
        const manager = manages(ctx.principal);
        const rows = await listRuns(runtime.db, { org, first, ...(a.where ?? {}), ...(manager ? {} : { onlyStartedBy: userId }) });
        return rows.map((r) => view(r, manager));
      },
      flowRun: async (_: unknown, a: { id: string }, ctx: Ctx) => {
        try {
          const { run, manager } = await visible(ctx.principal, a.id);
          return view(run, manager);
        } catch (e) {
          if (e instanceof GraphQLError && e.extensions['code'] === 'NOT_FOUND') return null;
          throw e;
        }
      },
    },
    Mutation: {
      startFlow: async (_: unknown, a: { name: string; inputs?: unknown }, ctx: Ctx) => {
        const { org, userId } = member(ctx.principal);
        const flow = startable(ctx.principal, a.name);
        const inputs = a.inputs ?? {};
        if (!isPlainObject(inputs)) throw workflowError('BAD_USER_INPUT', `inputs: a mapping of input variable names to values (got ${JSON.stringify(inputs)})`);
        boundedJson('inputs', inputs);
        let variables;
        try {
          variables = coerceFlowInputs(flow, inputs);
        } catch (e) {
          if (e instanceof FlowInputError) throw new GraphQLError(e.message, { extensions: { code: 'BAD_USER_INPUT', input: e.input } });
          throw e;
        }
        const run = await runtime.starter.start({
          id: randomUUID(), org, flow: flow.name, variables, runAs: flow.runAs, startedBy: userId, parentRunId: null, parentNode: null, trigger: { type: 'api' }, depth: 1,
        }, flow);
        return view(run, manages(ctx.principal));
      },
      signalFlow: async (_: unknown, a: { runId: string; signal: string; payload?: unknown }, ctx: Ctx) => {
        const { run, manager } = await visible(ctx.principal, a.runId);
        boundedJson('payload', a.payload);
        const w = run.waiting_for;
        if (run.status !== 'waiting' || w?.kind !== 'signal') throw workflowError('CONFLICT', `Flow run ${run.id} is ${run.status}${w ? ` (waiting for ${w.kind})` : ''}: it is not waiting for a signal`);
        if (w.signal !== a.signal) throw workflowError('BAD_USER_INPUT', `Flow run ${run.id} waits for signal "${w.signal}", not "${a.signal}"`);
        const graph = runtime.runner.graphFor(run);
        const next = graph && run.next_node ? graph.next(run.next_node) : null;
        const output = { signal: a.signal, payload: a.payload ?? null, by: ctx.principal.userId };
        const resumed = await resumeRun(runtime.db, run.id, w.seq, { variables: run.variables, nextNode: next, step: { status: 'succeeded', output, error: null } });
        if (!resumed) throw workflowError('CONFLICT', `Flow run ${run.id} moved on meanwhile (another signal, or a cancel): read it again`);
        await runtime.runner.advance(run, run.step_seq);
        return view(resumed, manager);
      },
      cancelFlowRun: async (_: unknown, a: { id: string }, ctx: Ctx) => {
        const { run, manager } = await visible(ctx.principal, a.id);
        if (run.status !== 'running' && run.status !== 'waiting') throw workflowError('CONFLICT', `Flow run ${run.id} is ${run.status}: only a running or waiting run can be cancelled`);
        const cancelled = await cancelRuns(runtime.db, run.id, run.organization_id, `cancelled by ${ctx.principal.userId ?? 'the runtime'}`);
        if (cancelled.length === 0) throw workflowError('CONFLICT', `Flow run ${run.id} finished meanwhile: read it again`);
        const after = (await loadRun(runtime.db, run.id))!;
        // A subflow run cancelled on its own: its parent goes on as after a failed subflow.
        await runtime.runner.followUp(after);
        return view(after, manager);
      },
    },
  };
}
