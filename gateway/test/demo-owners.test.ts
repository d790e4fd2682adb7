import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '@objectos/db';
import { createTestDatabase, engines, gql, signIn, TEST_SECRET, withHeaders, type TestDatabase } from '@objectos/testkit';
import { readConfig } from '../src/config.ts';
import { startObjectOS, type RunningObjectOS } from '../src/start.ts';
import { METADATA } from './stack.ts';

type Accounts = { accounts: { totalCount: number; nodes: { id: string }[] } };

/**
 * `npm start`'s demo: the first start creates the admin and one member per role of the demo metadata,
 * and shares the seeded records out among them, so roles and sharing rules show something real.
 */
describe.each(engines())('demo data owned by demo members on $name', (engine) => {
  let app: RunningObjectOS;
  let dir: string;
  let pg: TestDatabase | null = null;
  let base: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'objectos-demo-'));
    pg = engine.name === 'postgres' ? await createTestDatabase() : null;
    app = await startObjectOS(readConfig({
      OBJECTOS_SECRET: TEST_SECRET, OBJECTOS_SEED: 'true', OBJECTOS_METADATA: METADATA, OBJECTOS_RATE_LIMIT: '0', NODE_ENV: 'development',
      HOST: '127.0.0.1', PORT: '0', OBJECTOS_DATA_DIR: join(dir, 'data'), OBJECTOS_SECRET_FILE: join(dir, 'secret'),
      ...(pg ? { DATABASE_URL: pg.url } : {}),
    }, []));
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  }, 240_000);
  afterAll(async () => {
    await app?.stop();
    await pg?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const accountsAs = async (email: string): Promise<Set<string>> => {
    const token = await signIn(base, email, app.identity!.demo!.password!);
    const r = await gql<Accounts>(withHeaders(`${base}/graphql`, { authorization: `Bearer ${token}` }), '{ accounts(first: 500) { totalCount nodes { id } } }');
    expect(r.errors, email).toBeUndefined();
    expect(r.data!.accounts.totalCount).toBe(r.data!.accounts.nodes.length);
    return new Set(r.data!.accounts.nodes.map((n) => n.id));
  };

  it('creates one demo member per role and gives each a share of the seeded records', async () => {
    const demo = app.identity!.demo!;
    expect(demo.password).toBeTruthy();
    expect(demo.members.map((m) => [m.email, m.role])).toEqual([
      ['ceo@objectos.local', 'ceo'], ['sales.manager@objectos.local', 'sales_manager'], ['sales.rep@objectos.local', 'sales_rep'],
      ['support.agent@objectos.local', 'support_agent'], ['support.manager@objectos.local', 'support_manager'],
    ]);
    const owners = await queryRows<{ owner_id: string | null; n: number }>(app.data!.database.db, sql`select owner_id, count(*)::int as n from account group by owner_id`);
    expect(new Set(owners.map((o) => o.owner_id))).toEqual(new Set([demo.userId, ...demo.members.map((m) => m.userId)]));
  });

  it('a sales rep sees a strict subset of the accounts (its own and those shared with it), the admin sees all', async () => {
    const demo = app.identity!.demo!;
    const all = await accountsAs(demo.email);
    const rep = await accountsAs('sales.rep@objectos.local');
    const [{ n }] = await queryRows<{ n: number }>(app.data!.database.db, sql`select count(*)::int as n from account where deleted_at is null`) as [{ n: number }];
    expect(all.size).toBe(n);
    expect(rep.size).toBeGreaterThan(0);
    expect(rep.size).toBeLessThan(all.size);
    for (const id of rep) expect(all.has(id)).toBe(true);
    // What the rep sees is what it owns (no sharing rule or share reaches a sales rep's accounts).
    const repId = demo.members.find((m) => m.role === 'sales_rep')!.userId;
    const owned = await queryRows<{ id: string }>(app.data!.database.db, sql`select id::text as id from account where owner_id = ${repId}`);
    expect(rep).toEqual(new Set(owned.map((o) => o.id)));
    // The manager sees the rep's accounts too (role hierarchy), and support reads sales' accounts (sharing rule).
    const manager = await accountsAs('sales.manager@objectos.local');
    for (const id of rep) expect(manager.has(id)).toBe(true);
    expect(manager.size).toBeGreaterThan(rep.size);
    const support = await accountsAs('support.agent@objectos.local');
    for (const id of rep) expect(support.has(id)).toBe(true);
  });
});
