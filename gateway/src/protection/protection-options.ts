import type { RateLimitOptions } from './use-rate-limit.ts';

/** Limits and switches that protect the public endpoint. Every one has a safe default. */
export interface ProtectionOptions {
  /** Deepest selection allowed, fragments flattened. @default 12 */
  maxDepth?: number;
  /** Aliases per operation, `__typename` included. @default 15 */
  maxAliases?: number;
  /** Directives per operation. @default 20 */
  maxDirectives?: number;
  /** Tokens per document. @default 2000 */
  maxTokens?: number;
  /** Cost limit: objects × list sizes (first/last/limit, or the defaults below). @default 20000 */
  maxCost?: number;
  /** Size assumed for a connection without first/last. @default 100 */
  defaultPageSize?: number;
  /** Size assumed for a child list without limit. @default 20 */
  defaultChildListSize?: number;
  /** Largest request body, in bytes. @default 1_048_576 */
  maxBodyBytes?: number;
  /** Deepest nesting of objects/lists in variables and argument literals. @default 32 */
  maxInputDepth?: number;
  /** Longest list in variables and argument literals (e.g. `in: [...]`). @default 1000 */
  maxListLength?: number;
  /**
   * Most values (list items and object fields together) in variables, and in an operation's literals:
   * bounds what one filter can expand to (PostgreSQL takes at most 65,535 bind parameters). @default 10000
   */
  maxInputValues?: number;
  /** Schema introspection (and field suggestions in errors). @default false */
  introspection?: boolean;
  /** Say the limit in the error message. @default false */
  exposeLimits?: boolean;
  /** Require the CSRF header on requests a browser could send cross-site without a preflight. @default true */
  csrf?: boolean;
  /** Trusted documents: only these operations run (hash → document text, from codegen). @default undefined (any operation) */
  trustedDocuments?: Record<string, string>;
  /**
   * Requests per client and window. Off unless given, since in-process callers have no client address;
   * `npm start` turns it on (600 per minute, Redis when REDIS_URL is set).
   */
  rateLimit?: RateLimitOptions | false;
}

export const PROTECTION_DEFAULTS: Required<Omit<ProtectionOptions, 'trustedDocuments' | 'rateLimit'>> = {
  maxDepth: 12,
  maxAliases: 15,
  maxDirectives: 20,
  maxTokens: 2000,
  maxCost: 20_000,
  defaultPageSize: 100,
  defaultChildListSize: 20,
  maxBodyBytes: 1_048_576,
  maxInputDepth: 32,
  maxListLength: 1000,
  maxInputValues: 10_000,
  introspection: false,
  exposeLimits: false,
  csrf: true,
};

/** The header browsers cannot add cross-site without a preflight. */
export const CSRF_HEADER = 'x-graphql-yoga-csrf';
