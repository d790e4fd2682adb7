import { and, eq, sql, type SQL } from 'drizzle-orm';
import type { Plugin } from 'graphql-yoga';
import type { Database } from '@objectos/db';
import { principalOf, sameIdentity, SUBSCRIPTION_ACCESS_ENDPOINT, type Principal } from '@objectos/principal';
import { objectOf, type DataSource } from '../data-source.ts';
import { col } from '../db/tables.ts';
import { requireObject } from '../security/fields.ts';
import { filterSql } from '../sql/filter.ts';
import type { WhereInput } from '../sql/where.ts';

/** Records told LEFT at most when a subscriber's access changes; past it the subscription just ends (re-read, subscribe again). */
export const MAX_LEFT = 1_000;
/** Event ids of a subscription's latest deliveries kept, to resume from the last one its client received (see `leave`). */
export const RECENT = 16;

/** A live subscription that came through the gateway's one hop, named by its stream id (STREAM_HEADER). */
export interface LiveSubscription {
  principal: Principal;
  /**
   * Its subscriber's access changed to `next`'s: nothing more is delivered under the old access, the
   * records that were in its view and are no longer are told (LEFT, ids only), and it ends (with `end`
   * after them, if given). `delivered`: how many of its events the client was given (the gateway held
   * the rest when the change reached it); null: all it sent. Returns how many events it had sent past
   * those (the gateway drops them unsent), or null when it could not tell which records left (too
   * many, or too many held events): it then just ended.
   */
  leave(next: DataSource, delivered: number | null, end?: Error): Promise<{ skip: number; left: number } | null>;
}

export interface LiveSubscriptions {
  add(stream: string, live: LiveSubscription): () => void;
  get(stream: string): LiveSubscription | undefined;
  all(): LiveSubscription[];
  size(): number;
}

export function createLiveSubscriptions(): LiveSubscriptions {
  const byStream = new Map<string, LiveSubscription>();
  return {
    add(stream, live) {
      byStream.set(stream, live);
      return () => {
        if (byStream.get(stream) === live) byStream.delete(stream);
      };
    },
    get: (stream) => byStream.get(stream),
    all: () => [...byStream.values()],
    size: () => byStream.size,
  };
}


/**
 * The ids of the records a subscription's `where` (and `id`) matched under the access it had (`before`)
 * that the new access (`now`) cannot read: all of them when it can no longer read the object at all.
 * One statement over the table as it is now; null past MAX_LEFT.
 */
export async function leftRecords(before: DataSource, now: DataSource, object: string, where: WhereInput | null | undefined, id: string | null): Promise<string[] | null> {
  const { p, table, visible } = objectOf(before, object);
  const key = col(table, p.columns[0]!);
  let still: SQL = sql`false`;
  try {
    requireObject(now, p, 'read');
    if (now.tenant === before.tenant) still = objectOf(now, object).visible;
  } catch {
    // It cannot read the object any more: every record it saw left its view.
  }
  const was = and(visible, filterSql(before, p, table, where) ?? undefined, id !== null ? eq(key, id) : undefined)!;
  const rows = (await before.db.select({ id: key }).from(table).where(and(was, sql`not coalesce((${still}), false)`)).limit(MAX_LEFT + 1)) as { id: string }[];
  return rows.length > MAX_LEFT ? null : rows.map((r) => String(r.id));
}

/**
 * Where a client that received nothing on its stream resumes (`after`): the event just before the first
 * one its channel received since it joined (`first`), or the newest published event of the object when
 * none came; "0" (before every event) when there is no such event.
 */
export async function positionBefore(database: Database, tenant: string, object: string, first: string | null): Promise<string> {
  const [row] = first
    ? await database.run<{ id: string }>(`select o.id::text as id from events.outbox o where o.organization_id = $1 and o.object = $2 and o.published_seq is not null
        and o.published_seq < (select f.published_seq from events.outbox f where f.id = $3::bigint) order by o.published_seq desc limit 1`, [tenant, object, first])
    : await database.run<{ id: string }>(`select o.id::text as id from events.outbox o where o.organization_id = $1 and o.object = $2 and o.published_seq is not null
        order by o.published_seq desc limit 1`, [tenant, object]);
  return row?.id ?? '0';
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/**
 * SUBSCRIPTION_ACCESS_ENDPOINT: the gateway, signed as the subscriber's new principal, names a stream
 * whose access changed and how many of its events the client received. Refused (403) for another
 * person, organization, session or key; 404 when the stream is not here (ended, or on another replica).
 */
export function serveSubscriptionAccess(live: LiveSubscriptions, dataSourceOf: (principal: Principal) => DataSource): Plugin {
  return {
    async onRequest({ request, url, endResponse }) {
      if (url.pathname !== SUBSCRIPTION_ACCESS_ENDPOINT) return;
      const principal = principalOf(request);
      const body = (await request.json().catch(() => null)) as { stream?: unknown; delivered?: unknown } | null;
      const stream = typeof body?.stream === 'string' ? body.stream : null;
      const delivered = typeof body?.delivered === 'number' && Number.isInteger(body.delivered) && body.delivered >= 0 ? body.delivered : null;
      if (request.method !== 'POST' || stream === null || delivered === null) return endResponse(json(400, { error: 'POST { "stream": string, "delivered": integer ≥ 0 }' }));
      const found = live.get(stream);
      if (!found) return endResponse(json(404, { error: 'no such subscription here' }));
      if (!sameIdentity(found.principal, principal)) return endResponse(json(403, { error: 'forbidden: another principal\'s subscription' }));
      try {
        const outcome = await found.leave(dataSourceOf(principal), delivered);
        endResponse(json(outcome ? 200 : 409, outcome ?? { error: 'the subscription ended without LEFT events' }));
      } catch (err) {
        endResponse(json(500, { error: (err as Error).message }));
      }
    },
  };
}

/**
 * The metadata was replaced (a development reload) and its security changed: each live subscription
 * of the replaced instance is told which records it can no longer read under the new rules (LEFT, for
 * its own principal), then ends with `end`, so none goes on under rules no longer served. How many ended.
 */
export async function handOver(live: LiveSubscriptions, dataSourceOf: (principal: Principal) => DataSource, end: Error): Promise<number> {
  const all = live.all();
  await Promise.all(all.map((s) => s.leave(dataSourceOf(s.principal), null, end).catch(() => null)));
  return all.length;
}
