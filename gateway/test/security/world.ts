import fc from 'fast-check';
import { COMPUTED } from './computed.ts';

/**
 * A randomized organization for the security oracle: roles, groups, users, permission sets, OWDs,
 * sharing rules, RLS policies, records (in two organizations) and manual shares. Pure data: the test
 * turns it into metadata and rows, the oracle (oracle.ts) decides what each user may see.
 */
export type Owd = 'private' | 'public_read' | 'public_read_write';
export type Level = 'read' | 'edit';
export type Recipient = { type: 'user' | 'role' | 'role_and_subordinates' | 'group'; value: string };
export interface ObjPerm { allowRead: boolean; allowCreate: boolean; allowEdit: boolean; allowDelete: boolean; viewAllRecords: boolean; modifyAllRecords: boolean }
export interface PermSet { name: string; isProfile: boolean; defaultForMember: boolean; objects: Record<string, ObjPerm>; fields: Record<string, { readable: boolean; editable: boolean }> }
/** A condition in the oracle's own terms (rendered to metadata in several spellings). */
export type Cond = { field: 'amount'; op: 'gte' | 'lt'; value: number } | { field: 'status'; op: 'eq'; value: 'open' | 'closed' } | { field: 'owner_id'; op: 'eq_me' };
export interface SharingRule { name: string; object: 'parent' | 'child'; level: Level; to: Recipient; kind: 'owner'; ownedBy: Recipient }
export interface CriteriaRule { name: string; object: 'parent' | 'child'; level: Level; to: Recipient; kind: 'criteria'; cond: Cond; spelling: 'sql' | 'filter' }
export interface RlsPolicy { name: string; object: 'parent'; roles: string[]; cond: Cond; spelling: 'sql' | 'dollar' | 'mustache' }
export interface User { id: string; org: 'A' | 'B'; role: string | null; groups: string[]; sets: string[] }
export interface Rec { id: string; org: 'A' | 'B'; owner: string; name: string; amount: number | null; secret: string | null; status: 'open' | 'closed'; note: string | null; parent: string | null }
/** `id`: the stored share's id, known for shares granted during a run (security.record_share keeps it through a level change). */
export interface Share { object: 'parent' | 'child'; record: string; to: Recipient; level: Level; id?: string }
export interface World {
  roles: { name: string; parent: string | null }[];
  groups: string[];
  sets: PermSet[];
  owd: { parent: Owd; child: Owd };
  rules: (SharingRule | CriteriaRule)[];
  rls: RlsPolicy[];
  users: User[];
  records: { parent: Rec[]; child: Rec[]; detail: Rec[] };
  shares: Share[];
}

export const OBJECTS = ['parent', 'child', 'detail'] as const;
/** Fields a permission set may restrict (object.field). */
export const RESTRICTABLE = ['parent.amount', 'parent.secret', 'child.note', 'child.amount'] as const;
const COMPUTED_KEYS = new Set(COMPUTED.map((c) => `${c.object}.${c.name}`));
/**
 * Restricted too, more rarely (a few per set): the fields the formula and roll-up fields read, and those
 * fields themselves (computed.ts), so a computed field is hidden by its own permission and by each field
 * it reads. Drawn last, so a seed's world is otherwise as before they came. The lookups only with
 * `restrictLookups`: a hidden lookup also hides the relations and parent filters built on it, which the
 * security oracle models and the history and subscription suites do not.
 */
export const RESTRICTABLE_FOR_COMPUTED = ['detail.amount', ...COMPUTED_KEYS];
export const RESTRICTABLE_LOOKUPS = ['child.parent', 'detail.parent'];

export interface WorldOptions {
  /** Field permissions may hide child.parent and detail.parent too. @default false */
  restrictLookups?: boolean;
}

const uuid = (n: number, kind: number) => `00000000-0000-4000-8${kind.toString(16).padStart(3, '0')}-${n.toString(16).padStart(12, '0')}`;

const objPerm: fc.Arbitrary<ObjPerm> = fc
  .record({ r: fc.boolean(), c: fc.boolean(), e: fc.boolean(), d: fc.boolean(), va: fc.boolean(), ma: fc.boolean() })
  .map(({ r, c, e, d, va, ma }) => {
    const allowRead = r || c || e; // weight towards readable objects
    const allowEdit = allowRead && e;
    const allowDelete = allowEdit && d;
    const viewAllRecords = allowRead && va && !c;
    const modifyAllRecords = viewAllRecords && allowEdit && allowDelete && ma;
    return { allowRead, allowCreate: allowRead && c, allowEdit, allowDelete, viewAllRecords, modifyAllRecords };
  });

