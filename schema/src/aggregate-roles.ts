import type { ColumnPlan } from './plan.ts';

/**
 * What each column can take part in, for aggregates and grouping: the one table the SDL and the data
 * subgraph both read, so the schema never offers what the SQL cannot do.
 */
export interface AggregateRoles {
  /** `sum`/`avg`. */
  numeric: boolean;
  /** `min`/`max`. */
  ordered: boolean;
  /** `countDistinct`. */
  distinct: boolean;
  /** `groupBy` (a long text, JSON or a list of options cannot be a group's key). */
  groupable: boolean;
  /** `groupBy` with `truncate: DAY | WEEK | MONTH | YEAR`. */
  truncatable: boolean;
}

const NUMERIC = new Set<ColumnPlan['type']>(['number', 'currency', 'percent']);
const TEMPORAL = new Set<ColumnPlan['type']>(['date', 'datetime']);
const NOT_GROUPABLE = new Set<ColumnPlan['type']>(['id', 'textarea', 'json', 'multiselect']);

export function aggregateRoles(c: ColumnPlan): AggregateRoles {
  return {
    numeric: NUMERIC.has(c.type),
    ordered: NUMERIC.has(c.type) || TEMPORAL.has(c.type) || c.type === 'time',
    distinct: c.type !== 'json',
    groupable: !NOT_GROUPABLE.has(c.type),
    truncatable: TEMPORAL.has(c.type),
  };
}

/** `groupBy` truncations of a date or date-time (weeks start on Monday, as ISO 8601; date-times in UTC). */
export const DATE_TRUNCATIONS = ['DAY', 'WEEK', 'MONTH', 'YEAR'] as const;
export type DateTruncation = (typeof DATE_TRUNCATIONS)[number];
