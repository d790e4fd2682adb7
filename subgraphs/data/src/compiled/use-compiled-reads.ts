import { createHash } from 'node:crypto';
import type { DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { Database } from '@objectos/db';
import { rawResult } from '@objectos/observability';
import { principalJson } from '@objectos/principal';
import type { DataContext } from '../resolvers.ts';
import { compileRead, responseText, type CompiledRead } from './compile.ts';

interface Prepared { text: string; params: unknown[]; name: string; read: CompiledRead }

/** Compiled statements kept per document (yoga keeps parsed documents): this many per document, then reset. */
const PER_DOCUMENT = 256;

export interface ReadArgs {
  schema: Parameters<typeof compileRead>[1];
  document: DocumentNode;
  operationName?: string | null;
  variableValues?: Record<string, unknown> | null;
}

export interface CompiledReads {
  /** The yoga plugin: a compiled read replaces graphql-js execution. */
  plugin: Plugin<DataContext>;
  /**
   * The response text of a read, when the compiler covers it and the statement gives a data-only
   * answer; null otherwise (the caller then goes the general way, which words any error).
   */
  read(ctx: DataContext, args: ReadArgs): Promise<string | null>;
}

/**
 * Reads answered by one SQL statement that builds the response JSON in PostgreSQL (as PostGraphile and
 * Hasura do): no resolver runs, no row is materialised in JavaScript, and the text goes out as it came.
 * A statement is compiled once per document, variables and principal, and runs as a prepared
 * statement on PostgreSQL. Whatever the compiler does not cover, or a value it would word differently,
 * runs through graphql-js as before, so both paths give the same response.
 */
export function createCompiledReads(database: Database): CompiledReads {
  const dialect = new PgDialect();
  const compiled = new WeakMap<DocumentNode, Map<string, Prepared | null>>();
  const prepare = (ctx: DataContext, args: ReadArgs): Prepared | null => {
    let byKey = compiled.get(args.document);
    if (!byKey) compiled.set(args.document, (byKey = new Map()));
    // Everything a statement depends on: the principal (tenant, access), the operation and its variables.
    const key = `${ctx.principalKey ?? principalJson(ctx.principal)}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}`;
    let prepared = byKey.get(key);
    if (prepared === undefined) {
      const read = compileRead(ctx.ds, args.schema, args.document, args.operationName, args.variableValues);
      if (read) {
        const q = dialect.sqlToQuery(read.statement);
        prepared = { text: q.sql, params: q.params, name: `objectos_${createHash('sha1').update(q.sql).digest('hex').slice(0, 24)}`, read };
      } else prepared = null;
      if (byKey.size >= PER_DOCUMENT) byKey.clear();
      byKey.set(key, prepared);
    }
    return prepared;
  };
  const run = async (prepared: Prepared): Promise<string | null> => {
    try {
      const rows = await database.run<Record<string, string | null>>(prepared.text, prepared.params, prepared.name);
      return responseText(prepared.read, rows[0]!);
    } catch {
      // A value to word differently (see `fallback`), or a database error the general path words (timeouts).
      return null;
    }
  };
  return {
    plugin: {
      onExecute({ args, setExecuteFn, executeFn }) {
        const prepared = prepare(args.contextValue as DataContext, args);
        if (!prepared) return;
        setExecuteFn(async (a) => {
          const text = await run(prepared);
          return text === null ? executeFn(a) : rawResult(text);
        });
      },
    },
    async read(ctx, args) {
      const prepared = prepare(ctx, args);
      return prepared ? run(prepared) : null;
    },
  };
}
