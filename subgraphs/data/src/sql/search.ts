import { and, getTableName, sql, type SQL } from 'drizzle-orm';
import { SEARCH_COLUMN, SEARCH_CONFIG, searchColumns, searchVectorText, type ObjectPlan } from '@objectos/schema';
import { queryRows } from '@objectos/db';
import { objectOf, type DataSource } from '../data-source.ts';
import { col, type DynTable } from '../db/tables.ts';
import { badInput, dataError } from '../errors.ts';
import { columnReadable } from '../security/fields.ts';

/** A search is at most this long and this many words (each word is a prefix: "acm" finds "Acme"). */
export const SEARCH_LIMITS = { maxLength: 256, maxWords: 12 } as const;

/**
 * The words of a search as a PostgreSQL tsquery: every word must match, each as a prefix. Words are
 * letters and digits only, so nothing the user types is tsquery syntax.
 */
export function searchQueryText(typeName: string, text: string, field = 'search'): string {
  const refuse = (message: string) => badInput(typeName, [{ field, constraint: 'search', message: `${field}: ${message}` }]);
  if (text.length > SEARCH_LIMITS.maxLength) throw refuse(`the search is ${text.length} characters long; at most ${SEARCH_LIMITS.maxLength} are searched`);
  const words = text.normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  if (words.length === 0) throw refuse('give at least one word (letters or digits) to search for');
  if (words.length > SEARCH_LIMITS.maxWords) throw refuse(`the search has ${words.length} words; at most ${SEARCH_LIMITS.maxWords} are searched`);
  return words.map((w) => `'${w}':*`).join(' & ');
}

/**
 * The match and the rank of a search over `p` (as `t`), on the fields the request can read: the stored
 * vector when every searchable field is readable, else a vector of the readable ones only, so a hidden
 * field's words never find a record. Null when the object has no searchable field the request may read.
 */
export function searchSql(ds: DataSource, p: ObjectPlan, t: DynTable, query: string): { match: SQL; rank: SQL } | null {
  const all = searchColumns(p);
  const readable = all.filter((s) => columnReadable(ds, p, s.c));
  if (readable.length === 0) return null;
  const ref = `"${getTableName(t).replace(/"/g, '""')}".`;
  const vector = readable.length === all.length ? sql.raw(`${ref}"${SEARCH_COLUMN}"`) : sql.raw(`(${searchVectorText(readable, ref)})`);
  const q = sql`to_tsquery(${sql.raw(`'${SEARCH_CONFIG}'`)}::regconfig, ${query})`;
  return { match: sql`${vector} @@ ${q}`, rank: sql`ts_rank(${vector}, ${q})` };
}

/** `accounts(search: …)`: the search as a condition and a rank, refusing one the request cannot make. */
export function listSearch(ds: DataSource, p: ObjectPlan, t: DynTable, text: string): { match: SQL; rank: SQL } {
  if (searchColumns(p).length === 0) throw badInput(p.typeName, [{ field: 'search', constraint: 'search', message: `search: ${p.typeName} has no searchable fields` }]);
  const found = searchSql(ds, p, t, searchQueryText(p.typeName, text));
  if (!found) throw dataError('FORBIDDEN', `Cannot search ${p.typeName}: none of its searchable fields (${searchColumns(p).map((s) => s.c.graphqlName).join(', ')}) is readable`);
  return found;
}

export interface SearchArgs { text: string; objects?: string[] | null; first?: number | null }
export interface SearchHitRow { object: string; id: string; rank: number }

/**
 * `search(text, objects, first)`: the best `first` matches over every searchable object the request
 * can read, in one statement (each object's best `first`, then the best of those). Objects the request
 * cannot read, or whose searchable fields it cannot read, are not searched.
 */
export async function searchAcross(ds: DataSource, args: SearchArgs): Promise<SearchHitRow[]> {
  const searchable = Object.values(ds.plan.objects).filter((p) => p.methods.includes('get') && searchColumns(p).length > 0);
  const names = searchable.map((p) => p.object.name);
  const unknown = (args.objects ?? []).filter((o) => !names.includes(o));
  if (unknown.length > 0)
    throw badInput('search', [{ field: 'objects', constraint: 'unknownObject', message: `objects: ${unknown.map((o) => `"${o}"`).join(', ')} cannot be searched; searchable objects are ${names.join(', ')}` }]);
  const first = args.first ?? 20;
  if (first < 0 || first > ds.maxPageSize) throw badInput('search', [{ field: 'first', constraint: 'pagination', message: `first must be between 0 and ${ds.maxPageSize}` }]);
  const query = searchQueryText('search', args.text, 'text');
  const wanted = args.objects?.length ? searchable.filter((p) => args.objects!.includes(p.object.name)) : searchable;
  const parts: SQL[] = [];
  for (const p of wanted) {
    if (ds.sc && !ds.sc.access.objects[p.object.name]?.read) continue;
    const { table, visible } = objectOf(ds, p.object.name);
    const found = searchSql(ds, p, table, query);
    if (!found) continue;
    parts.push(sql`(select ${p.object.name}::text as "object", ${col(table, p.columns[0]!)}::text as "id", ${found.rank}::float8 as "rank"
      from ${table} where ${and(visible, found.match)} order by 3 desc, 2 limit ${first})`);
  }
  if (parts.length === 0 || first === 0) return [];
  return queryRows<SearchHitRow>(ds.db, sql`select * from (${sql.join(parts, sql` union all `)}) hits order by "rank" desc, "object", "id" limit ${first}`);
}
