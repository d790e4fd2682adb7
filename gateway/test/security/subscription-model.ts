import fc from 'fast-check';
import type { ChangeEvent } from '@objectos/events';
import { Oracle, type ObjectName } from './oracle.ts';
import type { Stream } from './subscription-plumbing.ts';
import { OBJECTS, recipientArb, type Level, type Rec, type Recipient, type Share, type User, type World } from './world.ts';

/**
 * The pure half of the subscription oracle test (subscription-oracle.test.ts): random subscriptions and
 * actions, and the expected-delivery model — what each subscriber should receive of each change event,
 * decided from the independent oracle (oracle.ts) applied to the world as it is at that event.
 */
export const TYPE: Record<ObjectName, string> = { parent: 'Parent', child: 'Child', detail: 'Detail' };
export const FIELDS: Record<ObjectName, string[]> = { parent: ['name', 'amount', 'secret', 'status'], child: ['name', 'amount', 'note', 'parentId'], detail: ['name', 'amount', 'parentId'] };
export const NAMES = ['n0', 'n1', 'n2', 'n3'];
/** What a subscriber is told; ENTERED / LEFT: a record came into or went out of their view. */
export type Op = 'CREATED' | 'UPDATED' | 'DELETED' | 'ENTERED' | 'LEFT';
export const OPS: Op[] = ['CREATED', 'UPDATED', 'DELETED', 'ENTERED', 'LEFT'];
/** What happened: a data change, or (ACCESS) a manual share granted or revoked. */
export type EvOp = 'CREATED' | 'UPDATED' | 'DELETED' | 'ACCESS';
/** What a subscriber may be told of an event of this kind (its `operations` filter is applied to these). */
const OPS_OF: Record<EvOp, Op[]> = { CREATED: ['CREATED'], UPDATED: ['UPDATED', 'LEFT'], DELETED: ['DELETED'], ACCESS: ['ENTERED', 'LEFT'] };
export const fieldKey = (f: string) => (f === 'parentId' ? 'parent' : f);

// ---------------------------------------------------------------------------------------------------
// Random subscriptions and actions

export type WhereSpec =
  | { kind: 'none' }
  | { kind: 'amount'; op: 'gte' | 'lt'; k: number }
  | { kind: 'notAmount'; k: number }
  | { kind: 'status'; v: 'open' | 'closed' }
  | { kind: 'name'; names: string[] }
  | { kind: 'parent'; ix: number };
export interface SubSpec { where: WhereSpec; ops: Op[] | null; idIx: number | null }

