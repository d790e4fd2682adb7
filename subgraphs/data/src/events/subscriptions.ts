import { and } from 'drizzle-orm';
import { Repeater } from 'graphql-yoga';
import { objectOf, type DataSource } from '../data-source.ts';
import { dataError } from '../errors.ts';
import { columnReadable, requireObject } from '../security/fields.ts';
import { isUuid, type WhereInput } from '../sql/where.ts';
import { filterSql } from '../sql/filter.ts';
import { checkTemplate } from './check-template.ts';
import { deliveredMetric, type ChangePayload, type FanOut, type Watch } from './fan-out.ts';
import { openCursor, replayPages, type Cursor } from './replay.ts';
import { leftRecords, MAX_LEFT, positionBefore, RECENT, type LiveSubscriptions } from './access-left.ts';
import { markTold, resumeKey, rulesAt, type ServedRules } from './rule-epochs.ts';
import { accessFor } from '@objectos/schema';
import type { Principal } from '@objectos/principal';

export type { ChangePayload } from './fan-out.ts';

export interface ChangedArgs {
  where?: WhereInput | null;
  id?: string | null;
  operations?: ChangePayload['op'][] | null;
  /** Replay from this event on: the eventId of the last change received. */
  after?: string | null;
}

/** Events waiting for one subscriber past this many end its subscription (it is not keeping up). */
export const MAX_PENDING = 1_000;
/** A replay hands the stream this many events at most before waiting for the client to take them. */
const REPLAY_AHEAD = 64;

/**
 * A subscription the gateway named (STREAM_HEADER): found by that name when its subscriber's access
 * changes (access-left.ts). `rules`: the access rules served, to tell a subscriber resuming from an event
 * delivered under other rules (a deploy changed them) what left its view (rule-epochs.ts).
 */
export interface Named { stream: string; principal: Principal; registry: LiveSubscriptions; rules?: ServedRules }

/**
 * The live change events of one object for one subscriber. Each event is checked when it arrives,
 * against the subscriber's access as it is then (sharing rules, shares, hierarchy and RLS read from the
 * database at that moment): a revoked share stops delivery from the next event on. Create and update
 * events are delivered when the new state is visible (and matches `where`; an update also when the
 * state before matched); deletes when the deleted state was visible and matched. `previous` is only given when it was visible too.
 * Fields the subscriber cannot read are null, and left out of changedFields; an update of such fields
 * only is not delivered. A share granted or revoked is an event too: ENTERED (the record, as they may
 * read it) for those it brought the record into view of, LEFT (its id only) for those it took it from.
 *
 * With `after`, the events published since that one are first replayed from the outbox (its retention
 * window), each checked the same way, then live ones follow: the subscriber listens before the replay
 * reads, live events that arrive meanwhile wait, and an event both replayed and live is delivered once.
 * When that event was delivered under other access rules (a deploy changed them since), the records
 * its `where`/`id` matched then and the rules served now hide are told first (LEFT, see `leftSinceRules`).
 *
 * `named`: it can be found by its name when its subscriber's access changes (or a reload replaces the
 * access rules): it then tells the records that left its view (LEFT) and ends (see access-left.ts).
 */
