import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, gqlOk, testAuth } from '@objectos/testkit';
import { composeSupergraph, CompositionError, createGateway } from '../src/index.ts';
import { BILLING_SDL, billingResolvers, CONFLICTING_SDL, startExternalSubgraph } from './external-subgraph.ts';
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
