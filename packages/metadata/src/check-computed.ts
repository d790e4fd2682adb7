import type { FieldDefinition, FormulaReturnType } from './field-schema.ts';
import { FormulaError, formulaRefs, parseFormula, type FormulaNode, type FormulaScope, type ValueType } from './formula.ts';
import type { ObjectDefinition } from './object-schema.ts';
import type { Report } from './parse-metadata.ts';

/** A field a computed field reads (a system column such as `id` included): it is readable only when they all are. */
export interface FieldDep {
  object: string;
  field: string;
}

/** The plan type of a computed field: a field type name its GraphQL type and filter follow. */
export type ComputedType = FormulaReturnType;

/** A computed field as the runtime compiles it: its expression parsed, typed and checked at load. */
export type ComputedModel =
  | { kind: 'formula'; type: ComputedType; expr: FormulaNode; deps: FieldDep[] }
  | {
    kind: 'summary'; type: ComputedType; fn: 'count' | 'sum' | 'min' | 'max' | 'avg';
    /** The child object, its lookup to this one, the field aggregated (null: count the children) and the filter. */
    child: string; via: string; field: string | null; filter: FormulaNode | null; deps: FieldDep[];
  };

export const isComputed = (f: FieldDefinition): f is Extract<FieldDefinition, { type: 'formula' | 'summary' }> => f.type === 'formula' || f.type === 'summary';

const SYSTEM_TYPES: Record<string, ValueType> = { id: 'text', owner_id: 'text', created_at: 'datetime', updated_at: 'datetime' };
const VALUE_TYPE: Partial<Record<FieldDefinition['type'], ValueType>> = {
  text: 'text', textarea: 'text', email: 'text', url: 'text', phone: 'text', select: 'text', autonumber: 'text', lookup: 'text', master_detail: 'text',
  number: 'number', currency: 'number', percent: 'number', boolean: 'boolean', date: 'date', datetime: 'datetime',
};
const valueOf = (t: ComputedType): ValueType => (t === 'currency' || t === 'percent' ? 'number' : t);
/** Options that make sense only for a stored column. */
const STORED_ONLY = ['required', 'unique', 'index', 'searchable', 'externalId', 'trackHistory'] as const;

interface Entry {
  object: ObjectDefinition;
  report: Report;
}

/**
 * Checks every formula and roll-up field against the objects: what it names exists and can be read, types
 * agree, a roll-up reads a real child, and no computed field depends on itself (directly, through a lookup or
 * through a roll-up). Every problem is reported at its path; returns the models by object, then field.
 */
export function checkComputed(objects: ReadonlyMap<string, Entry>): Map<string, Map<string, ComputedModel>> {
  const done = new Map<string, ComputedModel>();
  const model = (object: string, field: string, stack: readonly string[]): ComputedModel => {
    const key = `${object}.${field}`;
    const cached = done.get(key);
    if (cached) return cached;
    if (stack.includes(key)) throw new FormulaError(`formula cycle: ${[...stack.slice(stack.indexOf(key)), key].join(' → ')} (a computed field cannot depend on itself)`);
    const def = objects.get(object)!.object.fields[field]!;
    const scope = scopeFor(objects, (o, f) => model(o, f, [...stack, key]));
    const m = def.type === 'formula' ? formula(def, object, scope) : summary(def as Extract<FieldDefinition, { type: 'summary' }>, object, objects, scope);
    done.set(key, m);
    return m;
  };
  const out = new Map<string, Map<string, ComputedModel>>();
  for (const [name, { object, report }] of objects) {
    const models = new Map<string, ComputedModel>();
    for (const [field, def] of Object.entries(object.fields)) {
      if (!isComputed(def)) continue;
      for (const option of STORED_ONLY)
        if (def[option]) report(['fields', field, option], `${name}.${field} is a ${def.type} field, computed when read and never stored: it cannot be ${option}`);
      try {
        models.set(field, model(name, field, []));
      } catch (e) {
        if (!(e instanceof FormulaError)) throw e;
        report(['fields', field, def.type === 'formula' ? 'expression' : 'summaryOperations'], `${name}.${field}: ${e.message}`);
      }
    }
    out.set(name, models);
  }
  return out;
}

