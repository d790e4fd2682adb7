import { parseFilter, parseSql, type RuleCondition, type RuleOperand } from './condition.ts';
import type { FieldDefinition, FieldType } from './field-schema.ts';

export type { RuleCondition, RuleOperand } from './condition.ts';

/**
 * Parses workflow rule criteria: the record condition language (SQL-ish text or the filter object
 * form) plus `ISCHANGED(field)`, `PRIORVALUE(field)` and `ISNEW()`, type checked against the
 * object's fields. `current_user.*` is refused (rules run on committed changes, not for a user).
 * Throws `ConditionError` naming the problem.
 */
export function parseRuleCriteria(input: string | Record<string, unknown>, lookup: { fields: ReadonlyMap<string, FieldDefinition> }): RuleCondition {
  const ctx = { fields: lookup.fields, rule: true };
  return typeof input === 'string' ? parseSql(input, ctx) : parseFilter(input, ctx);
}

/** Fields criteria name, inside ISCHANGED and PRIORVALUE too. */
export function ruleConditionFields(c: RuleCondition): string[] {
  const out = new Set<string>();
  const op = (o: RuleOperand) => (o.kind === 'field' || o.kind === 'prior') && out.add(o.name);
  const walk = (x: RuleCondition): void => {
    switch (x.op) {
      case 'and': case 'or': x.args.forEach(walk); break;
      case 'not': walk(x.arg); break;
      case 'in': [x.left, ...x.values].forEach(op); break;
      case 'isNull': op(x.arg); break;
      case 'changed': out.add(x.field); break;
      case 'const': case 'isNew': break;
      default: [x.left, x.right].forEach(op);
    }
  };
  walk(c);
  return [...out];
}

/** What criteria are evaluated on; records are keyed by metadata field names (plus id, owner_id, created_at, updated_at). */
export interface RuleEvaluationInput {
  /** The record after the change; null on delete (fields then read the deleted record, `previous`). */
  record: Readonly<Record<string, unknown>> | null;
  /** The record before the change; null on create. */
  previous: Readonly<Record<string, unknown>> | null;
  fields: ReadonlyMap<string, FieldDefinition>;
}

/** SQL's three values: null is unknown. */
type Truth = boolean | null;
type Scalar = string | number | boolean | null;

const SYSTEM_TYPES: Record<string, FieldType> = { id: 'text', owner_id: 'text', created_at: 'datetime', updated_at: 'datetime' };
const NUMERIC: readonly FieldType[] = ['number', 'currency', 'percent'];

/**
 * Evaluates criteria with SQL semantics: a comparison with null is unknown, unknown propagates
 * through AND/OR/NOT, and only true at the top passes (`NOT (x = 'a')` is false when x is null).
 * Values are coerced by field type: numbers may arrive as numeric strings (`'1500.00'`), dates
 * compare as `YYYY-MM-DD`, date-times as instants.
 */
export function evaluateRuleCondition(c: RuleCondition, input: RuleEvaluationInput): boolean {
  return truth(c, input) === true;
}

function truth(c: RuleCondition, input: RuleEvaluationInput): Truth {
  switch (c.op) {
    case 'and': {
      const values = c.args.map((a) => truth(a, input));
      return values.includes(false) ? false : values.includes(null) ? null : true;
    }
    case 'or': {
      const values = c.args.map((a) => truth(a, input));
      return values.includes(true) ? true : values.includes(null) ? null : false;
    }
    case 'not': {
      const v = truth(c.arg, input);
      return v === null ? null : !v;
    }
    case 'const':
      return c.value;
    case 'isNew':
      return input.previous === null && input.record !== null;
    case 'changed': {
      if (input.previous === null || input.record === null) return false;
      const type = typeOf(c.field, input.fields);
      return JSON.stringify(normalise(input.previous[c.field], type)) !== JSON.stringify(normalise(input.record[c.field], type));
    }
    case 'isNull':
      return valueOf(c.arg, input, typeOfOperand(c.arg, input.fields)) === null;
    case 'in': {
      const type = typeOfOperand(c.left, input.fields);
      const left = scalar(valueOf(c.left, input, type));
      if (left === null) return null;
      let unknown = false;
      for (const v of c.values) {
        const right = scalar(valueOf(v, input, type));
        if (right === null) unknown = true;
        else if (right === left) return true;
      }
      return unknown ? null : false;
    }
    default: {
      const type = typeOfOperand(c.left, input.fields) ?? typeOfOperand(c.right, input.fields);
      const left = scalar(valueOf(c.left, input, type));
      const right = scalar(valueOf(c.right, input, type));
      // Unknown, as in SQL; values of different types (only reachable without the parser's checks) too.
      if (left === null || right === null || typeof left !== typeof right) return null;
      switch (c.op) {
        case 'eq': return left === right;
        case 'ne': return left !== right;
        case 'gt': return left > right;
        case 'gte': return left >= right;
        case 'lt': return left < right;
        case 'lte': return left <= right;
      }
    }
  }
}

function typeOf(name: string, fields: ReadonlyMap<string, FieldDefinition>): FieldType | undefined {
  return fields.get(name)?.type ?? SYSTEM_TYPES[name];
}

function typeOfOperand(o: RuleOperand, fields: ReadonlyMap<string, FieldDefinition>): FieldType | undefined {
  return o.kind === 'field' || o.kind === 'prior' ? typeOf(o.name, fields) : undefined;
}

/** An operand's normalised value (null when absent). */
function valueOf(o: RuleOperand, input: RuleEvaluationInput, type: FieldType | undefined): unknown {
  switch (o.kind) {
    case 'value':
      return normalise(o.value, type);
    case 'field':
      return normalise((input.record ?? input.previous)?.[o.name], type);
    case 'prior':
      return normalise(input.previous?.[o.name], type);
    case 'var':
      throw new Error(`current_user.${o.name} has no value in rule criteria`);
  }
}

/** Comparisons see scalars; a structured value (multiselect, json: refused by the parser) is unknown. */
function scalar(v: unknown): Scalar {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : null;
}

/** One representation per value whatever the driver returned: `'1500.00'` → 1500, a Date → its date or instant. */
function normalise(v: unknown, type: FieldType | undefined): unknown {
  if (v === undefined || v === null) return null;
  if (type !== undefined && NUMERIC.includes(type)) {
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
    return Number.isFinite(n) ? n : null;
  }
  switch (type) {
    case 'date':
      if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString().slice(0, 10);
      return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v) ? v.slice(0, 10) : null;
    case 'datetime': {
      const t = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : Number.NaN;
      return Number.isNaN(t) ? null : t;
    }
    case 'boolean':
      return typeof v === 'boolean' ? v : v === 'true' || v === 't' ? true : v === 'false' || v === 'f' ? false : null;
    case 'multiselect':
    case 'json':
      return v;
    default:
      return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : v instanceof Date ? v.toISOString() : v;
  }
}
