import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Principal } from '@objectos/principal';
import { engines, gql, signedFetch, TEST_SECRET, type FetchHandler, type GraphQLResult } from '@objectos/testkit';
import { HISTORY_WRITER, type HistoryMetadata } from './security/metadata-of.ts';
import { Oracle, type ObjectName } from './security/oracle.ts';
import { OBJECTS, worldArb, type Rec, type User, type World } from './security/world.ts';
import { startWorldStack, suiteDatabase, type WorldStack } from './security/world-stack.ts';

/**
 * Randomized proof that field history never leaks: fast-check builds organizations (security-oracle's
 * worlds) with field history on, a member who can edit everything changes visible and hidden fields of
 * every record to distinctive values, then random users ask for history — through the gateway (by id,
 * paged, in lists, through relations) and straight at the audit subgraph's `_entities` — and every answer
 * is compared with the independent oracle. OBJECTOS_HISTORY_CASES (default 1,000) cases per engine.
 */
const CASES = Number(process.env['OBJECTOS_HISTORY_CASES'] ?? 1000);
const CASES_PER_WORLD = 50;
const WORLDS = Math.ceil(CASES / CASES_PER_WORLD);
const SEED = process.env['OBJECTOS_HISTORY_SEED'] ? Number(process.env['OBJECTOS_HISTORY_SEED']) : undefined;

const TYPE: Record<ObjectName, string> = { parent: 'Parent', child: 'Child', detail: 'Detail' };
const LIST: Record<ObjectName, string> = { parent: 'parents', child: 'children', detail: 'details' };
/** Metadata field names; the trail names fields by their GraphQL names (a reference `parent` is `parentId`). */
const FIELDS: Record<ObjectName, string[]> = { parent: ['name', 'amount', 'secret', 'status'], child: ['name', 'amount', 'note', 'parent'], detail: ['name', 'amount', 'parent'] };
const gqlName = (f: string) => (f === 'parent' ? 'parentId' : f);
/** The default AuditConfig redactFields match `secret`: its values are never stored. */
const shown = (f: string, v: unknown) => (f === 'secret' ? '[REDACTED]' : v);
const CONN = 'totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { id timestamp operation actor { id } changes { field oldValue newValue } requestId } }';

interface Change { field: string; oldValue: unknown; newValue: unknown }
interface Entry { op: 'create' | 'update'; changes: Change[] }
interface History { totalCount: number; pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; endCursor: string | null }; edges: { cursor: string; node: { operation: string; actor: { id: string | null }; changes: Change[] } }[] }
interface Target { o: ObjectName; r: Rec; entries: Entry[] }

type Kind = 'byId' | 'paged' | 'list' | 'nested' | 'entities';
interface Case { kind: Kind; user: number; pick: number; readable: boolean; other: number; object: ObjectName; size: number; cross: boolean }
const caseArb: fc.Arbitrary<Case> = fc.record({
  kind: fc.constantFrom<Kind>('byId', 'byId', 'byId', 'entities', 'entities', 'entities', 'paged', 'paged', 'list', 'nested'),
  user: fc.integer({ min: 0, max: 5 }),
  pick: fc.nat(60),
  readable: fc.boolean(),
  other: fc.nat(60),
  object: fc.constantFrom<ObjectName>(...OBJECTS),
  size: fc.integer({ min: 1, max: 3 }),
  cross: fc.boolean(),
});
/** Which fields are marked trackHistory (none: every field is tracked). */
const trackedArb: fc.Arbitrary<HistoryMetadata> = fc
  .tuple(...OBJECTS.map((o) => fc.option(fc.subarray(FIELDS[o], { minLength: 1 }), { nil: undefined, freq: 2 })))
  .map((ts) => ({ tracked: Object.fromEntries(OBJECTS.flatMap((o, i) => (ts[i] ? [[o, ts[i]]] : []))) }));

