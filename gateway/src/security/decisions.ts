import { createHash } from 'node:crypto';
import { isEnumType, isInputObjectType, isIntrospectionType, isObjectType, type GraphQLSchema } from 'graphql';
import { accessFor, searchColumns, type Access, type ColumnPlan, type CompiledSchema, type Inflection, type ObjectAccess, type ObjectPlan } from '@objectos/schema';
import { ANONYMOUS, type Principal } from '@objectos/principal';
import { principalOfRequest } from '../auth/use-authentication.ts';

/** Who a request acts as, with its access per metadata source computed at most once. */
export interface Subject {
  principal: Principal;
  /** Access under the compiled metadata `sources[i]`. */
  access(source: number): Access;
  /**
   * A digest of everything decisions read (authenticated kind; per object read/create/edit/delete and
   * field readability): subjects with the same digest get the same answer from every decision.
   */
  digest(): string;
}

/**
 * One access decision. Every decision depends on the principal only (never on parent or arguments),
 * so it is evaluated once per request: as a shield rule (`cache: 'contextual'`) and in validation.
 */
export interface Decision {
  /** Stable key: the shield rule of a field is named after its type and field, this says why. */
  kind: 'allow' | 'authenticated' | 'read' | 'create' | 'edit' | 'delete' | 'readable';
  /** Reads only what {@link Subject.digest} covers. */
  allows(subject: Subject): boolean;
  /** Why a principal is refused (names Type.field). */
  message: string;
}

/**
 * The one source of the gateway's access decisions, built from the composed schema and the compiled
 * security plans. The graphql-shield rule tree (execution) and the validation rule (0 resolver calls)
 * are both built from it, so they cannot disagree.
 */
export interface DecisionTable {
  /** Every field of every object type of the public schema, introspection types included. */
  fields: Map<string, Map<string, Decision>>;
  /** Input object fields naming a column (`<Type>Where`): filtering on it needs it readable. */
  inputs: Map<string, Map<string, Decision>>;
  /** Enum values naming a column (`<Type>SortField`): sorting on it needs it readable. */
  enums: Map<string, Map<string, Decision>>;
  sources: readonly CompiledSchema[];
}

const authenticatedKinds = new Set<Principal['kind']>(['user', 'api_key']);
const NO_ACCESS: ObjectAccess = { read: false, create: false, edit: false, delete: false, transfer: false, viewAll: false, modifyAll: false, fields: {} };

const subjects = new WeakMap<object, Subject>();
const accessOf = new WeakMap<Principal, { sources: readonly CompiledSchema[]; computed: (Access | undefined)[]; digest?: string }>();

/**
 * The subject of a GraphQL context (yoga's, or a validation-time one carrying `request`), memoized per
 * request: the principal's Access is computed once, whichever of shield or validation asks first.
 */
export function subjectOf(context: unknown, sources: readonly CompiledSchema[]): Subject {
  const ctx = (context ?? {}) as { request?: Request; principal?: Principal };
  const key: object = ctx.request ?? ctx;
  let s = subjects.get(key);
  if (!s) {
    const principal = ctx.principal ?? (ctx.request ? principalOfRequest(ctx.request) : ANONYMOUS);
    // A principal object is shared by the requests its credentials make (the principal cache): its
    // access and digest are computed once for all of them.
    let shared = accessOf.get(principal);
    if (!shared || shared.sources !== sources) accessOf.set(principal, (shared = { sources, computed: [] }));
    const { computed } = shared;
    const access = (i: number) => (computed[i] ??= accessFor(sources[i]!.plan, sources[i]!.security, principal));
    s = {
      principal,
      access,
      digest: () => (shared.digest ??= digestOf(principal, sources.map((_, i) => access(i)))),
    };
    subjects.set(key, s);
  }
  return s;
}

