import { Repeater } from 'graphql-yoga';
import type { DataSource } from '../data-source.ts';
import { dataError } from '../errors.ts';
import { readable } from '../security/api.ts';
import { requireObject } from '../security/fields.ts';
import { presenceKey, type PresenceHub, type PresenceStatus, type Viewer } from './presence-hub.ts';

export interface RecordPresence { object: string; recordId: string; viewers: Viewer[] }

/** The record a presence call is about, if the member can read it (one they cannot read is "not found", as for reads). */
async function recordOf(ds: DataSource, object: string, id: string): Promise<{ key: string; userId: string; check: () => Promise<boolean> }> {
  const p = Object.hasOwn(ds.plan.objects, object) ? ds.plan.objects[object] : undefined;
  if (!p || !p.methods.includes('get')) throw dataError('BAD_USER_INPUT', `object: unknown object "${object}"`);
  requireObject(ds, p, 'read');
  const userId = ds.sc?.access.userId ?? null;
  if (ds.tenant === null || userId === null) throw dataError('FORBIDDEN', 'Presence is for signed-in members of an organization.');
  const check = () => readable(ds, p, id);
  if (!(await check())) throw dataError('NOT_FOUND', `No ${p.typeName} with id "${id}"`);
  return { key: presenceKey(ds.tenant, object, id), userId, check };
}

/**
 * You, viewing a record while the stream lasts, and its viewers as they change. Each list is sent only
 * while you can still read the record (checked as it is sent: a revoked share ends the stream).
 */
export async function presenceOf(ds: DataSource, hub: PresenceHub, args: { object: string; id: string }, signal?: AbortSignal): Promise<AsyncIterable<RecordPresence>> {
  const { key, userId, check } = await recordOf(ds, args.object, args.id);
  return new Repeater<RecordPresence>(async (push, stop) => {
    let chain: Promise<unknown> = Promise.resolve();
    const leave = hub.join(key, userId, (viewers) => {
      chain = chain.then(async () => {
        if (!(await check())) return stop(dataError('FORBIDDEN', 'You can no longer read this record: its presence ended.'));
        await push({ object: args.object, recordId: args.id, viewers });
      }).catch((err: unknown) => stop(err));
    });
    const abort = () => stop();
    signal?.addEventListener('abort', abort, { once: true });
    if (signal?.aborted) stop();
    await stop;
    leave();
    signal?.removeEventListener('abort', abort);
  });
}

export async function setPresence(ds: DataSource, hub: PresenceHub, args: { object: string; id: string; status: PresenceStatus }): Promise<boolean> {
  const { key, userId } = await recordOf(ds, args.object, args.id);
  await hub.setStatus(key, userId, args.status);
  return true;
}
