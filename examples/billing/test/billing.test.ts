import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../../gateway/src/config.ts';
import { startObjectOS, type RunningObjectOS } from '../../../gateway/src/start.ts';
import { createSubgraphTokenIssuer } from '@objectos/principal';
import { freePort, gql, gqlOk, REPO_ROOT, signIn, withHeaders } from '@objectos/testkit';
import { createBillingSubgraph, memoryInvoiceStore } from '../src/billing.ts';

/**
 * The example external subgraph, composed into ObjectOS as a team would: ObjectOS on the embedded
 * engine with the demo metadata, billing in its own HTTP server, trusting the gateway only through the
 * gateway's JWKS (no shared secret).
 */
describe('examples/billing: an external subgraph extending Account, trusting the gateway through its JWKS', () => {
  let dir: string;
  let app: RunningObjectOS;
  let billing: Server;
  let billingUrl: string;
  let endpoint: string;
  let as: ReturnType<typeof withHeaders>;
  const store = memoryInvoiceStore();
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'objectos-billing-'));
    const [gwPort, billingPort] = [await freePort(), await freePort()];
    const publicUrl = `http://127.0.0.1:${gwPort}`;
    billing = createServer(createBillingSubgraph({ store, token: { jwks: `${publicUrl}/.well-known/jwks.json`, issuer: publicUrl, audience: 'billing' } }));
    await new Promise<void>((resolve) => billing.listen(billingPort, '127.0.0.1', resolve));
    billingUrl = `http://127.0.0.1:${billingPort}/graphql`;
    app = await startObjectOS(readConfig({
      PORT: String(gwPort), OBJECTOS_PUBLIC_URL: publicUrl, OBJECTOS_DATA_DIR: join(dir, 'data'), OBJECTOS_SECRET_FILE: join(dir, 'secret'),
      OBJECTOS_METADATA: join(REPO_ROOT, 'metadata'), OBJECTOS_SUBGRAPHS: `billing=${billingUrl}`, OBJECTOS_POLL_MS: '0',
    }, []));
    endpoint = `${publicUrl}/graphql`;
    const demo = app.identity!.demo!;
    as = withHeaders(endpoint, { authorization: `Bearer ${await signIn(endpoint, demo.email, demo.password!)}` });
  });
  afterAll(async () => {
    await app?.stop();
    await new Promise<void>((resolve) => (billing ? billing.close(() => resolve()) : resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  it('was composed at start (its SDL is public; every other call needs the gateway token)', () => {
    expect(app.gateway.health().subgraphs).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'billing', state: 'up' })]));
  });

  it('issues invoices and serves them on accounts, kept per organization from the token the gateway signed', async () => {
    const { accounts } = await gqlOk<{ accounts: { nodes: { id: string; name: string }[] } }>(as, '{ accounts(first: 2, orderBy: { field: NAME, direction: ASC }) { nodes { id name } } }');
    const [first] = accounts.nodes;
    const issued = await gqlOk<{ issueInvoice: { number: string; total: number; account: { name: string } } }>(
      as, 'mutation($id: ID!) { issueInvoice(accountId: $id, total: 1250.5) { number total account { name } } }', { id: first!.id });
    expect(issued.issueInvoice).toEqual({ number: 'INV-00001', total: 1250.5, account: { name: first!.name } });
    expect(store.forAccount(app.identity!.demo!.organizationId, first!.id)).toHaveLength(1);
    const read = await gqlOk<{ accounts: { nodes: { name: string; billingPlan: string; invoices: { number: string; currency: string; paid: boolean }[] }[] } }>(
      as, '{ accounts(first: 2, orderBy: { field: NAME, direction: ASC }) { nodes { name billingPlan invoices { number currency paid } } } }');
    expect(read.accounts.nodes[0]).toEqual({ name: first!.name, billingPlan: 'team', invoices: [{ number: 'INV-00001', currency: 'EUR', paid: false }] });
    expect(read.accounts.nodes[1]!.invoices).toEqual([]);
    const bad = await gql(as, 'mutation($id: ID!) { issueInvoice(accountId: $id, total: -3) { number } }', { id: first!.id });
    expect(bad.errors?.[0]).toMatchObject({ message: 'total must be positive, got -3', extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('refuses calls that do not come from the gateway: no token, one for another subgraph, one signed with another key', async () => {
    const body = JSON.stringify({ query: '{ invoice(number: "INV-00001") { total } }' });
    const post = (headers: Record<string, string>) => fetch(billingUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const member = { kind: 'user', userId: 'u1', organizationId: app.identity!.demo!.organizationId, roles: ['owner'], permissionSets: [], role: null, groups: [], isAdmin: false, sessionId: null, apiKeyId: null, impersonatedBy: null } as const;
    const publicUrl = new URL(endpoint).origin;
    // The gateway's own key (same secret), but for another subgraph; and a token for billing signed with another key.
    const gatewayKey = createSubgraphTokenIssuer({ secret: (await readFile(join(dir, 'secret'), 'utf8')).trim(), issuer: publicUrl });
    const otherKey = createSubgraphTokenIssuer({ secret: 'another-secret-of-at-least-thirty-two-characters', issuer: publicUrl });
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /no gateway token/],
      [{ authorization: `Bearer ${await gatewayKey.token({ ...member, roles: [...member.roles], permissionSets: [], groups: [] }, 'ledger')}` }, /not for this subgraph \(aud\)/],
      [{ authorization: `Bearer ${await otherKey.token({ ...member, roles: [...member.roles], permissionSets: [], groups: [] }, 'billing')}` }, /not valid/],
      [{ authorization: 'Bearer nonsense' }, /not valid/],
    ];
    for (const [headers, why] of cases) {
      const res = await post(headers);
      expect(res.status).toBe(401);
      expect(JSON.stringify(await res.json())).toMatch(why);
    }
    // The gateway's token for billing is accepted: the same principal, sent by the gateway.
    expect((await post({ authorization: `Bearer ${await gatewayKey.token({ ...member, roles: [...member.roles], permissionSets: [], groups: [] }, 'billing')}` })).status).toBe(200);
    // Signed-in users reach invoices only through the gateway.
    expect(await gqlOk(as, '{ invoice(number: "INV-00001") { total } }')).toEqual({ invoice: { total: 1250.5 } });
  });
});
