import pluralize from 'pluralize';
import type { FieldModel, ObjectModel } from '@objectos/metadata';

const camel = (snake: string): string => snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const pascal = (snake: string): string => {
  const c = camel(snake);
  return c[0]!.toUpperCase() + c.slice(1);
};

/** An object's plural in snake_case (`leave_requests`; `data_list` when the plural is the name). */
const pluralName = (o: ObjectModel): string => {
  const p = pluralize(o.name);
  return p === o.name ? `${o.name}_list` : p;
};

/**
 * Every generated GraphQL and SQL name comes from here, never concatenated inline.
 * Override any entry through `compile(model, { inflection: { … } })`.
 */
export const defaultInflection = {
  camel,
  pascal,
  plural: (name: string): string => pluralize(name),
  typeName: (o: ObjectModel): string => pascal(o.name),
  singleField: (o: ObjectModel): string => camel(o.name),
  listField(o: ObjectModel): string {
    const p = pluralize(o.name);
    return camel(p === o.name ? `${o.name}_list` : p);
  },
  connectionType: (o: ObjectModel): string => `${pascal(o.name)}Connection`,
  edgeType: (o: ObjectModel): string => `${pascal(o.name)}Edge`,
  whereInput: (o: ObjectModel): string => `${pascal(o.name)}Where`,
  /** `some`/`none`/`every` over an object's records as children of a parent (`contacts: { some: … }`). */
  relationFilterInput: (o: ObjectModel): string => `${pascal(o.name)}RelationFilter`,
  orderByInput: (o: ObjectModel): string => `${pascal(o.name)}OrderBy`,
  /** Writes of many records (`createAccounts`, `updateAccounts`, `deleteAccounts`) and `upsertAccount`. */
  bulkCreateMutation: (o: ObjectModel): string => `create${pascal(pluralName(o))}`,
  bulkUpdateMutation: (o: ObjectModel): string => `update${pascal(pluralName(o))}`,
  bulkDeleteMutation: (o: ObjectModel): string => `delete${pascal(pluralName(o))}`,
  upsertMutation: (o: ObjectModel): string => `upsert${pascal(o.name)}`,
  bulkResultType: (o: ObjectModel): string => `${pascal(o.name)}BulkResult`,
  upsertResultType: (o: ObjectModel): string => `${pascal(o.name)}UpsertResult`,
  upsertKeyEnum: (o: ObjectModel): string => `${pascal(o.name)}UpsertKey`,
  /** A parent's writes to the children of one reverse relationship (`AccountContactsWrite`), and a child created there. */
  childWritesInput: (o: ObjectModel, reverseName: string): string => `${pascal(o.name)}${reverseName[0]!.toUpperCase()}${reverseName.slice(1)}Write`,
  childCreateInput: (o: ObjectModel, reverseName: string): string => `${pascal(o.name)}${reverseName[0]!.toUpperCase()}${reverseName.slice(1)}CreateInput`,
  /** Aggregates over an object's records, and its group-by types (`OpportunityAggregates`, `OpportunityGroup`…). */
  aggregatesType: (o: ObjectModel): string => `${pascal(o.name)}Aggregates`,
  /** Per-field results of one aggregate function kind: `Numbers` (sum, avg), `Extremes` (min, max), `DistinctCounts`. */
  aggregateFieldsType: (o: ObjectModel, kind: 'Numbers' | 'Extremes' | 'DistinctCounts'): string => `${pascal(o.name)}Aggregate${kind}`,
  groupType: (o: ObjectModel): string => `${pascal(o.name)}Group`,
  groupKeyType: (o: ObjectModel): string => `${pascal(o.name)}GroupKey`,
  groupByInput: (o: ObjectModel): string => `${pascal(o.name)}GroupBy`,
  groupFieldEnum: (o: ObjectModel): string => `${pascal(o.name)}GroupField`,
  havingInput: (o: ObjectModel): string => `${pascal(o.name)}Having`,
  /** Per-field `having` conditions of one function kind (`OpportunityHavingNumbers`, `OpportunityHavingExtremes`). */
  havingFieldsInput: (o: ObjectModel, kind: 'Numbers' | 'Extremes'): string => `${pascal(o.name)}Having${kind}`,
  /** Aggregates of a parent's children (`account.opportunitiesAggregate`). */
  childAggregateField: (reverseName: string): string => `${reverseName}Aggregate`,
  sortFieldEnum: (o: ObjectModel): string => `${pascal(o.name)}SortField`,
  sortFieldValue: (column: string): string => column.toUpperCase(),
  createInput: (o: ObjectModel): string => `${pascal(o.name)}CreateInput`,
  updateInput: (o: ObjectModel): string => `${pascal(o.name)}UpdateInput`,
  createMutation: (o: ObjectModel): string => `create${pascal(o.name)}`,
  updateMutation: (o: ObjectModel): string => `update${pascal(o.name)}`,
  deleteMutation: (o: ObjectModel): string => `delete${pascal(o.name)}`,
  restoreMutation: (o: ObjectModel): string => `restore${pascal(o.name)}`,
  purgeMutation: (o: ObjectModel): string => `purge${pascal(o.name)}`,
  /** The trash of an object with `enable.trash` (`trashedAccounts`). */
  trashField: (o: ObjectModel): string => camel(`trashed_${pluralize(o.name)}`),
  transferMutation: (o: ObjectModel): string => `transfer${pascal(o.name)}`,
  changedSubscription: (o: ObjectModel): string => `${camel(o.name)}Changed`,
  changeType: (o: ObjectModel): string => `${pascal(o.name)}Change`,
  enumType: (o: ObjectModel, f: FieldModel): string => `${pascal(o.name)}${pascal(f.name)}`,
  enumFilter: (enumType: string, list: boolean): string => `${enumType}${list ? 'ListFilter' : 'Filter'}`,
  /** GraphQL name of a stored field; for a relation, the field that resolves to the related record. */
  fieldName: (f: FieldModel): string => camel(f.name),
  /** GraphQL name of the raw foreign key of a relation field (`account` → `accountId`). */
  relationIdField: (f: FieldModel): string => `${camel(f.name)}Id`,
  reverseRelation: (child: ObjectModel, f: FieldModel & { relationshipName?: string }): string =>
    camel(f.relationshipName ?? pluralize(child.name)),
  tableName: (o: ObjectModel): string => o.name,
  columnName: (f: FieldModel): string => (f.type === 'lookup' || f.type === 'master_detail' ? `${f.name}_id` : f.name),
  /**
   * A helper type every object shares (`StringFilter`, `SortDirection`, `ChangeOperation`,
   * `AccessExplanation`…). Scalars and `PageInfo` (@shareable) are never renamed.
   */
  sharedType: (name: string): string => name,
  /** A root field that is not an object's (`explainAccess`, `recordShares`, `shareRecord`, `unshareRecord`). */
  sharedField: (name: string): string => name,
};

