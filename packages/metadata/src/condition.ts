import { parse, type Expr, type ExprCall } from 'pgsql-ast-parser';
import type { FieldDefinition } from './field-schema.ts';

/**
 * Record conditions of sharing rules (`condition`) and RLS policies (`using`/`check`), normalised to
 * one small AST whatever spelling the metadata used. Only what can be compiled to SQL *and* evaluated
 * exactly is accepted: comparisons, IN, IS NULL, AND/OR/NOT over fields, literals and `current_user.*`.
 */
export type Operand =
  | { kind: 'field'; name: string }
  | { kind: 'value'; value: string | number | boolean | null }
  | { kind: 'var'; name: UserVariable };

export type CompareOp = 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte';
export type Condition =
  | { op: 'and' | 'or'; args: Condition[] }
  | { op: 'not'; arg: Condition }
  | { op: CompareOp; left: Operand; right: Operand }
  | { op: 'in'; left: Operand; values: Operand[] }
  | { op: 'isNull'; arg: Operand }
  | { op: 'const'; value: boolean };

/**
 * Workflow rule criteria: the same language over the record after the change, plus `PRIORVALUE(field)`
 * (the value before it), `ISCHANGED(field)` and `ISNEW()`. `current_user.*` never appears in them.
 */
export type RuleOperand = Operand | { kind: 'prior'; name: string };
export type RuleCondition =
  | { op: 'and' | 'or'; args: RuleCondition[] }
  | { op: 'not'; arg: RuleCondition }
  | { op: CompareOp; left: RuleOperand; right: RuleOperand }
  | { op: 'in'; left: RuleOperand; values: RuleOperand[] }
  | { op: 'isNull'; arg: RuleOperand }
  | { op: 'const'; value: boolean }
  | { op: 'changed'; field: string }
  | { op: 'isNew' };

/** `current_user.*` variables the runtime provides (from the signed principal). */
export const USER_VARIABLES = ['id', 'organization_id', 'role'] as const;
export type UserVariable = (typeof USER_VARIABLES)[number];

/** System columns a condition may name besides the object's fields. */
export const SYSTEM_CONDITION_FIELDS = ['id', 'owner_id', 'created_at', 'updated_at'] as const;

const ALIASES: Record<string, UserVariable> = {
  id: 'id', user_id: 'id', userid: 'id', organization_id: 'organization_id', organizationid: 'organization_id', tenant_id: 'organization_id', role: 'role',
};
const PLACEHOLDER = '__current_user';

/**
 * Rewrites every variable dialect of the spec reference to `current_user.<name>`:
 * `$current_user.id`, `$user.id`, `{{ userId }}`, `{$userId}`, `$userId`.
 */
export function normaliseVariables(text: string): string {
  return text
    .replace(/\{\{\s*(\w+)\s*\}\}/g, (_, n: string) => `current_user.${n}`)
    .replace(/\{\$(\w+)\}/g, (_, n: string) => `current_user.${n}`)
    .replace(/\$(?:current_user|user)\.(\w+)/g, (_, n: string) => `current_user.${n}`)
    .replace(/\$(userId|organizationId)\b/g, (_, n: string) => `current_user.${n}`);
}

export class ConditionError extends Error {}

interface FieldLookup {
  /** Object fields by metadata name. */
  fields: ReadonlyMap<string, FieldDefinition>;
}

/** @internal How a condition is read: `rule` accepts ISCHANGED/PRIORVALUE/ISNEW and refuses `current_user.*`. */
export interface ParseContext extends FieldLookup {
  rule: boolean;
}

function variable(raw: string, ctx: ParseContext): UserVariable {
  if (ctx.rule)
    throw new ConditionError(`current_user.${raw} cannot be used in rule criteria: rules run on committed changes, not on behalf of a user (compare owner_id or another field instead)`);
  const v = ALIASES[raw.toLowerCase()];
  if (!v) throw new ConditionError(`unknown variable current_user.${raw} (known: ${USER_VARIABLES.map((x) => `current_user.${x}`).join(', ')})`);
  return v;
}

function fieldOperand(name: string, ctx: FieldLookup): { kind: 'field'; name: string } {
  if (!ctx.fields.has(name) && !(SYSTEM_CONDITION_FIELDS as readonly string[]).includes(name))
    throw new ConditionError(`unknown field "${name}"`);
  const type = ctx.fields.get(name)?.type;
  // Conditions are judged on stored values (in SQL and on change events alike): a computed field has none.
  if (type === 'formula' || type === 'summary')
    throw new ConditionError(`${name} is a ${type} field, computed when read: conditions name stored fields (repeat its expression over them instead)`);
  return { kind: 'field', name };
}

