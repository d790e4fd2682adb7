import DataLoader from 'dataloader';
import type { DataSource, Row } from './data-source.ts';
import { findByIds, findChildren, type ChildArgs } from './sql/read.ts';
import { stableStringify } from '@objectos/metadata';
import { maskRows } from './security/fields.ts';

/**
 * Request-scoped batching: every by-id lookup of an object, and every children list of a relation with
 * the same arguments, become one SQL statement per tick, whatever the number of parents.
 */
export function createLoaders(ds: DataSource) {
  const byId = new Map<string, DataLoader<string, Row | null>>();
  const children = new Map<string, DataLoader<string, Row[]>>();
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
    /** After a write, later reads in the same request see the new row. */
    prime(object: string, row: Row | null, id: string): void {
      const l = this.byId(object);
      l.clear(id);
      l.prime(id, row);
    },
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
