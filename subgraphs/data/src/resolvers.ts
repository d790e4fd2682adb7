import { randomUUID } from 'node:crypto';
import type { GraphQLResolverMap } from '@apollo/subgraph';
import type { Inflection, ObjectPlan } from '@objectos/schema';
import type { DataSource, Row } from './data-source.ts';
import type { Loaders } from './loaders.ts';
import { defaultInflection, scalarResolvers } from '@objectos/schema';
import { findConnection, type ChildArgs, type ListArgs } from './sql/read.ts';
import { deleteRecord } from './sql/write.ts';
import { purgeRecord, restoreRecord, transferRecord, trashConnection, trashRecord, TRASHED } from './sql/lifecycle.ts';
import { isUuid, type WhereInput } from './sql/where.ts';
import type { GraphQLResolveInfo } from 'graphql';
import { searchColumns, upsertColumns } from '@objectos/schema';
import { createNested, createRecords, deleteWhere, updateNested, updateWhere, upsertRecord } from './sql/bulk.ts';
import { searchAcross, type SearchArgs } from './sql/search.ts';
import { dataError } from './errors.ts';
import { columnReadable } from './security/fields.ts';
import { STREAM_HEADER, type Principal } from '@objectos/principal';
import { explainAccess, recordShares, shareRecord, unshareRecord } from './security/api.ts';
import { metaResolvers } from './meta.ts';
import { createLoaders } from './loaders.ts';
import type { FanOut } from './events/fan-out.ts';
import type { LiveSubscriptions } from './events/access-left.ts';
import { presenceOf, setPresence, type RecordPresence } from './presence/presence.ts';
import type { PresenceHub } from './presence/presence-hub.ts';
import { changesOf, type ChangedArgs, type ChangePayload } from './events/subscriptions.ts';
import type { ServedRules } from './events/rule-epochs.ts';

export interface DataContext {
  ds: DataSource;
  principal: Principal;
  /** The principal as JSON: a key for what depends on it alone (access, compiled statements). */
  principalKey?: string;
  loaders: Loaders;
  /** The HTTP request (yoga's initial context): its signal ends a subscription whose subscriber went. */
  request?: Request;
}

type Resolver = (parent: unknown, args: Record<string, unknown>, ctx: DataContext) => unknown;

/** Root fields per API method: one row per operation kind; adding an operation means adding a row. */
const ROOT_FIELDS: Record<string, { root: 'Query' | 'Mutation'; name: (p: ObjectPlan) => string; make: (p: ObjectPlan) => Resolver }> = {
  get: {
    root: 'Query',
    name: (p) => p.singleField,
    make: (p) => (_, { id }, ctx) => (isUuid(id) ? ctx.loaders.byId(p.object.name).load(id) : null),
  },
  list: { root: 'Query', name: (p) => p.listField, make: (p) => (_, args, ctx) => findConnection(ctx.ds, p.object.name, args as ListArgs) },
  create: {
    root: 'Mutation',
    name: (p) => p.createMutation,
    make: (p) => async (_, { input }, ctx) => primed(ctx, p, await createNested(ctx.ds, p.object.name, input as Record<string, unknown>)),
  },
  update: {
    root: 'Mutation',
    name: (p) => p.updateMutation,
    make: (p) => async (_, { id, input, expectedVersion }, ctx) =>
      primed(ctx, p, await updateNested(ctx.ds, p.object.name, String(id), input as Record<string, unknown>, { expectedVersion: expectedVersion as number | null | undefined })),
  },
  delete: {
    root: 'Mutation',
    name: (p) => p.deleteMutation,
    make: (p) => async (_, { id }, ctx) => {
      // With a trash, a delete moves the record there; deleteRecord deletes for good.
      const row = await (p.object.enable.trash ? trashRecord : deleteRecord)(ctx.ds, p.object.name, String(id));
      ctx.loaders.prime(p.object.name, null, row.id);
      return row;
    },
  },
  restore: {
    root: 'Mutation',
    name: (p) => p.restoreMutation,
    make: (p) => async (_, { id }, ctx) => primed(ctx, p, await restoreRecord(ctx.ds, p.object.name, String(id))),
  },
  purge: {
    root: 'Mutation',
    name: (p) => p.purgeMutation,
    make: (p) => async (_, { id }, ctx) => {
      const row = await purgeRecord(ctx.ds, p.object.name, String(id));
      ctx.loaders.prime(p.object.name, null, row.id);
      return row;
    },
  },
};

/** Root fields that come with a method rather than being one: owner transfer with update, the trash with restore/purge. */
function lifecycleFields(p: ObjectPlan): [root: 'Query' | 'Mutation', name: string, resolve: Resolver][] {
  const out: [root: 'Query' | 'Mutation', name: string, resolve: Resolver][] = [];
  if (p.methods.includes('update'))
    out.push(['Mutation', p.transferMutation, async (_, { id, newOwnerId, expectedVersion }, ctx) =>
      primed(ctx, p, await transferRecord(ctx.ds, p.object.name, String(id), String(newOwnerId), { expectedVersion: expectedVersion as number | null | undefined }))]);
  if (p.methods.includes('restore') || p.methods.includes('purge'))
    out.push(['Query', p.trashField, (_, args, ctx) => trashConnection(ctx.ds, p.object.name, args as ListArgs)]);
  return out;
}

