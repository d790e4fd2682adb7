import { and } from 'drizzle-orm';
import { Repeater } from 'graphql-yoga';
import { objectOf, type DataSource } from '../data-source.ts';
import { dataError } from '../errors.ts';
import { columnReadable, requireObject } from '../security/fields.ts';
import { isUuid, type WhereInput } from '../sql/where.ts';
import { filterSql } from '../sql/filter.ts';
import { checkTemplate } from './check-template.ts';
import { deliveredMetric, type ChangePayload, type FanOut, type Watch } from './fan-out.ts';

export type { ChangePayload } from './fan-out.ts';

export interface ChangedArgs {
  where?: WhereInput | null;
  id?: string | null;
  operations?: ('CREATED' | 'UPDATED' | 'DELETED')[] | null;
}

/** Events waiting for one subscriber past this many end its subscription (it is not keeping up). */
export const MAX_PENDING = 1_000;

/**
 * The live change events of one object for one subscriber. Each event is checked when it arrives,
 * against the subscriber's access as it is then (sharing rules, shares, hierarchy and RLS read from the
 * database at that moment): a revoked share stops delivery from the next event on. Create and update
 * events are delivered when the new state is visible (and matches `where`; an update also when the
 * state before matched); deletes when the deleted state was visible and matched. `previous` is only given when it was visible too.
 * Fields the subscriber cannot read are null, and left out of changedFields; an update of such fields
 * only is not delivered.
 */
export function changesOf(ds: DataSource, fanOut: FanOut, object: string, args: ChangedArgs, signal?: AbortSignal): AsyncIterable<ChangePayload> {
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
  const ops = new Set<ChangePayload['op']>(args.operations?.length ? args.operations : ['CREATED', 'UPDATED', 'DELETED']);
  const tenant = ds.tenant;

  return new Repeater<ChangePayload>(async (push, stop) => {
    let pending = 0;
    const leave = fanOut.join(tenant, object, watch, {
      ops,
      id: args.id ?? null,
      push(payload) {
        if (++pending > MAX_PENDING) {
          stop(dataError('TIMEOUT', `This subscription fell more than ${MAX_PENDING} events behind and was ended; subscribe again.`));
          return;
        }
        deliveredMetric();
        push(payload).then(() => pending--, () => pending--);
      },
      fail: (err) => stop(err),
    });
    // The request carrying the subscription went (its client closed, the gateway ended it): stop now,
    // not when the stream next writes (an event, or a keep-alive seconds later).
    const ended = () => stop();
    signal?.addEventListener('abort', ended, { once: true });
    if (signal?.aborted) stop();
    await stop;
    leave();
    signal?.removeEventListener('abort', ended);
  });
}