export async function changesOf(ds: DataSource, fanOut: FanOut, object: string, args: ChangedArgs, signal?: AbortSignal, named?: Named): Promise<AsyncIterable<ChangePayload>> {
  // The subscriber's access is fixed for the subscription; what it reads (shares, hierarchy) is read per event.
  const { p, table } = objectOf(ds, object);
  requireObject(ds, p, 'read');
  if (ds.tenant === null) throw dataError('FORBIDDEN', 'You act in no organization: there are no records to watch.');
  // Bad filters are refused now, before the stream starts (same rules as lists).
  const filter = filterSql(ds, p, table, args.where);
  if (args.id != null && !isUuid(args.id)) throw dataError('BAD_USER_INPUT', `id: "${args.id}" is not a valid id`);
  const watch: Watch = {
    ds, p, userId: ds.sc?.access.userId ?? null,
    // Built with the user id left open: subscribers differing by it alone are checked in one go.
    visible: checkTemplate(ds, (d) => objectOf(d, object).visible),
    matching: filter ? checkTemplate(ds, (d) => and(objectOf(d, object).visible, filterSql(d, p, table, args.where))!) : null,
    readable: new Set(p.columns.filter((c) => columnReadable(ds, p, c)).map((c) => c.graphqlName)),
  };
  const ops = new Set<ChangePayload['op']>(args.operations?.length ? args.operations : ['CREATED', 'UPDATED', 'DELETED', 'ENTERED', 'LEFT']);
  const tenant = ds.tenant;
  const target = { ops, id: args.id ?? null };

  // Live first: every event published from here on reaches `held` (during a replay) or the stream.
  let out: ((payload: ChangePayload) => void) | null = null;
  let ended: ((error?: unknown) => void) | null = null;
  let failure: { error: unknown } | null = null;
  const held: ChangePayload[] = [];
  const replayed = new Set<string>();
  // Set once its access changed: nothing more is delivered under the access it had.
  let leaving = false;
  const leave = fanOut.join(tenant, object, watch, {
    ...target,
    push(payload) {
      if (leaving || replayed.delete(payload.eventId)) return;
      if (out) return out(payload);
      if (held.length >= MAX_PENDING) failure ??= { error: behind() };
      else held.push(payload);
    },
    fail(error) {
      if (ended) ended(error);
      else failure ??= { error };
    },
  });
  // Gone before its stream starts (the stream's own stop does it from then on).
  signal?.addEventListener('abort', leave, { once: true });
  let cursor: Cursor | null = null;
  let leftAtResume: string[] = [];
  try {
    if (args.after != null) {
      cursor = await openCursor(fanOut.database, tenant, object, p.object.label, args.after);
      if (named?.rules) leftAtResume = await leftSinceRules(ds, fanOut, named as Named & { rules: ServedRules }, object, args, args.after, cursor);
    }
  } catch (err) {
    leave();
    signal?.removeEventListener('abort', leave);
    throw err;
  }

  return new Repeater<ChangePayload>(async (push, stop) => {
    signal?.removeEventListener('abort', leave);
    let pending = 0;
    let stopped = false;
    void stop.then(() => (stopped = true));
    // Events pushed, and the ids of the latest: where its client resumes when its access changes.
    let pushed = 0;
    const recent: string[] = [];
    const deliver = (payload: ChangePayload): Promise<unknown> | null => {
      if (++pending > MAX_PENDING) {
        stop(behind());
        return null;
      }
      deliveredMetric();
      recent[pushed++ % RECENT] = payload.eventId;
      return push(payload).finally(() => pending--);
    };
    const unname = named?.registry.add(named.stream, {
      principal: named.principal,
      async leave(next, given, replaced) {
        if (stopped || leaving) return null;
        leaving = true;
        const sent = pushed;
        const delivered = given ?? sent;
        // The client resumes (`after`) from the last event it was given; the gateway drops what followed.
        const end = replaced?.end;
        if ((delivered > 0 && sent - delivered >= RECENT) || delivered > sent) return (stop(end), null);
        let after: string;
        let left: string[] | null;
        try {
          const since = leave.since();
          after = delivered > 0 ? recent[(delivered - 1) % RECENT]! : (args.after ?? since.after ?? (await positionBefore(fanOut.database, tenant, object, since.first)));
          left = await leftRecords(ds, next, object, args.where, args.id ?? null, after);
        } catch (err) {
          // Nothing more can be delivered under the old access, and what left is unknown: it ends.
          stop(err);
          throw err;
        }
        // Every LEFT must fit beside what waits unread (else the subscription would end part way).
        if (left === null || stopped || pending + left.length > MAX_PENDING) return (stop(end), null);
        // The client resuming from here under the new rules was told already.
        if (replaced) markTold(replaced.rules, resumeKey(named!.principal, object, args.where, args.id ?? null, after));
        const at = new Date().toISOString();
        if (ops.has('LEFT')) for (const recordId of left) deliver({ eventId: after, op: 'LEFT', recordId, record: null, previous: null, changedFields: [], at });
        stop(end);
        return { skip: sent - delivered, left: left.length };
      },
    });
    ended = (error) => stop(error);
    // The request carrying the subscription went (its client closed, the gateway ended it): stop now,
    // not when the stream next writes (an event, or a keep-alive seconds later).
    const abort = () => stop();
    signal?.addEventListener('abort', abort, { once: true });
    if (signal?.aborted) stop();
    if (failure) stop(failure.error);
    void (async () => {
      if (ops.has('LEFT') && leftAtResume.length > 0) {
        const at = new Date().toISOString();
        for (const recordId of leftAtResume) if (deliver({ eventId: args.after!, op: 'LEFT', recordId, record: null, previous: null, changedFields: [], at }) === null) return;
      }
      if (cursor) {
        for await (const page of replayPages(fanOut.database, tenant, object, p.object.label, cursor)) {
          for (const e of page) replayed.add(e.id);
          if (stopped || leaving) return;
          for (const payload of await fanOut.judge(object, watch, target, page)) {
            if (stopped || leaving) return;
            const taken = deliver(payload);
            if (taken === null) return;
            if (pending >= REPLAY_AHEAD) await taken;
          }
        }
      }
      // Caught up: what arrived live meanwhile (less what the replay delivered), then live.
      if (leaving) return;
      for (const payload of held.splice(0)) if (!replayed.delete(payload.eventId)) deliver(payload);
      out = (payload) => void deliver(payload);
    })().catch((err: unknown) => stop(err));
    await stop;
    leave();
    unname?.();
    signal?.removeEventListener('abort', abort);
  });
}

