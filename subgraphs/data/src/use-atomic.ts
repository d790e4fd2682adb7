import { getOperationAST, GraphQLError, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { DataContext } from './resolvers.ts';
import { createLoaders } from './loaders.ts';
import { inOneTransaction } from './sql/bulk.ts';

const ROLLBACK = Symbol('rollback');

/**
 * The `atomic` request option (`extensions: { atomic: true }`, which the gateway passes on): every
 * mutation field of the request runs in one transaction, committed only when all of them succeed.
 * When any fails, nothing is written: the answer is the errors, data null, and one more error saying so.
 */
export function useAtomicMutations(): Plugin {
  return {
    onExecute({ args, setExecuteFn, executeFn }) {
      const params = (args.contextValue as { params?: { extensions?: { atomic?: unknown } } }).params;
      if (params?.extensions?.atomic !== true || getOperationAST(args.document, args.operationName)?.operation !== 'mutation') return;
      setExecuteFn(async (a) => {
        const ctx = a.contextValue as DataContext;
        const { ds, loaders } = ctx;
        let result: ExecutionResult | undefined;
        try {
          await inOneTransaction(ds, async (tx) => {
            ctx.ds = tx;
            ctx.loaders = createLoaders(tx);
            result = (await executeFn(a)) as ExecutionResult;
            if (result.errors?.length) throw ROLLBACK;
          });
          return result!;
        } catch (e) {
          if (e !== ROLLBACK) throw e;
          return {
            data: null,
            errors: [...result!.errors!, new GraphQLError('The request is atomic and a mutation failed: nothing was written', { extensions: { code: 'ROLLED_BACK' } })],
          };
        } finally {
          ctx.ds = ds;
          ctx.loaders = loaders;
        }
      });
    },
  };
}
