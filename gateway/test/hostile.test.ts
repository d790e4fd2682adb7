import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, REPO_ROOT, testAuth } from '@objectos/testkit';
import { createGateway, type Gateway } from '../src/index.ts';
import { CASES, json } from './hostile-cases.ts';
import { startStack, type Stack } from './stack.ts';

describe.each(engines().slice(0, 1))('hostile requests against the gateway ($name)', (engine) => {
  let s: Stack;
  let subgraphCalls = 0;
  let gateway: Gateway;
  beforeAll(async () => {
    s = await startStack(engine);
    gateway = await createGateway({
      auth: testAuth(),
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
      trusted = await createGateway({ auth: testAuth(), subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: s.data.sdl, fetch: (r) => { subgraphCalls++; return s.data.fetch(r); } }], protection: { trustedDocuments: persisted } });
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
