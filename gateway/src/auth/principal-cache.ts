import { createHash } from 'node:crypto';
import type { AuditEvent, EventBus } from '@objectos/events';
import { freezePrincipal, type Credentials, type Principal, type Resolution } from '@objectos/principal';

export type { ResolvePrincipal } from '@objectos/principal';
import type { ResolvePrincipal } from '@objectos/principal';

interface Entry {
  resolution: Resolution & { principal: Principal };
  expires: number;
}

export interface PrincipalCache {
  authenticate(credentials: Credentials): Promise<Resolution>;
  /** Drops the entry of these credentials (their session just changed: organization switched or joined). */
  forget(credentials: Credentials): void;
  /** Entries dropped so far because of events (tests and metrics). */
  readonly evictions: number;
  size(): number;
  close(): void;
}

/** The bus prefixes of the events that can end or change a principal's access. */
export const ACCESS_EVENT_PREFIXES = ['auth.', 'authz.', 'security.'] as const;

/**
 * The principals whose access an auth, authz or security event can end or change (revocation, ban,
 * sign-out, password change, membership or role change, key revocation): those of the user, the
 * organization or the API key it names. Null when it changes nobody's access (a sign-in, a new key).
 */
export function affectedBy(e: AuditEvent): ((p: Principal) => boolean) | null {
  if (e.eventType === 'security.api_key_created' || e.eventType === 'auth.login' || e.eventType === 'auth.mfa_enabled') return null;
  const d = e.details ?? {};
  const named = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);
  const [userId, org, keyId] = [named(d.userId), named(d.organizationId), named(d.apiKeyId)];
  if (!userId && !org && !keyId) return null;
  return (p) => (userId !== null && p.userId === userId) || (org !== null && p.organizationId === org) || (keyId !== null && p.apiKeyId === keyId);
}

/**
 * Session and API-key lookups cached for a few seconds, so authentication costs a hash and a map
 * lookup on most requests. Any event that can end access (revocation, ban, sign-out, password change,
 * membership or role change, key revocation) drops the affected entries at once, so such changes take
 * effect on the next request rather than after the TTL. Failures are never cached.
 */
export function createPrincipalCache(resolve: ResolvePrincipal, options: { ttlMs?: number; maxEntries?: number; bus?: EventBus } = {}): PrincipalCache {
  const { ttlMs = 5_000, maxEntries = 10_000 } = options;
  const entries = new Map<string, Entry>();
  const inflight = new Map<string, Promise<Resolution>>();
  let evictions = 0;
  // A monotonically increasing generation: a lookup that started before an eviction is not cached.
  let generation = 0;

  const drop = (match: (p: Principal) => boolean): void => {
    generation++;
    // A lookup that started before the event may answer with the access as it was: later callers must
    // not join it (its own caller still gets it; its result is not cached, see `started`).
    inflight.clear();
    for (const [k, e] of entries)
      if (match(e.resolution.principal)) {
        entries.delete(k);
        evictions++;
      }
  };
  const onEvent = (e: AuditEvent): void => {
    const affected = affectedBy(e);
    if (affected) drop(affected);
  };
  const unsubscribe = options.bus ? ACCESS_EVENT_PREFIXES.map((prefix) => options.bus!.subscribe(prefix, onEvent)) : [];

  const keyOf = (c: Credentials): string =>
    createHash('sha256').update(`${c.authorization ?? ''}\n${c['x-api-key'] ?? ''}\n${c.cookie ?? ''}`).digest('base64url');

  return {
    forget(credentials) {
      generation++;
      const key = keyOf(credentials);
      entries.delete(key);
      inflight.delete(key);
    },
    async authenticate(credentials) {
      const key = keyOf(credentials);
      const now = Date.now();
      const hit = entries.get(key);
      if (hit && hit.expires > now) return hit.resolution;
      if (hit) entries.delete(key);
      let pending = inflight.get(key);
      if (!pending) {
        const started = generation;
        pending = resolve(credentials).then((r) => {
          if ('principal' in r && r.principal.kind !== 'anonymous' && started === generation) {
            // Shared by every request of these credentials until it expires: frozen, so its encoding is made once.
            freezePrincipal(r.principal);
            if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
            entries.set(key, { resolution: r, expires: Math.min(Date.now() + ttlMs, r.expiresAt ?? Infinity) });
          }
          return r;
        });
        const mine = pending;
        pending.finally(() => {
          if (inflight.get(key) === mine) inflight.delete(key);
        }).catch(() => {});
        inflight.set(key, pending);
      }
      return pending;
    },
    get evictions() {
      return evictions;
    },
    size: () => entries.size,
    close: () => unsubscribe.forEach((u) => u()),
  };
}
