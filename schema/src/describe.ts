import type { ApiMethod, FieldModel, FieldType } from '@objectos/metadata';
import type { ColumnPlan, DataPlan, ObjectPlan } from './plan.ts';
import { searchColumns } from './search-plan.ts';
import type { Access, ObjectAccess } from './security/access.ts';

/**
 * Metadata discovery: the objects and fields one principal may read, described for clients (ObjectUI
 * forms and lists, SDK generators). The one builder behind `GET /api/v1/meta/objects[/:name]` (gateway)
 * and the `objects` / `object(name)` queries (data subgraph), so the two cannot disagree.
 *
 * What the principal cannot read is not described at all: an object without read permission is
 * absent (and asked by name answers exactly like an unknown one), a field it cannot read is left out,
 * a lookup names its target only when that object is readable too. Security configuration (sharing
 * model, permission sets, RLS) is not described: `explainAccess` answers why, record by record.
 */

export interface SelectOptionDescription {
  label: string;
  /** The stored value, and the GraphQL enum value. */
  value: string;
  color: string | null;
  /** The field's defaultValue is (or, multiselect, includes) this option. */
  default: boolean;
}

export interface FieldDescription {
  /** Metadata name (`annual_revenue`, `account`). */
  name: string;
  /** Name in GraphQL outputs, `where` and inputs (`annualRevenue`; `accountId` for a lookup). */
  graphqlName: string;
  label: string;
  description: string | null;
  /** Spec field type (`text`, `currency`, `lookup`…). */
  type: FieldType;
  required: boolean;
  unique: boolean;
  /** Its words are found by `search` (the object is searchable and the field is). */
  searchable: boolean;
  /** Spec `hidden`: a UI hint (not security; an unreadable field is not described at all). */
  hidden: boolean;
  /** No input can set it, for anyone (metadata `readonly`, autonumbers). */
  readonly: boolean;
  /** This principal may set it in create and update inputs (what the data subgraph checks on writes). */
  editable: boolean;
  defaultValue: unknown;
  minLength: number | null;
  maxLength: number | null;
  min: number | null;
  max: number | null;
  precision: number | null;
  scale: number | null;
  /** select / multiselect: the options, in declaration order. */
  options: SelectOptionDescription[] | null;
  /** lookup / master_detail: the referenced object, when this principal can read it (else null). */
  reference: string | null;
  /** lookup / master_detail: the GraphQL field resolving to the referenced record (`account`), with `reference`. */
  relationField: string | null;
  /** formula: its expression. */
  expression: string | null;
  /** summary: the spec roll-up (child object, field, function, and the relationship and filter when given). */
  summaryOperations: Record<string, string> | null;
  /** formula and summary: the type of the value. */
  returnType: string | null;
}

/** Children listed under a record (`Account.contacts`): only children this principal can read, by a lookup it can read. */
export interface ChildRelationshipDescription {
  /** The GraphQL field on the parent (`contacts`). */
  name: string;
  /** The child object (`contact`). */
  object: string;
  /** The child's lookup field (`account`). */
  field: string;
}

/** The GraphQL names generated for an object (null: that operation is not generated for it). */
export interface ObjectGraphQLNames {
  typeName: string;
  singleField: string | null;
  listField: string | null;
  trashField: string | null;
  createMutation: string | null;
  updateMutation: string | null;
  deleteMutation: string | null;
  restoreMutation: string | null;
  purgeMutation: string | null;
  transferMutation: string | null;
  changedSubscription: string | null;
}

export interface ObjectDescription {
  name: string;
  label: string;
  pluralLabel: string;
  description: string | null;
  icon: string | null;
  /** The field naming a record, when this principal can read it. */
  displayNameField: string | null;
  /** Spec `enable` flags a client acts on. */
  enable: { trash: boolean; searchable: boolean; trackHistory: boolean; apiMethods: ApiMethod[] };
  /** What this principal may do with the object's records (record-level sharing still applies per record). */
  permissions: { read: boolean; create: boolean; edit: boolean; delete: boolean };
  graphql: ObjectGraphQLNames;
  /** The fields this principal can read, in declaration order. */
  fields: FieldDescription[];
  childRelationships: ChildRelationshipDescription[];
}

/** The access the description reads: an object's, or none for an unknown one. */
const objectAccess = (access: Access, name: string): ObjectAccess | undefined =>
  Object.hasOwn(access.objects, name) ? access.objects[name] : undefined;

/** Described: exposed in the API (some method generated) and readable by this principal. */
function describable(plan: DataPlan, access: Access, name: string): ObjectPlan | null {
  const p = Object.hasOwn(plan.objects, name) ? plan.objects[name] : undefined;
  if (!p || p.methods.length === 0) return null;
  return objectAccess(access, name)?.read ? p : null;
}

const fieldReadable = (a: ObjectAccess, f: FieldModel): boolean => a.fields[f.name]?.readable ?? false;

/** A number property of a field, when its type has it and it is set. */
const num = (f: FieldModel, key: 'minLength' | 'maxLength' | 'min' | 'max' | 'precision' | 'scale'): number | null => {
  const v = (f as Partial<Record<typeof key, unknown>>)[key];
  return typeof v === 'number' ? v : null;
};

