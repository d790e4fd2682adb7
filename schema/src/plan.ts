import type { ApiMethod, ComputedModel, FieldModel, FieldType, ObjectModel } from '@objectos/metadata';

/**
 * A stored column as the API sees it. System columns (`id`, `created_at`, `updated_at`, `version`) have
 * `field: null`. `version` counts the record's updates (optimistic concurrency): an integer, never a field type.
 */
export interface ColumnPlan {
  /** Metadata name (`annual_revenue`, `account`, or a system name like `created_at`). */
  name: string;
  /** Name in GraphQL outputs, `where`, inputs (`annualRevenue`; `accountId` for a relation). */
  graphqlName: string;
  /** The stored column ('' for a computed field: it has none). */
  column: string;
  /** For a computed field, the type of its value (`number`, `currency`, `text`…). */
  type: Exclude<FieldType, 'formula' | 'summary'> | 'id' | 'version';
  filterInput: string;
  /** `SortField` enum value, when the column can be sorted on. */
  sortValue: string | null;
  field: FieldModel | null;
  /** A formula or roll-up field: computed in SQL when read (see the data subgraph's sql/computed.ts). */
  computed?: ComputedModel;
}

export interface RelationPlan {
  /** GraphQL field resolving to the related record (`account`). */
  graphqlName: string;
  column: string;
  target: string;
  field: FieldModel;
}

export interface ReverseRelationPlan {
  /** GraphQL field on the parent listing children (`contacts`). */
  graphqlName: string;
  child: string;
  column: string;
  field: FieldModel;
}

export interface ObjectPlan {
  object: ObjectModel;
  typeName: string;
  table: string;
  singleField: string;
  listField: string;
  createMutation: string;
  updateMutation: string;
  deleteMutation: string;
  /** With `enable.trash`: brings a record back from the trash (`restoreAccount`). */
  restoreMutation: string;
  /** With `enable.trash`: deletes a record in the trash for good (`purgeAccount`). */
  purgeMutation: string;
  /** With `enable.trash`: the records in the trash, as a connection (`trashedAccounts`). */
  trashField: string;
  /** Gives a record another owner (`transferAccount`); generated with `update`. */
  transferMutation: string;
  /** Subscription field delivering this object's change events (`accountChanged`). */
  changedSubscription: string;
  /** The change event type (`AccountChange`). */
  changeType: string;
  methods: readonly ApiMethod[];
  /** Stored columns: what tables, inputs and aggregates are made of. */
  columns: ColumnPlan[];
  /** Formula and roll-up fields: read, filtered and sorted like columns, never stored or written. */
  computed: ColumnPlan[];
  relations: RelationPlan[];
  reverse: ReverseRelationPlan[];
}

/** Everything the data subgraph needs to resolve the compiled SDL, keyed by object name. */
export interface DataPlan {
  hash: string;
  objects: Record<string, ObjectPlan>;
  /** GraphQL type name → object name. */
  byType: Record<string, string>;
}
