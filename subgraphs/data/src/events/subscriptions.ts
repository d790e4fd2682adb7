import { and, sql, type SQL } from 'drizzle-orm';
import { Repeater } from 'graphql-yoga';
import type { ChangeEvent, ChangeOperation } from '@objectos/events';
import { queryRows } from '@objectos/db';
import { metrics } from '@objectos/observability';
import type { ColumnPlan, ObjectPlan } from '@objectos/schema';
import { objectOf, type DataSource, type Row } from '../data-source.ts';
import { dataError } from '../errors.ts';
import { OWNER, TENANT } from '../db/tables.ts';
import { columnReadable, maskRows, requireObject } from '../security/fields.ts';
import { isUuid, type WhereInput } from '../sql/where.ts';
import { filterSql } from '../sql/filter.ts';
import type { ChangeHub } from './change-hub.ts';

export interface ChangedArgs {
  where?: WhereInput | null;
  id?: string | null;
  operations?: ('CREATED' | 'UPDATED' | 'DELETED')[] | null;
}

/** What a subscriber receives (the record fields already masked for them). */
export interface ChangePayload {
  eventId: string;
  op: 'CREATED' | 'UPDATED' | 'DELETED';
  record: Row | null;
  previous: Row | null;
  changedFields: string[];
  at: string;
}

const OP: Record<ChangeOperation, ChangePayload['op']> = { create: 'CREATED', update: 'UPDATED', delete: 'DELETED' };

/** Events waiting for one subscriber past this many end its subscription (it is not keeping up). */
export const MAX_PENDING = 1_000;

/**
 * A stored row (GraphQL names) as the table's columns, for json_populate_record: the subscriber's
 * predicates are evaluated over the snapshot the event carries, not over whatever the row is now.
 */
function asColumns(p: ObjectPlan, row: Record<string, unknown>): string {
  const out: Record<string, unknown> = { [TENANT.column]: row[TENANT.key] ?? null, [OWNER.column]: row[OWNER.key] ?? null };
  for (const c of p.columns) out[c.column] = row[c.graphqlName] ?? null;
  return JSON.stringify(out);
}

/** Does this snapshot satisfy `condition` (the subscriber's record access, RLS select, and maybe their `where`)? */
function snapshotSql(p: ObjectPlan, row: Record<string, unknown> | null, condition: SQL): SQL {
  if (row === null) return sql`false`;
  const t = sql.identifier(p.table);
  return sql`exists (select 1 from json_populate_record(null::${t}, ${asColumns(p, row)}::json) as ${t} where ${condition})`;
}

/**
 * A record deleted by a cascade is judged with its deleted ancestors still in place: their tables are
 * shadowed, for this one statement, by CTEs adding the ancestors' states (a controlled_by_parent grant
 * is an EXISTS on the parent's table, which no longer has the parent).
 */
function deletedAncestors(ds: DataSource, e: ChangeEvent): SQL {
  if (!e.deletedWith?.length) return sql``;
  const byObject = new Map<string, Record<string, unknown>[]>();
  for (const a of e.deletedWith) byObject.set(a.object, [...(byObject.get(a.object) ?? []), a.record]);
  const ctes = [...byObject].map(([object, rows]) => {
    const p = ds.plan.objects[object]!;
    const t = sql.identifier(p.table);
    return sql`${t} as (select * from ${t} union all select * from json_populate_recordset(null::${t}, ${`[${rows.map((r) => asColumns(p, r)).join(',')}]`}::json))`;
  });
  return sql`with ${sql.join(ctes, sql`, `)}`;
}

/**
 * The live change events of one object for one subscriber. Each event is checked when it arrives,
 * against the subscriber's access as it is then (sharing rules, shares, hierarchy and RLS read from the
 * database at that moment): a revoked share stops delivery from the next event on. Create and update
 * events are delivered when the new state is visible (and matches `where`; an update also when the
 * state before matched); deletes when the deleted state was visible and matched. `previous` is only given when it was visible too.
 * Fields the subscriber cannot read are null, and left out of changedFields; an update of such fields
 * only is not delivered.
 */
