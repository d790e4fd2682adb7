import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import type { Plugin } from 'graphql-yoga';
import { CSRF_HEADER, PROTECTION_DEFAULTS, type ProtectionOptions } from './protection-options.ts';
import { useInputLimits } from './use-input-limits.ts';
import { useNoSuggestions } from './use-no-suggestions.ts';
import { useRequestBody } from './use-request-body.ts';
import { useCostLimit } from './use-cost-limit.ts';
import type { RateLimit } from './use-rate-limit.ts';

/**
 * Every protection of the public endpoint, configured from one place. All checks run before any
 * resolver: body size on the request, token count while parsing, depth/aliases/directives in
 * validation, cost with variables known just before execution.
 */
export function useProtection(options: ProtectionOptions = {}, rateLimit?: RateLimit): Plugin[] {
  const o = { ...PROTECTION_DEFAULTS, ...options };
  const armor = { exposeLimits: o.exposeLimits, propagateOnRejection: true };
  const plugins: Plugin[] = [
    useRequestBody(o.maxBodyBytes),
    useInputLimits(o),
    // Messages name the limit without its number (exposeLimits adds the numbers).
    maxTokensPlugin({ ...armor, n: o.maxTokens, errorMessage: 'Query is too long (token limit).' }) as Plugin,
    // `__schema` is left to the introspection switch: served where introspection is on (the standard
    // query is deeper than any data query needs), refused by name where it is off.
    maxDepthPlugin({ ...armor, n: o.maxDepth, flattenFragments: true, ignoreIntrospection: true, errorMessage: 'Query is too deep (depth limit).' }) as Plugin,
    // Count __typename aliases too (armor's default allow-list lets 101× `a: __typename` through).
    maxAliasesPlugin({ ...armor, n: o.maxAliases, allowList: [], errorMessage: 'Query uses too many aliases (aliases limit).' }) as Plugin,
    maxDirectivesPlugin({ ...armor, n: o.maxDirectives, errorMessage: 'Query uses too many directives (directives limit).' }) as Plugin,
    useCostLimit(o),
  ];
  if (o.csrf) plugins.unshift(useCSRFPrevention({ requestHeaders: [CSRF_HEADER] }));
  // First of all: a client over its budget costs nothing more.
  if (rateLimit) plugins.unshift(rateLimit.plugin);
  // Suggestions name what the schema has; without introspection, no message may (armor's plugin only
  // covered some validation errors, not coercion of variables nor enum values).
  if (!o.introspection) plugins.push(useDisableIntrospection(), useNoSuggestions());
  if (options.trustedDocuments) {
    const store = new Map(Object.entries(options.trustedDocuments).map(([hash, text]) => [hash.replace(/^sha256:/, ''), text]));
    plugins.push(usePersistedOperations({ getPersistedOperation: (key) => store.get(key) ?? null, allowArbitraryOperations: false }));
  }
  return plugins;
}
