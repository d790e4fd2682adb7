import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  buildSchema, getNamedType, isInputObjectType, isListType, isNonNullType, isObjectType, isScalarType,
  type GraphQLField, type GraphQLInputType, type GraphQLObjectType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, REPO_ROOT } from '@objectos/testkit';
import { startStack, type Stack } from './stack.ts';

const schema = buildSchema(readFileSync(`${REPO_ROOT}schema/generated/public.graphql`, 'utf8'));
/**
 * The stack serves the data subgraph: its root fields are fuzzed (the identity, audit and automation
 * roots of the public schema would only ever bounce off the gateway's validation, and each one added
 * there would thin out what reaches resolvers and SQL).
 */
const served = buildSchema(readFileSync(`${REPO_ROOT}schema/generated/data.graphql`, 'utf8').replace(/^extend schema[^\n]*\n/m, '').replace(/@\w+(\([^)]*\))?/g, ''), { assumeValidSDL: true });
const servedRoots = new Set([...Object.keys(served.getQueryType()?.getFields() ?? {}), ...Object.keys(served.getMutationType()?.getFields() ?? {})]);
const roots: [string, GraphQLObjectType][] = [['query', schema.getQueryType()!], ['mutation', schema.getMutationType()!]];
const fields = roots.flatMap(([op, type]) => Object.values(type.getFields()).filter((f) => servedRoots.has(f.name)).map((f) => ({ op, field: f as GraphQLField<unknown, unknown> })));
const LEAK = /at .*\.ts:|\bselect |insert into|postgres|drizzle|node_modules/i;
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 5000);

/** Hostile values: wrong types, huge and odd strings, lone surrogates, NUL, deep objects, 10k-element lists, huge filters. */
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => `a${String.fromCharCode(c)}b`);
const deep = fc.integer({ min: 1, max: 300 }).map((n) => {
  let v: Record<string, unknown> = { id: { eq: 'x' } };
  for (let i = 0; i < n; i++) v = { not: v };
  return v;
});
/** NUL (U+0000), which PostgreSQL text and jsonb cannot hold: in strings, in JSON values at any depth, in keys. */
const withNul = fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 })).map(([a, b]) => `${a}\u0000${b}`);
const nulJson = fc.oneof(withNul, withNul.map((v) => ({ a: { b: [1, v] } })), withNul.map((k) => ({ [k]: 1 })));
/** A filter that expands past PostgreSQL's 65,535 bind parameters (many `in` lists), or just below the input limits. */
const hugeFilter = fc.integer({ min: 9, max: 70 }).map((lists) => ({
  or: Array.from({ length: lists }, (_, i) => ({ id: { in: Array.from({ length: 1000 }, (_, j) => `00000000-0000-4000-8000-${String(i * 1000 + j).padStart(12, '0')}`) } })),
}));
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 200 }),
  loneSurrogate,
  fc.integer(),
  fc.double({ noNaN: false }),
  fc.boolean(),
  fc.constant(null),
  fc.constant('x'.repeat(100_000)),
  fc.constantFrom('00000000-0000-4000-8000-000000000000', '1 or 1=1', "'; drop table account; --", '9'.repeat(400), '2024-02-30', 'NaN'),
  deep,
  fc.array(fc.oneof(fc.integer(), fc.string()), { minLength: 10_000, maxLength: 10_000 }),
  fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof(fc.string(), fc.integer(), fc.constant(null)), { maxKeys: 5 }),
  withNul,
  nulJson,
  hugeFilter,
);

/** Sometimes a well-typed value, so the request gets past validation and into resolvers and SQL. */
function typed(t: GraphQLInputType, depth = 0): fc.Arbitrary<unknown> {
  if (isNonNullType(t)) return typed(t.ofType, depth);
  if (isListType(t)) return fc.array(typed(t.ofType, depth + 1), { maxLength: 3 });
  const named = getNamedType(t);
  if (isInputObjectType(named)) {
    if (depth > 2) return fc.constant({});
    const entries = Object.values(named.getFields()).slice(0, 6);
    return fc.record(Object.fromEntries(entries.map((f) => [f.name, fc.oneof(typed(f.type, depth + 1), hostile)])), { requiredKeys: [] });
  }
  if (isScalarType(named)) {
    const byScalar: Record<string, fc.Arbitrary<unknown>> = {
      Int: fc.integer({ min: -5, max: 2000 }), Float: fc.double({ noNaN: true, min: -1e20, max: 1e20 }), Boolean: fc.boolean(),
      ID: fc.uuid(), String: fc.string({ maxLength: 300 }), Date: fc.constantFrom('2024-01-31', '2024-13-01'),
      DateTime: fc.constantFrom('2026-01-01T00:00:00Z', 'yesterday'), Time: fc.constantFrom('09:30', '25:00'), JSON: fc.oneof(fc.jsonValue({ maxDepth: 3 }), nulJson),
    };
    return byScalar[named.name] ?? hostile;
  }
  return fc.constantFrom(...named.getValues().map((v) => v.name), 'not_an_option');
}

