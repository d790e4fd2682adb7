import type { ClassifyError } from '@objectos/observability';

/** Query-limit rejections (protection/use-protection.ts), which graphql-armor reports as syntax errors. */
const LIMIT = /^(?:Syntax Error: )?(.*\((?:depth|aliases|directives|token) limit\)\..*)$/;

const isTimeout = (e: unknown): boolean =>
  e instanceof Error && (e.name === 'TimeoutError' || /aborted due to timeout|timed? ?out/i.test(e.message));

/** Codes of failed subgraph calls (routing/subgraph-executor.ts): their messages name the subgraph and nothing else. */
const CALL_FAILURES = new Set(['SUBGRAPH_UNAVAILABLE', 'SUBGRAPH_ERROR', 'CANCELLED']);

/** The gateway's own error rules: query limits, subgraph calls that passed their timeout or got no answer. */
export const classifyGatewayError: ClassifyError = (error, chain) => {
  const limit = LIMIT.exec(error.message);
  if (limit) return { code: 'QUERY_LIMIT_EXCEEDED', message: limit[1]! };
  if (chain.some(isTimeout)) return { code: 'TIMEOUT', message: 'A subgraph did not answer in time' };
  const code = error.extensions?.['code'];
  if (typeof code === 'string' && CALL_FAILURES.has(code) && /^Subgraph "[\w-]+" /.test(error.message)) return { code, message: error.message };
  return null;
};