const whereArb: fc.Arbitrary<WhereSpec> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'none' as const }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('amount' as const), op: fc.constantFrom('gte' as const, 'lt' as const), k: fc.integer({ min: 0, max: 100 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('notAmount' as const), k: fc.integer({ min: 0, max: 100 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('status' as const), v: fc.constantFrom('open' as const, 'closed' as const) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('name' as const), names: fc.subarray(NAMES, { minLength: 1, maxLength: 2 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('parent' as const), ix: fc.nat(20) }), weight: 1 },
);
export const subSpecArb: fc.Arbitrary<SubSpec> = fc.record({
  where: whereArb,
  ops: fc.option(fc.subarray(OPS, { minLength: 1 }), { nil: null, freq: 2 }),
  idIx: fc.oneof({ arbitrary: fc.constant(null), weight: 7 }, { arbitrary: fc.nat(40), weight: 1 }),
});
/** One spec per (user, object, path): 6 users × 3 objects × {gateway, direct}. */
export const SUBS_PER_WORLD = 6 * OBJECTS.length * 2;

export interface Patch { name?: string; amount?: number | null; secret?: string | null; status?: 'open' | 'closed'; note?: string | null; parentIx?: number | null }
export type Action =
  | { kind: 'create'; object: ObjectName; org: 'A' | 'B'; ownerIx: number; name: string; amount: number | null; secret: string | null; status: 'open' | 'closed'; note: string | null; parentIx: number | null }
  | { kind: 'update'; object: ObjectName; ix: number; patch: Patch }
  | { kind: 'delete'; object: ObjectName; ix: number }
  | { kind: 'share'; object: 'parent' | 'child'; ix: number; to: Recipient; level: Level }
  | { kind: 'unshare'; ix: number }
  | { kind: 'transfer'; object: ObjectName; ix: number; ownerIx: number }
  /** A member of A gets another role and other groups while subscribed (roleIx/groups index the world's). */
  | { kind: 'access'; userIx: number; roleIx: number | null; groups: number[] };

const amountArb = fc.option(fc.integer({ min: 0, max: 100 }), { nil: null, freq: 6 });
const objectArb = fc.constantFrom<ObjectName>(...OBJECTS);
export const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('create' as const), object: objectArb, org: fc.constantFrom<'A' | 'B'>('A', 'A', 'A', 'B'), ownerIx: fc.integer({ min: 0, max: 4 }),
      name: fc.constantFrom(...NAMES), amount: amountArb, secret: fc.option(fc.string({ maxLength: 6 }), { nil: null }),
      status: fc.constantFrom<'open' | 'closed'>('open', 'closed'), note: fc.option(fc.constantFrom('n1', 'n2'), { nil: null }),
      parentIx: fc.option(fc.nat(20), { nil: null, freq: 4 }),
    }),
  },
  {
    weight: 9,
    arbitrary: fc.record({
      kind: fc.constant('update' as const), object: objectArb, ix: fc.nat(40),
      patch: fc.record({
        name: fc.constantFrom(...NAMES), amount: amountArb, secret: fc.option(fc.string({ maxLength: 6 }), { nil: null }),
        status: fc.constantFrom<'open' | 'closed'>('open', 'closed'), note: fc.option(fc.constantFrom('n1', 'n2'), { nil: null }),
        parentIx: fc.option(fc.nat(20), { nil: null, freq: 4 }),
      }, { requiredKeys: [] }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), object: objectArb, ix: fc.nat(40) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('share' as const), object: fc.constantFrom<'parent' | 'child'>('parent', 'child'), ix: fc.nat(40), to: recipientArb(), level: fc.constantFrom<Level>('read', 'edit') }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('unshare' as const), ix: fc.nat(10) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('transfer' as const), object: objectArb, ix: fc.nat(40), ownerIx: fc.integer({ min: 0, max: 4 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('access' as const), userIx: fc.integer({ min: 0, max: 4 }), roleIx: fc.option(fc.nat(8), { nil: null }), groups: fc.uniqueArray(fc.nat(4), { maxLength: 2 }) }),
  },
);

// ---------------------------------------------------------------------------------------------------
// The model: expected deliveries

export interface Payload { eventId: string; op: Op; recordId: string; record: Record<string, unknown> | null; previous: Record<string, unknown> | null; changedFields: string[]; at: string }
/** What one subscriber should see of one event (decided when the event is committed). */
export interface Verdict { passes: boolean; sameOrg: boolean; nowVisible: boolean; wasVisible: boolean; deliver: boolean; expected: Omit<Payload, 'eventId' | 'at' | 'recordId'> | null }
export interface Sub {
  ix: number;
  user: number;
  u: User;
  object: ObjectName;
  path: 'gateway' | 'direct';
  /** Selected fields of record/previous (besides id). */
  fields: string[];
  where: WhereSpec;
  /** The where filter in world terms (parent ids are world ids). */
  whereParent: string | null;
  ops: Set<Op>;
  id: string | null;
  stream: Stream;
  refusedExpected: boolean;
  verdicts: Map<number, Verdict>;
  /**
   * Through the gateway: the first event committed after the subscriber's access changed. Its stream
   * must end with one FORBIDDEN result, and nothing from this event on may reach it.
   */
  endedAt: number | null;
  /**
   * Through the gateway, on an access change: the records (database ids) its `where`/`id` matched and its
   * old access could read that the new one cannot: each must come as one LEFT (ids only) before FORBIDDEN.
   */
  accessLeft?: Set<string>;
}
export interface Ev {
  k: number; object: ObjectName; org: 'A' | 'B'; recordId: string; op: EvOp; before: Rec | null; after: Rec | null; changed: string[];
  /** ACCESS: the share granted (with the level it had, if any) or revoked. */
  access?: { granted: boolean; share: Share; previousLevel: Level | null };
  /**
   * Set on a change the database made when a parent was deleted (a detail it deleted, a child whose
   * reference it cleared): that parent, and the segment (one select of write.ts's cascadeEffects) the
   * row was found by. Events of one segment are contiguous; their order among themselves is the database's.
   */
  by?: { parent: Rec; segment: string };
}