function describeField(plan: DataPlan, access: Access, p: ObjectPlan, c: ColumnPlan & { field: FieldModel }, searched: ReadonlySet<string>): FieldDescription {
  const f = c.field;
  const a = objectAccess(access, p.object.name)!;
  const readonly = f.readonly || f.type === 'autonumber';
  const relation = f.type === 'lookup' || f.type === 'master_detail' ? p.relations.find((r) => r.column === c.column) ?? null : null;
  // A target the principal cannot read (or that has no API) is not named: the field reads as an id only.
  const target = relation && describable(plan, access, relation.target) ? relation : null;
  // An option is a default when the field's defaultValue (what a create applies) names it.
  const defaults: unknown[] = 'defaultValue' in f ? [f.defaultValue].flat() : [];
  const options = f.type === 'select' || f.type === 'multiselect'
    ? f.options.map((o) => ({ label: o.label, value: o.value, color: o.color ?? null, default: defaults.includes(o.value) }))
    : null;
  return {
    name: f.name,
    graphqlName: c.graphqlName,
    label: f.label,
    description: f.description ?? null,
    type: f.type,
    required: f.required,
    unique: f.unique,
    searchable: searched.has(f.name),
    hidden: f.hidden,
    readonly,
    editable: !readonly && (a.fields[f.name]?.editable ?? false),
    defaultValue: 'defaultValue' in f && f.defaultValue !== undefined ? f.defaultValue : null,
    minLength: num(f, 'minLength'),
    maxLength: num(f, 'maxLength'),
    min: num(f, 'min'),
    max: num(f, 'max'),
    precision: num(f, 'precision'),
    scale: num(f, 'scale'),
    options,
    reference: target?.target ?? null,
    relationField: target?.graphqlName ?? null,
    expression: f.type === 'formula' ? f.expression : null,
    summaryOperations: f.type === 'summary' ? { ...f.summaryOperations } : null,
    returnType: f.computed?.type ?? null,
  };
}

function graphqlNames(p: ObjectPlan): ObjectGraphQLNames {
  const has = (m: ApiMethod) => p.methods.includes(m);
  const when = (m: boolean, name: string) => (m ? name : null);
  return {
    typeName: p.typeName,
    singleField: when(has('get'), p.singleField),
    listField: when(has('list'), p.listField),
    trashField: when(has('restore') || has('purge'), p.trashField),
    createMutation: when(has('create'), p.createMutation),
    updateMutation: when(has('update'), p.updateMutation),
    deleteMutation: when(has('delete'), p.deleteMutation),
    restoreMutation: when(has('restore'), p.restoreMutation),
    purgeMutation: when(has('purge'), p.purgeMutation),
    // Owner transfer comes with update; change events with list (see the mutations and subscriptions plugins).
    transferMutation: when(has('update'), p.transferMutation),
    changedSubscription: when(has('list'), p.changedSubscription),
  };
}

function describe(plan: DataPlan, access: Access, p: ObjectPlan): ObjectDescription {
  const o = p.object;
  const a = objectAccess(access, o.name)!;
  const searched = new Set(searchColumns(p).map((s) => s.c.name));
  const order = new Map(o.fields.map((f, i) => [f.name, i]));
  const fields = [...p.columns, ...p.computed]
    .filter((c): c is ColumnPlan & { field: FieldModel } => c.field !== null && fieldReadable(a, c.field))
    .sort((x, y) => order.get(x.field.name)! - order.get(y.field.name)!)
    .map((c) => describeField(plan, access, p, c, searched));
  // Listing children by parent reveals their lookup: the child's read and that field's (as the gateway decides).
  const childRelationships = p.reverse.flatMap((r) => {
    const child = describable(plan, access, r.child);
    if (!child?.methods.includes('list') || !fieldReadable(objectAccess(access, r.child)!, r.field)) return [];
    return [{ name: r.graphqlName, object: r.child, field: r.field.name }];
  });
  return {
    name: o.name,
    label: o.label,
    pluralLabel: o.pluralLabel,
    description: o.description ?? null,
    icon: o.icon ?? null,
    displayNameField: fields.some((f) => f.name === o.displayNameField) ? o.displayNameField : null,
    enable: { trash: o.enable.trash, searchable: searchColumns(p).length > 0, trackHistory: o.enable.trackHistory, apiMethods: [...p.methods] },
    permissions: { read: a.read, create: a.create, edit: a.edit, delete: a.delete },
    graphql: graphqlNames(p),
    fields,
    childRelationships,
  };
}

/** Every object this principal can read, by name, each with only the fields it can read. */
export function describeObjects(plan: DataPlan, access: Access): ObjectDescription[] {
  return Object.keys(plan.objects)
    .sort()
    .flatMap((name) => {
      const p = describable(plan, access, name);
      return p ? [describe(plan, access, p)] : [];
    });
}

/**
 * One object by metadata name; null when there is none or this principal cannot read it (the same
 * answer: asking by name reveals nothing an unauthorized principal could not already see).
 */
export function describeObject(plan: DataPlan, access: Access, name: string): ObjectDescription | null {
  const p = describable(plan, access, name);
  return p ? describe(plan, access, p) : null;
}