const fieldPerm = fc.record({ readable: fc.boolean(), editable: fc.boolean() }).map((f) => ({ readable: f.readable, editable: f.readable && f.editable }));

/** Permissions for some of `fields` (at most `max`): each readable or not, editable or not (a computed field never: it is read-only). */
const fieldPerms = (fields: readonly string[], max?: number): fc.Arbitrary<PermSet['fields']> =>
  fc.subarray([...fields], max === undefined ? {} : { maxLength: max })
    .chain((keys) => fc.tuple(...keys.map(() => fieldPerm)).map((ps) => Object.fromEntries(keys.map((k, i) => [k, { ...ps[i]!, editable: ps[i]!.editable && !COMPUTED_KEYS.has(k) }]))));

const permSet = (name: string, isProfile: boolean, defaultForMember: boolean): fc.Arbitrary<PermSet> =>
  fc.record({
    objects: fc.record({ parent: fc.option(objPerm, { freq: 4, nil: undefined }), child: fc.option(objPerm, { freq: 4, nil: undefined }), detail: fc.option(objPerm, { freq: 4, nil: undefined }) }),
    fields: fieldPerms(RESTRICTABLE),
  }).map(({ objects, fields }) => ({
    name, isProfile, defaultForMember,
    objects: Object.fromEntries(Object.entries(objects).filter(([, v]) => v !== undefined)) as Record<string, ObjPerm>,
    fields,
  }));

export const ROLE_NAMES = ['r0', 'r1', 'r2', 'r3', 'r4'];
export const GROUPS = ['g0', 'g1'];
/** User i of a world: 0–4 are members of organization A, 5 of B. */
export const USER_IDS = [0, 1, 2, 3, 4, 5].map((i) => `user-${i}`);

/** Who a sharing rule or manual share opens records to. */
export function recipientArb(): fc.Arbitrary<Recipient> {
  return fc.oneof(
    fc.record({ type: fc.constant('user' as const), value: fc.constantFrom(...USER_IDS) }),
    fc.record({ type: fc.constantFrom('role' as const, 'role_and_subordinates' as const), value: fc.constantFrom(...ROLE_NAMES) }),
    fc.record({ type: fc.constant('group' as const), value: fc.constantFrom(...GROUPS) }),
  );
}