export function matches(s: Sub, r: Rec): boolean {
  const w = s.where;
  switch (w.kind) {
    case 'none': return true;
    case 'amount': return r.amount !== null && (w.op === 'gte' ? r.amount >= w.k : r.amount < w.k);
    // SQL three-valued logic: not (null >= k) is null, so a null amount matches neither.
    case 'notAmount': return r.amount !== null && !(r.amount >= w.k);
    case 'status': return r.status === w.v;
    case 'name': return w.names.includes(r.name);
    case 'parent': return r.parent === s.whereParent;
  }
}

/**
 * The records (database ids) an access change takes out of a live subscriber's view, as the data
 * subgraph is to tell them (LEFT): matched by its `where` and `id` and readable by it as it was, in the
 * state they had when it was given its last event (the state before a record's first event since; none
 * when that event created it), and not readable as `now` in the state they have now (gone, if deleted).
 */
export function leftBy(s: Sub, now: User, w: World, oracle: Oracle, rid: (id: string) => string, events: readonly Ev[]): Set<string> {
  const out = new Set<string>();
  if (!s.ops.has('LEFT')) return out;
  let given = -1;
  for (const [k, v] of s.verdicts) if (v.deliver) given = Math.max(given, k);
  const then = new Map<string, Rec | null>();
  for (const e of events) if (e.k > given && e.object === s.object && e.org === s.u.org && !then.has(e.recordId)) then.set(e.recordId, e.op === 'CREATED' ? null : e.before);
  const current = new Map(w.records[s.object].map((r) => [r.id, r]));
  const seen = [...w.records[s.object].filter((r) => !then.has(r.id)), ...[...then.values()].filter((r): r is Rec => r !== null)];
  for (const r of seen) {
    if (r.org !== s.u.org || (s.id !== null && s.id !== r.id)) continue;
    if (!oracle.can(s.u, s.object, r, 'read') || !matches(s, r)) continue;
    const after = current.get(r.id);
    if (!after || !oracle.can(now, s.object, after, 'read')) out.add(rid(r.id));
  }
  return out;
}

export function whereInput(s: Sub, rid: (id: string) => string): Record<string, unknown> | null {
  const w = s.where;
  switch (w.kind) {
    case 'none': return null;
    case 'amount': return { amount: { [w.op]: w.k } };
    case 'notAmount': return { not: { amount: { gte: w.k } } };
    case 'status': return { status: { eq: w.v } };
    case 'name': return { name: { in: w.names } };
    case 'parent': return { parentId: { eq: rid(s.whereParent!) } };
  }
}

export function valueOf(r: Rec, f: string, rid: (id: string) => string): unknown {
  if (f === 'parentId') return r.parent ? rid(r.parent) : null;
  return (r as unknown as Record<string, unknown>)[f] ?? null;
}

