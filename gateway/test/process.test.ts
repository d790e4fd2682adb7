import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, freePort, gql, gqlOk, services, spawnTs, type Spawned, type TestDatabase } from '@objectos/testkit';
import { CONFLICTING_SDL, startExternalSubgraph } from './external-subgraph.ts';

const MAIN = 'gateway/src/main.ts';
const ENDPOINT = /GraphQL endpoint: (http:\/\/\S+)/;
const running: Spawned[] = [];
const spawn = (entry: string, env: Record<string, string | undefined>, args: string[] = []) => {
  const p = spawnTs(entry, { DATABASE_URL: '', REDIS_URL: '', NODE_ENV: 'development', ...env }, args);
  running.push(p);
  return p;
};
afterAll(async () => {
  await Promise.all(running.map((p) => p.kill('SIGKILL')));
});

describe('npm start (embedded PGlite) as a real process', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'objectos-start-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('seeds the demo data, prints the endpoint, and keeps acknowledged writes through kill -9', async () => {
    const port = await freePort();
    const env = { PORT: String(port), OBJECTOS_DATA_DIR: dir };
    const first = spawn(MAIN, env);
    const [, url] = await first.waitFor(ENDPOINT, 90_000);
    expect(url).toBe(`http://localhost:${port}/graphql`);
    expect(first.output()).toMatch(/Seeded \d{3} demo records \(\d+ account/);
    const endpoint = `http://127.0.0.1:${port}/graphql`;
    const seeded = await gqlOk<{ accounts: { totalCount: number } }>(endpoint, '{ accounts { totalCount } }');
    expect(seeded.accounts.totalCount).toBeGreaterThanOrEqual(40);
    const created: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await gqlOk<{ createAccount: { id: string } }>(endpoint, 'mutation($n: String!) { createAccount(input: { name: $n }) { id } }', { n: `Durable ${i}` });
      created.push(r.createAccount.id);
    }
    await gqlOk(endpoint, 'mutation($id: ID!) { updateAccount(id: $id, input: { employees: 77 }) { id } }', { id: created[0] });
    expect(await first.kill('SIGKILL')).toBeNull();

    const second = spawn(MAIN, env);
    await second.waitFor(ENDPOINT, 90_000);
    expect(second.output()).not.toMatch(/Seeded/);
    const after = await gqlOk<{ accounts: { totalCount: number; nodes: { id: string }[] }; account: { employees: number } }>(
      endpoint, 'query($id: ID!) { accounts(where: { name: { startsWith: "Durable " } }, first: 100) { totalCount nodes { id } } account(id: $id) { employees } }', { id: created[0] });
    expect(after.accounts.totalCount).toBe(20);
    expect(after.accounts.nodes.map((n) => n.id).sort()).toEqual([...created].sort());
    expect(after.account.employees).toBe(77);
    expect((await gqlOk<{ accounts: { totalCount: number } }>(endpoint, '{ accounts { totalCount } }')).accounts.totalCount).toBe(seeded.accounts.totalCount + 20);

    // A second server on the same folder would corrupt it: refused, clearly.
    const third = spawn(MAIN, { ...env, PORT: String(await freePort()) });
    expect(await third.exited).toBe(1);
    expect(third.output()).toMatch(/the embedded database in .* is in use by process \d+/);
    await second.kill('SIGTERM');
  });

  it('--empty starts without demo data', async () => {
    const port = await freePort();
    const emptyDir = join(dir, 'empty');
    const p = spawn(MAIN, { PORT: String(port), OBJECTOS_DATA_DIR: emptyDir }, ['--empty']);
    await p.waitFor(ENDPOINT, 90_000);
    const r = await gqlOk<{ accounts: { totalCount: number } }>(`http://127.0.0.1:${port}/graphql`, '{ accounts { totalCount } }');
    expect(r.accounts.totalCount).toBe(0);
    await p.kill();
  });
});

describe('bad configuration never starts a half-working server', () => {
  it('exits non-zero on bad metadata, naming file, line and path, without listening', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'objectos-badmeta-'));
    try {
      await mkdir(join(dir, 'objects'));
      await writeFile(join(dir, 'objects', 'deal.object.yaml'), 'name: deal\nfields:\n  amount:\n    type: money\n');
      const port = await freePort();
      const p = spawn(MAIN, { PORT: String(port), OBJECTOS_METADATA: dir, OBJECTOS_DATA_DIR: join(dir, 'data') });
      expect(await p.exited).toBe(1);
      expect(p.output()).toMatch(/ObjectOS failed to start/);
      expect(p.output()).toMatch(/objects\/deal\.object\.yaml:4:11 fields\.amount\.type: unknown field type "money"/);
      await expect(fetch(`http://127.0.0.1:${port}/graphql`)).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits non-zero when composition fails, naming the subgraph and the reason', async () => {
    const legacy = await startExternalSubgraph(CONFLICTING_SDL, { Account: { __resolveReference: (r: unknown) => r } });
    const dir = await mkdtemp(join(tmpdir(), 'objectos-compose-'));
    try {
      const p = spawn(MAIN, { PORT: String(await freePort()), OBJECTOS_DATA_DIR: dir, OBJECTOS_SUBGRAPHS: `crm_legacy=${legacy.url}` });
      expect(await p.exited).toBe(1);
      expect(p.output()).toMatch(/Supergraph composition failed/);
      expect(p.output()).toMatch(/"crm_legacy"/);
      expect(p.output()).toMatch(/Account\.name/);
    } finally {
      await legacy.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!services.postgres)('services topology: data subgraph and gateway as separate processes on PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  it('serves the data subgraph over HTTP behind a separate gateway process', async () => {
    const dataPort = await freePort();
    const data = spawn('subgraphs/data/src/main.ts', { PORT: String(dataPort), DATABASE_URL: db.url, OBJECTOS_SEED: 'true' });
    await data.waitFor(/data subgraph listening on (http:\/\/\S+)/, 60_000);
    const gwPort = await freePort();
    const gateway = spawn(MAIN, { PORT: String(gwPort), OBJECTOS_SUBGRAPHS: `data=http://127.0.0.1:${dataPort}/graphql` });
    await gateway.waitFor(ENDPOINT, 60_000);
    const r = await gqlOk<{ accounts: { totalCount: number; nodes: { contacts: unknown[] }[] } }>(
      `http://127.0.0.1:${gwPort}/graphql`, '{ accounts(first: 5) { totalCount nodes { name contacts { lastName account { name } } } } }');
    expect(r.accounts.totalCount).toBe(40);
    expect(r.accounts.nodes).toHaveLength(5);
    const bad = await gql(`http://127.0.0.1:${gwPort}/graphql`, 'mutation { createAccount(input: { name: "X", employees: -3 }) { id } }');
    expect(bad.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    await gateway.kill();
    await data.kill();
  });
});