const behind = () => dataError('TIMEOUT', `This subscription fell more than ${MAX_PENDING} events behind and was ended; subscribe again.`);

/**
 * A subscriber resuming from `after` (at `cursor`) that was delivered under other access rules than those
 * served now (a deploy or reload changed them since, see rule-epochs.ts): the records its `where`/`id`
 * matched as it was then, under those rules, that the rules served now hide (ids only, told LEFT). None
 * when the rules are the same, when no epoch that old is recorded, or when this process already told
 * them (a reload's hand-over). Refused (CONFLICT: re-read, subscribe without `after`) past MAX_LEFT, or
 * when the old rules cannot be judged against the tables as they are now.
 */
async function leftSinceRules(ds: DataSource, fanOut: FanOut, named: Named & { rules: ServedRules }, object: string, args: ChangedArgs, after: string, cursor: Cursor): Promise<string[]> {
  const { rules, principal } = named;
  if (rules.told.has(resumeKey(principal, object, args.where, args.id ?? null, after))) return [];
  const then = await rulesAt(fanOut.database, rules.scope, cursor.seq);
  if (!then || then.digest === rules.digest) return [];
  const again = 'Re-read the records you need, then subscribe without after.';
  let left: string[] | null;
  try {
    const security = await then.rules();
    const before: DataSource = { ...ds, sc: { ...ds.sc!, security, access: accessFor(ds.plan, security, principal) } };
    left = await leftRecords(before, ds, object, args.where, args.id ?? null, after);
  } catch (err) {
    throw dataError('CONFLICT', `The access rules changed since event "${after}", and which records left your view could not be worked out (${(err as Error).message}). ${again}`);
  }
  if (left === null) throw dataError('CONFLICT', `The access rules changed since event "${after}", and more than ${MAX_LEFT} records you were shown left your view. ${again}`);
  return left;
}
