import type { ClassifyError } from '@objectos/observability';

/** Query-limit rejections (protection/use-protection.ts), which graphql-armor reports as syntax errors. */
const LIMIT = /^(?:Syntax Error: )?(.*\((?:depth|aliases|directives|token) limit\)\..*)$/;

const isTimeout = (e: unknown): boolean =>
  e instanceof Error && (e.name === 'TimeoutError' || /aborted due to timeout|timed? ?out/i.test(e.message));

/** The gateway's own error rules: query limits and subgraph calls that passed their timeout. */
export const classifyGatewayError: ClassifyError = (error, chain) => {
  const limit = LIMIT.exec(error.message);
  if (limit) return { code: 'QUERY_LIMIT_EXCEEDED', message: limit[1]! };
  if (chain.some(isTimeout)) return { code: 'TIMEOUT', message: 'A subgraph did not answer in time' };
  return null;
};
