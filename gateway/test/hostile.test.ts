import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, REPO_ROOT } from '@objectos/testkit';
import { createGateway, type Gateway } from '../src/index.ts';
import { startStack, type Stack } from './stack.ts';

const nest = (depth: number): string => (depth === 0 ? 'id' : `contacts { account { ${nest(depth - 1)} } }`);
const aliases = (n: number, field: string) => Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ');

interface Hostile { name: string; init: RequestInit & { path?: string }; status?: number; code?: string; message: RegExp }
const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

/** Hostile requests and the verdict each must get, with 0 subgraph calls and 0 SQL statements. */
const CASES: Hostile[] = [
  { name: 'depth 50', init: json({ query: `{ accounts { nodes { ${nest(25)} } } }` }), code: 'QUERY_LIMIT_EXCEEDED', message: /"Query is too deep \(depth limit\)\."/ },
  { name: 'depth hidden in fragments', init: json({ query: `query { accounts { nodes { ...A } } } fragment A on Account { contacts { ...B } } fragment B on Contact { account { ${nest(8)} } }` }), code: 'QUERY_LIMIT_EXCEEDED', message: /"Query is too deep \(depth limit\)\."/ },
  { name: 'depth behind a fragment named __schema', init: json({ query: `query { accounts { nodes { ...__schema } } } fragment __schema on Account { ${nest(10)} }` }), code: 'QUERY_LIMIT_EXCEEDED', message: /"Query is too deep \(depth limit\)\."/ },
  { name: '16 aliases', init: json({ query: `{ ${aliases(16, 'accounts { totalCount }')} }` }), code: 'QUERY_LIMIT_EXCEEDED', message: /"Query uses too many aliases \(aliases limit\)\."/ },
  { name: '101 __typename aliases', init: json({ query: `{ ${aliases(101, '__typename')} }` }), code: 'QUERY_LIMIT_EXCEEDED', message: /"Query uses too many aliases \(aliases limit\)\."/ },
  { name: '51 directives', init: json({ query: `{ accounts { totalCount ${'@include(if: true) '.repeat(51)} } }` }), code: 'QUERY_LIMIT_EXCEEDED', message: /"Query uses too many directives \(directives limit\)\."/ },
  { name: 'over 2000 tokens', init: json({ query: `{ accounts { nodes { ${'id '.repeat(2100)} } } }` }), code: 'QUERY_LIMIT_EXCEEDED', message: /"Query is too long \(token limit\)\."/ },
  { name: 'body over 1 MiB', init: { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(2 * 1024 * 1024) }, body: 'x'.repeat(2 * 1024 * 1024) }, status: 413, code: 'PAYLOAD_TOO_LARGE', message: /larger than 1048576 bytes/ },
  { name: 'streamed body over 1 MiB (no Content-Length)', init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: new Blob([`{"query":"${'x'.repeat(2 * 1024 * 1024)}"}`]).stream(), duplex: 'half' } as RequestInit, status: 413, code: 'PAYLOAD_TOO_LARGE', message: /larger than/ },
  { name: 'circular fragments', init: json({ query: 'query { accounts { nodes { ...A } } } fragment A on Account { parentAccount { ...B } } fragment B on Account { parentAccount { ...A } }' }), code: 'GRAPHQL_VALIDATION_FAILED', message: /Cannot spread fragment .{1,2}A.{1,2} within itself/ },
  { name: 'first: 10000 with nested lists (cost)', init: json({ query: '{ accounts(first: 10000) { nodes { contacts { account { contacts { id } } } } } }' }), code: 'COST_LIMIT_EXCEEDED', message: /Query is too expensive/ },
  { name: 'first as a variable (cost sees variables)', init: json({ query: 'query($n: Int) { accounts(first: $n) { nodes { contacts(limit: 1000) { id } } } }', variables: { n: 5000 } }), code: 'COST_LIMIT_EXCEEDED', message: /Query is too expensive/ },
  { name: 'batch of 11 operations (batching is off)', init: json(Array.from({ length: 11 }, () => ({ query: '{ __typename }' }))), status: 400, message: /./ },
  { name: 'introspection (off by default)', init: json({ query: '{ __schema { types { name } } }' }), code: 'GRAPHQL_VALIDATION_FAILED', message: /introspection/i },
  { name: '__type introspection', init: json({ query: '{ __type(name: "Account") { fields { name } } }' }), code: 'GRAPHQL_VALIDATION_FAILED', message: /introspection/i },
  { name: 'malformed JSON', init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' }, status: 400, message: /invalid JSON/i },
  { name: 'GET without the CSRF header', init: { method: 'GET', path: '/graphql?query=%7B__typename%7D' }, status: 403, message: /./ },
  { name: 'url-encoded POST without the CSRF header', init: { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'query=%7B__typename%7D' }, status: 403, message: /./ },
  { name: 'text/plain POST without the CSRF header', init: { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"query":"{ __typename }"}' }, status: 403, message: /./ },
  { name: 'GET mutation (with the CSRF header)', init: { method: 'GET', path: '/graphql?query=mutation%7BcreateAccount(input%3A%7Bname%3A%22x%22%7D)%7Bid%7D%7D', headers: { 'x-graphql-yoga-csrf': '1' } }, status: 405, message: /./ },
];

describe.each(engines().slice(0, 1))('hostile requests against the gateway ($name)', (engine) => {
  let s: Stack;
  let subgraphCalls = 0;
  let gateway: Gateway;
  beforeAll(async () => {
    s = await startStack(engine);
    gateway = await createGateway({
      subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: s.data.sdl, fetch: (r) => { subgraphCalls++; return s.data.fetch(r); } }],
    });
  });
  afterAll(() => s?.close());

  it.each(CASES)('$name', async ({ init, status, code, message }) => {
    subgraphCalls = 0;
    s.statements.length = 0;
    const { path = '/graphql', ...rest } = init;
    const res = await gateway.fetch(new Request(`http://objectos.test${path}`, rest));
    const text = await res.text();
    if (status) expect(res.status, text).toBe(status);
    else expect(res.status, text).toBeLessThan(500);
    expect(text).toMatch(message);
    if (code) expect(JSON.parse(text).errors?.[0]?.extensions?.code, text).toBe(code);
    expect(text).not.toMatch(/Did you mean/);
    expect(subgraphCalls).toBe(0);
    expect(s.statements).toEqual([]);
  });

  it('gives no field suggestions when introspection is off', async () => {
    const res = await gateway.fetch(new Request('http://objectos.test/graphql', json({ query: '{ acounts { totalCount } }' })));
    const text = await res.text();
    expect(text).toMatch(/Cannot query field/);
    expect(text).not.toMatch(/Did you mean/);
  });

  it('lets an ordinary query through the same protections', async () => {
    const res = await gateway.fetch(new Request('http://objectos.test/graphql', json({ query: '{ accounts(first: 50) { nodes { name contacts { lastName account { name } } } } }' })));
    expect(((await res.json()) as { errors?: unknown }).errors).toBeUndefined();
  });

  describe('trusted documents (persisted operations only)', () => {
    const persisted = JSON.parse(readFileSync(`${REPO_ROOT}packages/sdk/src/generated/persisted-documents.json`, 'utf8')) as Record<string, string>;
    let trusted: Gateway;
    beforeAll(async () => {
      trusted = await createGateway({ subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: s.data.sdl, fetch: (r) => { subgraphCalls++; return s.data.fetch(r); } }], protection: { trustedDocuments: persisted } });
    });
    const send = (body: unknown) => trusted.fetch(new Request('http://objectos.test/graphql', json(body))).then((r) => r.json() as Promise<{ data?: unknown; errors?: { message: string }[] }>);

    it('runs an operation by its codegen hash', async () => {
      const [hash] = Object.entries(persisted).find(([, text]) => text.startsWith('query ListAccounts'))!;
      const r = await send({ extensions: { persistedQuery: { version: 1, sha256Hash: hash.replace('sha256:', '') } }, variables: { first: 1 } });
      expect(r.errors).toBeUndefined();
      expect(r.data).toMatchObject({ accounts: { totalCount: expect.any(Number) } });
    });

    it('refuses raw queries and unknown hashes without calling the subgraph', async () => {
      subgraphCalls = 0;
      expect((await send({ query: '{ accounts { totalCount } }' })).errors?.[0]?.message).toBe('PersistedQueryOnly');
      expect((await send({ extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } })).errors?.[0]?.message).toBe('PersistedQueryNotFound');
      expect(subgraphCalls).toBe(0);
    });
  });
});
