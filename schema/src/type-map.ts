import type { FieldType } from '@objectos/metadata';

/** How a field type appears in GraphQL: output scalar and the filter input used in `where`. */
export interface GraphQLTypeInfo {
  scalar: string;
  filter: string;
  /** Whether `orderBy` may use the field. */
  sortable: boolean;
}

/** One row per field type; select/multiselect and relations get per-field types from the compiler, computed fields their result's. */
export const GRAPHQL_TYPES: Record<Exclude<FieldType, 'select' | 'multiselect' | 'lookup' | 'master_detail' | 'formula' | 'summary'>, GraphQLTypeInfo> = {
  text: { scalar: 'String', filter: 'StringFilter', sortable: true },
  textarea: { scalar: 'String', filter: 'StringFilter', sortable: false },
  email: { scalar: 'String', filter: 'StringFilter', sortable: true },
  url: { scalar: 'String', filter: 'StringFilter', sortable: true },
  phone: { scalar: 'String', filter: 'StringFilter', sortable: true },
  autonumber: { scalar: 'String', filter: 'StringFilter', sortable: true },
  number: { scalar: 'Float', filter: 'FloatFilter', sortable: true },
  currency: { scalar: 'Float', filter: 'FloatFilter', sortable: true },
  percent: { scalar: 'Float', filter: 'FloatFilter', sortable: true },
  boolean: { scalar: 'Boolean', filter: 'BooleanFilter', sortable: true },
  date: { scalar: 'Date', filter: 'DateFilter', sortable: true },
  datetime: { scalar: 'DateTime', filter: 'DateTimeFilter', sortable: true },
  time: { scalar: 'Time', filter: 'TimeFilter', sortable: true },
  json: { scalar: 'JSON', filter: 'JSONFilter', sortable: false },
};

/** Filter operators per filter input. The data subgraph maps each operator to SQL through one table. */
export const FILTER_INPUTS: Record<string, { scalar: string; ops: readonly FilterOp[] }> = {
  StringFilter: { scalar: 'String', ops: ['eq', 'ne', 'in', 'nin', 'gt', 'gte', 'lt', 'lte', 'contains', 'notContains', 'startsWith', 'endsWith', 'isNull'] },
  FloatFilter: { scalar: 'Float', ops: ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin', 'between', 'isNull'] },
  // The `version` system column (never null, so no isNull).
  IntFilter: { scalar: 'Int', ops: ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin', 'between'] },
  BooleanFilter: { scalar: 'Boolean', ops: ['eq', 'ne', 'isNull'] },
  DateFilter: { scalar: 'Date', ops: ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin', 'between', 'isNull'] },
  DateTimeFilter: { scalar: 'DateTime', ops: ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'between', 'isNull'] },
  TimeFilter: { scalar: 'Time', ops: ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'between', 'isNull'] },
  IDFilter: { scalar: 'ID', ops: ['eq', 'ne', 'in', 'nin', 'isNull'] },
  JSONFilter: { scalar: 'JSON', ops: ['contains', 'hasKey', 'isNull'] },
};
export const ENUM_FILTER_OPS = ['eq', 'ne', 'in', 'nin', 'isNull'] as const;
export const ENUM_LIST_FILTER_OPS = ['hasAll', 'hasAny', 'isEmpty', 'isNull'] as const;

export type FilterOp =
  | 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte' | 'in' | 'nin' | 'between'
  | 'contains' | 'notContains' | 'startsWith' | 'endsWith' | 'isNull' | 'hasKey' | 'hasAll' | 'hasAny' | 'isEmpty';

/** GraphQL type of an operator's argument, given the filter's scalar. */
export function opArgType(op: FilterOp, scalar: string): string {
  switch (op) {
    case 'in':
    case 'nin':
    case 'hasAll':
    case 'hasAny':
      return `[${scalar}!]`;
    case 'between':
      return `[${scalar}!]`;
    case 'isNull':
    case 'isEmpty':
      return 'Boolean';
    case 'hasKey':
    case 'contains':
    case 'notContains':
    case 'startsWith':
    case 'endsWith':
      return scalar === 'JSON' && op === 'contains' ? 'JSON' : 'String';
    default:
      return scalar;
  }
}