export type Inflection = typeof defaultInflection;

/** The object-derived functions: they name an object's types and root fields (not its table or columns). */
const OBJECT_NAMES = [
  'typeName', 'singleField', 'listField', 'connectionType', 'edgeType', 'whereInput', 'relationFilterInput', 'orderByInput', 'bulkCreateMutation', 'bulkUpdateMutation', 'bulkDeleteMutation', 'upsertMutation', 'bulkResultType', 'upsertResultType', 'upsertKeyEnum', 'aggregatesType', 'groupType', 'groupKeyType', 'groupByInput', 'groupFieldEnum', 'havingInput', 'sortFieldEnum',
  'createInput', 'updateInput', 'createMutation', 'updateMutation', 'deleteMutation', 'changedSubscription', 'changeType',
  'restoreMutation', 'purgeMutation', 'trashField', 'transferMutation',
] as const;

/**
 * The inflection with every generated GraphQL name prefixed, so the data subgraph composes beside
 * subgraphs that have their own `Account`, `accounts` or `StringFilter`: prefix `crm` names the types
 * `CrmAccount`, `CrmAccountConnection`, `CrmStringFilter`…, the root fields `crmAccount`,
 * `crmAccounts`, `createCrmAccount`, `crmAccountChanged`, `crmExplainAccess`…. Tables, columns and
 * field names inside types are unchanged. The prefix is a snake_case or camelCase word.
 */
export function prefixedInflection(prefix: string, base: Inflection = defaultInflection): Inflection {
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(prefix)) throw new Error(`the name prefix must be letters and digits, starting with a letter, got "${prefix}"`);
  const word = prefix[0]!.toLowerCase() + prefix.slice(1);
  const Word = prefix[0]!.toUpperCase() + prefix.slice(1);
  const renamed = (o: ObjectModel): ObjectModel => ({ ...o, name: `${word}_${o.name}` });
  const wrapped = Object.fromEntries(OBJECT_NAMES.map((k) => [k, (o: ObjectModel) => (base[k] as (o: ObjectModel) => string)(renamed(o))]));
  return {
    ...base,
    ...wrapped,
    enumType: (o, f) => base.enumType(renamed(o), f),
    aggregateFieldsType: (o, kind) => base.aggregateFieldsType(renamed(o), kind),
    childWritesInput: (o, r) => base.childWritesInput(renamed(o), r),
    childCreateInput: (o, r) => base.childCreateInput(renamed(o), r),
    havingFieldsInput: (o, kind) => base.havingFieldsInput(renamed(o), kind),
    sharedType: (name) => Word + base.sharedType(name),
    sharedField: (name) => word + pascal(base.sharedField(name)),
  };
}
