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
export function unreadableField(typeName: string, field: string, how: 'filter' | 'sort' | 'aggregate' | 'group'): GraphQLError {
  return dataError('FORBIDDEN', `Cannot ${how} on ${typeName}.${field}: the field is not readable`);
}

/**
 * SQLSTATEs that are the client's input, not the server's fault. Text from JavaScript is always valid
 * UTF-8 on the wire, so a character PostgreSQL cannot store is U+0000: 22021 (text: "invalid byte
 * sequence for encoding UTF8: 0x00") and 22P05 (jsonb: "unsupported Unicode escape sequence"). The
 * gateway refuses NUL before any SQL; this covers whatever reaches the subgraph another way.
 */
const SQLSTATE_RULES: Record<string, { code: DataErrorCode; message: string }> = {
  '57014': { code: 'TIMEOUT', message: 'The database did not answer in time' },
  '22021': { code: 'BAD_USER_INPUT', message: 'Text cannot contain the NUL character (U+0000).' },
  '22P05': { code: 'BAD_USER_INPUT', message: 'Text cannot contain the NUL character (U+0000).' },
};

/** The data subgraph's own error rules, by the SQLSTATE anywhere in the error's chain. */
export const classifyDataError: ClassifyError = (_error, chain) => {
  for (const e of chain) {
    const code = (e as { code?: unknown }).code;
    const rule = typeof code === 'string' ? SQLSTATE_RULES[code] : undefined;
    if (rule) return rule;
  }
  return null;
};
