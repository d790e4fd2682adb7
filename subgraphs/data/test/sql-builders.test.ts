import { PgDialect } from 'drizzle-orm/pg-core';
import type { SQL } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { parseMetadata } from '@objectos/metadata';
import { compile } from '@objectos/schema';
import { afterCondition, buildTable, buildWhere, resolveOrder } from '../src/index.ts';

const model = parseMetadata([{
  file: 'a.object.yaml',
  text: 'name: item\nfields:\n  title: { type: text }\n  qty: { type: number }\n  tags: { type: multiselect, options: [{ label: A, value: a }] }\n  meta: { type: json }\n  parent: { type: lookup, reference: item }\n',
}]);
const p = compile(model).plan.objects['item']!;
const table = buildTable(p);
const dialect = new PgDialect();
const render = (s: SQL | undefined) => {
  if (!s) return null;
  const { sql, params } = dialect.sqlToQuery(s);
  return { sql, params };
};

describe('where → SQL (pure, no database)', () => {
  it.each([
    [{ title: { eq: 'x' } }, '"item"."title" = $1', ['x']],
    [{ title: { ne: 'x' } }, '"item"."title" is distinct from $1', ['x']],
    [{ title: { contains: '5%_' } }, '"item"."title" ilike $1', ['%5\\%\\_%']],
    [{ qty: { between: [1, 2] } }, '"item"."qty" between $1 and $2', [1, 2]],
    [{ qty: { in: [] } }, 'false', []],
    [{ qty: { nin: [1] } }, '("item"."qty" is null or not "item"."qty" in ($1))', [1]],
    [{ tags: { hasAll: ['a'] } }, '"item"."tags" @> $1::text[]', [['a']]],
    [{ meta: { contains: { k: 1 } } }, '"item"."meta" @> $1::jsonb', ['{"k":1}']],
    [{ meta: { hasKey: 'k' } }, 'jsonb_exists("item"."meta", $1)', ['k']],
    [{ parentId: { eq: 'not-a-uuid' } }, 'false', []],
    [{ or: [{ qty: { gt: 1 } }, { not: { title: { isNull: true } } }] }, '("item"."qty" > $1 or not "item"."title" is null)', [1]],
    [{ or: [] }, 'false', []],
  ])('%j', (where, text, params) => {
    expect(render(buildWhere(p, table, where))).toEqual({ sql: text, params });
  });

  it('ANDs several operators on one field and several fields', () => {
    expect(render(buildWhere(p, table, { qty: { gte: 1, lt: 5 }, title: { startsWith: 'a' } }))?.sql)
      .toBe('("item"."qty" >= $1 and "item"."qty" < $2 and "item"."title" ilike $3)');
  });

  it('refuses unknown fields and operators (the backstop behind GraphQL validation)', () => {
    expect(() => buildWhere(p, table, { nope: { eq: 1 } })).toThrow(/Item has no field "nope"/);
    expect(() => buildWhere(p, table, { title: { regex: '.*' } })).toThrow(/unknown operator "regex"/);
  });
});

describe('keyset pagination (pure)', () => {
  it('builds a null-aware "after" condition with id as the tie-breaker', () => {
    const order = resolveOrder(p, [{ field: 'QTY', direction: 'DESC' }]);
    expect(order.map((o) => `${o.column.name} ${o.direction}`)).toEqual(['qty DESC', 'id ASC']);
    const q = render(afterCondition(table, order, [null, '00000000-0000-4000-8000-000000000001'], p))!;
    expect(q.sql).toBe('("item"."qty" is not null or ("item"."qty" is null and "item"."id" > $1))');
    const q2 = render(afterCondition(table, resolveOrder(p, [{ field: 'QTY' }]), [3, 'x'], p))!;
    expect(q2.sql).toBe('(("item"."qty" > $1 or "item"."qty" is null) or ("item"."qty" = $2 and "item"."id" > $3))');
  });

  it('defaults to creation order', () => {
    expect(resolveOrder(p, null).map((o) => o.column.name)).toEqual(['created_at', 'id']);
  });
});