export interface Tally {
  events: number; subscribers: number; refused: number; checks: number; deliveries: number; expected: number; leaks: number; hiddenFields: number; omissions: number; wrong: number; worlds: number;
  /** Coverage: expected deliveries with a field masked; updates into view (no previous); updates out of `where`; visible only through a manual share; matching events withheld as invisible. */
  masked: number; enteredView: number; leftWhere: number; viaShare: number; withheld: number;
  /** Coverage: events the database made (cascade deletes, set_null updates) and expected deliveries of them. */
  dbEvents: number; cascaded: number;
  /** Matching cascade deletes of a detail withheld although its subscriber could read it until its parent was deleted. */
  orphaned: number;
  /** Updates of fields the subscriber cannot read only: no event for them. */
  hiddenOnly: number;
  /** Access changes of live subscribers; their gateway streams ended (FORBIDDEN); deliveries after a change (leaks). */
  accessChanges: number; ended: number; afterChange: number;
  /** LEFT deliveries of records an access change took out of a live subscriber's view. */
  accessLeft: number;
  /** Expected ENTERED/LEFT deliveries of shares granted or revoked, and LEFT deliveries of updates that took a record out of view. */
  shareEvents: number; leftView: number;
  /** Replays from a cursor at the end of each world (`after`), and the events they delivered. */
  replays: number; replayed: number;
  /** Presence requests (user × record), and viewers allowed. */
  presenceChecks: number; presenceViewers: number;
}
export const newTally = (): Tally => ({
  events: 0, subscribers: 0, refused: 0, checks: 0, deliveries: 0, expected: 0, leaks: 0, hiddenFields: 0, omissions: 0, wrong: 0, worlds: 0,
  masked: 0, enteredView: 0, leftWhere: 0, viaShare: 0, withheld: 0, dbEvents: 0, cascaded: 0, orphaned: 0, hiddenOnly: 0, accessChanges: 0, ended: 0, afterChange: 0, accessLeft: 0, shareEvents: 0, leftView: 0, replays: 0, replayed: 0, presenceChecks: 0, presenceViewers: 0,
});

export const describeUser = (u: User) => `${u.id} (org ${u.org}, role ${u.role ?? '-'}, sets ${u.sets.join('+') || '-'}, groups ${u.groups.join('+') || '-'})`;

/** A subscriber of the world (its stream not yet open): filters name fields the user can read. */
export function subOf(spec: SubSpec, ix: number, user: number, w: World, oracle: Oracle, o: ObjectName, path: 'gateway' | 'direct'): Sub {
  const u = w.users[user]!;
  const readable = (f: string) => oracle.fieldReadable(u, o, fieldKey(f));
  // Filtering on a hidden field is refused, and tested elsewhere.
  let where = spec.where;
  if ((where.kind === 'amount' || where.kind === 'notAmount') && !readable('amount')) where = { kind: 'name', names: [NAMES[0]!] };
  if (where.kind === 'status' && o !== 'parent') where = readable('amount') ? { kind: 'amount', op: 'gte', k: 50 } : { kind: 'none' };
  let whereParent: string | null = null;
  if (where.kind === 'parent') {
    const ps = w.records.parent;
    if (o === 'parent' || ps.length === 0) where = { kind: 'none' };
    else whereParent = ps[where.ix % ps.length]!.id;
  }
  const pool = w.records[o];
  const id = spec.idIx !== null && pool.length > 0 ? pool[spec.idIx % pool.length]!.id : null;
  const fields = path === 'gateway' ? FIELDS[o].filter(readable) : FIELDS[o];
  return {
    ix, user, u, object: o, path, fields, where, whereParent, ops: new Set(spec.ops ?? OPS), id,
    stream: null as unknown as Stream, refusedExpected: !oracle.perm(u, o).allowRead, verdicts: new Map(), endedAt: null,
  };
}

/** The subscription document and variables of a subscriber. */
/** The subscription of a Sub; with `after` (an eventId), a replay from that event on. */
export function subscriptionOf(s: Sub, spec: SubSpec, rid: (id: string) => string, after: string | null = null): { query: string; variables: Record<string, unknown> } {
  const sel = ['id', ...s.fields].join(' ');
  const query = `subscription($where: ${TYPE[s.object]}Where, $id: ID, $ops: [ChangeOperation!], $after: ID) {
              c: ${s.object}Changed(where: $where, id: $id, operations: $ops, after: $after) { eventId op recordId changedFields at record { ${sel} } previous { ${sel} } } }`;
  return { query, variables: { where: whereInput(s, rid), id: s.id === null ? null : rid(s.id), ops: spec.ops, after } };
}

