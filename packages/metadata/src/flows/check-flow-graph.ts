import type { Report } from '../parse-metadata.ts';
import type { FlowDefinition, FlowEdge, FlowNode } from './flow-schema.ts';

/** What the graph checks need of a flow being checked. */
interface Scope {
  flow: FlowDefinition;
  report: Report;
}

const list = (names: Iterable<string>): string => [...names].sort().join(', ') || 'none';

/** Ids, start and end, edges by the kind of node they leave, reachability and cycles. Returns node ids → index. */
export function checkFlowGraph(s: Scope): Map<string, number> {
  const { flow, report } = s;
  const ids = new Map<string, number>();
  flow.nodes.forEach((n, i) => {
    const first = ids.get(n.id);
    if (first !== undefined) report(['nodes', i, 'id'], `node id "${n.id}" is already used by nodes.${first}`);
    else ids.set(n.id, i);
  });
  const edgeIds = new Map<string, number>();
  flow.edges.forEach((e, i) => {
    const first = edgeIds.get(e.id);
    if (first !== undefined) report(['edges', i, 'id'], `edge id "${e.id}" is already used by edges.${first}`);
    else edgeIds.set(e.id, i);
  });
  const out = new Map<string, number[]>([...ids.keys()].map((id) => [id, []]));
  const incoming = new Map<string, number[]>([...ids.keys()].map((id) => [id, []]));
  flow.edges.forEach((e, i) => {
    const dangling = (['source', 'target'] as const).filter((end) => !ids.has(e[end]));
    for (const end of dangling) report(['edges', i, end], `unknown node "${e[end]}" (nodes: ${list(ids.keys())})`);
    if (dangling.length === 0) {
      out.get(e.source)!.push(i);
      incoming.get(e.target)!.push(i);
    }
  });
  const starts = flow.nodes.flatMap((n, i) => (n.type === 'start' ? [i] : []));
  if (starts.length === 0) report(['nodes'], 'a flow needs one start node (type: start)');
  starts.slice(1).forEach((i) => report(['nodes', i, 'type'], `a flow has exactly one start node: nodes.${starts[0]} is already one`));
  if (!flow.nodes.some((n) => n.type === 'end')) report(['nodes'], 'a flow needs at least one end node (type: end)');
  for (const [id, i] of ids) checkEdgesOf(flow.nodes[i]!, i, out.get(id)!, incoming.get(id)!, s);

  const node = (id: string): FlowNode => flow.nodes[ids.get(id)!]!;
  const targets = (id: string, keep: (e: FlowEdge) => boolean = () => true) =>
    out.get(id)!.map((j) => flow.edges[j]!).filter(keep).map((e) => e.target);
  const reachable = (roots: string[]): Set<string> => {
    const seen = new Set(roots);
    const queue = [...roots];
    for (let id = queue.shift(); id !== undefined; id = queue.shift())
      for (const t of targets(id)) {
        if (seen.has(t)) continue;
        seen.add(t);
        queue.push(t);
      }
    return seen;
  };
  const start = starts[0] === undefined ? undefined : flow.nodes[starts[0]]!.id;
  if (start === undefined) return ids;
  const fallback = flow.errorHandling.fallbackNodeId;
  const seen = reachable([start, ...(fallback !== undefined && ids.has(fallback) ? [fallback] : [])]);
  for (const [id, i] of ids) if (!seen.has(id)) report(['nodes', i], `node "${id}" is unreachable: no edge path leads to it from the start node`);

  // Each item of a loop goes round its body back to the loop node.
  for (const [id] of ids) {
    if (node(id).type !== 'loop') continue;
    const body = out.get(id)!.filter((j) => flow.edges[j]!.type === undefined);
    if (body.length === 1 && !reachable([flow.edges[body[0]!]!.target]).has(id))
      report(['edges', body[0]!], `the body of loop "${id}" never leads back to it: each item's path must return to the loop node`);
  }

  // A cycle must wait, or go round a loop's body (the loop ends after its last item); others never end.
  const next = (id: string): string[] => (node(id).type === 'wait' ? [] : targets(id, (e) => !(node(id).type === 'loop' && e.type === undefined)));
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const reported = new Set<string>();
  const visit = (id: string): void => {
    state.set(id, 'open');
    path.push(id);
    for (const t of next(id)) {
      if (!state.has(t)) visit(t);
      else if (state.get(t) === 'open') {
        const cycle = [...path.slice(path.indexOf(t)), t];
        const key = cycle.slice(1).sort().join();
        if (!reported.has(key)) report(['nodes', ids.get(t)!], `${cycle.join(' → ')} is a cycle without a loop or wait node: it would never end (go round through a loop's body, or wait)`);
        reported.add(key);
      }
    }
    path.pop();
    state.set(id, 'done');
  };
  for (const id of ids.keys()) if (!state.has(id)) visit(id);
  return ids;
}

/** The edges a node may have: it says how the executor leaves it. */
function checkEdgesOf(n: FlowNode, i: number, outs: number[], ins: number[], s: Scope): void {
  const { report } = s;
  const at = ['nodes', i];
  const edges = outs.map((j) => [j, s.flow.edges[j]!] as const);
  const typed = (t: FlowEdge['type']) => edges.filter(([, e]) => e.type === t);
  const faults = typed('fault');
  switch (n.type) {
    case 'end':
      edges.forEach(([j]) => report(['edges', j, 'source'], `end node "${n.id}" has no outgoing edges (the flow stops there)`));
      return;
    case 'start':
      ins.forEach((j) => report(['edges', j, 'target'], `nothing leads back to the start node "${n.id}" (it runs once, first)`));
      if (edges.length !== 1 || faults.length > 0) report(at, `the start node has exactly one outgoing edge, to the first node (found ${edges.length})`);
      return;
    case 'decision': {
      const defaults = typed('default').length;
      if (defaults !== 1) report(at, `decision "${n.id}" needs exactly one default edge (taken when no condition holds; found ${defaults})`);
      if (typed('conditional').length === 0) report(at, `decision "${n.id}" needs at least one conditional edge (with condition)`);
      for (const [j, e] of edges)
        if (e.type === undefined) report(['edges', j], `an edge leaving decision "${n.id}" is conditional (with condition) or default`);
        else if (e.type === 'fault') report(['edges', j, 'type'], `decision "${n.id}" cannot fail: no fault edge leaves it`);
      return;
    }
    case 'loop': {
      const defaults = typed('default').length;
      const bodies = typed(undefined).length;
      if (defaults !== 1) report(at, `loop "${n.id}" needs exactly one default edge (taken after the last item; found ${defaults})`);
      if (bodies !== 1) report(at, `loop "${n.id}" needs exactly one body edge (without type, taken for each item; found ${bodies})`);
      break;
    }
    default: {
      const normal = edges.filter(([, e]) => e.type === undefined || e.type === 'default');
      normal.slice(1).forEach(([j]) => report(['edges', j], `node "${n.id}" already has its next edge (edges.${normal[0]![0]}): only a decision branches`));
      if (normal.length === 0) report(at, `node "${n.id}" has no next edge: connect it to the next node or to an end node`);
    }
  }
  faults.slice(1).forEach(([j]) => report(['edges', j, 'type'], `node "${n.id}" already has a fault edge (edges.${faults[0]![0]})`));
}

