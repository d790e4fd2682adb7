import type { FlowEdgeModel, FlowModel, FlowNode } from '@objectos/metadata';

/**
 * A flow's nodes and edges by id, built once per flow model. The conventions are the metadata's (its
 * load-time checks made sure every node has the edges its kind needs): an edge without type is "next",
 * the one with `type: default` too on nodes that do not branch; a loop's untyped edge is its body and
 * its default edge is taken after the last item; a decision tries its conditional edges in YAML order.
 */
export interface FlowGraph {
  flow: FlowModel;
  start: FlowNode;
  node(id: string): FlowNode | undefined;
  /** The edges leaving a node, in YAML order. */
  out(id: string): readonly FlowEdgeModel[];
  /** The node after a node that does not branch (its untyped or default edge), null when there is none (an end). */
  next(id: string): string | null;
  /** Where a failure of the node goes when it has a fault edge. */
  fault(id: string): string | null;
  /** A loop's body edge target (each item). */
  body(id: string): string | null;
  /** The default edge target: a decision when no condition holds, a loop after its last item. */
  fallthrough(id: string): string | null;
}

const graphs = new WeakMap<FlowModel, FlowGraph>();

export function graphOf(flow: FlowModel): FlowGraph {
  let g = graphs.get(flow);
  if (g) return g;
  const nodes = new Map(flow.nodes.map((n) => [n.id, n]));
  const out = new Map<string, FlowEdgeModel[]>();
  for (const e of flow.edges) out.set(e.source, [...(out.get(e.source) ?? []), e]);
  const edges = (id: string) => out.get(id) ?? [];
  const target = (id: string, pick: (e: FlowEdgeModel) => boolean) => edges(id).find(pick)?.target ?? null;
  const start = flow.nodes.find((n) => n.type === 'start');
  if (!start) throw new Error(`flow ${flow.name} has no start node`);
  g = {
    flow,
    start,
    node: (id) => nodes.get(id),
    out: edges,
    next: (id) => target(id, (e) => e.type === undefined || e.type === 'default'),
    fault: (id) => target(id, (e) => e.type === 'fault'),
    body: (id) => target(id, (e) => e.type === undefined),
    fallthrough: (id) => target(id, (e) => e.type === 'default'),
  };
  graphs.set(flow, g);
  return g;
}
