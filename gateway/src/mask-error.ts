import { GraphQLError } from 'graphql';

const isTimeout = (e: unknown): boolean =>
  e instanceof Error && (e.name === 'TimeoutError' || /aborted due to timeout|timed? ?out/i.test(e.message));

/**
 * The gateway's one masking point: a subgraph call that passed its timeout becomes a clear TIMEOUT;
 * client errors pass through; anything else becomes "Unexpected error." with no detail.
 */
export function maskError(error: unknown, message: string): GraphQLError {
  for (let cur: unknown = error, i = 0; cur && i < 6; cur = (cur as { originalError?: unknown; cause?: unknown }).originalError ?? (cur as { cause?: unknown }).cause, i++) {
    if (isTimeout(cur)) return new GraphQLError('A subgraph did not answer in time', { ...(error instanceof GraphQLError && error.path ? { path: error.path } : {}), extensions: { code: 'TIMEOUT' } });
  }
  if (error instanceof GraphQLError && (!error.originalError || error.originalError instanceof GraphQLError)) return error;
  return new GraphQLError(message, { ...(error instanceof GraphQLError && error.path ? { path: error.path } : {}), extensions: { code: 'INTERNAL_SERVER_ERROR' } });
}
