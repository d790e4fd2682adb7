import { expect } from 'vitest';
import type { GraphQLResult } from '@objectos/testkit';
import { COMPUTED } from './computed.ts';
import type { Oracle, ObjectName } from './oracle.ts';
import type { Rec, User } from './world.ts';

/**
 * The oracle's cases for the data API's depth (#19): aggregates, grouped aggregates, aggregates of
 * children, filters through a lookup and over children, full-text search, and formula and roll-up fields
 * (selected, filtered on, also through a lookup, and sorted by). Each answer is compared
 * with what the oracle says the user may read; a denial is expected exactly where a needed object or
 * field is not readable.
 */
export const DEPTH_KINDS = ['aggregate', 'groupBy', 'childAggregate', 'relLookup', 'relChildren', 'search', 'computed'] as const;
export type DepthKind = (typeof DEPTH_KINDS)[number];

export interface DepthCase { kind: string; object: ObjectName; k: number; filter: boolean; sort: boolean }
export interface DepthEnv {
  rid: (id: string) => string;
  byGraphId: Map<string, { o: ObjectName; r: Rec }>;
  context: string;
  denied: (r: GraphQLResult, why: string) => void;
  /** Counts an outcome (the suite reports them: a kind whose answers are all denials or empty proves little). */
  note?: (outcome: string) => void;
}

const LIST: Record<ObjectName, string> = { parent: 'parents', child: 'children', detail: 'details' };
const sum = (rs: Rec[]) => rs.reduce((s, r) => s + (r.amount ?? 0), 0);