/**
 * What one subscriber should receive of one event: the oracle over `w`, the world as it is when the
 * event's delivery check runs (the test keeps it so). A detail the database deletes with its parent
 * (master_detail cascade) is checked after the transaction committed, with its parent gone from the
 * table; the event carries the deleted parent (ChangeEvent.deletedWith) and the check puts it back for
 * that one statement (subscriptions.ts, deletedAncestors), so a controlled_by_parent grant is decided
 * against the parent as it was. The oracle is asked the same way: over the world with that parent in it.
 * `orphaned` counts deliveries that would have been missed without it (readable only through the
 * deleted parent).
 */
export function verdictOf(s: Sub, ev: Ev, w: World, oracle: Oracle, rid: (id: string) => string, tally: Tally): Verdict {
  const sameOrg = s.u.org === ev.org;
  // The change hub only shows a subscriber its own organization's events; ops and id filter before any check.
  const passes = sameOrg && OPS_OF[ev.op].some((op) => s.ops.has(op)) && (s.id === null || s.id === ev.recordId);
  // After an access change the gateway ends the stream: nothing more, whatever the record.
  if (passes && s.endedAt !== null && ev.k >= s.endedAt) return { passes: false, sameOrg, nowVisible: false, wasVisible: false, deliver: false, expected: null };
  if (!passes) return { passes, sameOrg, nowVisible: false, wasVisible: false, deliver: false, expected: null };
  const world = ev.by && ev.object === 'detail' ? { ...w, records: { ...w.records, parent: [...w.records.parent, ev.by.parent] } } : w;
  const judge = world === w ? oracle : new Oracle(world);
  // An access change is judged against the shares as they are and as they were before it (sharesBefore).
  const judgeBefore = ev.access ? new Oracle({ ...world, shares: sharesBefore(w.shares, ev.access) }) : judge;
  const nowVisible = ev.after !== null && judge.can(s.u, ev.object, ev.after, 'read');
  const wasVisible = ev.before !== null && judgeBefore.can(s.u, ev.object, ev.before, 'read');
  const now = nowVisible && matches(s, ev.after!);
  const was = wasVisible && matches(s, ev.before!);
  const readable = (f: string) => oracle.fieldReadable(s.u, ev.object, fieldKey(f));
  const masked = (r: Rec | null) => (r === null ? null : { id: rid(r.id), ...Object.fromEntries(s.fields.map((f) => [f, readable(f) ? valueOf(r, f, rid) : null])) });
  const result = (op: Op | null, expected: Verdict['expected']): Verdict => {
    const deliver = op !== null && s.ops.has(op);
    return { passes, sameOrg, nowVisible, wasVisible, deliver, expected: deliver ? expected : null };
  };
  // Into or out of view: ENTERED with the record as they may read it, LEFT with its id only.
  const left = { op: 'LEFT' as const, record: null, previous: null, changedFields: [] };
  if (ev.op === 'ACCESS') {
    const op = nowVisible && !wasVisible && now ? 'ENTERED' : wasVisible && !nowVisible && was ? 'LEFT' : null;
    if (op) tally.shareEvents++;
    return result(op, op === 'ENTERED' ? { op, record: masked(ev.after), previous: null, changedFields: [] } : left);
  }
  if (ev.op === 'UPDATED' && wasVisible && !nowVisible) {
    if (was) tally.leftView++;
    return result(was ? 'LEFT' : null, left);
  }
  // An update of hidden fields only is no news to a subscriber who saw the record before.
  const hiddenOnly = ev.op === 'UPDATED' && wasVisible && !ev.changed.some(readable);
  const deliver = !hiddenOnly && (ev.op === 'CREATED' ? now : ev.op === 'DELETED' ? was : nowVisible && (now || was));
  if (hiddenOnly && nowVisible && (now || was)) tally.hiddenOnly++;
  const state = ev.op === 'DELETED' ? ev.before! : ev.after!;
  if (deliver && s.ops.has(ev.op)) {
    if (!FIELDS[ev.object].every(readable)) tally.masked++;
    if (ev.op === 'UPDATED' && !wasVisible) tally.enteredView++;
    if (ev.op === 'UPDATED' && !now) tally.leftWhere++;
    if (!new Oracle({ ...world, shares: [] }).can(s.u, ev.object, state, 'read')) tally.viaShare++;
    if (ev.by) tally.cascaded++;
    if (ev.by && ev.object === 'detail' && !oracle.can(s.u, 'detail', state, 'read')) tally.orphaned++;
  } else if (!deliver && matches(s, state) && !(ev.op === 'DELETED' ? wasVisible : nowVisible)) {
    tally.withheld++;
  }
  return result(deliver ? ev.op : null, { op: ev.op, record: masked(ev.after), previous: wasVisible ? masked(ev.before) : null, changedFields: ev.changed.filter(readable).sort() });
}