export function changesOf(ds: DataSource, hub: ChangeHub, object: string, args: ChangedArgs, signal?: AbortSignal): AsyncIterable<ChangePayload> {
  // The subscriber's access is fixed for the subscription; what it reads (shares, hierarchy) is read per event.
  const { p, table, visible } = objectOf(ds, object);
  requireObject(ds, p, 'read');
  if (ds.tenant === null) throw dataError('FORBIDDEN', 'You act in no organization: there are no records to watch.');
  const readable = (c: ColumnPlan) => columnReadable(ds, p, c);
  // Bad filters are refused now, before the stream starts (same rules as lists).
  const filter = filterSql(ds, p, table, args.where);
  const matching = filter ? and(visible, filter)! : null;
  if (args.id != null && !isUuid(args.id)) throw dataError('BAD_USER_INPUT', `id: "${args.id}" is not a valid id`);
  const ops = new Set(args.operations?.length ? args.operations : ['CREATED', 'UPDATED', 'DELETED']);
  const readableNames = new Set(p.columns.filter(readable).map((c) => c.graphqlName));
  const tenant = ds.tenant;

  return new Repeater<ChangePayload>(async (push, stop) => {
    let chain = Promise.resolve();
    let pending = 0;
    const deliver = async (e: ChangeEvent): Promise<void> => {
      const after = e.op === 'delete' ? null : e.record;
      const before = e.op === 'create' ? null : e.previous;
      // Visible now / before; and, with a `where`, also matching it (without one, visible is matching).
      const columns = [sql`${snapshotSql(p, after, visible)} as "nowVisible"`, sql`${snapshotSql(p, before, visible)} as "wasVisible"`];
      if (matching) columns.push(sql`${snapshotSql(p, after, matching)} as "now"`, sql`${snapshotSql(p, before, matching)} as "was"`);
      const [r] = await queryRows<{ nowVisible: boolean; wasVisible: boolean; now?: boolean; was?: boolean }>(ds.db,
        sql`${deletedAncestors(ds, e)} select ${sql.join(columns, sql`, `)}`);
      const { nowVisible, wasVisible } = r!;
      const now = matching ? r!.now! : nowVisible;
      const was = matching ? r!.was! : wasVisible;
      // An update that takes a record out of `where` is still news to someone filtering on it.
      const deliverIt = e.op === 'create' ? now : e.op === 'delete' ? was : nowVisible && (now || was);
      if (!deliverIt) return;
      const changedFields = e.changedFields.filter((f) => readableNames.has(f));
      // A change to fields the subscriber cannot read is no news to them (an empty UPDATED would say
      // that something hidden changed, and when). A record that just came into view is still news.
      if (e.op === 'update' && wasVisible && changedFields.length === 0) return;
      const [record, previous] = maskRows(ds, p, [after as Row | null, wasVisible ? (before as Row | null) : null]);
      if (metrics.metricsEnabled()) metrics.eventDeliveries.inc({ kind: 'delivered' });
      await push({
        eventId: e.id,
        op: OP[e.op],
        record: record ?? null,
        previous: previous ?? null,
        changedFields,
        at: e.at,
      });
    };
    const off = hub.listen(tenant, object, (e) => {
      if (!ops.has(OP[e.op]) || (args.id != null && e.recordId !== args.id)) return;
      if (++pending > MAX_PENDING) {
        stop(dataError('TIMEOUT', `This subscription fell more than ${MAX_PENDING} events behind and was ended; subscribe again.`));
        return;
      }
      chain = chain.then(() => deliver(e)).catch((err: unknown) => stop(err)).finally(() => pending--);
    });
    // The request carrying the subscription went (its client closed, the gateway ended it): stop now,
    // not when the stream next writes (an event, or a keep-alive seconds later).
    const ended = () => stop();
    signal?.addEventListener('abort', ended, { once: true });
    if (signal?.aborted) stop();
    await stop;
    off();
    signal?.removeEventListener('abort', ended);
  });
}
