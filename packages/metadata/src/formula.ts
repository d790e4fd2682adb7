import type { Expr } from 'pgsql-ast-parser';
import { parseExpression, type CompareOp } from './condition.ts';

/**
 * The formula language: the SQL-ish condition language (condition.ts) grown into values. Fields of the
 * record and of its lookups (`account.industry`, two hops at most), literals, arithmetic, `||`,
 * comparisons, AND/OR/NOT, IS NULL, IN, CASE and a fixed list of functions. Parsed and type-checked at
 * load into a small tree the data subgraph compiles to SQL; nothing is ever evaluated as code.
 */
export type ValueType = 'text' | 'number' | 'boolean' | 'date' | 'datetime';
/** A node's type: `null` is the type of the NULL literal (it fits anywhere). */
export type NodeType = ValueType | 'null';

export const FORMULA_FUNCTIONS = [
  'coalesce', 'nullif', 'greatest', 'least', 'round', 'abs', 'floor', 'ceil', 'upper', 'lower', 'trim', 'length',
  'left', 'right', 'concat', 'today', 'now', 'year', 'month', 'day', 'if',
] as const;
export type FormulaFunction = (typeof FORMULA_FUNCTIONS)[number];

/** A field read: `hops` are the lookups walked (each a field of the object before it), then `field` of `object`. */
export interface FormulaRef {
  k: 'ref';
  hops: { object: string; field: string }[];
  object: string;
  field: string;
  type: ValueType;
}

export type FormulaNode =
  | FormulaRef
  | { k: 'lit'; value: string | number | boolean | null; type: NodeType }
  | { k: 'op'; op: '+' | '-' | '*' | '/' | '%' | '||'; args: [FormulaNode, FormulaNode]; type: ValueType }
  | { k: 'cmp'; op: CompareOp; args: [FormulaNode, FormulaNode]; type: 'boolean' }
  | { k: 'logic'; op: 'and' | 'or'; args: FormulaNode[]; type: 'boolean' }
  | { k: 'not' | 'isNull'; args: [FormulaNode]; type: 'boolean' }
  | { k: 'neg'; args: [FormulaNode]; type: 'number' }
  | { k: 'in'; args: FormulaNode[]; type: 'boolean' }
  | { k: 'fn'; fn: FormulaFunction; args: FormulaNode[]; type: NodeType }
  | { k: 'case'; whens: [FormulaNode, FormulaNode][]; otherwise: FormulaNode | null; type: NodeType };

export class FormulaError extends Error {}

/** What a formula can name: the fields of each object, their value types, and where lookups lead. */
export interface FormulaScope {
  /** The value type of `object.field` (a system column included), or a reason it cannot be used. */
  fieldType(object: string, field: string): ValueType | { error: string };
  /** The object a lookup field of `object` references, or null when `field` is not a lookup. */
  lookupTarget(object: string, field: string): string | null;
}

/** Bounds on a formula's size: the SQL it compiles to stays small. */
export const FORMULA_LIMITS = { maxLength: 2000, maxNodes: 200 } as const;

const COMPARE: Record<string, CompareOp> = { '=': 'eq', '!=': 'ne', '<>': 'ne', '>': 'gt', '>=': 'gte', '<': 'lt', '<=': 'lte' };

/** Parses and type-checks `text` as a formula over `object`. Throws FormulaError naming what is wrong. */
export function parseFormula(text: string, object: string, scope: FormulaScope): FormulaNode {
  if (text.length > FORMULA_LIMITS.maxLength) throw new FormulaError(`the expression is longer than ${FORMULA_LIMITS.maxLength} characters`);
  const expr = parseExpression(text, text, (m) => new FormulaError(m));
  let nodes = 0;
  const count = () => {
    if (++nodes > FORMULA_LIMITS.maxNodes) throw new FormulaError(`the expression has more than ${FORMULA_LIMITS.maxNodes} parts`);
  };
  const walk = (e: Expr): FormulaNode => {
    count();
    return node(e, object, scope, walk);
  };
  return walk(expr);
}

/** The type both sides share (NULL fits anything), or an error naming the mismatch. */
export function unify(types: NodeType[], what: string): NodeType {
  const known = [...new Set(types.filter((t) => t !== 'null'))];
  if (known.length > 1) throw new FormulaError(`${what} mixes ${known.join(' and ')} values`);
  return known[0] ?? 'null';
}

