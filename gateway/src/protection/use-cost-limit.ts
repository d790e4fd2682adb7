import { GraphQLError, getNamedType, getNullableType, isCompositeType, isIntrospectionType, isListType, type DocumentNode } from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import type { Plugin } from 'graphql-yoga';

export interface CostLimitOptions {
  maxCost: number;
  defaultPageSize: number;
  defaultChildListSize: number;
  exposeLimits: boolean;
}

/**
 * Cost that knows list sizes: each object costs 1, and a list or connection multiplies its children
 * by `first`/`last`/`limit` (or the default size). So `first: 100000` or a fan-out of nested lists is
 * refused before any resolver runs, with variables taken into account.
 */
export function listSizeEstimator({ defaultPageSize, defaultChildListSize }: Pick<CostLimitOptions, 'defaultPageSize' | 'defaultChildListSize'>): ComplexityEstimator {
  return ({ type, field, args, childComplexity }) => {
    const named = getNamedType(field.type);
    if (!isCompositeType(named)) return 0;
    // Introspection (`__schema`, `__type` and what lies below) is answered from the gateway's schema in
    // memory, never by a subgraph; it is served only where introspection is on. Its lists are not
    // multiplied: the standard introspection query (types × fields × args) would exceed any data budget.
    if (isIntrospectionType(named)) return 1 + childComplexity;
    // A connection's nodes/edges are its page: the connection field already multiplied by the page size.
    if (type.name.endsWith('Connection')) return 1 + childComplexity;
    const requested = [args['first'], args['last'], args['limit']].find((v): v is number => typeof v === 'number');
    if (named.name.endsWith('Connection')) return 1 + (requested ?? defaultPageSize) * childComplexity;
    if (isListType(getNullableType(field.type))) return (requested ?? defaultChildListSize) * (1 + childComplexity);
    return 1 + childComplexity;
  };
}

export function useCostLimit(options: CostLimitOptions): Plugin {
  const estimator = listSizeEstimator(options);
  return {
    onExecute({ args, setResultAndStopExecution }) {
      let cost: number;
      try {
        cost = getComplexity({
          schema: args.schema,
          query: args.document as DocumentNode,
          variables: (args.variableValues ?? {}) as Record<string, unknown>,
          ...(args.operationName ? { operationName: args.operationName } : {}),
          estimators: [estimator],
        });
      } catch (e) {
        setResultAndStopExecution({ errors: [new GraphQLError((e as Error).message, { extensions: { code: 'BAD_USER_INPUT' } })] });
        return;
      }
      if (cost > options.maxCost) {
        const detail = options.exposeLimits ? ` (cost ${cost}, limit ${options.maxCost})` : '';
        setResultAndStopExecution({
          errors: [new GraphQLError(`Query is too expensive${detail}: ask for fewer records (first/limit) or fewer nested lists`, { extensions: { code: 'COST_LIMIT_EXCEEDED' } })],
        });
      }
    },
  };
}