type BulkNames = Pick<Inflection, 'bulkCreateMutation' | 'bulkUpdateMutation' | 'bulkDeleteMutation' | 'upsertMutation'>;

/** Writes of many records and upserts (see sql/bulk.ts), by the methods they extend. */
function bulkFields(p: ObjectPlan, names: BulkNames): [name: string, resolve: Resolver][] {
  const o = p.object.name;
  const out: [string, Resolver][] = [];
  const rows = (ctx: DataContext, records: Row[]) => records.map((r) => primed(ctx, p, r));
  if (p.methods.includes('create'))
    out.push([names.bulkCreateMutation(p.object), async (_, { inputs }, ctx) => rows(ctx, await createRecords(ctx.ds, o, inputs as Record<string, unknown>[]))]);
  if (p.methods.includes('update'))
    out.push([names.bulkUpdateMutation(p.object), async (_, { where, input }, ctx) => {
      const r = await updateWhere(ctx.ds, o, where as WhereInput, input as Record<string, unknown>);
      return { count: r.count, records: rows(ctx, r.records) };
    }]);
  if (p.methods.includes('delete'))
    out.push([names.bulkDeleteMutation(p.object), async (_, { where }, ctx) => {
      const r = await deleteWhere(ctx.ds, o, where as WhereInput);
      for (const x of r.records) ctx.loaders.prime(o, null, x.id);
      return r;
    }]);
  if (p.methods.includes('create') && p.methods.includes('update') && upsertColumns(p).length > 0)
    out.push([names.upsertMutation(p.object), async (_, { input, on }, ctx) => {
      const r = await upsertRecord(ctx.ds, o, input as Record<string, unknown>, String(on));
      return { created: r.created, record: primed(ctx, p, r.record) };
    }]);
  return out;
}

/** Records belong to organizations: a request that acts in none is told so rather than shown nothing. */
function inTenant(resolve: Resolver): Resolver {
  return (parent, args, ctx) => {
    if (ctx.ds.tenant === null)
      throw dataError('FORBIDDEN', ctx.principal.userId ? 'You act in no organization: create one or ask to be invited, then sign in again.' : 'Sign in first.');
    return resolve(parent, args, ctx);
  };
}

function primed(ctx: DataContext, p: ObjectPlan, row: Row): Row {
  ctx.loaders.prime(p.object.name, row, row.id);
  return row;
}

/** A group's lookup (`key { account { name } }`): the record when grouped by it and readable, else null. */
function groupKeyResolvers(ds: DataSource, p: ObjectPlan): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const r of p.relations) {
    if (!ds.plan.objects[r.target]!.methods.length) continue;
    const idField = p.columns.find((c) => c.column === r.column)!.graphqlName;
    out[r.graphqlName] = (key: Record<string, unknown>, _: unknown, ctx: DataContext) => {
      const id = key[idField];
      return isUuid(id) ? ctx.loaders.byId(r.target).load(id) : null;
    };
  }
  return out;
}