function expect(n: FormulaNode, types: readonly NodeType[], what: string): FormulaNode {
  if (n.type !== 'null' && !types.includes(n.type)) throw new FormulaError(`${what} needs ${types.join(' or ')}, not ${n.type}`);
  return n;
}

function ref(e: Extract<Expr, { type: 'ref' }>, object: string, scope: FormulaScope): FormulaRef {
  if (e.name === '*') throw new FormulaError('* is not a value: name a field');
  const path = [e.table?.schema, e.table?.name, e.name].filter((x): x is string => x !== undefined);
  const hops: FormulaRef['hops'] = [];
  let at = object;
  for (const name of path.slice(0, -1)) {
    const target = scope.lookupTarget(at, name);
    if (target === null) throw new FormulaError(`"${path.join('.')}": ${at}.${name} is not a lookup field`);
    hops.push({ object: at, field: name });
    at = target;
  }
  const field = path.at(-1)!;
  const type = scope.fieldType(at, field);
  if (typeof type !== 'string') throw new FormulaError(`"${path.join('.')}": ${type.error}`);
  return { k: 'ref', hops, object: at, field, type };
}

function literal(e: Expr): FormulaNode | null {
  switch (e.type) {
    case 'string': return { k: 'lit', value: e.value, type: 'text' };
    case 'integer': case 'numeric': return { k: 'lit', value: e.value, type: 'number' };
    case 'boolean': return { k: 'lit', value: e.value, type: 'boolean' };
    case 'null': return { k: 'lit', value: null, type: 'null' };
    default: return null;
  }
}

function node(e: Expr, object: string, scope: FormulaScope, walk: (e: Expr) => FormulaNode): FormulaNode {
  const lit = literal(e);
  if (lit) return lit;
  switch (e.type) {
    case 'ref':
      return ref(e, object, scope);
    case 'binary': {
      if (e.op === 'AND' || e.op === 'OR') {
        const args = [walk(e.left), walk(e.right)].map((a) => expect(a, ['boolean'], e.op));
        return { k: 'logic', op: e.op === 'AND' ? 'and' : 'or', args, type: 'boolean' };
      }
      if (e.op === 'IN' || e.op === 'NOT IN') {
        if (e.right.type !== 'list') throw new FormulaError('IN needs a list of values');
        const args = [walk(e.left), ...e.right.expressions.map(walk)];
        unify(args.map((a) => a.type), 'IN');
        const inNode: FormulaNode = { k: 'in', args, type: 'boolean' };
        return e.op === 'IN' ? inNode : { k: 'not', args: [inNode], type: 'boolean' };
      }
      const cmp = COMPARE[e.op];
      if (cmp) {
        const args: [FormulaNode, FormulaNode] = [walk(e.left), walk(e.right)];
        if (args.some((a) => a.k === 'lit' && a.value === null)) throw new FormulaError('compare with NULL using IS NULL (= NULL is never true)');
        unify(args.map((a) => a.type), `a comparison (${e.op})`);
        return { k: 'cmp', op: cmp, args, type: 'boolean' };
      }
      if (e.op === '+' || e.op === '-' || e.op === '*' || e.op === '/' || e.op === '%' || e.op === '||') return arithmetic(e.op, walk(e.left), walk(e.right));
      throw new FormulaError(`unsupported operator ${e.op}`);
    }
    case 'unary': {
      const arg = walk(e.operand);
      if (e.op === 'NOT') return { k: 'not', args: [expect(arg, ['boolean'], 'NOT')], type: 'boolean' };
      if (e.op === 'IS NULL') return { k: 'isNull', args: [arg], type: 'boolean' };
      if (e.op === 'IS NOT NULL') return { k: 'not', args: [{ k: 'isNull', args: [arg], type: 'boolean' }], type: 'boolean' };
      if (e.op === '-') return { k: 'neg', args: [expect(arg, ['number'], 'unary -')], type: 'number' };
      if (e.op === '+') return expect(arg, ['number'], 'unary +');
      throw new FormulaError(`unsupported operator ${e.op}`);
    }
    case 'case': {
      if (e.value) throw new FormulaError('CASE x WHEN … is not supported: write CASE WHEN x = … THEN …');
      const whens = e.whens.map((w): [FormulaNode, FormulaNode] => [expect(walk(w.when), ['boolean'], 'CASE WHEN'), walk(w.value)]);
      const otherwise = e.else ? walk(e.else) : null;
      const type = unify([...whens.map(([, v]) => v.type), ...(otherwise ? [otherwise.type] : [])], 'CASE');
      return { k: 'case', whens, otherwise, type };
    }
    case 'call':
      return call(e.function.schema ? `${e.function.schema}.${e.function.name}` : e.function.name.toLowerCase(), e.args.map(walk));
    default:
      throw new FormulaError(`unsupported expression "${e.type}" (use fields, literals, operators, CASE and the functions ${FORMULA_FUNCTIONS.map((f) => f.toUpperCase()).join(', ')})`);
  }
}

