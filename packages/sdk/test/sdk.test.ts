import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '@graphql-codegen/cli';
import { createDataSubgraph, type DataSubgraph } from '@objectos/data-subgraph';
import { attachRealtime, createGateway, type Gateway } from '@objectos/gateway';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { engines, REPO_ROOT, TEST_ORG, TEST_SECRET, testAuth } from '@objectos/testkit';
import { startSecureStack, type SecureStack } from '../../../gateway/test/secure-stack.ts';
import config from '../../../codegen.ts';
import {
  AccountChangedDocument, ApiKeysDocument, CreateAccountDocument, CreateApiKeyDocument, createObjectOSClient, GetAccountDocument, ListAccountsDocument, MeDocument,
  MembersDocument, MyOrganizationsDocument, MySessionsDocument, ObjectOSClientError, RevokeApiKeyDocument,
} from '../src/index.ts';

describe('generated SDK', () => {
  it('is up to date with the public schema and the operations (run `npm run codegen`)', async () => {
    const files = (await generate({ ...config, cwd: REPO_ROOT, silent: true }, false)) as { filename: string; content: string }[];
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const f of files) {
      const path = f.filename.startsWith('/') ? f.filename : `${REPO_ROOT}${f.filename}`;
      expect(readFileSync(path, 'utf8'), `${f.filename} drifted`).toBe(f.content);
    }
  });

  it('lists a sha256 hash for every operation, matching its text (for trusted documents)', () => {
    const persisted = JSON.parse(readFileSync(`${REPO_ROOT}packages/sdk/src/generated/persisted-documents.json`, 'utf8')) as Record<string, string>;
    // 5 record operations (accounts.graphql) and 11 identity ones (identity.graphql).
    expect(Object.keys(persisted)).toHaveLength(16);
    for (const [hash, text] of Object.entries(persisted)) expect(hash).toBe(`sha256:${createHash('sha256').update(text).digest('hex')}`);
  });
});