describe.each(engines())('field history against the independent oracle on $name', (engine) => {
  const database = suiteDatabase(engine);
  let worldNo = 0;
  let cases = 0;
  let leaks = 0;
  let entriesSeen = 0;
  const tally: Record<string, number> = {};

  async function runWorld(w0: World, history: HistoryMetadata, picks: boolean[], qs: Case[]): Promise<void> {
    const n = worldNo++;
    const w = structuredClone(w0); // the writes below change records: keep fast-check's value as generated
    const stack = await startWorldStack(database(), w, n, { audit: history });
    const found: string[] = [];
    try {
      const env = await writeHistory(stack, w, n, history, picks);
      for (const q of qs) {
        const u = w.users[q.user]!;
        const context = `world ${n}, ${q.kind} as ${u.id} (role ${u.role}, sets ${u.sets.join('+') || '-'}, tracked ${JSON.stringify(history.tracked)})`;
        const start = found.length;
        entriesSeen += await checkCase(q, u, { ...env, context, found, start, principal: stack.principal(u), ask: stack.as(q.user), auditFetch: stack.audit!.fetch });
        leaks += found.length - start;
        cases++;
        tally[q.kind] = (tally[q.kind] ?? 0) + 1;
      }
    } finally {
      await stack.dispose();
    }
    if (found.length > 0) throw new Error(`world ${n}: ${found.length} leaks:\n${found.slice(0, 8).join('\n')}`);
  }

  it(`leaks no field history on ${WORLDS * CASES_PER_WORLD} randomized cases over ${WORLDS} organizations`, async () => {
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(worldArb(), trackedArb, fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }), fc.array(caseArb, { minLength: CASES_PER_WORLD, maxLength: CASES_PER_WORLD }), runWorld),
      { numRuns: WORLDS, endOnFailure: true, ...(SEED !== undefined ? { seed: SEED } : {}) },
    );
    console.log(`[history-oracle] ${engine.name}: ${cases} cases over ${worldNo} worlds, ${entriesSeen} history entries compared, ${leaks} leaks in ${((Date.now() - started) / 1000).toFixed(1)} s (${JSON.stringify(tally)})`);
    expect(leaks).toBe(0);
    expect(cases).toBeGreaterThanOrEqual(CASES);
    // Not vacuous: users did see history (every answer was also compared entry by entry).
    expect(entriesSeen).toBeGreaterThan(cases / 4);
  }, 900_000);
});

interface Written {
  rid: (id: string) => string;
  oracle: Oracle;
  history: HistoryMetadata;
  targets: Target[];
  byGraphId: Map<string, Target>;
  /** Every distinctive value written → whose field it was. */
  distinct: Map<string | number, { t: Target; field: string }>;
}
interface Env extends Written {
  context: string;
  /** Leaks found so far in this world; `start`: how many there were when this case began. */
  found: string[];
  start: number;
  principal: Principal;
  ask: FetchHandler;
  auditFetch: FetchHandler;
}

const tracked = (h: HistoryMetadata, o: ObjectName, f: string) => (h.tracked?.[o] ?? FIELDS[o]).includes(f);

function valueOf(r: Rec, f: string): unknown {
  return (r as unknown as Record<string, unknown>)[f] ?? null;
}

/**
 * As the history writer: creates a parent, child and detail per organization, then updates every record
 * — (1) every field to a distinctive value, (2) back to its old value but the secret/note to a new one,
 * (3) for about half only the secret/note (or amount of a detail), for some a no-op update (no entry) —
 * and settles the trail. Records (and the oracle's world) end as written: access follows the final values.
 */