export async function checkDepthCase(q: DepthCase, u: User, oracle: Oracle, ask: (query: string) => Promise<GraphQLResult>, env: DepthEnv): Promise<void> {
  const readable = (o: ObjectName, ...fields: string[]) => oracle.perm(u, o).allowRead && fields.every((f) => oracle.fieldReadable(u, o, f));
  const ok = (r: GraphQLResult) => expect(r.errors, `${env.context}: ${JSON.stringify(r.errors)}`).toBeUndefined();
  const ids = (rs: Rec[]) => rs.map((r) => env.rid(r.id)).sort();
  const child: 'child' | 'detail' = q.sort ? 'detail' : 'child';
  switch (q.kind as DepthKind) {
    case 'aggregate': {
      const o = q.object;
      const r = await ask(`{ list: ${LIST[o]}${q.filter ? `(where: { amount: { gte: ${q.k} } })` : ''} { aggregates { count sum { amount } max { amount } } } }`);
      if (!readable(o, 'amount')) return env.denied(r, 'object or amount not readable');
      ok(r);
      const rows = oracle.visible(u, o).filter((x) => !q.filter || (x.amount !== null && x.amount >= q.k));
      const amounts = rows.flatMap((x) => (x.amount === null ? [] : [x.amount]));
      expect((r.data as { list: { aggregates: unknown } }).list.aggregates, `${env.context}: aggregates`).toEqual({
        count: rows.length, sum: { amount: amounts.length ? sum(rows) : null }, max: { amount: amounts.length ? Math.max(...amounts) : null },
      });
      return;
    }
    case 'groupBy': {
      const r = await ask(`{ list: ${LIST[child]} { groupedAggregates(groupBy: [{ field: PARENT }]${q.filter ? `, having: { count: { gte: 2 } }` : ''}) { key { parentId } count sum { amount } } } }`);
      if (!readable(child, 'parent', 'amount')) return env.denied(r, 'object, parent or amount not readable');
      ok(r);
      const groups = new Map<string | null, Rec[]>();
      for (const x of oracle.visible(u, child)) groups.set(x.parent, [...(groups.get(x.parent) ?? []), x]);
      const want = [...groups].filter(([, rs]) => !q.filter || rs.length >= 2)
        .map(([p, rs]) => ({ key: { parentId: p ? env.rid(p) : null }, count: rs.length, sum: { amount: rs.some((x) => x.amount !== null) ? sum(rs) : null } }));
      const key = (g: { key: { parentId: string | null } }) => g.key.parentId ?? '~';
      const got = (r.data as { list: { groupedAggregates: { key: { parentId: string | null } }[] } }).list.groupedAggregates;
      expect(got.map(key), `${env.context}: groups in key order, nulls last`).toEqual(got.map(key).sort());
      expect([...got].sort((a, b) => key(a).localeCompare(key(b))), `${env.context}: groups`).toEqual(want.sort((a, b) => key(a).localeCompare(key(b))));
      return;
    }
    case 'childAggregate': {
      const field = `${LIST[child]}Aggregate`;
      const r = await ask(`{ parents(first: 100) { nodes { id ${field} { count } } } }`);
      if (!readable('parent') || !readable(child, 'parent')) return env.denied(r, 'parent, child or its lookup not readable');
      ok(r);
      const nodes = (r.data as { parents: { nodes: ({ id: string } & Record<string, { count: number }>)[] } }).parents.nodes;
      expect(nodes.map((n) => n.id).sort(), env.context).toEqual(ids(oracle.visible(u, 'parent')));
      for (const n of nodes) {
        const p = env.byGraphId.get(n.id)!.r;
        expect(n[field]!.count, `${env.context}: ${field} of ${p.name}`).toBe(oracle.visible(u, child).filter((c) => c.parent === p.id).length);
      }
      return;
    }
    case 'relLookup': {
      const r = await ask(`{ list: ${LIST[child]}(first: 100, where: { parent: { amount: { gte: ${q.k} } } }) { nodes { id } } }`);
      if (!readable(child, 'parent') || !readable('parent', 'amount')) return env.denied(r, 'child, its lookup, parent or its amount not readable');
      ok(r);
      const parents = oracle.visible(u, 'parent').filter((p) => p.amount !== null && p.amount >= q.k).map((p) => p.id);
      expect((r.data as { list: { nodes: { id: string }[] } }).list.nodes.map((n) => n.id).sort(), env.context).toEqual(ids(oracle.visible(u, child).filter((c) => c.parent !== null && parents.includes(c.parent))));
      return;
    }
    case 'relChildren': {
      const quantifier = q.filter ? 'some' : q.k % 2 === 0 ? 'none' : 'every';
      const r = await ask(`{ parents(first: 100, where: { ${LIST[child]}: { ${quantifier}: { amount: { gte: ${q.k} } } } }) { nodes { id } } }`);
      if (!readable('parent') || !readable(child, 'parent', 'amount')) return env.denied(r, 'parent, child, its lookup or amount not readable');
      ok(r);
      const match = (c: Rec) => c.amount !== null && c.amount >= q.k;
      const want = oracle.visible(u, 'parent').filter((p) => {
        const kids = oracle.visible(u, child).filter((c) => c.parent === p.id);
        return quantifier === 'some' ? kids.some(match) : quantifier === 'none' ? !kids.some(match) : kids.every(match);
      });
      expect((r.data as { parents: { nodes: { id: string }[] } }).parents.nodes.map((n) => n.id).sort(), `${env.context}: ${quantifier}`).toEqual(ids(want));
      return;
    }
    case 'computed': return checkComputed(q, u, oracle, ask, env);
    case 'search': {
      // Child notes are "n1"/"n2" (a restrictable field), names "k2-…": a note search finds exactly the readable notes.
      const word = q.filter ? 'n1' : 'n2';
      const r = await ask(`{ list: children(first: 100, search: "${word}") { nodes { id } } }`);
      if (!readable('child')) return env.denied(r, 'child not readable');
      ok(r);
      const want = oracle.fieldReadable(u, 'child', 'note') ? oracle.visible(u, 'child').filter((c) => c.note === word) : [];
      expect((r.data as { list: { nodes: { id: string }[] } }).list.nodes.map((n) => n.id).sort(), `${env.context}: search ${word}`).toEqual(ids(want));
      // Fragments only on readable objects: selecting fields of an unreadable one is refused at validation.
      const fragments = (['parent', 'child', 'detail'] as const).filter((o) => readable(o)).map((o) => `... on ${o[0]!.toUpperCase()}${o.slice(1)} { id }`);
      const across = await ask(`{ search(text: "${word}", first: 100) { object record { ${fragments.join(' ')} } } }`);
      ok(across);
      const hits = (across.data as { search: { object: string; record: { id: string } }[] }).search;
      expect(hits.filter((h) => h.object === 'child').map((h) => h.record.id).sort(), `${env.context}: search across`).toEqual(ids(want));
      for (const h of hits) {
        const x = env.byGraphId.get(h.record.id)!;
        expect(oracle.can(u, x.o, x.r, 'read'), `${env.context}: search leaked ${x.o} ${x.r.name}`).toBe(true);
        // Parent names never hold the word: a parent hit can only come from its secret, which must be readable.
        if (x.o === 'parent') expect(oracle.fieldReadable(u, 'parent', 'secret') && (x.r.secret ?? '').toLowerCase().includes(word), `${env.context}: parent found by an unreadable secret`).toBe(true);
      }
      return;
    }
  }
}

