import { GraphQLError } from 'graphql';
import type { ClassifyError } from '@objectos/observability';

/** The `extensions.code` values the data subgraph gives client-facing errors. */
export type DataErrorCode = 'BAD_USER_INPUT' | 'NOT_FOUND' | 'CONFLICT' | 'FORBIDDEN' | 'TIMEOUT';

export interface InputIssue {
  /** GraphQL input field name (`annualRevenue`), or the argument (`where`, `after`). */
  field: string;
  /** Which rule was broken: `maxLength`, `min`, `required`, `format`, `reference`, `unique`… */
  constraint: string;
  message: string;
}

/**
 * A client-facing error: a GraphQLError (so it is not masked) with a stable `extensions.code`.
 * Anything else thrown by a resolver is masked as "Unexpected error." (useCorrelatedErrors). The driver
 * error behind it is deliberately not attached: a GraphQLError wrapping a non-GraphQL error is masked.
 */
export function dataError(code: DataErrorCode, message: string, extra: { issues?: InputIssue[] } = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...(extra.issues ? { issues: extra.issues } : {}) } });
}

export function badInput(typeName: string, issues: InputIssue[]): GraphQLError {
  return dataError('BAD_USER_INPUT', `Invalid ${typeName} input: ${issues.map((i) => i.message).join('; ')}`, { issues });
}

/** Filtering or sorting on a field is reading it: refused when the field is not readable. */
export function unreadableField(typeName: string, field: string, how: 'filter' | 'sort'): GraphQLError {
  return dataError('FORBIDDEN', `Cannot ${how} on ${typeName}.${field}: the field is not readable`);
}

/** The data subgraph's own error rule: a statement cancelled by statement_timeout (SQLSTATE 57014). */
export const classifyDataError: ClassifyError = (_error, chain) =>
  chain.some((e) => (e as { code?: unknown }).code === '57014') ? { code: 'TIMEOUT', message: 'The database did not answer in time' } : null;
