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

/** Costs kept per parsed document (yoga keeps parsed documents): this many variants each, then reset. */
const PER_DOCUMENT = 256;

export function useCostLimit(options: CostLimitOptions): Plugin {
  const estimator = listSizeEstimator(options);
  // A cost depends on the document, the operation and the variables only (not on who asks).
  const costs = new WeakMap<DocumentNode, Map<string, number | Error>>();
  const costOf = (schema: Parameters<typeof getComplexity>[0]['schema'], document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown>): number | Error => {
    let byKey = costs.get(document);
    if (!byKey) costs.set(document, (byKey = new Map()));
    const key = `${operationName ?? ''}\u0000${JSON.stringify(variables)}`;
    let cost = byKey.get(key);
    if (cost === undefined) {
      try {
        cost = getComplexity({ schema, query: document, variables, ...(operationName ? { operationName } : {}), estimators: [estimator] });
      } catch (e) {
        cost = e as Error;
      }
      if (byKey.size >= PER_DOCUMENT) byKey.clear();
      byKey.set(key, cost);
    }
    return cost;
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const cost = costOf(args.schema, args.document as DocumentNode, args.operationName, (args.variableValues ?? {}) as Record<string, unknown>);
      if (cost instanceof Error) {
        setResultAndStopExecution({ errors: [new GraphQLError(cost.message, { extensions: { code: 'BAD_USER_INPUT' } })] });
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