function arithmetic(op: '+' | '-' | '*' | '/' | '%' | '||', l: FormulaNode, r: FormulaNode): FormulaNode {
  const out = (type: ValueType): FormulaNode => ({ k: 'op', op, args: [l, r], type });
  if (op === '||') {
    for (const a of [l, r]) expect(a, ['text', 'number', 'boolean', 'date', 'datetime'], '||');
    return out('text');
  }
  const [a, b] = [l.type, r.type];
  const num = (t: NodeType) => t === 'number' || t === 'null';
  if (num(a) && num(b)) return out('number');
  // Days between two dates; a date moved by a number of days.
  if (op === '-' && a === 'date' && b === 'date') return out('number');
  if ((op === '+' || op === '-') && a === 'date' && num(b)) return out('date');
  if (op === '+' && num(a) && b === 'date') return { k: 'op', op, args: [r, l], type: 'date' };
  throw new FormulaError(`${op} cannot combine ${a} and ${b} (numbers; a date ± days; date - date gives days)`);
}

function call(name: string, args: FormulaNode[]): FormulaNode {
  if (!(FORMULA_FUNCTIONS as readonly string[]).includes(name))
    throw new FormulaError(`unknown function ${name.toUpperCase()}() (known: ${FORMULA_FUNCTIONS.map((f) => f.toUpperCase()).join(', ')})`);
  const fn = name as FormulaFunction;
  const arity = (min: number, max = min) => {
    if (args.length < min || args.length > max)
      throw new FormulaError(`${fn.toUpperCase()}() takes ${min === max ? min : max === Infinity ? `at least ${min}` : `${min} to ${max}`} argument${max === 1 ? '' : 's'}`);
  };
  const out = (type: NodeType): FormulaNode => ({ k: 'fn', fn, args, type });
  const each = (types: readonly NodeType[]) => args.forEach((a) => expect(a, types, `${fn.toUpperCase()}()`));
  switch (fn) {
    case 'coalesce': case 'greatest': case 'least':
      arity(1, Infinity);
      return out(unify(args.map((a) => a.type), `${fn.toUpperCase()}()`));
    case 'nullif':
      arity(2);
      return out(unify(args.map((a) => a.type), 'NULLIF()'));
    case 'round': {
      arity(1, 2);
      expect(args[0]!, ['number'], 'ROUND()');
      const digits = args[1];
      if (digits && !(digits.k === 'lit' && Number.isInteger(digits.value) && (digits.value as number) >= 0 && (digits.value as number) <= 10))
        throw new FormulaError('ROUND(x, digits): digits is a whole number from 0 to 10');
      return out('number');
    }
    case 'abs': case 'floor': case 'ceil':
      arity(1);
      each(['number']);
      return out('number');
    case 'upper': case 'lower': case 'trim':
      arity(1);
      each(['text']);
      return out('text');
    case 'length':
      arity(1);
      each(['text']);
      return out('number');
    case 'left': case 'right':
      arity(2);
      expect(args[0]!, ['text'], `${fn.toUpperCase()}()`);
      expect(args[1]!, ['number'], `${fn.toUpperCase()}()`);
      return out('text');
    case 'concat':
      arity(1, Infinity);
      return out('text');
    case 'today':
      arity(0);
      return out('date');
    case 'now':
      arity(0);
      return out('datetime');
    case 'year': case 'month': case 'day':
      arity(1);
      each(['date', 'datetime']);
      return out('number');
    case 'if':
      arity(3);
      expect(args[0]!, ['boolean'], 'IF() condition');
      return out(unify([args[1]!.type, args[2]!.type], 'IF()'));
  }
}

/** Every field a formula reads, hops' lookups included. */
export function formulaRefs(n: FormulaNode): FormulaRef[] {
  switch (n.k) {
    case 'ref': return [n];
    case 'lit': return [];
    case 'case': return [...n.whens.flatMap(([w, v]) => [...formulaRefs(w), ...formulaRefs(v)]), ...(n.otherwise ? formulaRefs(n.otherwise) : [])];
    default: return n.args.flatMap(formulaRefs);
  }
}