/**
 * One or two computed fields of parents or children (each hidden by its own permission or by a field it
 * reads), maybe filtered on (on the object, or on a parent's through the lookup) and sorted by: the values
 * must be the oracle's for the records the user can read, computed over what the user can read.
 */
async function checkComputed(q: DepthCase, u: User, oracle: Oracle, ask: (query: string) => Promise<GraphQLResult>, env: DepthEnv): Promise<void> {
  const o: 'parent' | 'child' = q.object === 'detail' ? (q.k % 2 === 0 ? 'parent' : 'child') : q.object;
  const fields = COMPUTED.filter((c) => c.object === o);
  const picked = [...new Set([fields[q.k % fields.length]!, fields[(q.k >> 2) % fields.length]!])];
  const key = picked[0]!;
  const through = o === 'child' && q.filter && q.k % 3 === 0 ? COMPUTED.filter((c) => c.object === 'parent')[(q.k >> 1) % 4]! : null;
  const on = through ?? key;
  const op = (q.k >> 3) % 2 === 0 ? 'gte' : 'lt';
  const k = on.count ? q.k % 3 : q.k;
  const where = !q.filter ? '' : through ? `, where: { parent: { ${through.graphql}: { ${op}: ${k} } } }` : `, where: { ${key.graphql}: { ${op}: ${k} } }`;
  const desc = q.k % 2 === 1;
  const order = q.sort ? `, orderBy: [{ field: ${key.name.toUpperCase()}, direction: ${desc ? 'DESC' : 'ASC'} }]` : '';
  const r = await ask(`{ list: ${LIST[o]}(first: 100${where}${order}) { nodes { id ${picked.map((c) => c.graphql).join(' ')} } } }`);
  const lookupOk = !through || (oracle.fieldReadable(u, 'child', 'parent') && oracle.fieldReadable(u, 'parent', through.name));
  if (!oracle.perm(u, o).allowRead || !picked.every((c) => oracle.fieldReadable(u, o, c.name)) || !lookupOk) {
    env.note?.('computed:denied');
    return env.denied(r, `${o} or ${picked.map((c) => c.name).join(', ')}${through ? `, the lookup or parent.${through.name}` : ''} not readable`);
  }
  expect(r.errors, `${env.context}: ${JSON.stringify(r.errors)}`).toBeUndefined();
  const cmp = (v: number | null) => v !== null && (op === 'gte' ? v >= k : v < k);
  const match = (x: Rec) => {
    if (!q.filter) return true;
    if (!through) return cmp(oracle.value(u, o, x, key.name));
    const p = oracle.visible(u, 'parent').find((y) => y.id === x.parent);
    return p !== undefined && cmp(oracle.value(u, 'parent', p, through.name));
  };
  const byId = <T extends { id: string }>(xs: T[]) => [...xs].sort((a, b) => a.id.localeCompare(b.id));
  const want = oracle.visible(u, o).filter(match).map((x) => ({ id: env.rid(x.id), ...Object.fromEntries(picked.map((c) => [c.graphql, oracle.value(u, o, x, c.name)])) }));
  env.note?.(want.length > 0 ? 'computed:values' : 'computed:empty');
  const nodes = (r.data as { list: { nodes: ({ id: string } & Record<string, number | null>)[] } }).list.nodes;
  const what = `${picked.map((c) => c.graphql).join(' ')}${where}${order}`;
  expect(byId(nodes), `${env.context}: ${what}`).toEqual(byId(want));
  if (!q.sort) return;
  // ASC puts nulls last, DESC first (PostgreSQL's defaults).
  const values = nodes.map((n) => n[key.graphql] ?? null);
  const nonNull = values.filter((v): v is number => v !== null);
  const nulls = values.filter((v) => v === null);
  expect(values, `${env.context}: sorted ${what}`).toEqual(desc ? [...nulls, ...[...nonNull].sort((a, b) => b - a)] : [...[...nonNull].sort((a, b) => a - b), ...nulls]);
}

export const isDepthKind = (kind: string): kind is DepthKind => (DEPTH_KINDS as readonly string[]).includes(kind);
