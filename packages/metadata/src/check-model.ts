import pluralize from 'pluralize';
import { RESERVED_FIELD_NAMES, RESERVED_OBJECT_NAMES } from './model.ts';
import { checkValidations, type ValidationModel } from './check-validations.ts';
import { checkComputed, isComputed, type ComputedModel } from './check-computed.ts';
import type { ObjectDefinition } from './object-schema.ts';
import type { Report } from './parse-metadata.ts';

interface Entry {
  object: ObjectDefinition;
  report: Report;
}

/**
 * Checks what a per-file schema cannot: references between objects, contradictions between options,
 * duplicates and reserved names. Every problem is reported; nothing is thrown. Returns each object's
 * validation rules with their conditions parsed, and its computed fields checked, by object name.
 */
export function checkModel(entries: readonly Entry[]): { validations: Map<string, ValidationModel[]>; computed: Map<string, Map<string, ComputedModel>> } {
  const byName = new Map<string, Entry>();
  for (const entry of entries) {
    const { object, report } = entry;
    if (byName.has(object.name)) report(['name'], `duplicate object name "${object.name}" (also declared in another file)`);
    else byName.set(object.name, entry);
    if (RESERVED_OBJECT_NAMES.includes(object.name)) report(['name'], `"${object.name}" is a reserved object name`);
  }
  const validations = new Map<string, ValidationModel[]>();
  for (const { object, report } of entries) validations.set(object.name, checkObject(object, report, byName));
  checkReverseRelationships(entries, byName);
  return { validations, computed: checkComputed(byName) };
}

function checkObject(object: ObjectDefinition, report: Report, objects: Map<string, Entry>): ValidationModel[] {
  const fieldNames = new Set(Object.keys(object.fields));
  for (const [name, field] of Object.entries(object.fields)) {
    const at = ['fields', name];
    if (RESERVED_FIELD_NAMES.includes(name)) report(['fields'], `"${name}" is a reserved field name (the runtime provides it)`, name);
    if ('min' in field && field.min !== undefined && field.max !== undefined && field.min > field.max)
      report([...at, 'min'], `min (${field.min}) is greater than max (${field.max})`);
    if ('minLength' in field && field.minLength !== undefined && field.maxLength !== undefined && field.minLength > field.maxLength)
      report([...at, 'minLength'], `minLength (${field.minLength}) is greater than maxLength (${field.maxLength})`);
    if ('scale' in field && field.scale !== undefined && field.scale > (field.precision ?? 38))
      report([...at, 'scale'], `scale (${field.scale}) is greater than precision (${field.precision ?? 38})`);
    if ('defaultValue' in field && field.defaultValue !== undefined && 'maxLength' in field && field.maxLength !== undefined
      && typeof field.defaultValue === 'string' && field.defaultValue.length > field.maxLength)
      report([...at, 'defaultValue'], `defaultValue is longer than maxLength (${field.maxLength})`);
    if (field.type === 'select' || field.type === 'multiselect') {
      const values = field.options.map((o) => o.value);
      values.forEach((v, i) => {
        if (values.indexOf(v) !== i) report([...at, 'options', i, 'value'], `duplicate option value "${v}"`);
      });
      const defaults = field.defaultValue === undefined ? [] : Array.isArray(field.defaultValue) ? field.defaultValue : [field.defaultValue];
      for (const d of defaults) if (!values.includes(d)) report([...at, 'defaultValue'], `defaultValue "${d}" is not one of the options (${values.join(', ')})`);
    }
    if (field.trackHistory && !object.enable.trackHistory)
      report([...at, 'trackHistory'], `field history needs the object's history on: set enable.trackHistory: true on ${object.name}`);
    if (field.readonly && field.required && field.type !== 'autonumber' && !('defaultValue' in field && field.defaultValue !== undefined))
      report([...at, 'readonly'], 'a readonly required field needs a defaultValue: no input can ever set it');
    if (field.type === 'date' && field.defaultValue !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(field.defaultValue))
      report([...at, 'defaultValue'], `defaultValue "${field.defaultValue}" is not a date (YYYY-MM-DD)`);
    if (field.type === 'datetime' && field.defaultValue !== undefined && field.defaultValue !== 'now' && Number.isNaN(Date.parse(field.defaultValue)))
      report([...at, 'defaultValue'], `defaultValue "${field.defaultValue}" is not an ISO date-time or "now"`);
    if (field.type === 'lookup' || field.type === 'master_detail') {
      if (!objects.has(field.reference)) report([...at, 'reference'], `${field.type} references unknown object "${field.reference}"`);
      if (field.type === 'master_detail' && field.deleteBehavior === 'set_null')
        report([...at, 'deleteBehavior'], 'a master_detail child cannot outlive its parent: deleteBehavior must be cascade or restrict');
      if (field.type === 'lookup' && field.required && field.deleteBehavior === 'set_null')
        report([...at, 'deleteBehavior'], 'a required lookup cannot use deleteBehavior set_null');
    }
  }
  const indexNames = new Set<string>();
  object.indexes.forEach((index, i) => {
    if (indexNames.has(index.name)) report(['indexes', i, 'name'], `duplicate index name "${index.name}"`);
    indexNames.add(index.name);
    index.fields.forEach((f, j) => {
      if (!fieldNames.has(f) && !['created_at', 'updated_at'].includes(f)) report(['indexes', i, 'fields', j], `index refers to unknown field "${f}"`);
      else if (object.fields[f] && isComputed(object.fields[f])) report(['indexes', i, 'fields', j], `index refers to ${f}, a ${object.fields[f].type} field: computed when read, it has no column to index`);
    });
  });
  if (object.displayNameField !== undefined && !fieldNames.has(object.displayNameField))
    report(['displayNameField'], `displayNameField refers to unknown field "${object.displayNameField}"`);
  else if (object.displayNameField !== undefined && isComputed(object.fields[object.displayNameField]!))
    report(['displayNameField'], `displayNameField cannot be ${object.displayNameField}, a computed field: name a stored field`);
  if (object.sharingModel === 'controlled_by_parent' && !Object.values(object.fields).some((f) => f.type === 'master_detail'))
    report(['sharingModel'], 'sharingModel controlled_by_parent needs a master_detail field');
  return checkValidations(object, report);
}

/** Reverse relationship names (`account.contacts`) must not collide with each other or with fields. */
function checkReverseRelationships(entries: readonly Entry[], objects: Map<string, Entry>): void {
  const taken = new Map<string, string>(); // "parent.rel" -> "child.field"
  for (const { object, report } of entries) {
    for (const [name, field] of Object.entries(object.fields)) {
      if (field.type !== 'lookup' && field.type !== 'master_detail') continue;
      const parent = objects.get(field.reference);
      if (!parent) continue;
      const rel = field.relationshipName ?? pluralize(object.name);
      const key = `${field.reference}.${rel}`;
      if (parent.object.fields[rel] !== undefined)
        report(['fields'], `reverse relationship "${rel}" on "${field.reference}" collides with its field "${rel}"; set relationshipName`, name);
      else if (taken.has(key))
        report(['fields'], `reverse relationship "${rel}" on "${field.reference}" is already used by ${taken.get(key)}; set relationshipName`, name);
      else taken.set(key, `${object.name}.${name}`);
    }
  }
}