/**
 * The shares before an access change, from the shares `now`: without the share granted, by its id (or
 * with its previous level), or with the share revoked back. The data subgraph judges the state before the
 * same way (fan-out.ts, sharesBeforeCte), from the table as it is when the event is checked (live, or a
 * replay: a share revoked and granted again since is another id, and stays).
 */
export function sharesBefore(now: readonly Share[], a: NonNullable<Ev['access']>): Share[] {
  if (a.granted) {
    const rest = now.filter((x) => x.id !== a.share.id);
    return a.previousLevel ? [...rest, { ...a.share, level: a.previousLevel }] : rest;
  }
  return [...now, a.share];
}

/**
 * The changes the database makes when `parent` is deleted (write.ts deleteRecord, same transaction, in
 * this order after the parent's own delete event): every detail of it is deleted (master_detail:
 * cascade; details have no dependents, so there is no deeper level), one delete event each with every
 * field changed; then every child of it has its lookup cleared (set_null), one update event each
 * changing only `parentId` (updatedAt is not touched, and is not selected here anyway).
 * `w` is changed to match; the events are returned in commit order, without `k`.
 */
export function deleteParent(w: World, parent: Rec, segment: string): Omit<Ev, 'k'>[] {
  w.records.parent.splice(w.records.parent.indexOf(parent), 1);
  const out: Omit<Ev, 'k'>[] = [{ object: 'parent', org: parent.org, recordId: parent.id, op: 'DELETED', before: { ...parent }, after: null, changed: FIELDS.parent }];
  const details = w.records.detail.filter((d) => d.parent === parent.id);
  w.records.detail = w.records.detail.filter((d) => d.parent !== parent.id);
  for (const d of details)
    out.push({ object: 'detail', org: d.org, recordId: d.id, op: 'DELETED', before: { ...d }, after: null, changed: FIELDS.detail, by: { parent, segment: `${segment}:detail` } });
  for (const c of w.records.child.filter((x) => x.parent === parent.id)) {
    const before = { ...c };
    c.parent = null;
    out.push({ object: 'child', org: c.org, recordId: c.id, op: 'UPDATED', before, after: { ...c }, changed: ['parentId'], by: { parent, segment: `${segment}:child` } });
  }
  return out;
}

/**
 * cascadeEffects finds each segment's rows with one select in id order (random uuids), which the model
 * does not know. Where the published
 * events at a segment's places are exactly the segment's records, the model takes that order (events
 * and every subscriber's verdicts re-keyed); anything else is left for the one-for-one check to report.
 * The order of segments, and of everything else, stays the model's.
 */
export function alignSegments(events: Ev[], published: ChangeEvent[], rid: (id: string) => string, subs: Sub[]): void {
  for (let i = 0; i < events.length;) {
    const segment = events[i]!.by?.segment;
    let j = i + 1;
    if (segment !== undefined) while (j < events.length && events[j]!.by?.segment === segment) j++;
    if (j - i > 1) {
      const byId = new Map(events.slice(i, j).map((e) => [rid(e.recordId), e]));
      const order = published.slice(i, j).map((p) => byId.get(p.recordId));
      if (order.every((e) => e !== undefined) && new Set(order).size === j - i) {
        const oldK = order.map((e) => e!.k);
        order.forEach((e, x) => void ((events[i + x] = e!), (e!.k = i + x)));
        for (const s of subs) {
          const vs = oldK.map((k) => s.verdicts.get(k));
          vs.forEach((v, x) => void (v === undefined ? s.verdicts.delete(i + x) : s.verdicts.set(i + x, v)));
        }
      }
    }
    i = j;
  }
}
