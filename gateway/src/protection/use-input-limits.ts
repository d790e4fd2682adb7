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

/**
 * The first problem in a variables value, or null: nesting, list length, total size (a filter of many
 * `in` lists or `or` branches would otherwise expand past PostgreSQL's 65,535 bind parameters) and NUL
 * in any string or object key (JSON values included). Iterative, so hostile depth cannot overflow the stack.
 */
export function inputProblem(value: unknown, { maxInputDepth, maxListLength, maxInputValues }: InputLimits): InputProblem | null {
  const stack: [unknown, number][] = [[value, 0]];
  let values = 0;
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (hasNul(v)) return NUL_PROBLEM;
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= maxInputDepth) return limitProblem('Variables', 'depth');
    if (Array.isArray(v) && v.length > maxListLength) return limitProblem('Variables', 'list');
    const children = Array.isArray(v) ? v : Object.values(v as Record<string, unknown>);
    if (!Array.isArray(v) && Object.keys(v).some(hasNul)) return NUL_PROBLEM;
    values += children.length;
    if (values > maxInputValues) return limitProblem('Variables', 'values');
    for (const c of children) stack.push([c, depth + 1]);
  }
  return null;
}

/** The same bounds for the literals of one operation (arguments, directive arguments, variable defaults). */
export function literalProblem(roots: readonly ValueNode[], { maxInputDepth, maxListLength, maxInputValues }: InputLimits): InputProblem | null {
  const stack: [ValueNode, number][] = roots.map((r) => [r, 0]);
  let values = 0;
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v.kind === Kind.STRING) {
      if (hasNul(v.value)) return NUL_PROBLEM;
      continue;
    }
    if (v.kind !== Kind.LIST && v.kind !== Kind.OBJECT) continue;
    if (depth >= maxInputDepth) return limitProblem('Arguments', 'depth');
    const children = v.kind === Kind.LIST ? v.values : v.fields.map((f) => f.value);
    if (v.kind === Kind.LIST && children.length > maxListLength) return limitProblem('Arguments', 'list');
    values += children.length;
    if (values > maxInputValues) return limitProblem('Arguments', 'values');
    for (const c of children) stack.push([c, depth + 1]);
  }
  return null;
}

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