describe('typed client against the gateway', () => {
  let data: DataSubgraph;
  let gateway: Gateway;
  beforeAll(async () => {
    data = await createDataSubgraph({ metadata: `${REPO_ROOT}metadata`, seed: true, secret: TEST_SECRET, seedOrganizationId: TEST_ORG });
    gateway = await createGateway({ subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: data.sdl, fetch: data.fetch }], auth: testAuth() });
  });
  afterAll(() => data?.dispose());

  const client = () => createObjectOSClient({ url: 'http://objectos.test/graphql', fetch: (url, init) => gateway.fetch(new Request(url, init)) });

  it('runs generated operations with typed variables and results', async () => {
    const c = client();
    const { createAccount } = await c.request(CreateAccountDocument, { input: { name: 'SDK Co', industry: 'retail', tags: ['strategic'] } });
    const industry: 'retail' | 'finance' | 'technology' | 'healthcare' | 'manufacturing' | null = createAccount.industry;
    expect(industry).toBe('retail');
    expect(createAccount.accountNumber).toMatch(/^ACC-/);
    const { account } = await c.request(GetAccountDocument, { id: createAccount.id });
    expect(account?.name).toBe('SDK Co');
    const page = await c.request(ListAccountsDocument, { first: 5, where: { name: { startsWith: 'SDK' } } });
    const names: string[] = page.accounts.nodes.map((n) => n.name);
    expect(names).toEqual(['SDK Co']);
    const all = await c.request(ListAccountsDocument, { first: 10 });
    expect(all.accounts.totalCount).toBeGreaterThanOrEqual(41);
    expect(all.accounts.nodes.every((a) => Array.isArray(a.contacts))).toBe(true);
    // @ts-expect-error: name must be a string; the generated types catch this at compile time (and the server at run time).
    await expect(c.request(CreateAccountDocument, { input: { name: 5 } })).rejects.toBeInstanceOf(ObjectOSClientError);
  });

  it('surfaces server errors with their codes and issues', async () => {
    const err = await client().request(CreateAccountDocument, { input: { name: 'x'.repeat(300) } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ObjectOSClientError);
    expect((err as ObjectOSClientError).errors[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((err as ObjectOSClientError).errors[0]?.extensions?.issues?.[0]?.constraint).toBe('maxLength');
  });
});

describe('typed subscriptions over graphql-ws', () => {
  it('delivers typed change events, and refusals as ObjectOSClientError', async () => {
    const data = await createDataSubgraph({ metadata: `${REPO_ROOT}metadata`, secret: TEST_SECRET });
    const gateway = await createGateway({ subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: data.sdl, fetch: data.fetch }], auth: testAuth() });
    const server = createServer(gateway.yoga);
    const realtime = attachRealtime(server, gateway);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    const c = createObjectOSClient({ url, webSocketImpl: WebSocket });
    try {
      const names: string[] = [];
      const errors: ObjectOSClientError[] = [];
      const stop = c.subscribe(AccountChangedDocument, { operations: ['CREATED'], where: { name: { startsWith: 'Live' } } }, {
        next: (d) => {
          const op: 'CREATED' | 'UPDATED' | 'DELETED' | 'ENTERED' | 'LEFT' = d.accountChanged.op;
          expect(op).toBe('CREATED');
          names.push(d.accountChanged.record?.name ?? '');
        },
        error: (e) => errors.push(e),
      });
      // Live once a change made after subscribing arrives: write until then (bounded).
      const deadline = Date.now() + 10_000;
      for (let i = 0; names.length === 0 && Date.now() < deadline; i++) {
        await c.request(CreateAccountDocument, { input: { name: `Live ${i}` } });
        await c.request(CreateAccountDocument, { input: { name: 'Not matching' } });
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(names[0]).toMatch(/^Live \d+$/);
      expect(names.every((n) => n.startsWith('Live'))).toBe(true);
      stop();
      const refused = await new Promise<ObjectOSClientError>((resolve) => {
        // @ts-expect-error: a where on a field that does not exist; refused before anything runs, on the socket as over HTTP.
        c.subscribe(AccountChangedDocument, { where: { nope: { eq: 1 } } }, { next: () => {}, error: resolve });
      });
      expect(refused).toBeInstanceOf(ObjectOSClientError);
      expect(refused.errors[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(refused.errors[0]?.message).toMatch(/"nope"/);
      expect(errors).toEqual([]);
    } finally {
      await c.close();
      await realtime.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await gateway.dispose();
      await data.dispose();
    }
  }, 30_000);
});

describe('typed identity operations through the gateway', () => {
  let stack: SecureStack;
  beforeAll(async () => {
    stack = await startSecureStack(engines()[0]!);
  }, 60_000);
  afterAll(() => stack?.close());

  const clientAs = (headers: Record<string, string>) => createObjectOSClient({ url: 'http://objectos.test/graphql', fetch: (url, init) => stack.as(headers)(new Request(url, init)) });

  it('reads me, organizations, members, sessions and API keys, and creates and revokes a key, all typed', async () => {
    const u = await stack.user('sdk@identity.test', 'Sdkco');
    const c = clientAs(u.headers);
    const me = await c.request(MeDocument);
    const email: string | undefined = me.me?.email;
    expect(email).toBe('sdk@identity.test');
    expect(me.activeOrganization?.slug).toBe('sdkco');
    expect(me.myAccess).toMatchObject({ userId: u.userId, permissionSets: [], groups: [] });
    const slugs: string[] = (await c.request(MyOrganizationsDocument)).myOrganizations.map((o) => o.slug);
    expect(slugs).toEqual(['sdkco']);
    const { members } = await c.request(MembersDocument);
    expect(members).toEqual([expect.objectContaining({ roles: ['owner'], user: expect.objectContaining({ id: u.userId, email: 'sdk@identity.test' }) })]);
    const { mySessions } = await c.request(MySessionsDocument);
    expect(mySessions.filter((s) => s.current)).toHaveLength(1);
    const { createApiKey } = await c.request(CreateApiKeyDocument, { input: { name: 'ci', expiresInDays: 30 } });
    expect(createApiKey.key.length).toBeGreaterThan(20);
    expect((await c.request(ApiKeysDocument)).apiKeys.map((k) => k.name)).toContain('ci');
    // The new key is a credential for the same typed client.
    const asKey = clientAs({ 'x-api-key': createApiKey.key });
    expect((await asKey.request(MeDocument)).me?.email).toBe('sdk@identity.test');
    const revoked: boolean = (await c.request(RevokeApiKeyDocument, { id: createApiKey.apiKey.id })).revokeApiKey;
    expect(revoked).toBe(true);
    await expect(asKey.request(MeDocument)).rejects.toBeInstanceOf(ObjectOSClientError);
  });
});
