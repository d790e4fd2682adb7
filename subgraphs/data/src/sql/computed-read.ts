import { and, inArray, type SQL } from 'drizzle-orm';
import { col } from '../db/tables.ts';
import { objectOf, type DataSource } from '../data-source.ts';
import { columnReadable } from '../security/fields.ts';
import { inChunks } from './chunks.ts';
import { computedOutput } from './computed.ts';
import { whereScope } from './filter.ts';

/**
 * The readable computed fields of the records `ids` of `object` that the request can read, by id: one
 * statement per slice of ids (records it cannot read, or that are gone, are absent).
 */
export async function computedOf(ds: DataSource, object: string, ids: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
  const { p, table, visible } = objectOf(ds, object);
  const readable = p.computed.filter((c) => columnReadable(ds, p, c));
  if (readable.length === 0) return new Map();
  const scope = whereScope(ds);
  const id = col(table, p.columns[0]!);
  const fields: Record<string, SQL> = Object.fromEntries(readable.map((c) => [c.graphqlName, computedOutput(scope, p, table, c)]));
  const rows = await inChunks(ids, async (slice) => (await ds.db.select({ __id: id, ...fields }).from(table).where(and(visible, inArray(id, [...slice])))) as Record<string, unknown>[]);
  return new Map(rows.map(({ __id, ...values }) => [String(__id), values]));
}