function digestOf(principal: Principal, accesses: Access[]): string {
  const parts = [authenticatedKinds.has(principal.kind) ? 'A' : '-'];
  for (const a of accesses)
    for (const [name, o] of Object.entries(a.objects)) {
      parts.push(`${name}:${+o.read}${+o.create}${+o.edit}${+o.delete}`);
      for (const [f, fa] of Object.entries(o.fields)) parts.push(`${f}:${+fa.readable}`);
    }
  return createHash('sha256').update(parts.join(',')).digest('base64url').slice(0, 22);
}

const objectAccess = (s: Subject, source: number, object: string): ObjectAccess => s.access(source).objects[object] ?? NO_ACCESS;

type DecisionMap = Map<string, Map<string, Decision>>;
type SetDecision = (map: DecisionMap, type: string, field: string, d: Decision) => void;

/**
 * Aggregates follow the object's read; a field inside them (`sum { amount }`, a group's key, `having`,
 * a `groupBy` value) follows that field's readability: what cannot be read cannot be aggregated or grouped.
 */
function aggregateDecisions(
  schema: GraphQLSchema, p: ObjectPlan, names: Inflection, maps: { fields: DecisionMap; inputs: DecisionMap; enums: DecisionMap }, set: SetDecision,
  read: (where: string) => Decision, column: (c: ColumnPlan, verb: string) => Decision,
): void {
  const each = (typeName: string, decide: (field: string) => Decision | null, map: DecisionMap = maps.fields) => {
    const t = schema.getType(typeName);
    const fields = isObjectType(t) || isInputObjectType(t) ? Object.keys(t.getFields()) : isEnumType(t) ? t.getValues().map((v) => v.name) : [];
    for (const f of fields) {
      const d = decide(f);
      if (d) set(map, typeName, f, d);
    }
  };
  const byName = (verb: string) => (f: string) => {
    const c = p.columns.find((x) => x.graphqlName === f);
    return c ? column(c, verb) : null;
  };
  for (const typeName of [names.aggregatesType(p.object), names.groupType(p.object)]) each(typeName, (f) => read(`${typeName}.${f}`));
  for (const kind of ['Numbers', 'Extremes', 'DistinctCounts'] as const) each(names.aggregateFieldsType(p.object, kind), byName('aggregate'));
  for (const kind of ['Numbers', 'Extremes'] as const) each(names.havingFieldsInput(p.object, kind), byName('filter'), maps.inputs);
  each(names.groupKeyType(p.object), (f) => {
    const r = p.relations.find((x) => x.graphqlName === f);
    return r ? column(p.columns.find((c) => c.column === r.column)!, 'read') : byName('read')(f);
  });
  each(names.groupFieldEnum(p.object), (v) => {
    const c = p.columns.find((x) => x.sortValue === v);
    return c ? column(c, 'group') : null;
  }, maps.enums);
}

/**
 * Builds the decision table: data object types from the plans; every other field needs an authenticated
 * principal, or is allowed when the gateway authenticates nobody (`unplanned: 'allow'`, auth mode none).
 */