function scopeFor(objects: ReadonlyMap<string, Entry>, computed: (object: string, field: string) => ComputedModel): FormulaScope {
  const def = (object: string, field: string) => (Object.hasOwn(objects.get(object)?.object.fields ?? {}, field) ? objects.get(object)!.object.fields[field] : undefined);
  return {
    fieldType(object, field) {
      const f = def(object, field);
      if (!f) return SYSTEM_TYPES[field] ?? { error: `${object} has no field "${field}"` };
      if (isComputed(f)) return valueOf(computed(object, field).type);
      return VALUE_TYPE[f.type] ?? { error: `${object}.${field} is a ${f.type} field: formulas read text, numbers, booleans, dates and date-times` };
    },
    lookupTarget(object, field) {
      const f = def(object, field);
      return f && (f.type === 'lookup' || f.type === 'master_detail') && objects.has(f.reference) ? f.reference : null;
    },
  };
}

const depsOf = (expr: FormulaNode): FieldDep[] =>
  formulaRefs(expr).flatMap((r) => [...r.hops, { object: r.object, field: r.field }]);

function formula(def: Extract<FieldDefinition, { type: 'formula' }>, object: string, scope: FormulaScope): ComputedModel {
  const expr = parseFormula(def.expression, object, scope);
  if (expr.type === 'null') throw new FormulaError('the expression is always NULL');
  if (def.returnType && valueOf(def.returnType) !== expr.type) throw new FormulaError(`returnType is ${def.returnType} but the expression yields ${expr.type}`);
  return { kind: 'formula', type: def.returnType ?? expr.type, expr, deps: depsOf(expr) };
}

function summary(def: Extract<FieldDefinition, { type: 'summary' }>, object: string, objects: ReadonlyMap<string, Entry>, scope: FormulaScope): ComputedModel {
  const op = def.summaryOperations;
  const child = objects.get(op.object)?.object;
  if (!child) throw new FormulaError(`summaryOperations.object: unknown object "${op.object}"`);
  const links = Object.entries(child.fields).filter(([, f]) => (f.type === 'lookup' || f.type === 'master_detail') && f.reference === object).map(([n]) => n);
  if (links.length === 0)
    throw new FormulaError(`summaryOperations.object: ${op.object} is not a child of ${object} (none of its lookup or master_detail fields references ${object}); a roll-up reads child records`);
  if (op.relationship !== undefined && !links.includes(op.relationship))
    throw new FormulaError(`summaryOperations.relationship: ${op.object}.${op.relationship} is not a lookup to ${object} (those are: ${links.join(', ')})`);
  if (op.relationship === undefined && links.length > 1)
    throw new FormulaError(`summaryOperations.relationship: ${op.object} has several lookups to ${object} (${links.join(', ')}): name the one to roll up through`);
  const via = op.relationship ?? links[0]!;
  if (op.field === undefined && op.function !== 'count') throw new FormulaError(`summaryOperations.field: ${op.function} needs the child field it aggregates`);
  let type: ComputedType = 'number';
  if (op.field !== undefined) {
    const t = scope.fieldType(op.object, op.field);
    if (typeof t !== 'string') throw new FormulaError(`summaryOperations.field: ${t.error}`);
    const stored = child.fields[op.field]?.type;
    const numeric: ComputedType = stored === 'currency' || stored === 'percent' ? stored : 'number';
    if ((op.function === 'sum' || op.function === 'avg') && t !== 'number')
      throw new FormulaError(`summaryOperations.field: ${op.function} needs a number field; ${op.object}.${op.field} is ${t}`);
    if ((op.function === 'min' || op.function === 'max') && t !== 'number' && t !== 'date' && t !== 'datetime')
      throw new FormulaError(`summaryOperations.field: ${op.function} needs a number, date or date-time field; ${op.object}.${op.field} is ${t}`);
    if (op.function !== 'count') type = t === 'number' ? numeric : (t as ComputedType);
  }
  let filter: FormulaNode | null = null;
  if (op.filter !== undefined) {
    try {
      filter = parseFormula(op.filter, op.object, scope);
    } catch (e) {
      if (e instanceof FormulaError && !e.message.startsWith('formula cycle')) throw new FormulaError(`summaryOperations.filter: ${e.message}`);
      throw e;
    }
    if (filter.type !== 'boolean' && filter.type !== 'null') throw new FormulaError(`summaryOperations.filter must be a condition (true or false), not ${filter.type}`);
  }
  const deps: FieldDep[] = [{ object: op.object, field: via }, ...(op.field ? [{ object: op.object, field: op.field }] : []), ...(filter ? depsOf(filter) : [])];
  return { kind: 'summary', type, fn: op.function, child: op.object, via, field: op.field ?? null, filter, deps };
}