const request = fc.constantFrom(...fields).chain(({ op, field }) => {
  const vars = field.args.map((a) => ({ name: a.name, type: a.type.toString() }));
  const out = getNamedType(field.type);
  const selection = isObjectType(out) ? (out.getFields()['totalCount'] ? '{ totalCount }' : '{ __typename }') : '';
  const doc = `${op}${vars.length ? `(${vars.map((v) => `$${v.name}: ${v.type}`).join(', ')})` : ''} { ${field.name}${vars.length ? `(${vars.map((v) => `${v.name}: $${v.name}`).join(', ')})` : ''} ${selection} }`;
  const values = fc.record(Object.fromEntries(field.args.map((a) => [a.name, fc.oneof(typed(a.type), hostile)])), { requiredKeys: [] });
  return values.map((variables) => ({ query: doc, variables }));
});

/**
 * The same nasty shapes as literals in the query text (no variables): `where` nested up to 400 levels
 * deep, with NUL or a plain value at the bottom, and long `in` lists.
 */
const listFields = fields.filter(({ op, field }) => op === 'query' && field.args.some((a) => a.name === 'where'));
const literal = fc.record({
  field: fc.constantFrom(...listFields.map(({ field }) => field.name)),
  depth: fc.integer({ min: 0, max: 400 }),
  leaf: fc.oneof(fc.constant('{ id: { eq: "00000000-0000-4000-8000-000000000000" } }'), withNul.map((v) => `{ id: { eq: ${JSON.stringify(v)} } }`),
    fc.integer({ min: 1, max: 1500 }).map((n) => `{ id: { in: [${Array.from({ length: n }, () => '"x"').join(',')}] } }`)),
}).map(({ field, depth, leaf }) => {
  let where = leaf;
  for (let i = 0; i < depth; i++) where = i % 3 === 0 ? `{ not: ${where} }` : `{ ${i % 3 === 1 ? 'and' : 'or'}: [${where}] }`;
  return { query: `{ ${field}(where: ${where}) { totalCount } }`, variables: {} };
});

describe('fuzz over the generated schema', () => {
  let s: Stack;
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  beforeAll(async () => {
    s = await startStack(engines()[0]!, { seed: true });
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await s?.close();
  });

  const statuses = new Map<number, number>();
  let executed = 0;
  const BATCHES = 10;

  // Ten batches (different seeds), so the run reports progress and no single test runs for minutes.
  it.each(Array.from({ length: BATCHES }, (_, i) => i))(`batch %i of ${BATCHES}: ${RUNS / BATCHES} hostile requests, no 5xx, spec-shaped JSON, nothing internal leaked`, async (batch) => {
    await fc.assert(
      fc.asyncProperty(fc.oneof({ weight: 9, arbitrary: request }, { weight: 1, arbitrary: literal }, { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((q) => ({ query: q, variables: {} })) }), async (body) => {
        // In-process requests never leave the microtask queue; yield so the worker's IPC stays alive.
        await new Promise((r) => setImmediate(r));
        const res = await s.gateway.fetch(new Request('http://objectos.test/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect(res.status, text.slice(0, 500)).toBeLessThan(500);
        const parsed = JSON.parse(text) as { data?: unknown; errors?: { message: unknown; extensions?: { code?: unknown } }[] };
        expect('data' in parsed || Array.isArray(parsed.errors), text.slice(0, 300)).toBe(true);
        if (parsed.data) executed++;
        for (const e of parsed.errors ?? []) {
          expect(typeof e.message).toBe('string');
          expect(e.message as string, JSON.stringify(body).slice(0, 300)).not.toMatch(LEAK);
          expect(e.message, JSON.stringify(body).slice(0, 300)).not.toBe('Unexpected error.');
          expect(e.extensions?.code, text.slice(0, 300)).not.toBe('INTERNAL_SERVER_ERROR');
        }
      }),
      { numRuns: RUNS / BATCHES, seed: Number(process.env['FUZZ_SEED'] ?? 20261123) + batch },
    );
  }, 600_000);

  it('had no unhandled rejection, and reached resolvers and SQL', () => {
    expect(unhandled).toEqual([]);
    // The fuzz must reach resolvers and SQL, not only bounce off validation.
    expect(executed).toBeGreaterThan(RUNS / 20);
    console.log(`[fuzz] ${RUNS} requests, ${executed} executed (data returned), status counts: ${JSON.stringify(Object.fromEntries(statuses))}`);
  });
});