export function buildDecisionTable(schema: GraphQLSchema, sources: readonly CompiledSchema[], unplanned: 'authenticated' | 'allow' = 'authenticated'): DecisionTable {
  const fields = new Map<string, Map<string, Decision>>();
  const inputs = new Map<string, Map<string, Decision>>();
  const enums = new Map<string, Map<string, Decision>>();
  const set = (map: Map<string, Map<string, Decision>>, type: string, field: string, d: Decision) => {
    let m = map.get(type);
    if (!m) map.set(type, (m = new Map()));
    if (!m.has(field)) m.set(field, d);
  };
  const is = (type: string, f: (t: ReturnType<GraphQLSchema['getType']>) => boolean) => f(schema.getType(type));

  sources.forEach(({ plan, inflection: names }, src) => {
    for (const p of Object.values(plan.objects)) {
      const o = p.object.name;
      const T = p.typeName;
      const read = (where: string): Decision => ({
        kind: 'read', message: `Not allowed to read ${where}`, allows: (s) => objectAccess(s, src, o).read,
      });
      const readable = (where: string, object: string, field: string, verb = 'read'): Decision => ({
        kind: 'readable',
        message: verb === 'read' ? `Not allowed to read ${where}` : `Cannot ${verb} on ${where}: the field is not readable`,
        allows: (s) => {
          const a = objectAccess(s, src, object);
          return a.read && (a.fields[field]?.readable ?? true);
        },
      });
      // A system column (id, createdAt, updatedAt) is readable with the object; a field as its permissions say.
      const column = (c: ColumnPlan, verb: string): Decision =>
        c.field === null
          ? { kind: 'read', message: verb === 'read' ? `Not allowed to read ${T}.${c.graphqlName}` : `Cannot ${verb} on ${T}.${c.graphqlName}: the object is not readable`, allows: (s) => objectAccess(s, src, o).read }
          : readable(`${T}.${c.graphqlName}`, o, c.field.name, verb);

      if (is(T, isObjectType)) {
        for (const c of [...p.columns, ...p.computed]) set(fields, T, c.graphqlName, column(c, 'read'));
        for (const r of p.relations) set(fields, T, r.graphqlName, readable(`${T}.${r.graphqlName}`, o, r.field.name));
        for (const r of p.reverse) {
          const child = plan.objects[r.child];
          if (!child) continue;
          // Listing children by parent reveals their lookup: the child's read and that field's.
          set(fields, T, r.graphqlName, readable(`${T}.${r.graphqlName}`, r.child, r.field.name));
          const aggregate = names.childAggregateField(r.graphqlName);
          set(fields, T, aggregate, readable(`${T}.${aggregate}`, r.child, r.field.name));
        }
        // Fields other subgraphs add to the entity are reached through it: they follow the object's read.
        const t = schema.getType(T);
        if (isObjectType(t)) for (const f of Object.keys(t.getFields())) set(fields, T, f, read(`${T}.${f}`));
      }
      // The change event of a subscription is reached through the object, like its connection and edges.
      for (const typeName of [names.connectionType(p.object), names.edgeType(p.object), p.changeType]) {
        const t = schema.getType(typeName);
        if (isObjectType(t)) for (const f of Object.keys(t.getFields())) set(fields, typeName, f, read(`${typeName}.${f}`));
      }
      const rootFields: [string, string, keyof ObjectAccess, string][] = [
        ['Query', p.singleField, 'read', 'read'],
        ['Query', p.listField, 'read', 'read'],
        ['Mutation', p.createMutation, 'create', 'create'],
        ['Mutation', p.updateMutation, 'edit', 'edit'],
        ['Mutation', p.deleteMutation, 'delete', 'delete'],
        // The trash: what could be deleted can be listed there, restored and purged.
        ['Query', p.trashField, 'delete', 'list the trash of'],
        ['Mutation', p.restoreMutation, 'delete', 'restore'],
        ['Mutation', p.purgeMutation, 'delete', 'purge'],
        // Owner transfer edits the record (who may transfer which record is the data subgraph's check).
        ['Mutation', p.transferMutation, 'edit', 'transfer'],
        // Writes of many records need what one needs; an upsert may update (edit) or create: see below.
        ['Mutation', names.bulkCreateMutation(p.object), 'create', 'create'],
        ['Mutation', names.bulkUpdateMutation(p.object), 'edit', 'edit'],
        ['Mutation', names.bulkDeleteMutation(p.object), 'delete', 'delete'],
        // graphql-middleware does not wrap `subscribe`: the validation rule built from this table guards it.
        ['Subscription', p.changedSubscription, 'read', 'watch'],
      ];
      for (const [root, name, perm, verb] of rootFields) {
        const t = root === 'Query' ? schema.getQueryType() : root === 'Mutation' ? schema.getMutationType() : schema.getSubscriptionType();
        if (!t || t.name !== root || !t.getFields()[name]) continue;
        set(fields, root, name, {
          kind: perm as Decision['kind'],
          message: `Not allowed to ${verb} ${T} records (${root}.${name})`,
          allows: (s) => objectAccess(s, src, o)[perm] === true,
        });
      }
      const upsert = names.upsertMutation(p.object);
      if (schema.getMutationType()?.getFields()[upsert])
        set(fields, 'Mutation', upsert, {
          kind: 'edit', message: `Not allowed to upsert ${T} records (Mutation.${upsert}): it needs create and edit`,
          allows: (s) => objectAccess(s, src, o).create && objectAccess(s, src, o).edit,
        });
      const where = names.whereInput(p.object);
      if (is(where, isInputObjectType)) {
        for (const c of [...p.columns, ...p.computed]) set(inputs, where, c.graphqlName, column(c, 'filter'));
        // Through a lookup: its foreign key and the related object are read; through children: theirs.
        for (const r of p.relations) {
          const lookup = readable(`${T}.${r.graphqlName}`, o, r.field.name, 'filter');
          set(inputs, where, r.graphqlName, { ...lookup, allows: (s) => lookup.allows(s) && objectAccess(s, src, r.target).read });
        }
        for (const r of p.reverse) {
          const child = plan.objects[r.child];
          if (child) set(inputs, where, r.graphqlName, readable(`${child.typeName}.${names.relationIdField(r.field)}`, r.child, r.field.name, 'filter'));
        }
      }
      aggregateDecisions(schema, p, names, { fields, inputs, enums }, set, read, column);
      // Upserting on a field matches on it: it must be readable (its editability is the data subgraph's check).
      const upsertKeys = names.upsertKeyEnum(p.object);
      if (is(upsertKeys, isEnumType)) for (const c of p.columns) if (c.sortValue) set(enums, upsertKeys, c.sortValue, column(c, 'upsert'));
      const sort = names.sortFieldEnum(p.object);
      if (is(sort, isEnumType)) for (const c of [...p.columns, ...p.computed]) if (c.sortValue) set(enums, sort, c.sortValue, column(c, 'sort'));
    }
  });

  // Search across objects reads what the caller can read: it needs read access to one searchable object at least.
  sources.forEach(({ plan, inflection: names }, src) => {
    const search = names.sharedField('search');
    if (!schema.getQueryType()?.getFields()[search]) return;
    const searchable = Object.values(plan.objects).filter((p) => searchColumns(p).length > 0).map((p) => p.object.name);
    set(fields, 'Query', search, { kind: 'read', message: `Not allowed to search (Query.${search}): no searchable object is readable`, allows: (s) => searchable.some((o) => objectAccess(s, src, o).read) });
    for (const typeName of [names.sharedType('SearchHit')]) {
      const t = schema.getType(typeName);
      if (isObjectType(t)) for (const f of Object.keys(t.getFields())) set(fields, typeName, f, { kind: 'allow', message: '', allows: () => true });
    }
  });

  for (const t of Object.values(schema.getTypeMap())) {
    if (!isObjectType(t)) continue;
    for (const f of Object.keys(t.getFields())) {
      // Introspection types describe the schema, not records: reaching them (`__schema`, `__type`) is
      // governed by the introspection switch (protection options), so below it every field is allowed.
      if (t.name === 'PageInfo' || isIntrospectionType(t) || unplanned === 'allow') set(fields, t.name, f, { kind: 'allow', message: '', allows: () => true });
      // Identity, external subgraphs and data root fields not generated from an object enforce their
      // own record access; here they need a signed-in user or an API key.
      else set(fields, t.name, f, { kind: 'authenticated', message: `Sign in to ${t.name === 'Mutation' ? 'call' : 'read'} ${t.name}.${f}`, allows: (s) => authenticatedKinds.has(s.principal.kind) });
    }
  }
  return { fields, inputs, enums, sources };
}
