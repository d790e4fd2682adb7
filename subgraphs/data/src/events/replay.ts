import type { ChangeEvent } from '@objectos/events';
import type { Database } from '@objectos/db';
import { dataError } from '../errors.ts';
import { PUBLISH_LOCK, toEvent, type OutboxRow } from './outbox.ts';

/** Events read per replay statement. */
const PAGE = 256;

const COLUMNS = 'o.id, o.organization_id, o.object, o.record_id, o.op, o.record, o.previous, o.changed_fields, o.actor_id, o.deleted_with, o.context, o.created_at, o.trace, o.access';

/** Where a replay starts: the published position of the cursor's event. */
export interface Cursor { seq: string }

/**
 * Resolves `after: eventId` for an organization's object, once the subscriber listens live (the caller
 * joined the fan-out first). Waits for a publish under way to commit (the relay holds PUBLISH_LOCK while
 * it publishes), so every event published before the subscriber listened is in the outbox with its
 * position, and every later one reaches it live: replay + live leave no gap (duplicates are dropped by id).
 *
 * Refused with a clear error: an id that is no number, an event of another object or organization (told
 * apart from none at all by nothing), one not yet published, and one retention has removed, naming the
 * oldest event still available.
 */
export async function openCursor(database: Database, tenant: string, object: string, label: string, after: string): Promise<Cursor> {
  if (!/^(0|[1-9][0-9]{0,18})$/.test(after)) throw dataError('BAD_USER_INPUT', `after: "${after}" is not an event id (the eventId of a change you received)`);
  await database.run('select pg_advisory_xact_lock_shared($1)', [PUBLISH_LOCK]);
  // "0" is before every event (a LEFT told before any event: access-left.ts): kept while retention removed none.
  if (after === '0') {
    const [pruned] = await database.run<{ id: string }>('select id::text as id from events.outbox_pruned', []);
    if (!pruned || pruned.id === '0') return { seq: '0' };
  }
  const [found] = await database.run<{ pruned_id: string; id: string | null; organization_id: string | null; object: string | null; published_seq: string | null }>(
    `select p.id::text as pruned_id, o.id::text as id, o.organization_id, o.object, o.published_seq::text as published_seq
       from events.outbox_pruned p left join events.outbox o on o.id = $1::bigint`, [after]);
  const mine = found?.id != null && found.organization_id === tenant && found.object === object;
  if (mine && found.published_seq != null) return { seq: found.published_seq };
  if (mine) throw dataError('CONFLICT', `after: "${after}": that event is being published again after a failed attempt; subscribe again in a moment.`);
  const oldest = await database.run<{ id: string }>(
    'select o.id::text as id from events.outbox o where o.organization_id = $1 and o.object = $2 and o.published_seq is not null order by o.published_seq limit 1', [tenant, object]);
  const available = oldest[0] ? `the oldest ${label} event still available is "${oldest[0].id}"` : `no ${label} event is available now`;
  if (found && BigInt(after) <= BigInt(found.pruned_id))
    throw dataError('BAD_USER_INPUT', `after: "${after}" is older than the change retention window: events after it were removed, so ${available}. Re-read the records you need, then subscribe without after.`);
  throw dataError('BAD_USER_INPUT', `after: "${after}" is not an event of ${label} in this organization; ${available}.`);
}

/**
 * The events published after the cursor, page by page in published order. A page that finds retention
 * went past where the replay is fails it (events it has not read yet are gone), rather than skip them.
 */
export async function* replayPages(database: Database, tenant: string, object: string, label: string, cursor: Cursor): AsyncGenerator<ChangeEvent[]> {
  let last = cursor.seq;
  for (;;) {
    const rows = await database.run<OutboxRow & { published_seq: string | null; pruned: string }>(
      `select p.seq::text as pruned, ${COLUMNS}, o.published_seq::text as published_seq from events.outbox_pruned p
         left join lateral (select * from events.outbox o where o.organization_id = $1 and o.object = $2 and o.published_seq > $3::bigint
           order by o.published_seq limit ${PAGE}) o on true`, [tenant, object, last]);
    if (rows[0] && BigInt(rows[0].pruned) > BigInt(last))
      throw dataError('BAD_USER_INPUT', `The replay of ${label} events fell behind the change retention window while it ran; re-read the records you need, then subscribe without after.`);
    const events = rows.filter((r) => r.id != null);
    if (events.length === 0) return;
    last = events[events.length - 1]!.published_seq!;
    yield events.map(toEvent);
    if (events.length < PAGE) return;
  }
}