async function writeHistory(stack: WorldStack, w: World, n: number, history: HistoryMetadata, picks: boolean[]): Promise<Written> {
  const distinct: Written['distinct'] = new Map();
  let k = 0;
  const mark = (t: Target, field: string, kind: 'text' | 'number') => {
    const v = kind === 'text' ? `LEAK-${n}-${k++}` : 900_000_000 + n * 100_000 + k++;
    distinct.set(v, { t, field });
    return v;
  };
  const targets: Target[] = OBJECTS.flatMap((o) => w.records[o].map((r) => ({ o, r, entries: [] })));
  const idOf = (r: Rec) => stack.rid(r.id);
  for (const org of ['A', 'B'] as const) {
    /** A record with distinctive values in `text` and `number` fields and `plain` ones as given. */
    const make = async (o: ObjectName, text: string[], number: string[], plain: Partial<Rec>, parent: Rec | null): Promise<void> => {
      const t: Target = { o, r: { id: '', org, owner: HISTORY_WRITER, name: `h-${o}-${org}`, amount: null, secret: null, status: 'open', note: null, parent: parent?.id ?? null, ...plain }, entries: [] };
      for (const f of text) (t.r as unknown as Record<string, unknown>)[f] = mark(t, f, 'text');
      for (const f of number) (t.r as unknown as Record<string, unknown>)[f] = mark(t, f, 'number');
      const values = Object.fromEntries(FIELDS[o].filter((f) => f !== 'parent').map((f) => [f, valueOf(t.r, f)]));
      const r = await gql<Record<string, { id: string }>>(signedFetch(stack.data.fetch, stack.writer(org)), `mutation($i: ${TYPE[o]}CreateInput!) { c: create${TYPE[o]}(input: $i) { id } }`, { i: { ...values, ...(parent ? { parentId: idOf(parent) } : {}) } });
      expect(r.errors, `world ${n}: create ${o}: ${JSON.stringify(r.errors)}`).toBeUndefined();
      t.r.id = r.data!['c']!.id;
      stack.bind(t.r.id, t.r.id);
      w.records[o].push(t.r);
      t.entries.push({ op: 'create', changes: FIELDS[o].map((f) => ({ field: f, oldValue: null, newValue: f === 'parent' ? (parent ? idOf(parent) : null) : valueOf(t.r, f) })).filter((c) => c.newValue !== null) });
      targets.push(t);
    };
    await make('parent', ['name', 'secret'], [], { amount: 40, status: 'closed' }, null);
    const p = w.records.parent.at(-1)!;
    await make('child', ['name', 'note'], [], { amount: 60 }, p);
    await make('detail', ['name'], ['amount'], {}, p);
  }
  const hidden: Record<ObjectName, string> = { parent: 'secret', child: 'note', detail: 'amount' };
  // Step 2 puts back what access depends on (amount, status: sharing criteria, RLS), so worlds keep their variety.
  const before = new Map(targets.map((t) => [t, { ...t.r }]));
  const steps: ((t: Target, i: number) => Record<string, unknown> | null)[] = [
    (t) => ({ name: mark(t, 'name', 'text'), amount: mark(t, 'amount', 'number'), ...(t.o === 'detail' ? {} : { [hidden[t.o]]: mark(t, hidden[t.o], 'text') }), ...(t.o === 'parent' ? { status: t.r.status === 'open' ? 'closed' : 'open' } : {}) }),
    (t) => {
      const was = before.get(t)!;
      return { name: was.name, amount: was.amount, ...(t.o === 'detail' ? {} : { [hidden[t.o]]: mark(t, hidden[t.o], 'text') }), ...(t.o === 'parent' ? { status: was.status } : {}) };
    },
    (t, i) => (picks[i % picks.length] ? { [hidden[t.o]]: mark(t, hidden[t.o], t.o === 'detail' ? 'number' : 'text') } : i % 4 === 0 ? { name: t.r.name } : null),
  ];
  for (const step of steps) {
    const inputs = targets.map((t, i) => step(t, i));
    for (const org of ['A', 'B'] as const) {
      const mine = targets.flatMap((t, i) => (inputs[i] && t.r.org === org ? [{ t, input: inputs[i] }] : []));
      for (let at = 0; at < mine.length; at += 12) {
        const batch = mine.slice(at, at + 12);
        const vars = batch.map(({ t }, j) => `$i${j}: ${TYPE[t.o]}UpdateInput!`).join(', ');
        const fields = batch.map(({ t }, j) => `m${j}: update${TYPE[t.o]}(id: "${idOf(t.r)}", input: $i${j}) { id }`).join(' ');
        const r = await gql(signedFetch(stack.data.fetch, stack.writer(org)), `mutation(${vars}) { ${fields} }`, Object.fromEntries(batch.map(({ input }, j) => [`i${j}`, input])));
        expect(r.errors, `world ${n}: history writes: ${JSON.stringify(r.errors)}`).toBeUndefined();
      }
    }
    targets.forEach((t, i) => {
      const input = inputs[i] ?? {};
      const changes = Object.keys(input).filter((f) => valueOf(t.r, f) !== input[f]).map((f) => ({ field: f, oldValue: valueOf(t.r, f), newValue: input[f] }));
      Object.assign(t.r, input);
      if (changes.length > 0) t.entries.push({ op: 'update', changes });
    });
  }
  await stack.settle();
  return { rid: (id: string) => stack.rid(id), oracle: new Oracle(w), history, targets, byGraphId: new Map(targets.map((t) => [idOf(t.r), t])), distinct };
}