/** Parses the SQL-ish form: `owner_id = current_user.id AND status IN ('open', 'working')`. */
export function parseSqlCondition(text: string, ctx: FieldLookup): Condition {
  return plain(parseSql(text, { fields: ctx.fields, rule: false }));
}

/** Parses the spec filter object form: `{status: 'closed', amount: {$gte: 1000}, $or: [...]}`. */
export function parseFilterCondition(filter: Record<string, unknown>, ctx: FieldLookup): Condition {
  return plain(parseFilter(filter, { fields: ctx.fields, rule: false }));
}

/** The plain language never yields rule-only nodes; this proves it to the type checker. */
function plain(c: RuleCondition): Condition {
  if (!isPlain(c)) throw new ConditionError('ISCHANGED, PRIORVALUE and ISNEW are only available in workflow rule criteria');
  return c;
}

function isPlain(c: RuleCondition): c is Condition {
  const operand = (o: RuleOperand) => o.kind !== 'prior';
  switch (c.op) {
    case 'and': case 'or': return c.args.every(isPlain);
    case 'not': return isPlain(c.arg);
    case 'in': return operand(c.left) && c.values.every(operand);
    case 'isNull': return operand(c.arg);
    case 'const': return true;
    case 'changed': case 'isNew': return false;
    default: return operand(c.left) && operand(c.right);
  }
}

/** @internal The SQL-ish form in either dialect (see {@link ParseContext}). */
export function parseSql(text: string, ctx: ParseContext): RuleCondition {
  const normalised = normaliseVariables(text).replace(/\bcurrent_user\.(\w+)/g, `${PLACEHOLDER}.$1`);
  return check(fromExpr(parseExpression(normalised, text, (m) => new ConditionError(m)), ctx), ctx);
}

/** @internal One SQL expression (conditions, formulas), or `fail` naming what could not be read (`shown`: the text as written). */
export function parseExpression(text: string, shown: string, fail: (message: string) => Error): Expr {
  let exprs: Expr[];
  try {
    exprs = parse(text, { entry: 'expr' }) as unknown as Expr[];
  } catch (e) {
    throw fail(`cannot parse "${shown}": ${(e as Error).message.split('\n')[0]}`);
  }
  const expr = Array.isArray(exprs) ? exprs[0] : (exprs as Expr);
  if (!expr) throw fail('empty expression');
  return expr;
}

const COMPARE: Record<string, CompareOp> = { '=': 'eq', '!=': 'ne', '<>': 'ne', '>': 'gt', '>=': 'gte', '<': 'lt', '<=': 'lte' };

function operandOf(e: Expr, ctx: ParseContext): RuleOperand {
  switch (e.type) {
    case 'ref':
      if (e.table?.name === PLACEHOLDER) return { kind: 'var', name: variable(e.name, ctx) };
      if (e.table) throw new ConditionError(`"${e.table.name}.${e.name}": only fields of the object and current_user.* can be named`);
      return fieldOperand(e.name, ctx);
    case 'string':
      return { kind: 'value', value: e.value };
    case 'integer':
    case 'numeric':
      return { kind: 'value', value: e.value };
    case 'boolean':
      return { kind: 'value', value: e.value };
    case 'null':
      return { kind: 'value', value: null };
    case 'unary':
      if (e.op === '-' && (e.operand.type === 'integer' || e.operand.type === 'numeric')) return { kind: 'value', value: -e.operand.value };
      break;
    case 'call':
      if (!ctx.rule) break;
      if (functionName(e) === 'priorvalue') return { kind: 'prior', name: fieldArgument(e, 'PRIORVALUE', ctx) };
      if (functionName(e) === 'ischanged' || functionName(e) === 'isnew')
        throw new ConditionError(`${functionName(e).toUpperCase()}() is a condition, not a value (use it on its own: ISCHANGED(stage) AND …)`);
      throw new ConditionError(`unknown function ${functionName(e).toUpperCase()}() (${RULE_FUNCTIONS})`);
    default:
      break;
  }
  throw new ConditionError(`unsupported expression "${e.type}${'op' in e ? ` ${String(e.op)}` : ''}" (use fields, literals and current_user.*)`);
}

