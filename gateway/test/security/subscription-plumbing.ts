import type { SQL } from 'drizzle-orm';
import type { Database, Db } from '@objectos/db';
import { createChangeFeed, type ChangeEvent, type ChangeFeed } from '@objectos/events';
import type { SseSubscription } from '@objectos/testkit';

/**
 * Plumbing of the subscription oracle test (subscription-oracle.test.ts): counting delivery checks,
 * recording the change feed.
 */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function until(what: () => boolean, ms: number, message: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error(`${message()} (waited ${ms} ms)`);
    await sleep(2);
  }
}

/**
 * The data subgraph's connection, counting the per-subscriber delivery checks (the one statement each
 * event costs each subscriber: its predicates over the event's snapshot, `json_populate_record`). A
 * share may only change once every check of the events before it has run: each check reads the
 * subscriber's access as it is when it runs (that is the rule under test), so the oracle's "world at
 * that event" is only well defined once the earlier checks are done.
 */
export interface CheckCounter { started: number; done: number }
export function countingDatabase(db: Database, counter: CheckCounter): Database {
  type Inner = { dialect: { sqlToQuery(q: SQL): { sql: string } }; execute(q: SQL): PromiseLike<unknown> };
  const inner = db.db as unknown as Inner;
  const proxy = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'execute')
        return (q: SQL) => {
          if (!target.dialect.sqlToQuery(q).sql.includes('json_populate_record')) return target.execute(q);
          counter.started++;
          return Promise.resolve(target.execute(q)).finally(() => void counter.done++);
        };
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { db: proxy as unknown as Db, engine: db.engine, run: db.run, close: async () => {} };
}

/** An in-process change feed that also keeps what was published (event ids, commit times, snapshots). */
export function recordingFeed(): { feed: ChangeFeed; published: ChangeEvent[] } {
  const inner = createChangeFeed();
  const published: ChangeEvent[] = [];
  return {
    published,
    feed: { ...inner, publish: (e) => (published.push(e), inner.publish(e)) },
  };
}

/** A live subscription over SSE, read in the background (the test kit's reader). */
export type Stream = SseSubscription<Record<string, unknown>>;