/** Resolvers for the compiled data SDL, derived from the plan. */
export function buildResolvers(
  ds: DataSource, { fanOut: live, presence, named, rules }: { fanOut: FanOut; presence: PresenceHub; named?: LiveSubscriptions; rules?: ServedRules }, names: Pick<Inflection, 'sharedField' | 'childAggregateField' | 'groupKeyType'> & BulkNames = defaultInflection,
): GraphQLResolverMap<DataContext> {
  const map: Record<string, Record<string, unknown>> = { ...scalarResolvers } as unknown as Record<string, Record<string, unknown>>;
  const exposed = Object.values(ds.plan.objects).filter((p) => p.methods.length > 0);
  for (const p of exposed) {
    for (const method of p.methods) {
      const row = ROOT_FIELDS[method]!;
      (map[row.root] ??= {})[row.name(p)] = inTenant(row.make(p));
    }
    for (const [root, name, resolve] of lifecycleFields(p)) (map[root] ??= {})[name] = inTenant(resolve);
    for (const [name, resolve] of bulkFields(p, names)) (map['Mutation'] ??= {})[name] = inTenant(resolve);
    const type: Record<string, unknown> = {
      // A reference (from another subgraph, or `_entities`) to a record the caller cannot read answers
      // as one that does not exist: null with NOT_FOUND, the same words for both (no existence probe).
      // Coded, so a non-null reference field elsewhere fails as NOT_FOUND rather than INTERNAL.
      __resolveReference: async (ref: { id?: unknown }, ctx: DataContext) => {
        const found = isUuid(ref.id) ? await ctx.loaders.byId(p.object.name).load(ref.id) : null;
        if (!found) throw dataError('NOT_FOUND', `No ${p.typeName} with this id that you can read`);
        return found;
      },
    };
    // Formulas and roll-ups: the value read with the row when it was (a sort key), else computed for the batch of rows.
    for (const c of p.computed)
      type[c.graphqlName] = async (row: Row, _: unknown, ctx: DataContext) => {
        if (!columnReadable(ctx.ds, p, c)) return null;
        if (Object.hasOwn(row, c.graphqlName)) return row[c.graphqlName];
        return (await ctx.loaders.computed(p.object.name).load(row.id))?.[c.graphqlName] ?? null;
      };
    for (const r of p.relations) {
      if (!ds.plan.objects[r.target]!.methods.length) continue;
      const idField = p.columns.find((c) => c.column === r.column)!.graphqlName;
      const target = ds.plan.objects[r.target]!.typeName;
      // The foreign key always points at an existing record (same tenant): null here means hidden.
      type[r.graphqlName] = async (row: Row, _: unknown, ctx: DataContext) => {
        const id = row[idField];
        if (typeof id !== 'string') return null;
        const found = await ctx.loaders.lookup(r.target).load(id);
        // A record in the trash is deleted until restored: the reference reads as empty, as set_null leaves it.
        if (found === TRASHED) return null;
        if (!found) throw dataError('FORBIDDEN', `${p.typeName}.${r.graphqlName} refers to a ${target} you cannot read`);
        return found;
      };
    }
    for (const r of p.reverse) {
      if (!ds.plan.objects[r.child]!.methods.includes('list')) continue;
      type[r.graphqlName] = (row: Row, args: ChildArgs, ctx: DataContext) => ctx.loaders.children(r.child, r.column, args).load(row.id);
      type[names.childAggregateField(r.graphqlName)] = (row: Row, args: { where?: WhereInput | null }, ctx: DataContext, info: GraphQLResolveInfo) =>
        ctx.loaders.childAggregates(r.child, r.column, args.where ?? null, info).load(row.id);
    }
    map[p.typeName] = type;
    if (p.methods.includes('list')) map[names.groupKeyType(p.object)] = groupKeyResolvers(ds, p);
    if (p.methods.includes('list'))
      (map['Subscription'] ??= {})[p.changedSubscription] = {
        subscribe: (_: unknown, args: ChangedArgs, ctx: DataContext) => {
          // Named by the gateway's one hop (its access-change word names it), else by a name of its own (a reload hands every one over).
          const stream = ctx.request?.headers.get(STREAM_HEADER) ?? randomUUID();
          return changesOf(ctx.ds, live, p.object.name, args, ctx.request?.signal, named ? { stream, principal: ctx.principal, registry: named, ...(rules ? { rules } : {}) } : undefined);
        },
        // A subscription's context lives as long as it does: each event is resolved with fresh loaders,
        // so relationships show the records as they are now, under the access checked now.
        resolve: (payload: ChangePayload, _: unknown, ctx: DataContext) => {
          ctx.loaders = createLoaders(ctx.ds);
          return payload;
        },
      };
  }
  if (exposed.length > 0) {
    Object.assign((map['Query'] ??= {}), {
      [names.sharedField('explainAccess')]: (_: unknown, args: Parameters<typeof explainAccess>[1], ctx: DataContext) => explainAccess(ctx.ds, args),
      [names.sharedField('recordShares')]: (_: unknown, args: { object: string; id: string }, ctx: DataContext) => recordShares(ctx.ds, args),
      // Metadata discovery: the objects and fields this request may read.
      ...metaResolvers(names),
    });
    if (exposed.some((p) => p.methods.includes('get') && searchColumns(p).length > 0))
      (map['Query'] ??= {})[names.sharedField('search')] = inTenant(async (_, args, ctx) => {
        const hits = await searchAcross(ctx.ds, args as unknown as SearchArgs);
        const records = await Promise.all(hits.map((h) => ctx.loaders.byId(h.object).load(h.id)));
        // The record as the request reads it now (masked), typed for the union.
        return hits.flatMap((h, i) => (records[i] ? [{ object: h.object, rank: h.rank, record: { ...records[i], __typename: ds.plan.objects[h.object]!.typeName } }] : []));
      });
    (map['Subscription'] ??= {})[names.sharedField('presence')] = {
      subscribe: (_: unknown, args: { object: string; id: string }, ctx: DataContext) => presenceOf(ctx.ds, presence, args, ctx.request?.signal),
      resolve: (payload: RecordPresence) => payload,
    };
    Object.assign((map['Mutation'] ??= {}), {
      [names.sharedField('setPresence')]: (_: unknown, args: Parameters<typeof setPresence>[2], ctx: DataContext) => setPresence(ctx.ds, presence, args),
      [names.sharedField('shareRecord')]: (_: unknown, { input }: { input: Parameters<typeof shareRecord>[1] }, ctx: DataContext) => shareRecord(ctx.ds, input),
      [names.sharedField('unshareRecord')]: (_: unknown, { id }: { id: string }, ctx: DataContext) => unshareRecord(ctx.ds, id),
    });
  }
  return map as GraphQLResolverMap<DataContext>;
}