function fromExpr(e: Expr, ctx: ParseContext): RuleCondition {
  if (e.type === 'binary') {
    if (e.op === 'AND' || e.op === 'OR') {
      const op = e.op === 'AND' ? 'and' : 'or';
      const args = [fromExpr(e.left, ctx), fromExpr(e.right, ctx)].flatMap((c) => (c.op === op ? c.args : [c]));
      return { op, args };
    }
    if (e.op === 'IN' || e.op === 'NOT IN') {
      if (e.right.type !== 'list') throw new ConditionError('IN needs a list of values');
      const inCond: RuleCondition = { op: 'in', left: operandOf(e.left, ctx), values: e.right.expressions.map((x) => operandOf(x, ctx)) };
      return e.op === 'IN' ? inCond : { op: 'not', arg: inCond };
    }
    const op = COMPARE[e.op];
    if (op) return { op, left: operandOf(e.left, ctx), right: operandOf(e.right, ctx) };
    throw new ConditionError(`unsupported operator ${e.op}`);
  }
  if (e.type === 'unary') {
    if (e.op === 'NOT') return { op: 'not', arg: fromExpr(e.operand, ctx) };
    if (e.op === 'IS NULL') return { op: 'isNull', arg: operandOf(e.operand, ctx) };
    if (e.op === 'IS NOT NULL') return { op: 'not', arg: { op: 'isNull', arg: operandOf(e.operand, ctx) } };
  }
  if (e.type === 'boolean') return { op: 'const', value: e.value };
  if (e.type === 'call' && ctx.rule) return ruleCall(e, ctx);
  throw new ConditionError(`unsupported expression "${e.type}${'op' in e ? ` ${String(e.op)}` : ''}"`);
}

const RULE_FUNCTIONS = 'rule criteria know ISCHANGED(field), PRIORVALUE(field) and ISNEW()';
const functionName = (e: ExprCall): string => (e.function.schema ? `${e.function.schema}.` : '') + e.function.name.toLowerCase();

/** `ISCHANGED(field)` and `ISNEW()` as conditions. */
function ruleCall(e: ExprCall, ctx: ParseContext): RuleCondition {
  switch (functionName(e)) {
    case 'ischanged':
      return { op: 'changed', field: fieldArgument(e, 'ISCHANGED', ctx) };
    case 'isnew':
      if (e.args.length > 0) throw new ConditionError('ISNEW() takes no arguments');
      return { op: 'isNew' };
    case 'priorvalue':
      throw new ConditionError("PRIORVALUE(field) is a value: compare it, e.g. PRIORVALUE(stage) = 'prospecting'");
    default:
      throw new ConditionError(`unknown function ${functionName(e).toUpperCase()}() (${RULE_FUNCTIONS})`);
  }
}

function fieldArgument(e: ExprCall, fn: string, ctx: ParseContext): string {
  const arg = e.args[0];
  if (e.args.length !== 1 || arg?.type !== 'ref' || arg.table) throw new ConditionError(`${fn} takes one field name, e.g. ${fn}(stage)`);
  return fieldOperand(arg.name, ctx).name;
}

const FILTER_OPS: Record<string, CompareOp> = { $eq: 'eq', $ne: 'ne', $gt: 'gt', $gte: 'gte', $lt: 'lt', $lte: 'lte' };

function valueOperand(v: unknown, ctx: ParseContext): Operand {
  if (typeof v === 'string') {
    const n = normaliseVariables(v).match(/^current_user\.(\w+)$/);
    if (n) return { kind: 'var', name: variable(n[1]!, ctx) };
    return { kind: 'value', value: v };
  }
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return { kind: 'value', value: v };
  throw new ConditionError(`unsupported value ${JSON.stringify(v)}`);
}

/** @internal The filter object form in either dialect (see {@link ParseContext}). */
export function parseFilter(filter: Record<string, unknown>, ctx: ParseContext): RuleCondition {
  const parts: RuleCondition[] = [];
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value) || value.length === 0) throw new ConditionError(`${key} needs a non-empty list of conditions`);
      parts.push({ op: key === '$and' ? 'and' : 'or', args: value.map((v) => parseFilter(asObject(v, key), ctx)) });
      continue;
    }
    if (key === '$not') {
      parts.push({ op: 'not', arg: parseFilter(asObject(value, key), ctx) });
      continue;
    }
    if (key.startsWith('$')) throw new ConditionError(`unknown operator "${key}"`);
    const left = fieldOperand(key, ctx);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      parts.push(value === null ? { op: 'isNull', arg: left } : { op: 'eq', left, right: valueOperand(value, ctx) });
      continue;
    }
    for (const [op, arg] of Object.entries(value as Record<string, unknown>)) {
      const cmp = FILTER_OPS[op];
      if (cmp) parts.push({ op: cmp, left, right: valueOperand(arg, ctx) });
      else if (op === '$in' || op === '$nin') {
        if (!Array.isArray(arg)) throw new ConditionError(`${key}.${op} needs a list`);
        const c: RuleCondition = { op: 'in', left, values: arg.map((x) => valueOperand(x, ctx)) };
        parts.push(op === '$in' ? c : { op: 'not', arg: c });
      } else if (op === '$null') parts.push(arg === false ? { op: 'not', arg: { op: 'isNull', arg: left } } : { op: 'isNull', arg: left });
      else throw new ConditionError(`unknown operator "${op}" on "${key}" (known: $eq $ne $gt $gte $lt $lte $in $nin $null)`);
    }
  }
  if (parts.length === 0) throw new ConditionError('empty condition');
  return check(parts.length === 1 ? parts[0]! : { op: 'and', args: parts }, ctx);
}

