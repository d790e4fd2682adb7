import { CompileError } from './compile-error.ts';
import type { ColumnPlan, ObjectPlan } from './plan.ts';

/**
 * Full-text search (PostgreSQL text search): each object's `searchable` fields feed one generated,
 * stored `tsvector` column with a GIN index. The display-name field weighs most (A), the others B.
 */
export const SEARCH_COLUMN = '_search';
/** The text search configuration: English stemming ("deals" finds "deal"). */
export const SEARCH_CONFIG = 'english';

const SEARCHABLE_TYPES = new Set<ColumnPlan['type']>(['text', 'textarea', 'email', 'url', 'phone', 'autonumber', 'select']);

export interface SearchColumn {
  c: ColumnPlan;
  weight: 'A' | 'B';
}

/**
 * The fields searched in an object (none when `enable.searchable` is off). A `searchable` field of a
 * type that holds no words is refused, naming it, rather than silently left out.
 */
export function searchColumns(p: ObjectPlan): SearchColumn[] {
  if (!p.object.enable.searchable) return [];
  const out: SearchColumn[] = [];
  for (const c of p.columns) {
    if (!c.field?.searchable) continue;
    if (!SEARCHABLE_TYPES.has(c.type))
      throw new CompileError(`${p.object.name}.${c.name} is searchable, but a ${c.type} field holds no words to search; searchable fields are text, textarea, email, url, phone, autonumber or select`);
    out.push({ c, weight: p.object.displayNameField === c.name ? 'A' : 'B' });
  }
  return out;
}

/** The `tsvector` of the given columns over `ref` (a table or alias name, already quoted), as SQL text. */
export function searchVectorText(columns: readonly SearchColumn[], ref: string): string {
  return columns
    .map(({ c, weight }) => `setweight(to_tsvector('${SEARCH_CONFIG}'::regconfig, coalesce(${ref}"${c.column}"::text, '')), '${weight}')`)
    .join(' || ');
}
