import { GraphQLError } from 'graphql';
import type { ClassifyError } from '@objectos/observability';

/** Error codes of the data subgraph, with the `extensions.code` and HTTP-ish status they map to. */
export const DATA_ERRORS = {
  BAD_USER_INPUT: { status: 400 },
  NOT_FOUND: { status: 404 },
  CONFLICT: { status: 409 },
  FORBIDDEN: { status: 403 },
  TIMEOUT: { status: 504 },
} as const;
export type DataErrorCode = keyof typeof DATA_ERRORS;

export interface InputIssue {
  /** GraphQL input field name (`annualRevenue`), or the argument (`where`, `after`). */
  field: string;
  /** Which rule was broken: `maxLength`, `min`, `required`, `format`, `reference`, `unique`… */
  constraint: string;
  message: string;
}

/**
 * A client-facing error: a GraphQLError (so it is not masked) with a stable `extensions.code`.
 * Anything else thrown by a resolver is masked as "Unexpected error." by the server. The driver error
 * behind it is deliberately not attached: yoga masks a GraphQLError whose originalError is not one.
 */
export function dataError(code: DataErrorCode, message: string, extra: { issues?: InputIssue[] } = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...(extra.issues ? { issues: extra.issues } : {}) } });
}

export function badInput(typeName: string, issues: InputIssue[]): GraphQLError {
  return dataError('BAD_USER_INPUT', `Invalid ${typeName} input: ${issues.map((i) => i.message).join('; ')}`, { issues });
}

/** The data subgraph's own error rule: a statement cancelled by statement_timeout (SQLSTATE 57014). */
export const classifyDataError: ClassifyError = (_error, chain) =>
  chain.some((e) => (e as { code?: unknown }).code === '57014') ? { code: 'TIMEOUT', message: 'The database did not answer in time' } : null;