function asObject(v: unknown, key: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ConditionError(`${key} needs condition objects`);
  return v as Record<string, unknown>;
}

type Kind = 'string' | 'number' | 'boolean' | 'any';
const KIND_OF: Partial<Record<FieldDefinition['type'], Kind>> = {
  number: 'number', currency: 'number', percent: 'number', boolean: 'boolean', json: 'any', multiselect: 'any',
};
function kindOf(o: RuleOperand, ctx: FieldLookup): Kind {
  if (o.kind === 'var') return 'string';
  if (o.kind === 'value') return o.value === null ? 'any' : (typeof o.value as Kind);
  const f = ctx.fields.get(o.name);
  if (!f) return 'string'; // system columns: ids and timestamps compare as text literals
  return KIND_OF[f.type] ?? 'string';
}

const isField = (o: RuleOperand): o is { kind: 'field' | 'prior'; name: string } => o.kind === 'field' || o.kind === 'prior';

/** Type checks: a comparison whose sides can never be equal is a mistake in the metadata. */
function check(c: RuleCondition, ctx: ParseContext): RuleCondition {
  const same = (a: RuleOperand, b: RuleOperand, what: string) => {
    if (ctx.rule) for (const o of [a, b]) ruleComparable(o, ctx);
    const ka = kindOf(a, ctx);
    const kb = kindOf(b, ctx);
    if (ka !== 'any' && kb !== 'any' && ka !== kb) throw new ConditionError(`${ctx.rule ? 'criteria type mismatch: ' : ''}${what} compares a ${ka} with a ${kb}`);
    for (const [f, v] of [[a, b], [b, a]] as const) {
      if (!isField(f) || v.kind !== 'value' || typeof v.value !== 'string') continue;
      const def = ctx.fields.get(f.name);
      if (def?.type === 'select' && !def.options.some((o) => o.value === v.value))
        throw new ConditionError(`"${v.value}" is not an option of ${f.name} (${def.options.map((o) => o.value).join(', ')})`);
      if (ctx.rule && def?.type === 'date' && !/^\d{4}-\d{2}-\d{2}$/.test(v.value))
        throw new ConditionError(`criteria type mismatch: "${v.value}" is not a date (YYYY-MM-DD) for ${f.name}`);
      if (ctx.rule && def?.type === 'datetime' && Number.isNaN(Date.parse(v.value)))
        throw new ConditionError(`criteria type mismatch: "${v.value}" is not an ISO date-time for ${f.name}`);
    }
  };
  const walk = (x: RuleCondition): void => {
    switch (x.op) {
      case 'and': case 'or': x.args.forEach(walk); break;
      case 'not': walk(x.arg); break;
      case 'in': x.values.forEach((v) => same(x.left, v, 'IN')); break;
      case 'isNull': case 'const': case 'changed': case 'isNew': break;
      default:
        if (!isField(x.left) && !isField(x.right)) throw new ConditionError('a comparison must name a field of the object');
        if (x.left.kind === 'value' && x.left.value === null || x.right.kind === 'value' && x.right.value === null)
          throw new ConditionError('compare with NULL using IS NULL (= NULL is never true)');
        same(x.left, x.right, 'a comparison');
    }
  };
  walk(c);
  return c;
}

/** Rule criteria compare scalars only: a multiselect or json field can be tested with IS NULL or ISCHANGED. */
function ruleComparable(o: RuleOperand, ctx: FieldLookup): void {
  if (!isField(o)) return;
  const type = ctx.fields.get(o.name)?.type;
  if (type === 'multiselect' || type === 'json')
    throw new ConditionError(`${o.name} is a ${type} field: rule criteria can only test it with IS NULL or ISCHANGED(${o.name})`);
}

/** Fields a condition names (for field-level checks). */
export function conditionFields(c: Condition): string[] {
  const out = new Set<string>();
  const op = (o: Operand) => o.kind === 'field' && out.add(o.name);
  const walk = (x: Condition): void => {
    switch (x.op) {
      case 'and': case 'or': x.args.forEach(walk); break;
      case 'not': walk(x.arg); break;
      case 'in': [x.left, ...x.values].forEach(op); break;
      case 'isNull': op(x.arg); break;
      case 'const': break;
      default: [x.left, x.right].forEach(op);
    }
  };
  walk(c);
  return [...out];
}
