import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export interface InputLimits {
  /** Deepest nesting of objects and lists in `variables`. */
  maxInputDepth: number;
  /** Longest list in `variables`. */
  maxListLength: number;
}

/** The first problem in a variables value, or null. Iterative, so hostile depth cannot overflow the stack. */
export function inputProblem(value: unknown, { maxInputDepth, maxListLength }: InputLimits): string | null {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= maxInputDepth) return `Variables are nested too deeply (input depth limit).`;
    const children = Array.isArray(v) ? v : Object.values(v as Record<string, unknown>);
    if (Array.isArray(v) && v.length > maxListLength) return `A list in the variables is too long (list length limit).`;
    for (const c of children) stack.push([c, depth + 1]);
  }
  return null;
}

/**
 * Refuses variables nested deeper or with lists longer than allowed, before coercion (graphql-js
 * coerces recursively; thousands of levels would overflow the stack). Literals in the document are
 * bounded by the token limit.
 */
export function useInputLimits(limits: InputLimits): Plugin {
  return {
    onParams({ params, setResult }) {
      const problem = inputProblem(params.variables ?? null, limits);
      if (problem) setResult({ errors: [new GraphQLError(problem, { extensions: { code: 'INPUT_LIMIT_EXCEEDED' } })] });
    },
  };
}
