import { randomUUID } from 'node:crypto';
import type { Channel } from '@objectos/events';

export type PresenceStatus = 'ONLINE' | 'AWAY';

/** One user viewing a record: ONLINE if any of their connections is, and since when they are in that status. */
export interface Viewer { userId: string; status: PresenceStatus; lastSeen: string }

/** One connection's presence (a subscription to `presence`). */
interface Conn { id: string; userId: string; status: PresenceStatus; since: string }

/**
 * What replicas tell each other over the presence channel (Redis pub/sub between processes):
 * - `state`: a replica's connections on a record (after each change, on `sync`, and as a heartbeat);
 * - `sync`: a replica has a new viewer of a record: the others send their state of it now;
 * - `status`: a user's connections on a record go ONLINE or AWAY (setPresence, on whichever replica).
 */
export type PresenceMessage =
  | { t: 'state'; key: string; replica: string; conns: Conn[] }
  | { t: 'sync'; key: string; replica: string }
  | { t: 'status'; key: string; userId: string; status: PresenceStatus };

export interface PresenceHub {
  /** A viewer arrives (ONLINE). `onChange` gets the record's viewers on every replica now and whenever they change. Returns how it leaves. */
  join(key: string, userId: string, onChange: (viewers: Viewer[]) => void): () => void;
  setStatus(key: string, userId: string, status: PresenceStatus): Promise<void>;
  /** Viewers' connections on this replica (tests, drain). */
  size(): number;
  close(): void;
}

export interface PresenceOptions {
  /** How often each replica restates its viewers; a replica silent for 3 of these is gone (a crash). @default 10000 */
  heartbeatMs?: number;
}

/** The presence key of a record: per organization, so a replica never mixes tenants. */
export const presenceKey = (organizationId: string, object: string, id: string) => `${organizationId}\u0000${object}\u0000${id}`;

/**
 * Who is viewing which record, across replicas. Each replica owns its connections and gossips them over
 * the channel; it keeps the others' state only for records it has viewers of. A replica that stops
 * restating (a crash, a partition) is dropped after 3 heartbeats, so presence never sticks.
 */
export function createPresenceHub(channel: Channel<PresenceMessage>, options: PresenceOptions = {}): PresenceHub {
  const heartbeatMs = options.heartbeatMs ?? 10_000;
  const replica = randomUUID();
  const local = new Map<string, Map<string, Conn>>();
  const listeners = new Map<string, Set<(viewers: Viewer[]) => void>>();
  const remote = new Map<string, Map<string, { conns: Conn[]; at: number }>>();
  const last = new Map<string, string>();

  const publish = (m: PresenceMessage) => void channel.publish(m).catch(() => {});
  const state = (key: string) => publish({ t: 'state', key, replica, conns: [...(local.get(key)?.values() ?? [])] });

  /** The record's viewers, one per user, told to its listeners when they differ from what was told last. */
  const emit = (key: string, force?: (viewers: Viewer[]) => void) => {
    const byUser = new Map<string, Viewer>();
    const all = [...(local.get(key)?.values() ?? []), ...[...(remote.get(key)?.values() ?? [])].flatMap((r) => r.conns)];
    for (const c of all) {
      const v = byUser.get(c.userId);
      if (!v) byUser.set(c.userId, { userId: c.userId, status: c.status, lastSeen: c.since });
      else if (c.status === 'ONLINE' && v.status === 'AWAY') byUser.set(c.userId, { userId: c.userId, status: 'ONLINE', lastSeen: c.since });
      else if (c.status === v.status && c.since > v.lastSeen) v.lastSeen = c.since;
    }
    const viewers = [...byUser.values()].sort((a, b) => a.userId.localeCompare(b.userId));
    const text = JSON.stringify(viewers);
    if (force) force(viewers);
    if (last.get(key) === text) return;
    last.set(key, text);
    for (const l of [...(listeners.get(key) ?? [])]) if (l !== force) l(viewers);
  };

  const off = channel.subscribe((m) => {
    if (m.t === 'sync') {
      if (m.replica !== replica && local.get(m.key)?.size) state(m.key);
      return;
    }
    if (m.t === 'status') {
      const conns = [...(local.get(m.key)?.values() ?? [])].filter((c) => c.userId === m.userId && c.status !== m.status);
      if (conns.length === 0) return;
      const at = new Date().toISOString();
      for (const c of conns) (c.status = m.status), (c.since = at);
      state(m.key);
      emit(m.key);
      return;
    }
    if (m.replica === replica || !listeners.has(m.key)) return;
    let r = remote.get(m.key);
    if (!r) remote.set(m.key, (r = new Map()));
    if (m.conns.length > 0) r.set(m.replica, { conns: m.conns, at: Date.now() });
    else r.delete(m.replica);
    emit(m.key);
  });

  const timer = setInterval(() => {
    for (const key of local.keys()) state(key);
    // A replica that has not restated its viewers for 3 heartbeats is gone: so are they.
    const stale = Date.now() - 3 * heartbeatMs;
    for (const [key, r] of remote) {
      let dropped = false;
      for (const [id, s] of r) if (s.at < stale) (r.delete(id), (dropped = true));
      if (dropped) emit(key);
    }
  }, heartbeatMs);
  timer.unref();

  return {
    join(key, userId, onChange) {
      const conn: Conn = { id: randomUUID(), userId, status: 'ONLINE', since: new Date().toISOString() };
      let conns = local.get(key);
      if (!conns) local.set(key, (conns = new Map()));
      conns.set(conn.id, conn);
      let ls = listeners.get(key);
      const first = !ls;
      if (!ls) listeners.set(key, (ls = new Set()));
      ls.add(onChange);
      if (first) publish({ t: 'sync', key, replica });
      state(key);
      emit(key, onChange);
      return () => {
        if (!conns.delete(conn.id)) return;
        if (conns.size === 0) local.delete(key);
        ls.delete(onChange);
        if (ls.size === 0) (listeners.delete(key), remote.delete(key), last.delete(key));
        state(key);
        if (ls.size > 0) emit(key);
      };
    },
    async setStatus(key, userId, status) {
      await channel.publish({ t: 'status', key, userId, status });
    },
    size: () => [...local.values()].reduce((n, c) => n + c.size, 0),
    close() {
      clearInterval(timer);
      off();
      // Viewers here are gone: the other replicas are told now rather than after 3 heartbeats.
      for (const key of [...local.keys()]) publish({ t: 'state', key, replica, conns: [] });
      local.clear();
      listeners.clear();
      remote.clear();
    },
  };
}
