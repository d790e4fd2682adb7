import type { GraphQLResolverMap } from '@apollo/subgraph';
import type { Inflection, ObjectPlan } from '@objectos/schema';
import type { DataSource, Row } from './data-source.ts';
import type { Loaders } from './loaders.ts';
import { defaultInflection, scalarResolvers } from '@objectos/schema';
import { findConnection, type ChildArgs, type ListArgs } from './sql/read.ts';
import { createRecord, deleteRecord, updateRecord } from './sql/write.ts';
import { isUuid } from './sql/where.ts';
import { dataError } from './errors.ts';
import type { Principal } from '@objectos/principal';
import { explainAccess, recordShares, shareRecord, unshareRecord } from './security/api.ts';
import { createLoaders } from './loaders.ts';
import type { ChangeHub } from './events/change-hub.ts';
import { changesOf, type ChangedArgs, type ChangePayload } from './events/subscriptions.ts';

export interface DataContext {
  ds: DataSource;
  principal: Principal;
  /** The principal as JSON: a key for what depends on it alone (access, compiled statements). */
  principalKey?: string;
  loaders: Loaders;
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
    make: (p) => async (_, { input }, ctx) => primed(ctx, p, await createRecord(ctx.ds, p.object.name, input as Record<string, unknown>)),
  },
  update: {
    root: 'Mutation',
    name: (p) => p.updateMutation,
    make: (p) => async (_, { id, input }, ctx) =>
      primed(ctx, p, await updateRecord(ctx.ds, p.object.name, String(id), input as Record<string, unknown>)),
  },
  delete: {
    root: 'Mutation',
    name: (p) => p.deleteMutation,
    make: (p) => async (_, { id }, ctx) => {
      const row = await deleteRecord(ctx.ds, p.object.name, String(id));
      ctx.loaders.prime(p.object.name, null, row.id);
      return row;
    },
  },
};

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

/** Resolvers for the compiled data SDL, derived from the plan. */
export function buildResolvers(ds: DataSource, hub: ChangeHub, names: Pick<Inflection, 'sharedField'> = defaultInflection): GraphQLResolverMap<DataContext> {
  const map: Record<string, Record<string, unknown>> = { ...scalarResolvers } as unknown as Record<string, Record<string, unknown>>;
  const exposed = Object.values(ds.plan.objects).filter((p) => p.methods.length > 0);
  for (const p of exposed) {
    for (const method of p.methods) {
      const row = ROOT_FIELDS[method]!;
      (map[row.root] ??= {})[row.name(p)] = inTenant(row.make(p));
    }
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
    for (const r of p.relations) {
      if (!ds.plan.objects[r.target]!.methods.length) continue;
      const idField = p.columns.find((c) => c.column === r.column)!.graphqlName;
      const target = ds.plan.objects[r.target]!.typeName;
      // The foreign key always points at an existing record (same tenant): null here means hidden.
      type[r.graphqlName] = async (row: Row, _: unknown, ctx: DataContext) => {
        const id = row[idField];
        if (typeof id !== 'string') return null;
        const found = await ctx.loaders.byId(r.target).load(id);
        if (!found) throw dataError('FORBIDDEN', `${p.typeName}.${r.graphqlName} refers to a ${target} you cannot read`);
        return found;
      };
    }
    for (const r of p.reverse) {
      if (!ds.plan.objects[r.child]!.methods.includes('list')) continue;
      type[r.graphqlName] = (row: Row, args: ChildArgs, ctx: DataContext) => ctx.loaders.children(r.child, r.column, args).load(row.id);
    }
    map[p.typeName] = type;
    if (p.methods.includes('list'))
      (map['Subscription'] ??= {})[p.changedSubscription] = {
        subscribe: (_: unknown, args: ChangedArgs, ctx: DataContext) => changesOf(ctx.ds, hub, p.object.name, args),
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
    });
    Object.assign((map['Mutation'] ??= {}), {
      [names.sharedField('shareRecord')]: (_: unknown, { input }: { input: Parameters<typeof shareRecord>[1] }, ctx: DataContext) => shareRecord(ctx.ds, input),
      [names.sharedField('unshareRecord')]: (_: unknown, { id }: { id: string }, ctx: DataContext) => unshareRecord(ctx.ds, id),
    });
  }
  return map as GraphQLResolverMap<DataContext>;
}
