import type { FlowModel, FlowNode } from '@objectos/metadata';
import type { FlowGraph } from './flow-graph.ts';
import { RETRY_KEY, type NodeError, type NodeResult } from './flow-nodes.ts';
import type { NewRun, NewStep, RunStatus, Variables, WaitingFor } from './flow-store.ts';

/** Where one node's run leaves the run: its step row and the run's next place. Pure: no I/O. */
export interface Transition {
  /** Null: the run ends without running a node (its flow or node is gone from the metadata). */
  step: NewStep | null;
  status: RunStatus;
  variables: Variables;
  /** The node to run next (a waiting run: the node it waits at). */
  next: string | null;
  waitingFor: WaitingFor | null;
  outputs?: Variables;
  error?: string;
  /** A subflow's run, inserted with the step. */
  child?: NewRun;
}

/** What a step may keep of a node's input or output: large values are summarised, not stored. */
const MAX_STEP_JSON = 16 * 1024;
export function capped(v: unknown): unknown {
  if (v === undefined) return null;
  const text = JSON.stringify(v) ?? 'null';
  return text.length <= MAX_STEP_JSON ? v : { truncated: true, bytes: Buffer.byteLength(text) };
}

const withoutRetry = (vars: Variables): Variables => {
  if (!(RETRY_KEY in vars)) return vars;
  const { [RETRY_KEY]: _, ...rest } = vars;
  return rest;
};

interface At {
  node: FlowNode;
  seq: number;
  attempt: number;
  startedAt: Date;
}

/** A node that ran to its end: the step succeeded (or waits), the run goes on, waits or completes. */
export function succeeded(result: NodeResult, at: At, vars: Variables): Transition {
  const step = (status: NewStep['status'], input: unknown, output: unknown): NewStep => ({
    seq: at.seq, node: at.node.id, type: at.node.type, status, input: capped(input), output: capped(output), error: null, attempt: at.attempt,
    started_at: at.startedAt, finished_at: status === 'waiting' ? null : new Date(),
  });
  switch (result.kind) {
    case 'next':
      return { step: step('succeeded', result.input, result.output), status: 'running', variables: withoutRetry(result.variables), next: result.to, waitingFor: null };
    case 'end':
      return { step: step('succeeded', null, result.outputs), status: 'completed', variables: withoutRetry(result.variables), next: null, waitingFor: null, outputs: result.outputs };
    case 'wait':
      return { step: step('waiting', result.input, null), status: 'waiting', variables: withoutRetry(vars), next: at.node.id, waitingFor: { ...result.waitingFor, seq: at.seq } };
    case 'subflow':
      return {
        step: step('waiting', result.input, { childRunId: result.child.id }), status: 'waiting', variables: withoutRetry(vars), next: at.node.id,
        waitingFor: { kind: 'child', seq: at.seq, child: result.child.id }, child: result.child,
      };
  }
}

/**
 * A node that failed, in this order: a retryable fault with retries left under `retry` waits
 * retryDelayMs × backoffMultiplier^(attempt−1) and runs the node again; otherwise its fault edge; then
 * `continue` along its normal edge; then `fallbackNodeId`; else the run fails with the error recorded.
 */
export function failed(flow: FlowModel, graph: FlowGraph, vars: Variables, err: NodeError, at: At, now = Date.now()): Transition {
  const eh = flow.errorHandling;
  const step: NewStep = {
    seq: at.seq, node: at.node.id, type: at.node.type, status: 'failed', input: null, output: null, error: err.message.slice(0, 2_000), attempt: at.attempt,
    started_at: at.startedAt, finished_at: new Date(),
  };
  const go = (next: string | null): Transition => ({ step, status: 'running', variables: withoutRetry(vars), next, waitingFor: null });
  if (eh.strategy === 'retry' && err.retryable && at.attempt <= eh.maxRetries) {
    const delay = Math.round(eh.retryDelayMs * eh.backoffMultiplier ** (at.attempt - 1));
    const variables = { ...vars, [RETRY_KEY]: { node: at.node.id, attempt: at.attempt + 1 } };
    if (delay <= 0) return { step, status: 'running', variables, next: at.node.id, waitingFor: null };
    const due = new Date(now + delay).toISOString();
    return { step, status: 'waiting', variables, next: at.node.id, waitingFor: { kind: 'retry', seq: at.seq, due, node: at.node.id, attempt: at.attempt + 1 } };
  }
  const fault = graph.fault(at.node.id);
  if (fault) return go(fault);
  if (eh.strategy === 'continue') {
    const next = at.node.type === 'loop' ? graph.fallthrough(at.node.id) : graph.next(at.node.id);
    if (next) return go(next);
  }
  if (eh.fallbackNodeId !== undefined && eh.fallbackNodeId !== at.node.id && graph.node(eh.fallbackNodeId)) return go(eh.fallbackNodeId);
  const error = `${at.node.id} (${at.node.type}) failed${at.attempt > 1 ? ` after ${at.attempt} attempts` : ''}: ${err.message}`.slice(0, 2_000);
  return { step, status: 'failed', variables: withoutRetry(vars), next: null, waitingFor: null, error };
}
