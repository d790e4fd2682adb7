import { PgDialect } from 'drizzle-orm/pg-core';
import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { parseMetadata } from '@objectos/metadata';
import { compile } from '@objectos/schema';
import { buildTable, buildWhere } from '../src/index.ts';
import { chunks, inChunks, MAX_IDS_PER_STATEMENT } from '../src/sql/chunks.ts';
import { WHERE_LIMITS } from '../src/sql/where.ts';

const model = parseMetadata([{ file: 'a.object.yaml', text: 'name: item\nfields:\n  title: { type: text }\n' }]);
const p = compile(model).plan.objects['item']!;
const table = buildTable(p);
const dialect = new PgDialect();
const refusal = (f: () => unknown): GraphQLError => {
  try {
    f();
  } catch (e) {
    return e as GraphQLError;
  }
  throw new Error('expected a refusal');
};

describe('where stays within what PostgreSQL accepts (pure)', () => {
  it('refuses a filter past the bind-parameter budget, before any SQL exists', () => {
    const lists = Math.ceil((WHERE_LIMITS.maxParams + 1) / 1000);
    const where = { or: Array.from({ length: lists }, (_, i) => ({ title: { in: Array.from({ length: 1000 }, (_, j) => `${i}-${j}`) } })) };
    const e = refusal(() => buildWhere(p, table, where));
    expect(e.extensions['code']).toBe('BAD_USER_INPUT');
    expect(e.message).toMatch(/filter is too large/);
  });

  it('builds one at the budget, and its statement has that many parameters', () => {
    const where = { or: Array.from({ length: WHERE_LIMITS.maxParams / 1000 }, (_, i) => ({ title: { in: Array.from({ length: 1000 }, (_, j) => `${i}-${j}`) } })) };
    expect(dialect.sqlToQuery(buildWhere(p, table, where)!).params).toHaveLength(WHERE_LIMITS.maxParams);
    expect(WHERE_LIMITS.maxParams).toBeLessThan(65_535 / 2);
  });

  it('refuses nesting past the depth limit, and builds nesting just under it', () => {
    const nested = (n: number) => {
      let w: Record<string, unknown> = { title: { eq: 'x' } };
      for (let i = 0; i < n; i++) w = i % 2 ? { not: w } : { and: [w] };
      return w;
    };
    expect(refusal(() => buildWhere(p, table, nested(WHERE_LIMITS.maxDepth))).message).toMatch(/too deeply nested/);
    expect(dialect.sqlToQuery(buildWhere(p, table, nested(WHERE_LIMITS.maxDepth - 1))!).params).toEqual(['x']);
  });
});

describe('id lists are split per statement', () => {
  it('slices at MAX_IDS_PER_STATEMENT and runs each slice once, in order', async () => {
    const ids = Array.from({ length: MAX_IDS_PER_STATEMENT * 2 + 5 }, (_, i) => i);
    expect(chunks(ids).map((c) => c.length)).toEqual([MAX_IDS_PER_STATEMENT, MAX_IDS_PER_STATEMENT, 5]);
    const seen: number[] = [];
    const rows = await inChunks(ids, async (slice) => (seen.push(slice.length), slice.map((x) => x * 2)));
    expect(seen).toEqual([MAX_IDS_PER_STATEMENT, MAX_IDS_PER_STATEMENT, 5]);
    expect(rows).toEqual(ids.map((x) => x * 2));
    expect(await inChunks([], async (slice) => slice)).toEqual([]);
  });
});
