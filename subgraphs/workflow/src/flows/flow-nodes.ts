import { ActionFailure, DataRefusal, type DataClient, type RunAs, type Sandbox, type WriteEffect } from '@objectos/automation-subgraph';
import { nameUuid } from '@objectos/events';
import {
  applyAssignment, coerceFlowInputs, coerceFlowValue, evaluateFlowCondition, flowDurationMs, flowOutputs, FlowInputError, FlowValueError, resolveFlowValue,
  type FlowModel, type FlowNode,
} from '@objectos/metadata';
import { callConnector, callHttp, type OutboundDeps } from './flow-outbound.ts';
import type { FlowGraph } from './flow-graph.ts';
import type { NewRun, RunRow, Variables, WaitingFor } from './flow-store.ts';

/** Keys of a run's variables the runtime keeps for itself (variable names are snake_case: never `$…`). */
export const LOOP_KEY = '$loop';
export const RETRY_KEY = '$retry';

/** The run's variables as the flow sees them (without the runtime's own keys). */
export const flowVariables = (vars: Variables): Variables => Object.fromEntries(Object.entries(vars).filter(([k]) => !k.startsWith('$')));

/** A node that failed: `retryable` when running it again may succeed (a 5xx, a timeout, the network), final otherwise. */
export class NodeError extends Error {
  constructor(message: string, readonly retryable: boolean) {
    super(message);
    this.name = 'NodeError';
  }
}

/** Whether a node's failure may pass on a retry: refusals, bad values, 4xx answers and script errors never do. */
export function nodeErrorOf(e: unknown): NodeError {
  if (e instanceof NodeError) return e;
  const message = e instanceof Error ? e.message : String(e);
  const final = e instanceof DataRefusal || e instanceof ActionFailure || e instanceof FlowValueError || e instanceof FlowInputError || (e instanceof Error && e.name === 'ScriptError');
  return new NodeError(message, !final);
}

export interface NodeDeps extends OutboundDeps {
  flows: ReadonlyMap<string, FlowModel>;
  data: DataClient;
  sandbox: () => Promise<Sandbox>;
}

/** What running one node did. A failure is thrown (see {@link nodeErrorOf}). */
export type NodeResult =
  | { kind: 'next'; to: string | null; variables: Variables; input?: unknown; output?: unknown }
  | { kind: 'end'; variables: Variables; outputs: Variables }
  | { kind: 'wait'; waitingFor: DistributiveOmit<WaitingFor, 'seq'>; input: unknown }
  | { kind: 'subflow'; child: NewRun; input: unknown };
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface NodeRun {
  run: RunRow;
  graph: FlowGraph;
  node: FlowNode;
  variables: Variables;
  /** The step's number: its effects' idempotency key is `flow:<run id>:<seq>`. */
  seq: number;
}

/** The key every effect of a step carries: a step run again after a crash repeats none. */
export const effectKey = (runId: string, seq: number): string => `flow:${runId}:${seq}`;

/** Whom record nodes act as: the runtime (in the run's organization) or the user who started the run, with that user's access. */
function actor(run: RunRow): RunAs {
  if (run.run_as === 'system') return run.started_by ? { kind: 'system', owner: run.started_by } : { kind: 'system' };
  if (!run.started_by) throw new NodeError(`flow ${run.flow} runs as user, but no user started this run (a schedule or a change the runtime made)`, false);
  return { kind: 'user', userId: run.started_by };
}

function recordIdOf(n: { id: string; config: { recordId: string } }, vars: Variables): string {
  const id = resolveFlowValue(n.config.recordId, vars);
  if (typeof id !== 'string' || id === '') throw new FlowValueError(`${n.id}: recordId ${JSON.stringify(n.config.recordId)} gave ${JSON.stringify(id)}, not a record id`);
  return id;
}

/** Sets an output variable (coerced to its type; a value that does not fit fails the node). */
function assign(flow: FlowModel, vars: Variables, name: string | undefined, value: unknown): Variables {
  if (name === undefined) return vars;
  const v = flow.variables.find((x) => x.name === name);
  if (!v) throw new FlowValueError(`unknown variable "${name}"`);
  return { ...vars, [name]: coerceFlowValue(v, value) };
}

/**
 * The script node's body inside the sandbox: `input` is the flow's variables (the sandbox's `record`),
 * and what the body returns is handed back through the sandbox's one channel, `ctx.update`. On the
 * script's first line, so its line numbers in errors stay the script's.
 */
const wrapScript = (code: string): string => `const input = record; ctx.update('$return', (await (async () => {${code}\n})()) ?? null);`;

