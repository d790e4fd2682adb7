/** Hostile requests and the verdict each must get (shared by the test and bench/validation.ts). */
const nest = (depth: number): string => (depth === 0 ? 'id' : `contacts { account { ${nest(depth - 1)} } }`);
const aliases = (n: number, field: string) => Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ');

const deepNot = (n: number): Record<string, unknown> => {
  let w: Record<string, unknown> = { name: { eq: 'x' } };
  for (let i = 0; i < n; i++) w = { not: w };
  return w;
};
const invalidUtf8 = new Uint8Array([...Buffer.from('{"query":"{ accounts(where: { name: { eq: \\"'), 0xff, 0xfe, ...Buffer.from('\\" } }) { totalCount } }"}')]);

export interface Hostile { name: string; init: RequestInit & { path?: string }; status?: number; code?: string; message: RegExp }
export const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

/** Hostile requests and the verdict each must get, with 0 subgraph calls and 0 SQL statements. */
export const CASES: Hostile[] = [
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
  { name: 'variables nested 3000 deep', init: json({ query: 'query($w: AccountWhere) { accounts(where: $w) { totalCount } }', variables: { w: deepNot(3000) } }), code: 'INPUT_LIMIT_EXCEEDED', message: /nested too deeply \(input depth limit\)/ },
  { name: '10,000-element list in variables', init: json({ query: 'query($ids: [ID!]) { accounts(where: { id: { in: $ids } }) { totalCount } }', variables: { ids: Array.from({ length: 10_000 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`) } }), code: 'INPUT_LIMIT_EXCEEDED', message: /too long \(list length limit\)/ },
  { name: 'invalid UTF-8', init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: invalidUtf8 }, status: 400, code: 'BAD_REQUEST', message: /not valid UTF-8/ },
  { name: 'wrong content type', init: { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<query>{ __typename }</query>' }, status: 415, message: /^$|./ },
  { name: 'malformed JSON', init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' }, status: 400, message: /invalid JSON/i },
  { name: 'GET without the CSRF header', init: { method: 'GET', path: '/graphql?query=%7B__typename%7D' }, status: 403, message: /./ },
  { name: 'url-encoded POST without the CSRF header', init: { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'query=%7B__typename%7D' }, status: 403, message: /./ },
  { name: 'text/plain POST without the CSRF header', init: { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"query":"{ __typename }"}' }, status: 403, message: /./ },
  { name: 'GET mutation (with the CSRF header)', init: { method: 'GET', path: '/graphql?query=mutation%7BcreateAccount(input%3A%7Bname%3A%22x%22%7D)%7Bid%7D%7D', headers: { 'x-graphql-yoga-csrf': '1' } }, status: 405, message: /./ },
];

