import { GraphQLError, Kind, type ASTVisitor, type ValidationRule, type ValueNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export interface InputLimits {
  /** Deepest nesting of objects and lists in `variables` and in argument literals. */
  maxInputDepth: number;
  /** Longest list in `variables` and in argument literals. */
  maxListLength: number;
  /** Most values (list items and object fields, counted together) in `variables`, and in one operation's literals. */
  maxInputValues: number;
}

export interface InputProblem {
  message: string;
  /** INPUT_LIMIT_EXCEEDED for a size limit, BAD_USER_INPUT for a value no server could store. */
  code: 'INPUT_LIMIT_EXCEEDED' | 'BAD_USER_INPUT';
}

/** PostgreSQL text and jsonb cannot hold U+0000: refused here, by name, before any SQL is built. */
export const NUL_PROBLEM: InputProblem = { message: 'Text cannot contain the NUL character (U+0000).', code: 'BAD_USER_INPUT' };
const hasNul = (s: string): boolean => s.includes('\u0000');

const limitProblem = (where: 'Variables' | 'Arguments', what: 'depth' | 'list' | 'values'): InputProblem => ({
  code: 'INPUT_LIMIT_EXCEEDED',
  message:
    what === 'depth' ? `${where} are nested too deeply (input depth limit).`
    : what === 'list' ? `A list in the ${where.toLowerCase()} is too long (list length limit).`
    : `${where} hold too many values (input values limit).`,
});

/** What the walk needs to know of one input node: text, a list, or an object (its keys and values). */
type Shape<T> = { text: string } | { list: readonly T[] } | { keys: readonly string[]; values: readonly T[] } | null;

/**
 * The first problem in some input values, or null: nesting, list length, total size (a filter of many
 * `in` lists or `or` branches would otherwise expand past PostgreSQL's 65,535 bind parameters) and NUL
 * in any string or object key. Iterative, so hostile depth cannot overflow the stack. One walk for
 * variables (JSON) and literals (AST), through `shapeOf`.
 */
function firstProblem<T>(roots: readonly T[], where: 'Variables' | 'Arguments', shapeOf: (v: T) => Shape<T>, limits: InputLimits): InputProblem | null {
  const stack: [T, number][] = roots.map((r) => [r, 0]);
  let values = 0;
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    const shape = shapeOf(v);
    if (shape === null) continue;
    if ('text' in shape) {
      if (hasNul(shape.text)) return NUL_PROBLEM;
      continue;
    }
    if (depth >= limits.maxInputDepth) return limitProblem(where, 'depth');
    const children = 'list' in shape ? shape.list : shape.values;
    if ('list' in shape && children.length > limits.maxListLength) return limitProblem(where, 'list');
    if ('keys' in shape && shape.keys.some(hasNul)) return NUL_PROBLEM;
    values += children.length;
    if (values > limits.maxInputValues) return limitProblem(where, 'values');
    for (const c of children) stack.push([c, depth + 1]);
  }
  return null;
}

const jsonShape = (v: unknown): Shape<unknown> =>
  typeof v === 'string' ? { text: v }
  : v === null || typeof v !== 'object' ? null
  : Array.isArray(v) ? { list: v }
  : { keys: Object.keys(v), values: Object.values(v as Record<string, unknown>) };

const literalShape = (v: ValueNode): Shape<ValueNode> =>
  v.kind === Kind.STRING ? { text: v.value }
  : v.kind === Kind.LIST ? { list: v.values }
  : v.kind === Kind.OBJECT ? { keys: [], values: v.fields.map((f) => f.value) }
  : null;

/** The first problem in a variables value, or null. */
export const inputProblem = (value: unknown, limits: InputLimits): InputProblem | null => firstProblem([value], 'Variables', jsonShape, limits);

/** The same bounds for the literals of one operation (arguments, directive arguments, variable defaults). */
export const literalProblem = (roots: readonly ValueNode[], limits: InputLimits): InputProblem | null => firstProblem(roots, 'Arguments', literalShape, limits);

/**
 * A validation rule bounding argument literals as {@link inputProblem} bounds variables: without it,
 * hundreds of nested `not` in the query text reach the database (PostgreSQL's parser recursion).
 * Checked once per document, at the end, over every literal root; one error at most.
 */
export function literalLimitsRule(limits: InputLimits): ValidationRule {
  return (context): ASTVisitor => {
    const roots: ValueNode[] = [];
    return {
      // Each literal root once; graphql-js's own rules walk inside them.
      Argument: (node) => void roots.push(node.value),
      VariableDefinition: (node) => void (node.defaultValue && roots.push(node.defaultValue)),
      Document: {
        leave() {
          const problem = literalProblem(roots, limits);
          if (problem) context.reportError(new GraphQLError(problem.message, { extensions: { code: problem.code } }));
        },
      },
    };
  };
}

/**
 * Refuses variables nested deeper, with lists longer or more values than allowed, or holding NUL, before
 * coercion (graphql-js coerces recursively; thousands of levels would overflow the stack); and the
 * same in the document's literals, during validation.
 */
export function useInputLimits(limits: InputLimits): Plugin {
  const rule = literalLimitsRule(limits);
  // yoga caches validation per document and rule names: a stable name keeps the cache shared.
  Object.defineProperty(rule, 'name', { value: 'objectosLiteralLimits' });
  return {
    onParams({ params, setResult }) {
      const problem = inputProblem(params.variables ?? null, limits);
      if (problem) setResult({ errors: [new GraphQLError(problem.message, { extensions: { code: problem.code } })] });
    },
    onValidate({ addValidationRule }) {
      addValidationRule(rule);
    },
  };
}
