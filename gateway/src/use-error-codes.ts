import type { Plugin } from 'graphql-yoga';
import { GraphQLError, type ExecutionResult } from 'graphql';

/** Query-limit rejections (see protection/use-protection.ts), which graphql-armor reports as syntax errors. */
const LIMIT = /^(?:Syntax Error: )?(.*\((?:depth|aliases|directives|token) limit\)\..*)$/;

/** The stable code (and clean message) of an error, or null when it is fine as it is. */
function recode(e: GraphQLError): { code: string; message: string } | null {
  const limit = LIMIT.exec(e.message);
  if (limit) return { code: 'QUERY_LIMIT_EXCEEDED', message: limit[1]! };
  if (typeof e.extensions?.['code'] === 'string') return null;
  return { code: e.path ? 'INTERNAL_SERVER_ERROR' : 'BAD_USER_INPUT', message: e.message };
}

function withCodes(result: ExecutionResult): ExecutionResult | null {
  if (!result.errors?.length) return null;
  let changed = false;
  const errors = result.errors.map((e) => {
    const r = e instanceof GraphQLError ? recode(e) : null;
    if (!r) return e;
    changed = true;
    return new GraphQLError(r.message, { nodes: e.nodes ?? null, path: e.path ?? null, originalError: e.originalError ?? null, extensions: { ...e.extensions, code: r.code } });
  });
  return changed ? { ...result, errors } : null;
}

/**
 * Gives every error a stable `extensions.code`. graphql-js reports variable coercion failures
 * ("Float cannot represent…") without one; those are the client's fault, so BAD_USER_INPUT.
 * Query-limit rejections, from any phase, become QUERY_LIMIT_EXCEEDED.
 */
export function useErrorCodes(): Plugin {
  return {
    onResultProcess({ result, setResult }) {
      if (Array.isArray(result) || !result || typeof result !== 'object' || !('errors' in result)) return;
      const next = withCodes(result as ExecutionResult);
      if (next) setResult(next);
    },
  };
}
