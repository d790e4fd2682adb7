import type { Plugin } from 'graphql-yoga';
import { GraphQLError } from 'graphql';

/**
 * Gives every error a stable `extensions.code`. graphql-js reports variable coercion failures
 * ("Float cannot represent…") without one; those are the client's fault, so BAD_USER_INPUT.
 */
export function useErrorCodes(): Plugin {
  return {
    onExecutionResult({ result, setResult }) {
      if (!result || !('errors' in result) || !result.errors?.length) return;
      if (result.errors.every((e) => typeof e.extensions?.['code'] === 'string')) return;
      setResult({
        ...result,
        errors: result.errors.map((e) =>
          typeof e.extensions?.['code'] === 'string'
            ? e
            : new GraphQLError(e.message, { nodes: e.nodes ?? null, path: e.path ?? null, originalError: e.originalError ?? null, extensions: { ...e.extensions, code: e.path ? 'INTERNAL_SERVER_ERROR' : 'BAD_USER_INPUT' } }),
        ),
      });
    },
  };
}
