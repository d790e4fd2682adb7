import { GraphQLError, type ExecutionResult } from 'graphql';
import { isAsyncIterable, mapAsyncIterator, type Plugin } from 'graphql-yoga';

/**
 * graphql-js's suggestion tail (`didYouMean`): " Did you mean "a", "b", or "c"?" and " Did you mean the
 * enum value "A"?". Suggested names are GraphQL names (never `?`), so the tail ends at the first `?`.
 */
const SUGGESTION = / ?Did you mean [^?]*\?/g;

/** The message without schema suggestions. */
export const withoutSuggestions = (message: string): string => message.replace(SUGGESTION, '');

const strip = (e: GraphQLError): GraphQLError => {
  const message = withoutSuggestions(e.message);
  if (message === e.message) return e;
  // originalError kept: the error stays what it was (masking and codes decide on it), only its words change.
  return new GraphQLError(message, { nodes: e.nodes ?? null, source: e.source ?? null, positions: e.positions ?? null, path: e.path ?? null, originalError: e.originalError ?? null, extensions: e.extensions });
};

const stripResult = <T>(r: T): T => {
  const errors = (r as ExecutionResult | null)?.errors;
  return errors?.length ? { ...r, errors: errors.map((e) => (e instanceof GraphQLError ? strip(e) : e)) } : r;
};

/**
 * With introspection off, no error names what the schema has: suggestions leak its field, argument,
 * type and enum value names to whoever guesses near them. One place for every message — validation,
 * variable coercion, execution — of every result: single (HTTP), batched, and streamed (SSE, and
 * graphql-ws, which relays the gateway's SSE).
 */
export function useNoSuggestions(): Plugin {
  return {
    onResultProcess({ result, setResult }) {
      if (isAsyncIterable(result)) setResult(mapAsyncIterator(result as AsyncIterable<ExecutionResult>, stripResult));
      else if (Array.isArray(result)) setResult(result.map(stripResult) as typeof result);
      else setResult(stripResult(result));
    },
  };
}