export function worldArb(options: WorldOptions = {}): fc.Arbitrary<World> {
  const computedRestrictable = [...(options.restrictLookups ? RESTRICTABLE_LOOKUPS : []), ...RESTRICTABLE_FOR_COMPUTED];
  const roles = fc.tuple(...ROLE_NAMES.slice(1).map((_, i) => fc.option(fc.integer({ min: 0, max: i }), { nil: null }))).map((parents) => [
    { name: 'r0', parent: null },
    ...parents.map((p, i) => ({ name: ROLE_NAMES[i + 1]!, parent: p === null ? null : ROLE_NAMES[p]! })),
  ]);
  const sets = fc.tuple(permSet('p_member', true, true), permSet('p_other', true, false), permSet('s_x', false, false), permSet('s_y', false, false));
  const owd = fc.constantFrom<Owd>('private', 'private', 'public_read', 'public_read_write');
  const userIds = USER_IDS; // 0–4 in A, 5 in B
  const recipient = recipientArb();
  const cond: fc.Arbitrary<Cond> = fc.oneof(
    fc.record({ field: fc.constant('amount' as const), op: fc.constantFrom('gte' as const, 'lt' as const), value: fc.integer({ min: 0, max: 100 }) }),
    fc.record({ field: fc.constant('status' as const), op: fc.constant('eq' as const), value: fc.constantFrom('open' as const, 'closed' as const) }),
  );
  const level = fc.constantFrom<Level>('read', 'edit');
  const users = fc.tuple(
    ...userIds.map((id, i) =>
      fc.record({
        role: fc.option(fc.constantFrom(...ROLE_NAMES), { nil: null, freq: 3 }),
        groups: fc.subarray(GROUPS),
        sets: fc.subarray(['p_other', 's_x', 's_y']),
      }).map((u): User => ({ id, org: i < 5 ? 'A' : 'B', ...u })),
    ),
  );
  const rec = (kind: number, n: number, parents: number) =>
    fc.array(
      fc.record({
        org: fc.constantFrom<'A' | 'B'>('A', 'A', 'A', 'B'),
        ownerIx: fc.integer({ min: 0, max: 4 }),
        amount: fc.option(fc.integer({ min: 0, max: 100 }), { nil: null, freq: 5 }),
        secret: fc.option(fc.string({ maxLength: 6 }), { nil: null }),
        status: fc.constantFrom<'open' | 'closed'>('open', 'closed'),
        note: fc.option(fc.constantFrom('n1', 'n2'), { nil: null }),
        parentIx: fc.option(fc.integer({ min: 0, max: Math.max(0, parents - 1) }), { nil: null, freq: parents > 0 ? 6 : 1 }),
      }),
      { minLength: n, maxLength: n + 4 },
    ).map((xs) => xs.map((x, i): Rec & { parentIx: number | null } => ({
      id: uuid(i + 1, kind), org: x.org, owner: x.org === 'B' ? 'user-5' : userIds[x.ownerIx]!, name: `k${kind}-${i}`,
      amount: x.amount, secret: x.secret, status: x.status, note: x.note, parent: null, parentIx: parents > 0 ? x.parentIx : null,
    })));
  return fc
    .record({
      roles, sets, owdParent: owd, owdChild: owd, users,
      parents: rec(1, 6, 0), children: rec(2, 6, 10), details: rec(3, 4, 10),
      ownerRules: fc.array(fc.record({ object: fc.constantFrom<'parent' | 'child'>('parent', 'child'), level, to: recipient, ownedBy: recipient }), { maxLength: 2 }),
      criteriaRules: fc.array(fc.record({ object: fc.constantFrom<'parent' | 'child'>('parent', 'child'), level, to: recipient, cond, spelling: fc.constantFrom<'sql' | 'filter'>('sql', 'filter') }), { maxLength: 2 }),
      rls: fc.option(fc.record({ roles: fc.subarray(ROLE_NAMES, { maxLength: 2 }), cond: fc.oneof(cond, fc.constant<Cond>({ field: 'owner_id', op: 'eq_me' })), spelling: fc.constantFrom<'sql' | 'dollar' | 'mustache'>('sql', 'dollar', 'mustache') }), { nil: null, freq: 3 }),
      shares: fc.array(fc.record({ object: fc.constantFrom<'parent' | 'child'>('parent', 'child'), ix: fc.nat(20), to: recipient, level }), { maxLength: 5 }),
      computedFields: fc.tuple(...[0, 1, 2, 3].map(() => fieldPerms(computedRestrictable, 3))),
    })
    .map((w): World => {
      const fix = (list: (Rec & { parentIx: number | null })[], parents: Rec[]): Rec[] =>
        list.map(({ parentIx, ...r }) => {
          // A reference stays inside its organization (the data subgraph enforces that on writes too).
          const same = parents.filter((p) => p.org === r.org);
          const target = parentIx === null || same.length === 0 ? null : same[parentIx % same.length]!;
          return { ...r, parent: target?.id ?? null };
        });
      const parentRecs = fix(w.parents, []);
      const details = fix(w.details, parentRecs).filter((d) => d.parent !== null); // master_detail: parent required
      const childRecs = fix(w.children, parentRecs);
      // Sharing rules that could never widen access are metadata errors: keep only meaningful ones.
      const owdOf = { parent: w.owdParent, child: w.owdChild };
      const useful = (o: 'parent' | 'child', l: Level) => owdOf[o] === 'private' || (owdOf[o] === 'public_read' && l === 'edit');
      const rules: World['rules'] = [
        ...w.ownerRules.filter((r) => useful(r.object, r.level)).map((r, i): SharingRule => ({ name: `own_${i}`, kind: 'owner', ...r })),
        ...w.criteriaRules.filter((r) => useful(r.object, r.level)).map((r, i): CriteriaRule => ({
          name: `crit_${i}`, kind: 'criteria', ...r,
          // child has no status field: use an amount condition there
          cond: r.object === 'child' && r.cond.field === 'status' ? { field: 'amount', op: 'gte', value: 50 } : r.cond,
        })),
      ];
      const recs = { parent: parentRecs, child: childRecs };
      // One share per record and recipient, the last drawn: security.record_share keeps one row per pair
      // (a second grant re-levels it), so a world holding two at different levels would not be what is stored.
      const shares = [...new Map(w.shares
        .map((s) => ({ s, list: recs[s.object].filter((r) => r.org === 'A') }))
        .filter(({ list }) => list.length > 0)
        .map(({ s, list }): Share => ({ object: s.object, record: list[s.ix % list.length]!.id, to: s.to, level: s.level }))
        .map((s) => [JSON.stringify([s.object, s.record, s.to.type, s.to.value]), s] as const)).values()];
      return {
        roles: w.roles,
        groups: GROUPS,
        sets: w.sets.map((s, i) => ({ ...s, fields: { ...s.fields, ...w.computedFields[i] } })),
        owd: owdOf,
        rules,
        rls: w.rls ? [{ name: 'parent_rls', object: 'parent', ...w.rls }] : [],
        users: [...w.users],
        records: { parent: parentRecs, child: childRecs, detail: details },
        shares,
      };
    });
}
