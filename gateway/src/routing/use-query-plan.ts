import { unifiedGraphHandler } from '@graphql-hive/router-runtime';
import type { ExecutionRequest, Executor } from '@graphql-tools/utils';
import { buildASTSchema, getOperationAST, getVariableValues, parse, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Operations across subgraphs planned by Hive's Rust query planner (`@graphql-hive/router-query-planner`
 * through `@graphql-hive/router-runtime`) instead of schema stitching: a plan per document (cached),
 * then its fetches, each through ObjectOS's own subgraph executor (signed, timed out, coded failures).
 * The checks before execution are the same as on every path: authentication, limits, and the access
 * decisions as a validation rule. Subscriptions stay on the stitched schema (the live path).
 */
export async function createQueryPlanExecutor(supergraphSdl: string, executorOf: (subgraph: string) => Executor | undefined): Promise<Executor> {
  const unifiedGraph = buildASTSchema(parse(supergraphSdl, { noLocation: true }), { assumeValid: true, assumeValidSDL: true });
  const handler = await unifiedGraphHandler({
    unifiedGraph,
    getUnifiedGraphSDL: () => supergraphSdl,
    onSubgraphExecute: ((subgraph: string, request: ExecutionRequest) => {
      const execute = executorOf(subgraph);
      if (!execute) throw new Error(`the query plan calls subgraph "${subgraph}", which the gateway does not route to`);
      return execute(request);
    }) as never,
  });
  if (!handler.executor) throw new Error('the query planner runtime returned no executor');
  return handler.executor;
}

/** Runs queries and mutations with the planned executor of the routing in force (none: the stitched schema). */
export function useQueryPlan(executor: () => Executor | null): Plugin {
  return {
    onExecute({ args, setExecuteFn }) {
      const execute = executor();
      if (!execute) return;
      const operation = getOperationAST(args.document, args.operationName);
      if (!operation || operation.operation === 'subscription') return;
      // Introspection describes the gateway's own schema: the stitched one answers it.
      if (operation.selectionSet.selections.every((s) => s.kind === 'Field' && (s.name.value === '__schema' || s.name.value === '__type' || s.name.value === '__typename'))) return;
      setExecuteFn(async (a) => {
        // Variables are coerced as the gateway's own execution would, so bad ones get the same errors.
        const coerced = getVariableValues(a.schema, operation.variableDefinitions ?? [], a.variableValues ?? {});
        if (coerced.errors) return { errors: coerced.errors };
        return (await execute({
          document: a.document,
          variables: coerced.coerced,
          ...(a.operationName ? { operationName: a.operationName } : {}),
          context: a.contextValue,
          rootValue: a.rootValue,
          operationType: operation.operation,
        } as ExecutionRequest)) as ExecutionResult;
      });
    },
  };
}
