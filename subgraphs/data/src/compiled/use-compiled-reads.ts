import type { Plugin } from 'graphql-yoga';
import { rawResult } from '@objectos/observability';
import type { DataContext } from '../resolvers.ts';
import { compileRead, responseText } from './compile.ts';

/**
 * Reads answered by one SQL statement that builds the response JSON in PostgreSQL (as PostGraphile and
 * Hasura do): no resolver runs, no row is materialised in JavaScript, and the text goes out as it came.
 * Whatever the compiler does not cover, or a value it would word differently, runs through graphql-js
 * as before, so both paths give the same response.
 */
export function useCompiledReads(): Plugin<DataContext> {
  return {
    onExecute({ args, setExecuteFn, executeFn }) {
      const ctx = args.contextValue as DataContext;
      const read = compileRead(ctx.ds, args.schema, args.document, args.operationName, args.variableValues);
      if (!read) return;
      setExecuteFn(async (a) => {
        let rows: Record<string, string | null>[];
        try {
          rows = ((await ctx.ds.db.execute(read.statement)) as unknown as { rows: Record<string, string | null>[] }).rows;
        } catch {
          // A value to word differently (see `fallback`), or a database error the general path words (timeouts).
          return executeFn(a);
        }
        return rawResult(responseText(read, rows[0]!));
      });
    },
  };
}
