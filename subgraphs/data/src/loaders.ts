import DataLoader from 'dataloader';
import { and } from 'drizzle-orm';
import type { GraphQLResolveInfo } from 'graphql';
import { objectOf, type DataSource, type Row } from './data-source.ts';
import { aggregateChildren, requestedAggregation } from './sql/aggregate.ts';
import { filterSql } from './sql/filter.ts';
import type { WhereInput } from './sql/where.ts';
import { findByIds, findChildren, type ChildArgs } from './sql/read.ts';
import { computedOf } from './sql/computed-read.ts';
import { findLookups, TRASHED } from './sql/lifecycle.ts';
import { stableStringify } from '@objectos/metadata';
import { columnReadable, maskRows } from './security/fields.ts';
import { unreadableField } from './errors.ts';

/**
 * Request-scoped batching: every by-id lookup of an object, and every children list of a relation with
 * the same arguments, become one SQL statement per tick, whatever the number of parents.
 */
export function createLoaders(ds: DataSource) {
  const byId = new Map<string, DataLoader<string, Row | null>>();
  const children = new Map<string, DataLoader<string, Row[]>>();
  const lookups = new Map<string, DataLoader<string, Row | typeof TRASHED | null>>();
  const aggregates = new Map<string, DataLoader<string, Record<string, unknown>>>();
  const computed = new Map<string, DataLoader<string, Record<string, unknown> | null>>();
  return {
    byId(object: string): DataLoader<string, Row | null> {
      let l = byId.get(object);
      if (!l) {
        l = new DataLoader(async (ids) => {
          const rows = await findByIds(ds, object, ids);
          const map = new Map(rows.map((r) => [r.id, r]));
          return ids.map((id) => map.get(id) ?? null);
        });
        byId.set(object, l);
      }
      return l;
    },
    /** A lookup's target (see findLookups): TRASHED when it is in the trash; for an object without a trash, byId. */
    lookup(object: string): DataLoader<string, Row | typeof TRASHED | null> {
      if (!ds.plan.objects[object]?.object.enable.trash) return this.byId(object);
      let l = lookups.get(object);
      if (!l) {
        l = new DataLoader(async (ids) => {
          const found = await findLookups(ds, object, ids);
          return ids.map((id) => found.get(id) ?? null);
        });
        lookups.set(object, l);
      }
      return l;
    },
    children(object: string, column: string, args: ChildArgs): DataLoader<string, Row[]> {
      const key = `${object}.${column}:${stableStringify(args)}`;
      let l = children.get(key);
      if (!l) {
        const fk = ds.plan.objects[object]!.columns.find((c) => c.column === column)!.graphqlName;
        l = new DataLoader(async (parentIds) => {
          const rows = await findChildren(ds, object, column, parentIds, args);
          const groups = new Map<string, Row[]>(parentIds.map((id) => [id, []]));
          for (const r of rows) groups.get(r[fk] as string)?.push(r);
          return parentIds.map((id) => maskRows(ds, ds.plan.objects[object]!, groups.get(id)!));
        });
        children.set(key, l);
      }
      return l;
    },
    /**
     * Aggregates of each parent's children (`opportunitiesAggregate`): one grouped statement for every
     * parent asking the same (`where` and selection), per slice of parents.
     */
    childAggregates(object: string, column: string, where: WhereInput | null, info: GraphQLResolveInfo): DataLoader<string, Record<string, unknown>> {
      const { p, table, visible } = objectOf(ds, object);
      // Aggregating a parent's children reads their foreign key (as listing them does).
      const fkPlan = p.columns.find((c) => c.column === column)!;
      if (!columnReadable(ds, p, fkPlan)) throw unreadableField(p.typeName, fkPlan.graphqlName, 'aggregate');
      const agg = requestedAggregation(ds, p, info);
      const key = `${object}.${column}:${stableStringify(where)}:${agg.count}:${agg.items.map((i) => `${i.fn}.${i.c.graphqlName}`).join(',')}`;
      let l = aggregates.get(key);
      if (!l) {
        const fk = p.columns.find((c) => c.column === column)!;
        const filter = and(visible, filterSql(ds, p, table, where));
        l = new DataLoader((parentIds) => aggregateChildren(ds, p, table, fk, filter, agg, parentIds));
        aggregates.set(key, l);
      }
      return l;
    },
    /**
     * The computed fields (formulas, roll-ups) the request can read, of many records of `object` in one
     * statement, each computed under the request's security (see sql/computed.ts). Null: not readable now.
     */
    computed(object: string): DataLoader<string, Record<string, unknown> | null> {
      let l = computed.get(object);
      if (!l) {
        l = new DataLoader(async (ids) => {
          const found = await computedOf(ds, object, ids);
          return ids.map((id) => found.get(id) ?? null);
        });
        computed.set(object, l);
      }
      return l;
    },
    /** After a write, later reads in the same request see the new row. */
    prime(object: string, row: Row | null, id: string): void {
      const l = this.byId(object);
      l.clear(id);
      l.prime(id, row);
      // A write changes what its record's formulas and roll-ups (and its parents') compute to: read them again.
      for (const c of computed.values()) c.clearAll();
    },
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
