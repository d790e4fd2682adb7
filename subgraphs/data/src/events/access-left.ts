import { and, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { Plugin } from 'graphql-yoga';
import { queryRows, type Database } from '@objectos/db';
import { principalOf, sameIdentity, SUBSCRIPTION_ACCESS_ENDPOINT, type Principal } from '@objectos/principal';
import { objectOf, type DataSource, type Row } from '../data-source.ts';
import { columnsOf } from './fan-out.ts';
import { col } from '../db/tables.ts';
import { requireObject } from '../security/fields.ts';
import { filterSql } from '../sql/filter.ts';
import type { WhereInput } from '../sql/where.ts';
import type { ServedRules } from './rule-epochs.ts';

/** Records told LEFT at most when a subscriber's access changes; past it the subscription just ends (re-read, subscribe again). */
export const MAX_LEFT = 1_000;
/** Event ids of a subscription's latest deliveries kept, to resume from the last one its client received (see `leave`). */
export const RECENT = 16;

/** A live subscription that came through the gateway's one hop, named by its stream id (STREAM_HEADER). */
export interface LiveSubscription {
  principal: Principal;
  /**
   * Its subscriber's access changed to `next`'s: nothing more is delivered under the old access, the
   * records that were in its view and are no longer are told (LEFT, ids only), and it ends (FORBIDDEN,
   * from the gateway). `delivered`: how many of its events the client was given (the gateway held
   * the rest when the change reached it); null: all it sent. Returns how many events it had sent past
   * those (the gateway drops them unsent), or null when it could not tell which records left (too
   * many, or too many held events): it then just ended. `replaced`: a development reload replaced
   * the access rules (`handOver`): it ends with `replaced.end` after them, and its resume point is marked told in the new
   * rules (the client resuming from there is not told the same LEFT events again).
   */
  leave(next: DataSource, delivered: number | null, replaced?: RulesReplaced): Promise<{ skip: number; left: number } | null>;
}

/** A development reload replaced the access rules a subscription ran under (see `handOver`). */
export interface RulesReplaced { end: Error; rules: ServedRules }

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
 * when its client was last given an event (`after`, a resume point) that the new access (`now`) cannot
 * read as they are now: all of them when it can no longer read the object at all. A record changed since
 * that point is judged as it was then (the state before its first change since; not at all when that
 * change created it), so no record the client was never shown is named. Null past MAX_LEFT, or when the
 * resume point is no longer in the outbox.
 */
export async function leftRecords(before: DataSource, now: DataSource, object: string, where: WhereInput | null | undefined, id: string | null, after: string): Promise<string[] | null> {
  const { p, table, visible } = objectOf(before, object);
  const key = col(table, p.columns[0]!);
  const since = await changesSince(before.db, before.tenant!, object, after);
  if (since === null) return null;
  // The table as the client last saw it: its rows changed since replaced by their state then.
  const then: Record<string, unknown>[] = [];
  for (const [, first] of since) if (first.op !== 'create' && first.previous) then.push(columnsOf(p, first.previous)!);
  const name = sql.identifier(p.table);
  const was = and(visible, filterSql(before, p, table, where) ?? undefined, id !== null ? eq(key, id) : undefined)!;
  const seen = await queryRows<{ id: string }>(before.db, sql`with ${name} as not materialized (
      select * from ${name} where ${sql.identifier(p.columns[0]!.column)} <> all(${sql.param([...since.keys()])}::uuid[])
      union all select * from json_populate_recordset(null::${name}, ${JSON.stringify(then)}::json))
    select ${key} as id from ${table} where ${was} limit ${MAX_LEFT + 1}`);
  if (seen.length > MAX_LEFT) return null;
  if (seen.length === 0) return [];
  let still: SQL = sql`false`;
  try {
    requireObject(now, p, 'read');
    if (now.tenant === before.tenant) still = objectOf(now, object).visible;
  } catch {
    // It cannot read the object any more: every record it saw left its view.
  }
  const ids = seen.map((r) => String(r.id));
  const kept = new Set((await queryRows<{ id: string }>(before.db, sql`select ${key} as id from ${table} where ${inArray(key, ids)} and coalesce((${still}), false)`)).map((r) => String(r.id)));
  return ids.filter((x) => !kept.has(x));
}

/**
 * Each record's first change after the resume point `after` (published since, or committed and not yet
 * published); null when `after` is no longer in the outbox (retention removed it, or "0" once it removed any).
 */
async function changesSince(db: DataSource['db'], tenant: string, object: string, after: string): Promise<Map<string, { op: string; previous: Row | null }> | null> {
  const [cut] = after === '0'
    ? await queryRows<{ seq: string | null }>(db, sql`select case when id = 0 then '0' end as seq from events.outbox_pruned`)
    : await queryRows<{ seq: string | null }>(db, sql`select published_seq::text as seq from events.outbox where id = ${after}::bigint`);
  if (!cut || cut.seq === null) return null;
  const rows = await queryRows<{ record_id: string; op: string; previous: Row | string | null }>(db, sql`
    select o.record_id::text as record_id, o.op, o.previous from events.outbox o
    where o.organization_id = ${tenant} and o.object = ${object} and (o.published_seq > ${cut.seq}::bigint or o.published_seq is null)
    order by o.published_seq nulls last, o.id`);
  const out = new Map<string, { op: string; previous: Row | null }>();
  for (const r of rows) if (!out.has(r.record_id)) out.set(r.record_id, { op: r.op, previous: typeof r.previous === 'string' ? (JSON.parse(r.previous) as Row) : r.previous });
  return out;
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
 * its own principal), then ends with `replaced.end`, so none goes on under rules no longer served. How many ended.
 */
export async function handOver(live: LiveSubscriptions, dataSourceOf: (principal: Principal) => DataSource, replaced: RulesReplaced): Promise<number> {
  const all = live.all();
  await Promise.all(all.map((s) => s.leave(dataSourceOf(s.principal), null, replaced).catch(() => null)));
  return all.length;
}
