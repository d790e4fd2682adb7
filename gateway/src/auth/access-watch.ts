import type { EventBus } from '@objectos/events';
import { sameIdentity, type Credentials, type Principal } from '@objectos/principal';
import { ACCESS_EVENT_PREFIXES, affectedBy, type PrincipalCache } from './principal-cache.ts';

/** What a live operation runs as: a changed value means what it was allowed to see may have changed. */
export const accessKey = (p: Principal): string =>
  JSON.stringify([p.kind, p.userId, p.organizationId, p.roles, p.permissionSets, p.role, p.groups, p.isAdmin, p.sessionId, p.apiKeyId, p.impersonatedBy]);

/** One live thing (a socket, an SSE stream, a streamed result) held open on a principal's access. */
export interface Watched {
  /**
   * True while the access holds; a promise while a re-check an auth event started is still running
   * (deliveries wait for it); false once ended. Sync in the common case, so a delivery costs a field read.
   */
  ready(): boolean | Promise<boolean>;
  /** Stops watching (the stream or socket ended by itself). */
  stop(): void;
}

/** The same person, organization and session (or key) with other access: what they are now. */
export interface Changed { principal: Principal; expiresAt: number | undefined }


export interface AccessWatch {
  /**
   * Watches `principal`, authenticated by `credentials`, until it is stopped: `end(message)` is called
   * once as soon as the credentials no longer hold (sign-out, revocation, ban, expiry) or the principal's
   * access changed (role, groups, permission sets, membership): then with `changed`, when only what it
   * may see changed (the same person, organization and session or key).
   */
  watch(credentials: Credentials, principal: Principal, expiresAt: number | undefined, end: (message: string, changed?: Changed) => void): Watched;
  /** Live things watched (tests). */
  size(): number;
  close(): void;
}

interface Entry {
  credentials: Credentials;
  principal: Principal;
  end: (message: string, changed?: Changed) => void;
  expiry: NodeJS.Timeout | null;
  pending: Promise<boolean> | null;
  ended: boolean;
}

/**
 * The one re-check of every live transport (WebSocket sockets, SSE streams, anything added later): an
 * auth, authz or security event that affects a watched principal starts a fresh lookup at once, and
 * deliveries wait for its verdict, so nothing is delivered after the change took effect. Sessions are
 * also re-checked when they expire and every `recheckMs` (through the principal cache).
 */
export function createAccessWatch(principals: PrincipalCache, options: { bus?: EventBus; recheckMs?: number; onError?: (e: Error) => void } = {}): AccessWatch {
  const { bus, recheckMs = 30_000, onError = () => {} } = options;
  const entries = new Set<Entry>();

  const finish = (e: Entry, message: string, changed?: Changed): void => {
    if (e.ended) return;
    e.ended = true;
    entries.delete(e);
    if (e.expiry) clearTimeout(e.expiry);
    e.end(message, changed);
  };
  /** Looks the credentials up again (through the cache); `hold` makes deliveries wait for the verdict. */
  const recheck = (e: Entry, hold: boolean): Promise<boolean> => {
    const verdict = principals.authenticate(e.credentials).then(
      (r) => {
        if (e.ended) return false;
        if ('failure' in r) return (finish(e, `Forbidden: ${r.failure.message}`), false);
        if (accessKey(r.principal) !== accessKey(e.principal)) {
          const changed = sameIdentity(r.principal, e.principal) ? { principal: r.principal, expiresAt: r.expiresAt } : undefined;
          return (finish(e, 'Forbidden: your access changed; subscribe again to continue with the new access', changed), false);
        }
        schedule(e, r.expiresAt);
        return true;
      },
      (err: unknown) => {
        // The identity lookup failed: access cannot be confirmed, so nothing more is delivered.
        onError(err as Error);
        finish(e, 'Forbidden: your access could not be re-checked; subscribe again');
        return false;
      },
    );
    if (hold) {
      e.pending = verdict;
      void verdict.finally(() => {
        if (e.pending === verdict) e.pending = null;
      });
    }
    return verdict;
  };
  const schedule = (e: Entry, expiresAt: number | undefined): void => {
    if (e.expiry) clearTimeout(e.expiry);
    e.expiry = null;
    if (expiresAt === undefined || e.ended) return;
    e.expiry = setTimeout(() => void recheck(e, false), Math.max(0, Math.min(expiresAt - Date.now() + 50, 2 ** 31 - 1)));
    e.expiry.unref();
  };

  const unsubscribe = bus
    ? ACCESS_EVENT_PREFIXES.map((prefix) =>
        bus.subscribe(prefix, (event) => {
          const affected = affectedBy(event);
          if (!affected) return;
          // One fresh lookup per credentials, however many streams and sockets hold them.
          const byCredentials = new Map<string, Entry[]>();
          for (const e of entries) {
            if (!affected(e.principal)) continue;
            const key = JSON.stringify([e.credentials.authorization, e.credentials['x-api-key'], e.credentials.cookie]);
            byCredentials.set(key, [...(byCredentials.get(key) ?? []), e]);
          }
          for (const group of byCredentials.values()) {
            principals.forget(group[0]!.credentials);
            for (const e of group) void recheck(e, true);
          }
        }),
      )
    : [];
  const sweep = setInterval(() => {
    for (const e of entries) if (!e.pending) void recheck(e, false);
  }, recheckMs);
  sweep.unref();

  return {
    watch(credentials, principal, expiresAt, end) {
      const e: Entry = { credentials, principal, end, expiry: null, pending: null, ended: false };
      entries.add(e);
      schedule(e, expiresAt);
      // An event between the request's authentication and now found no entry to re-check, but it did
      // evict the cached principal: this lookup is then fresh. Until it answers, nothing is delivered.
      void recheck(e, true);
      return {
        ready: () => (e.ended ? false : (e.pending ?? true)),
        stop: () => {
          e.ended = true;
          entries.delete(e);
          if (e.expiry) clearTimeout(e.expiry);
        },
      };
    },
    size: () => entries.size,
    close() {
      clearInterval(sweep);
      unsubscribe.forEach((u) => u());
      for (const e of entries) if (e.expiry) clearTimeout(e.expiry);
      entries.clear();
    },
  };
}
