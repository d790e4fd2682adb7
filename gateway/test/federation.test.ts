import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { engines, gql, gqlOk, signedFetch, testAuth, testPrincipal } from '@objectos/testkit';
import { composeSupergraph, CompositionError, createGateway } from '../src/index.ts';
import { BILLING_SDL, billingResolvers, CONFLICTING_SDL, LEDGER_SDL, ledgerResolvers, startExternalSubgraph } from './external-subgraph.ts';
import { startStack, type Stack } from './stack.ts';

describe('federation', () => {
  let s: Stack;
  let billing: Awaited<ReturnType<typeof startExternalSubgraph>>;
  beforeAll(async () => {
    s = await startStack(engines()[0]!);
    billing = await startExternalSubgraph(BILLING_SDL, billingResolvers);
  });
  afterAll(async () => {
    await billing?.close();
    await s?.close();
  });

  it('composes an external subgraph that extends an ObjectOS entity, and resolves across both', async () => {
    const gateway = await createGateway({
      auth: testAuth(),
      subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: s.data.sdl, fetch: s.data.fetch }, { name: 'billing', url: billing.url }],
    });
    const { createAccount } = await gqlOk<{ createAccount: { id: string } }>(gateway.fetch, 'mutation { createAccount(input: { name: "Federated" }) { id } }');
    const r = await gqlOk<{ accounts: { nodes: { name: string; billingPlan: string; invoices: { number: string }[] }[] } }>(
      gateway.fetch, '{ accounts(where: { name: { eq: "Federated" } }) { nodes { name billingPlan invoices { number } } } }');
    expect(r.accounts.nodes).toEqual([{ name: 'Federated', billingPlan: createAccount.id.endsWith('0') ? 'enterprise' : 'team', invoices: [{ number: `INV-${createAccount.id.slice(0, 4)}` }] }]);
  });

  it('answers a reference to a record the caller cannot read as NOT_FOUND, worded as for a missing one, never INTERNAL', async () => {
    const gateway = await createGateway({ auth: testAuth(), subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: s.data.sdl, fetch: s.data.fetch }] });
    const { createAccount: mine } = await gqlOk<{ createAccount: { id: string } }>(gateway.fetch, 'mutation { createAccount(input: { name: "Mine" }) { id } }');
    // Another organization's account: the caller's tenant wall hides it.
    const other = signedFetch(s.data.fetch, testPrincipal('00000000-0000-4000-8000-0000000000ff', '00000000-0000-4000-8000-0000000000fe'));
    const { createAccount: theirs } = await gqlOk<{ createAccount: { id: string } }>(other, 'mutation { createAccount(input: { name: "Theirs" }) { id } }');
    const ledger = await startExternalSubgraph(LEDGER_SDL, ledgerResolvers([mine.id, theirs.id, randomUUID()]));
    try {
      const both = await createGateway({ auth: testAuth(), subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: s.data.sdl, fetch: s.data.fetch }, { name: 'ledger', url: ledger.url }] });
      type Entry = { number: string; account: { id: string; name: string } | null };
      const r = await gql<{ ledger: Entry[] }>(both.fetch, '{ ledger { number account { id name } } }');
      expect(r.data?.ledger).toEqual([{ number: 'L-0', account: { id: mine.id, name: 'Mine' } }, { number: 'L-1', account: null }, { number: 'L-2', account: null }]);
      const errors = (r.errors ?? []).map((e) => ({ code: e.extensions?.['code'], message: e.message, path: e.path }));
      expect(errors).toEqual([
        { code: 'NOT_FOUND', message: 'No Account with this id that you can read', path: ['ledger', 1, 'account', 'name'] },
        { code: 'NOT_FOUND', message: 'No Account with this id that you can read', path: ['ledger', 2, 'account', 'name'] },
      ]);
      expect(JSON.stringify(r)).not.toContain('Theirs');
      // A non-null reference: the entry is null, and the error is still NOT_FOUND ("Cannot return null" never shows).
      const strict = await gql<{ strictLedger: (Entry | null)[] }>(both.fetch, '{ strictLedger { number account { id name } } }');
      expect(strict.data?.strictLedger).toEqual([{ number: 'L-0', account: { id: mine.id, name: 'Mine' } }, null, null]);
      expect((strict.errors ?? []).map((e) => e.extensions?.['code'])).toEqual(['NOT_FOUND', 'NOT_FOUND']);
      expect(JSON.stringify(strict)).not.toMatch(/Cannot return null|INTERNAL/);
      await both.dispose();
    } finally {
      await ledger.close();
      await gateway.dispose();
    }
  });

  it('reports a composition error with the subgraph and the reason', async () => {
    const conflicting = await startExternalSubgraph(CONFLICTING_SDL, { Account: { __resolveReference: (r: unknown) => r } });
    try {
      const attempt = createGateway({ auth: testAuth(), subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: s.data.sdl, fetch: s.data.fetch }, { name: 'crm_legacy', url: conflicting.url }] });
      await expect(attempt).rejects.toBeInstanceOf(CompositionError);
      await expect(attempt).rejects.toThrow(/Account\.name.*"crm_legacy"|"crm_legacy".*Account\.name/s);
    } finally {
      await conflicting.close();
    }
  });

  it('names a subgraph whose SDL does not parse, or that is listed twice', () => {
    expect(() => composeSupergraph([{ name: 'broken', url: 'http://x', sdl: 'type {' }])).toThrow(/subgraph "broken": its SDL does not parse/);
    expect(() => composeSupergraph([{ name: 'a', url: 'http://x', sdl: 'type Query { a: Int }' }, { name: 'a', url: 'http://y', sdl: 'type Query { b: Int }' }])).toThrow(/subgraph "a" is listed twice/);
  });

  it('serves the supergraph: every object is an entity and the data SDL composes cleanly', () => {
    expect(s.gateway.supergraphSdl).toMatch(/type Account\s+@join__type\(graph: DATA, key: "id"\)/);
    for (const t of ['Account', 'Contact', 'Opportunity', 'Case', 'Task']) expect(s.data.sdl).toContain(`type ${t} @key(fields: "id")`);
  });
});
