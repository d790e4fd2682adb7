import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataSubgraph, type DataSubgraph } from '@objectos/data-subgraph';
import { createGateway, type Gateway } from '@objectos/gateway';
import { REPO_ROOT, TEST_SECRET, testAuth } from '@objectos/testkit';
import { BILLING_SDL, billingResolvers, startExternalSubgraph, type ExternalSubgraph } from '../../../gateway/test/external-subgraph.ts';
import { generateSdk, GenerateSdkError } from '../src/generate-sdk.ts';

const run = promisify(execFile);

describe('generating a typed SDK for your own operations', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'objectos-gen-sdk-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const operations = async (name: string, text: string): Promise<string> => {
    const folder = join(dir, name, 'ops');
    await mkdir(join(folder, 'nested'), { recursive: true });
    await writeFile(join(folder, 'nested', 'ops.graphql'), text);
    return folder;
  };

  it('from the metadata: typed documents for records and identity', async () => {
    const ops = await operations('metadata', 'query Few($n: Int) { accounts(first: $n) { nodes { id name industry } } }\nquery Who { me { email } }\n');
    const out = join(dir, 'metadata', 'sdk');
    const files = await generateSdk({ operations: ops, out, metadata: `${REPO_ROOT}metadata` });
    expect(files.map((f) => f.slice(f.lastIndexOf('/') + 1)).sort()).toEqual(expect.arrayContaining(['gql.ts', 'graphql.ts', 'index.ts']));
    const types = await readFile(join(out, 'graphql.ts'), 'utf8');
    expect(types).toContain('export type FewQuery');
    expect(types).toContain('export const FewDocument');
    expect(types).toContain('export type WhoQuery = { me: { email: string } | null };');
    expect(types).toContain('export type FewQueryVariables = Exact<{\n  n?: number | null | undefined;\n}>;');
  });

  it('refuses operations that do not match the schema, naming what is wrong, and writes nothing', async () => {
    const ops = await operations('bad', 'query Broken { accounts { nodes { nope } } }\n');
    const out = join(dir, 'bad', 'sdk');
    const attempt = generateSdk({ operations: ops, out, metadata: `${REPO_ROOT}metadata` });
    await expect(attempt).rejects.toBeInstanceOf(GenerateSdkError);
    await expect(attempt).rejects.toThrow(/nope/);
    await expect(readFile(join(out, 'graphql.ts'), 'utf8')).rejects.toThrow(/ENOENT/);
    await expect(generateSdk({ operations: join(dir, 'missing'), out })).rejects.toThrow(/cannot be read/);
  });

  describe('from a running endpoint with an external subgraph', () => {
    let data: DataSubgraph;
    let billing: ExternalSubgraph;
    let gateway: Gateway;
    let server: Server;
    let url: string;
    beforeAll(async () => {
      data = await createDataSubgraph({ metadata: `${REPO_ROOT}metadata`, secret: TEST_SECRET });
      billing = await startExternalSubgraph(BILLING_SDL, billingResolvers);
      gateway = await createGateway({
        auth: testAuth(),
        subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: data.sdl, fetch: data.fetch }, { name: 'billing', url: billing.url }],
        protection: { introspection: true },
      });
      server = createServer(gateway.yoga);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    }, 60_000);
    afterAll(async () => {
      await new Promise<void>((r) => server?.close(() => r()));
      server?.closeAllConnections();
      await gateway?.dispose();
      await billing?.close();
      await data?.dispose();
    });

    it('types the external subgraph\'s fields too (the CLI, with a header)', async () => {
      const ops = await operations('endpoint', 'query Bills { accounts(first: 3) { nodes { id name billingPlan invoices { number total } } } }\n');
      const out = join(dir, 'endpoint', 'sdk');
      const { stdout } = await run(process.execPath, ['--import', '@objectos/runtime/register', 'packages/sdk/src/cli.ts', '--operations', ops, '--out', out, '--endpoint', url, '--header', 'authorization: Bearer anything'], { cwd: REPO_ROOT });
      expect(stdout).toMatch(/wrote \d+ file\(s\)/);
      const types = await readFile(join(out, 'graphql.ts'), 'utf8');
      expect(types).toContain('export type BillsQuery');
      expect(types).toContain('billingPlan: string, invoices: Array<{ number: string, total: number }>');
    }, 60_000);

    it('says why when the endpoint cannot be introspected, and when arguments are missing', async () => {
      const ops = await operations('refused', 'query Q { accounts { totalCount } }\n');
      const closed = new URL(url);
      closed.port = String(Number(closed.port) === 1 ? 2 : 1);
      await expect(generateSdk({ operations: ops, out: join(dir, 'refused', 'sdk'), endpoint: closed.href })).rejects.toBeInstanceOf(GenerateSdkError);
      await expect(generateSdk({ operations: ops, out: join(dir, 'refused', 'sdk'), endpoint: 'not a url' })).rejects.toThrow(/--endpoint must be a URL/);
      const missing = await run(process.execPath, ['--import', '@objectos/runtime/register', 'packages/sdk/src/cli.ts', '--out', 'x'], { cwd: REPO_ROOT }).then(() => null, (e: { code: number; stderr: string }) => e);
      expect(missing?.code).toBe(2);
      expect(missing?.stderr).toMatch(/--operations and --out are required/);
    }, 60_000);
  });
});
