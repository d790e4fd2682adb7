import { sql, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { ColumnPlan } from '@objectos/schema';
import { literal } from '@objectos/db';

const FALLBACK_MARK = 'objectos:fallback';

/**
 * Stops the statement (a cast that cannot succeed, evaluated only when reached: it depends on the row),
 * so the general path answers instead. Used for what JSON built in PostgreSQL would word differently
 * from graphql-js: a lookup to a record the request cannot read (an error there), a non-null field
 * holding null, a value an enum no longer lists, a number JavaScript would print otherwise.
 */
export const fallback = (ref: PgColumn): SQL => sql`to_json((${sql.raw(`'${FALLBACK_MARK} '`)} || coalesce(${ref}::text, ''))::int)`;

/** Float columns (`number` without precision) are double precision; other numbers are numeric. */
function numericScale(c: ColumnPlan): number | null {
  const f = c.field;
  const precision = f && 'precision' in f ? f.precision : undefined;
  const scale = f && 'scale' in f ? f.scale : undefined;
  if (precision === undefined && scale === undefined && c.type === 'number') return null;
  return scale ?? (c.type === 'number' ? 0 : 2);
}

const optionsOf = (c: ColumnPlan): string[] => (c.field && 'options' in c.field && Array.isArray(c.field.options) ? c.field.options.map((o: { value: string }) => o.value) : []);

/**
 * A column's value (of type json) as the JSON graphql-js would write for it, or null when that cannot be matched
 * exactly in SQL (JSON columns: key order and number text follow JavaScript's rules).
 */
export function columnJson(c: ColumnPlan, ref: PgColumn): SQL | null {
  switch (c.type) {
    case 'json':
      return null;
    // Date#toISOString: UTC, milliseconds, Z.
    case 'datetime':
      return sql`to_json(to_char(${ref} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`;
    case 'number': case 'currency': case 'percent': {
      const scale = numericScale(c);
      if (scale === null)
        // Where PostgreSQL and JavaScript print a double the same way (no exponent, no -0).
        return sql`case when ${ref} is null then null when ${ref} = 0 then '0'::json when abs(${ref}) >= 1e-4 and abs(${ref}) < 1e15 then to_json(${ref}) else ${fallback(ref)} end`;
      // JavaScript reads numeric text as a double: exact while it has at most 15 significant digits.
      if (scale > 6) return null;
      return sql`case when ${ref} is null then null when abs(${ref}) < ${sql.raw(`1e${15 - scale}`)} then to_json(trim_scale(${ref})) else ${fallback(ref)} end`;
    }
    case 'select': {
      const options = optionsOf(c);
      if (options.length === 0) return sql`case when ${ref} is null then null else ${fallback(ref)} end`;
      return sql`case when ${ref} is null or ${ref} in (${sql.raw(options.map(literal).join(', '))}) then to_json(${ref}) else ${fallback(ref)} end`;
    }
    case 'multiselect': {
      const options = optionsOf(c);
      return sql`case when ${ref} is null or ${ref} <@ ${sql.raw(`array[${options.map(literal).join(', ')}]::text[]`)} then to_json(${ref}) else ${fallback(ref)} end`;
    }
    default:
      return sql`to_json(${ref})`;
  }
}
