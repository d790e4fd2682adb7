import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';

export type PathKey = string | number;

/**
 * Finds the YAML node a path points at (or the deepest existing ancestor) and returns its position.
 * With `key`, points at that key inside the map at `path` (used for unknown keys).
 */
export function locate(doc: Document, lc: LineCounter, path: readonly PathKey[], key?: string): { line: number; column: number } {
  let node: unknown = doc.contents;
  let found: Node | null = isNode(node) ? node : null;
  const steps = key === undefined ? path : [...path, key];
  for (const step of steps) {
    const next = child(node, step, key !== undefined && step === key);
    if (next === undefined) break;
    node = next;
    if (isNode(next)) found = next;
  }
  const offset = found?.range?.[0] ?? 0;
  const pos = lc.linePos(offset);
  return { line: pos.line, column: pos.col };
}

function child(node: unknown, step: PathKey, wantKey: boolean): unknown {
  if (isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(step));
    if (!pair) return undefined;
    return wantKey ? pair.key : pair.value;
  }
  if (isSeq(node) && typeof step === 'number') return node.items[step];
  return undefined;
}

function isNode(v: unknown): v is Node {
  return isMap(v) || isSeq(v) || isScalar(v);
}