/** The entries of a record this user must see, newest first, as the trail shows them. */
function expectedHistory(env: Env, u: User, t: Target): { operation: string; changes: Change[] }[] {
  if (!env.oracle.can(u, t.o, t.r, 'read')) return [];
  return t.entries
    .map((e) => ({
      operation: e.op,
      changes: e.changes.filter((c) => tracked(env.history, t.o, c.field) && env.oracle.fieldReadable(u, t.o, c.field))
        .map((c) => ({ field: gqlName(c.field), oldValue: shown(c.field, c.oldValue), newValue: shown(c.field, c.newValue) })),
    }))
    .filter((e) => e.changes.length > 0)
    .reverse();
}

/** Leaks anywhere in a response: a distinctive value of a field or record the user may not see the history of. */
function scanLeaks(body: unknown, u: User, env: Env, where: string): number {
  const before = env.found.length;
  const hit = (v: string | number) => {
    const owner = env.distinct.get(v);
    if (!owner) return;
    const { t, field } = owner;
    if (env.oracle.can(u, t.o, t.r, 'read') && tracked(env.history, t.o, field) && env.oracle.fieldReadable(u, t.o, field)) return;
    env.found.push(`${env.context}: ${where}: value ${v} of ${t.o} ${t.r.name}.${field} (record readable: ${env.oracle.can(u, t.o, t.r, 'read')}, field readable: ${env.oracle.fieldReadable(u, t.o, field)}, tracked: ${tracked(env.history, t.o, field)})`);
  };
  const walk = (v: unknown): void => {
    if (typeof v === 'number') hit(v);
    // Strings too: a value quoted in a message, or a number sent as text.
    else if (typeof v === 'string') for (const m of v.match(/LEAK-\d+-\d+|\b9\d{8}\b/g) ?? []) hit(m.startsWith('LEAK') ? m : Number(m));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(body);
  return env.found.length - before;
}

/**
 * A history connection of record `t` (`first` entries after the first `skip`) checked against the oracle;
 * the caller scanned the whole response for leaked values first. Returns the entries seen.
 */
function checkHistory(h: History | null | undefined, u: User, t: Target, env: Env, where: string, first = 5, skip = 0): number {
  const readable = env.oracle.can(u, t.o, t.r, 'read');
  const ctx = `${env.context}: ${where} history of ${t.o} ${t.r.name} (readable: ${readable})`;
  expect(h, ctx).toBeTruthy();
  const got = h!;
  // Leaks first: a wrong field or any entry of an unreadable record is counted, not just failed.
  if (!readable && (got.totalCount !== 0 || got.edges.length > 0)) env.found.push(`${ctx}: ${got.totalCount} entries of a record the user cannot read`);
  for (const e of got.edges) for (const c of e.node.changes) {
    const field = c.field === 'parentId' ? 'parent' : c.field;
    if (!tracked(env.history, t.o, field) || !env.oracle.fieldReadable(u, t.o, field)) env.found.push(`${ctx}: change of ${c.field} shown (readable: ${env.oracle.fieldReadable(u, t.o, field)}, tracked: ${tracked(env.history, t.o, field)})`);
  }
  // A leak was counted in this case: its answer is wrong anyway, the world fails when it ends.
  if (env.found.length > env.start) return got.edges.length;
  const want = expectedHistory(env, u, t);
  expect(got.totalCount, `${ctx}: totalCount`).toBe(want.length);
  const page = want.slice(skip, skip + first);
  const norm = (cs: Change[]) => [...cs].sort((a, b) => a.field.localeCompare(b.field));
  expect(got.edges.map((e) => ({ operation: e.node.operation, changes: norm(e.node.changes) })), ctx).toEqual(page.map((e) => ({ operation: e.operation, changes: norm(e.changes) })));
  for (const e of got.edges) expect(e.node.actor.id, ctx).toBe(HISTORY_WRITER);
  expect(got.pageInfo.hasNextPage, `${ctx}: hasNextPage`).toBe(want.length > skip + first);
  expect(got.pageInfo.hasPreviousPage, `${ctx}: hasPreviousPage`).toBe(skip > 0);
  return got.edges.length;
}

const codes = (r: GraphQLResult) => (r.errors ?? []).map((e) => e.extensions?.['code']);

/** A refusal of the whole query (an object the user cannot read at all): FORBIDDEN and nothing leaked. */
function refused(r: GraphQLResult, u: User, env: Env, why: string): number {
  scanLeaks(r, u, env, 'refusal');
  expect(codes(r), `${env.context}: expected FORBIDDEN (${why}), got ${JSON.stringify(r).slice(0, 300)}`).toContain('FORBIDDEN');
  return 0;
}

async function checkCase(q: Case, u: User, env: Env): Promise<number> {
  // Half the cases ask about a record the user can read (when there is one), where history must show.
  const readable = env.targets.filter((x) => env.oracle.can(u, x.o, x.r, 'read'));
  const from = q.readable && readable.length > 0 ? readable : env.targets;
  const t = from[q.pick % from.length]!;
  const can = (o: ObjectName) => env.oracle.perm(u, o).allowRead;
  const ask = (query: string, variables?: Record<string, unknown>) => gql(env.ask, query, variables);
  switch (q.kind) {
    case 'byId':
    case 'paged': {
      // Sometimes the id of another object's record: it must look missing.
      const o = q.cross && q.object !== t.o ? q.object : t.o;
      const first = q.kind === 'paged' ? q.size : 5;
      const query = `query($id: ID!, $after: String) { r: ${o}(id: $id) { id history(first: ${first}, after: $after) { ${CONN} } } }`;
      let r = await ask(query, { id: env.rid(t.r.id) });
      if (!can(o)) return refused(r, u, env, `${o} not readable`);
      const visible = o === t.o && env.oracle.can(u, t.o, t.r, 'read');
      scanLeaks(r, u, env, 'gateway by id');
      expect(r.errors, `${env.context}: ${JSON.stringify(r.errors)}`).toBeUndefined();
      const node = (r.data as { r: { id: string; history: History } | null }).r;
      if (!visible) {
        if (node !== null) env.found.push(`${env.context}: ${o}(id:) returned ${t.o} ${t.r.name}, which the user cannot read`);
        return 0;
      }
      let seen = checkHistory(node?.history, u, t, env, 'gateway by id', first);
      for (let skip = first, page = node!.history; page.pageInfo.hasNextPage && skip < 40; skip += first) {
        r = await ask(query, { id: env.rid(t.r.id), after: page.pageInfo.endCursor });
        expect(r.errors, `${env.context}: page after ${skip}: ${JSON.stringify(r.errors)}`).toBeUndefined();
        scanLeaks(r, u, env, `gateway page after ${skip}`);
        page = (r.data as { r: { history: History } }).r.history;
        seen += checkHistory(page, u, t, env, `gateway page after ${skip}`, first, skip);
      }
      return seen;
    }
    case 'list': {
      const o = q.object;
      const r = await ask(`{ l: ${LIST[o]}(first: 20) { nodes { id history(first: 5) { ${CONN} } } } }`);
      if (!can(o)) return refused(r, u, env, `${o} not readable`);
      scanLeaks(r, u, env, 'gateway list');
      expect(r.errors, `${env.context}: ${JSON.stringify(r.errors)}`).toBeUndefined();
      const nodes = (r.data as { l: { nodes: { id: string; history: History }[] } }).l.nodes;
      const want = env.targets.filter((x) => x.o === o && env.oracle.can(u, o, x.r, 'read')).map((x) => env.rid(x.r.id)).sort();
      expect(nodes.map((x) => x.id).sort(), `${env.context}: listed ${o}`).toEqual(want);
      return nodes.reduce((s, x) => s + checkHistory(x.history, u, env.byGraphId.get(x.id)!, env, `gateway list of ${o}`), 0);
    }
    case 'nested': {
      if (q.cross) {
        const r = await ask(`{ l: children(first: 20) { nodes { id parent { id history(first: 5) { ${CONN} } } } } }`);
        if (!can('child') || !can('parent')) return refused(r, u, env, 'child or parent not readable');
        scanLeaks(r, u, env, 'gateway child → parent');
        expect(r.data, `${env.context}: ${JSON.stringify(r.errors)}`).toBeTruthy();
        const nodes = (r.data as { l: { nodes: { id: string; parent: { id: string; history: History } | null }[] } }).l.nodes;
        let seen = 0;
        for (const x of nodes) {
          const child = env.byGraphId.get(x.id)!;
          const p = env.targets.find((y) => y.o === 'parent' && y.r.id === child.r.parent);
          if (!p || !env.oracle.can(u, 'parent', p.r, 'read')) {
            if (x.parent !== null) env.found.push(`${env.context}: child ${child.r.name} shows its parent, which the user cannot read`);
          } else seen += checkHistory(x.parent?.history, u, p, env, 'gateway child → parent');
        }
        return seen;
      }
      const r = await ask(`{ l: parents(first: 12) { nodes { id details(limit: 10) { id history(first: 5) { ${CONN} } } } } }`);
      if (!can('parent') || !can('detail')) return refused(r, u, env, 'parent or detail not readable');
      scanLeaks(r, u, env, 'gateway parent → details');
      expect(r.errors, `${env.context}: ${JSON.stringify(r.errors)}`).toBeUndefined();
      const nodes = (r.data as { l: { nodes: { id: string; details: { id: string; history: History }[] }[] } }).l.nodes;
      let seen = 0;
      for (const x of nodes) {
        const p = env.byGraphId.get(x.id)!;
        const want = env.targets.filter((d) => d.o === 'detail' && d.r.parent === p.r.id && env.oracle.can(u, 'detail', d.r, 'read')).map((d) => env.rid(d.r.id)).sort();
        expect(x.details.map((d) => d.id).sort(), `${env.context}: details of ${p.r.name}`).toEqual(want);
        for (const d of x.details) seen += checkHistory(d.history, u, env.byGraphId.get(d.id)!, env, 'gateway parent → details');
      }
      return seen;
    }
    case 'entities': {
      // Past the gateway, signed as the user: the record as itself and as another type, another record, and ids that name nothing.
      const other = env.targets[q.other % env.targets.length]!;
      const reps = [{ t, type: t.o }, { t, type: q.object }, { t: other, type: other.o }].map(({ t: x, type }) => ({ __typename: TYPE[type], id: env.rid(x.r.id) }));
      reps.push({ __typename: TYPE[q.object], id: randomUUID() }, { __typename: 'Child', id: 'not-a-uuid' });
      const sel = OBJECTS.map((o) => `... on ${TYPE[o]} { id history(first: 5) { ${CONN} } }`).join(' ');
      const r = await gql(signedFetch(env.auditFetch, env.principal, TEST_SECRET, 'audit'), `query($r: [_Any!]!) { _entities(representations: $r) { ${sel} } }`, { r: reps });
      scanLeaks(r, u, env, 'audit _entities');
      expect(r.errors, `${env.context}: ${JSON.stringify(r.errors)}`).toBeUndefined();
      const got = (r.data as { _entities: ({ id: string; history: History } | null)[] })._entities;
      let seen = 0;
      reps.forEach((rep, i) => {
        const x = env.byGraphId.get(rep.id);
        if (x && TYPE[x.o] === rep.__typename) seen += checkHistory(got[i]?.history, u, x, env, `audit _entities ${rep.__typename}`);
        else {
          const h = got[i]?.history;
          if (h && (h.totalCount !== 0 || h.edges.length > 0)) env.found.push(`${env.context}: audit _entities ${rep.__typename} ${rep.id} (no such record of that type): ${h.totalCount} entries`);
        }
      });
      return seen;
    }
  }
}
