import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { connectDatabase, type Database } from '@objectos/db';
import { createTestDatabase, services, type TestDatabase } from '@objectos/testkit';
import { createBullQueue, createPgQueue, type JobQueue } from '../src/index.ts';

/** One queue implementation under test; `queue()` gives a fresh, unstarted queue on its own storage. */
export interface Backend {
  name: string;
  queue(): Promise<JobQueue>;
  /** The database of the last queue (pg-boss) or a scratch one (BullMQ), for effect tests. */
  database(): Promise<Database>;
  cleanup(): Promise<void>;
}

/** pg-boss on PGlite always; pg-boss on PostgreSQL with DATABASE_URL; BullMQ with REDIS_URL. */
export function backends(): Backend[] {
  const list: Backend[] = [pgliteBackend()];
  if (services.postgres) list.push(postgresBackend());
  if (services.redis) list.push(bullBackend());
  return list;
}

function pgliteBackend(): Backend {
  // One engine for the file (as one process has one); each queue instance knows only its own queues.
  let shared: Promise<Database> | undefined;
  const database = () => (shared ??= connectDatabase({ dataDir: 'memory://' }));
  return {
    name: 'pg-boss on PGlite',
    async queue() {
      return createPgQueue({ pglite: (await database()).pglite!, pollMs: 100, superviseSeconds: 1 });
    },
    database,
    async cleanup() {
      if (shared) await (await shared).close();
    },
  };
}

function postgresBackend(): Backend {
  const dbs: TestDatabase[] = [];
  const open: Database[] = [];
  return {
    name: 'pg-boss on PostgreSQL',
    async queue() {
      const t = await createTestDatabase('objectos_jobs');
      dbs.push(t);
      return createPgQueue({ databaseUrl: t.url, pollMs: 100, superviseSeconds: 1 });
    },
    async database() {
      if (dbs.length === 0) dbs.push(await createTestDatabase('objectos_jobs'));
      const db = await connectDatabase({ databaseUrl: dbs.at(-1)!.url });
      open.push(db);
      return db;
    },
    async cleanup() {
      await Promise.all(open.map((d) => d.close()));
      for (const d of dbs) await d.drop();
    },
  };
}

function bullBackend(): Backend {
  const prefixes: string[] = [];
  const open: Database[] = [];
  return {
    name: 'BullMQ on Redis',
    async queue() {
      const prefix = `objectos-test-${randomBytes(4).toString('hex')}`;
      prefixes.push(prefix);
      return createBullQueue({ redisUrl: services.redis!, prefix, lockMs: 2_000 });
    },
    async database() {
      const db = await connectDatabase({ dataDir: 'memory://' });
      open.push(db);
      return db;
    },
    async cleanup() {
      await Promise.all(open.map((d) => d.close()));
      await dropKeys(prefixes);
    },
  };
}

/** Deletes every key a test's prefixes made. */
export async function dropKeys(prefixes: readonly string[]): Promise<void> {
  const redis = new Redis(services.redis!);
  try {
    for (const prefix of prefixes) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}

/** Polls until `check` holds (or fails with what it last saw). */
export async function until<T>(what: string, read: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T = await read();
  while (!check(last)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
    last = await read();
  }
  return last;
}
