import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createTestDatabase, gql, signIn, TEST_SECRET, withHeaders, type TestDatabase } from '@objectos/testkit';
export { until } from '@objectos/testkit';
import { readConfig } from '../src/config.ts';
import { startObjectOS, type RunningObjectOS } from '../src/start.ts';

const PASSWORD = 'Sup3r-secret-pass!';

/** One running ObjectOS (`npm start`'s path) with an owner signed in to a fresh organization, for workflow rule tests and benches. */
export interface RulesApp {
  app: RunningObjectOS;
  base: string;
  /** The metadata folder it serves (a copy of the demo metadata, its own). */
  metadata: string;
  /** The organization owner's bearer token. */
  owner: string;
  /** A query as the owner; GraphQL errors throw. */
  q<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<T>;
  /** Every committed change handed over and evaluated (runs recorded, jobs queued). */
  settle(): Promise<void>;
  /**
   * A deploy: stops ObjectOS, then (after `between`, e.g. an edit of its metadata) starts it again on the
   * same folder, database and secret; `app` and `base` are the new ones (sessions and tokens carry over).
   */
  restart(between?: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

export type RulesEngine = 'pglite' | 'postgres' | 'postgres+redis';

/**
 * Starts ObjectOS on the demo metadata plus `extra` files (`automation/x.rule.yaml` → text), on PGlite,
 * a fresh PostgreSQL database, or PostgreSQL with BullMQ on Redis under a prefix of its own (keys and
 * database removed by `close`).
 */
export async function startRulesApp(o: { engine: RulesEngine; slug: string; extra?: Record<string, string>; env?: Record<string, string>; now?: () => number }): Promise<RulesApp> {
  const dir = await mkdtemp(join(tmpdir(), 'objectos-rules-'));
  const metadata = join(dir, 'metadata');
  await cp('metadata', metadata, { recursive: true });
  for (const [file, text] of Object.entries(o.extra ?? {})) {
    await mkdir(join(metadata, file.split('/').slice(0, -1).join('/')), { recursive: true });
    await writeFile(join(metadata, file), text);
  }
  const pg: TestDatabase | null = o.engine === 'pglite' ? null : await createTestDatabase();
  const prefix = `objectos-test-rules-${process.pid}-${Date.now()}`;
  const start = () => startObjectOS(readConfig({
    OBJECTOS_SECRET: TEST_SECRET, OBJECTOS_SEED: 'false', OBJECTOS_METADATA: metadata, OBJECTOS_RATE_LIMIT: '0', NODE_ENV: 'development',
    HOST: '127.0.0.1', PORT: '0', OBJECTOS_DATA_DIR: join(dir, 'data'), OBJECTOS_SECRET_FILE: join(dir, 'secret'),
    ...(pg ? { DATABASE_URL: pg.url } : {}),
    ...(o.engine === 'postgres+redis' ? { REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', OBJECTOS_JOBS_PREFIX: prefix } : {}),
    ...o.env,
  }, []), o.now ? { now: o.now } : {});
  const baseOf = (app: RunningObjectOS) => `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  let app = await start();
  let base = baseOf(app);
  const auth = (path: string, body: unknown, token?: string) =>
    fetch(`${base}/api/auth${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  const email = `owner@${o.slug}.test`;
  const signedUp = await auth('/sign-up/email', { email, password: PASSWORD, name: 'Rita Rules' });
  if (signedUp.status !== 200) throw new Error(`sign-up failed: ${signedUp.status} ${await signedUp.text()}`);
  const owner = await signIn(base, email, PASSWORD);
  const org = await auth('/organization/create', { name: `${o.slug} Inc`, slug: o.slug }, owner);
  await auth('/organization/set-active', { organizationId: ((await org.json()) as { id: string }).id }, owner);
  const rig: RulesApp = {
    app, base, owner, metadata,
    async q<T>(query: string, variables: Record<string, unknown> = {}) {
      const r = await gql<T>(withHeaders(`${base}/graphql`, { authorization: `Bearer ${owner}` }), query, variables);
      if (r.errors?.length) throw new Error(JSON.stringify(r.errors));
      return r.data!;
    },
    async settle() {
      await app.data!.relay.drain();
      await app.jobs!.rules!.drain();
    },
    async restart(between) {
      await app.stop();
      await between?.();
      rig.app = app = await start();
      rig.base = base = baseOf(app);
    },
    async close() {
      await app.stop();
      await pg?.drop();
      if (o.engine === 'postgres+redis') {
        const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379');
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length) await redis.del(...keys);
        } while (cursor !== '0');
        redis.disconnect();
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  return rig;
}