/** Runs one node on the run's variables. */
export async function runNode(r: NodeRun, deps: NodeDeps): Promise<NodeResult> {
  const { run, graph, node: n, variables: vars } = r;
  const flow = graph.flow;
  const next = (variables: Variables, extra: { input?: unknown; output?: unknown } = {}): NodeResult => ({ kind: 'next', to: graph.next(n.id), variables, ...extra });
  const org = run.organization_id;
  const effect: WriteEffect = { key: effectKey(run.id, r.seq), automation: { rule: `flow:${flow.name}`, action: n.id, depth: Math.min(run.depth, 100) } };
  switch (n.type) {
    case 'start':
      return next(vars);
    case 'end': {
      const outputs = flowOutputs(flow, vars);
      return { kind: 'end', variables: vars, outputs };
    }
    case 'decision': {
      const taken = graph.out(n.id).find((e) => e.type === 'conditional' && e.condition !== null && evaluateFlowCondition(e.condition, vars, flow));
      const to = taken?.target ?? graph.fallthrough(n.id);
      return { kind: 'next', to, variables: vars, output: { edge: taken?.id ?? graph.out(n.id).find((e) => e.type === 'default')?.id ?? null } };
    }
    case 'assignment': {
      let v = vars;
      for (const a of n.config.assignments) v = applyAssignment(v, a, flow);
      return next(v, { output: Object.fromEntries(n.config.assignments.map((a) => [a.variable, v[a.variable] ?? null])) });
    }
    case 'loop': {
      const items = vars[n.config.collection];
      const list = Array.isArray(items) ? items : [];
      const loops = { ...((vars[LOOP_KEY] as Record<string, number> | undefined) ?? {}) };
      const index = loops[n.id] ?? 0;
      if (index >= list.length) {
        delete loops[n.id];
        return { kind: 'next', to: graph.fallthrough(n.id), variables: { ...vars, [LOOP_KEY]: loops }, output: { done: true, items: list.length } };
      }
      loops[n.id] = index + 1;
      const withItem = assign(flow, vars, n.config.itemVariable, list[index]);
      return { kind: 'next', to: graph.body(n.id), variables: { ...withItem, [LOOP_KEY]: loops }, output: { index, item: list[index] ?? null } };
    }
    case 'create_record': {
      const values = resolveFlowValue(n.config.values, vars) as Record<string, unknown>;
      const { id } = await deps.data.create(org, n.config.object, values, actor(run), effect);
      return next(assign(flow, vars, n.config.outputVariable, id), { input: { object: n.config.object, values }, output: { id } });
    }
    case 'update_record': {
      const id = recordIdOf(n, vars);
      const values = resolveFlowValue(n.config.values, vars) as Record<string, unknown>;
      await deps.data.update(org, n.config.object, id, values, actor(run), effect);
      return next(vars, { input: { object: n.config.object, id, values }, output: { id } });
    }
    case 'delete_record': {
      const id = recordIdOf(n, vars);
      // Keyed like every record write: run again after it committed, the data subgraph answers it as done.
      await deps.data.delete(org, n.config.object, id, actor(run), effect);
      return next(vars, { input: { object: n.config.object, id }, output: { id } });
    }
    case 'get_record': {
      const id = recordIdOf(n, vars);
      const record = await deps.data.get(org, n.config.object, id, actor(run));
      return next(assign(flow, vars, n.config.outputVariable, record), { input: { object: n.config.object, id }, output: { found: record !== null } });
    }
    case 'http_request': {
      const response = await callHttp(n, vars, effectKey(run.id, r.seq), deps);
      return next(assign(flow, vars, n.config.outputVariable, response), { input: { method: n.config.method, url: n.config.url }, output: { status: response.status, body: response.body } });
    }
    case 'connector_action': {
      const response = await callConnector(n, vars, effectKey(run.id, r.seq), deps);
      const { connectorId, actionId } = n.connectorConfig;
      return next(assign(flow, vars, n.config.outputVariable, response), { input: { connector: connectorId, action: actionId }, output: { status: response.status, body: response.body } });
    }
    case 'script': {
      const sandbox = await deps.sandbox();
      const result = await sandbox.run({ code: wrapScript(n.config.code), record: flowVariables(vars), prior: null, timeoutMs: n.config.timeout });
      const returned = result.updates['$return'] ?? null;
      return next(assign(flow, vars, n.config.outputVariable, returned), { output: { returned, logs: result.logs } });
    }
    case 'wait': {
      const w = n.waitEventConfig;
      if (w.eventType === 'timer') {
        const ms = flowDurationMs(w.timerDuration ?? '');
        if (ms === null) throw new FlowValueError(`${n.id}: timerDuration ${JSON.stringify(w.timerDuration)} is not a duration`);
        const due = new Date(Date.now() + ms).toISOString();
        return { kind: 'wait', waitingFor: { kind: 'timer', due }, input: { timer: w.timerDuration, due } };
      }
      if (w.eventType !== 'signal' && w.eventType !== 'manual') throw new NodeError(`${n.id}: eventType ${w.eventType} is not supported`, false);
      return { kind: 'wait', waitingFor: { kind: 'signal', signal: w.signal!, eventType: w.eventType }, input: { signal: w.signal } };
    }
    case 'subflow': {
      const child = deps.flows.get(n.config.flow);
      if (!child || child.status !== 'active') throw new NodeError(`subflow ${n.config.flow} is ${child ? child.status : 'not in the metadata'}: only active flows run`, false);
      const inputs = resolveFlowValue(n.config.inputs, vars) as Record<string, unknown>;
      const variables = coerceFlowInputs(child, inputs);
      const start = child.nodes.find((x) => x.type === 'start')!;
      const id = nameUuid(`flow:${run.id}:${r.seq}:child`);
      // The child acts in the parent's organization, as the parent does, for the user who started the parent.
      return {
        kind: 'subflow', input: { flow: child.name, inputs },
        child: {
          id, org, flow: child.name, version: child.version, variables, startNode: start.id, runAs: run.run_as, startedBy: run.started_by,
          parentRunId: run.id, parentNode: n.id, trigger: { type: 'subflow', parentRunId: run.id, node: n.id, seq: r.seq }, depth: run.depth + 1,
        },
      };
    }
  }
}
