import { createHash } from 'node:crypto';
import type { AuditEvent, EventBus } from '@objectos/events';
import type { Credentials, Principal, Resolution } from '@objectos/principal';

export type ResolvePrincipal = (credentials: Credentials) => Promise<Resolution>;

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
    for (const [k, e] of entries)
      if (match(e.resolution.principal)) {
        entries.delete(k);
        evictions++;
      }
  };
  const onEvent = (e: AuditEvent): void => {
    const d = e.details ?? {};
    const userId = typeof d.userId === 'string' && d.userId ? d.userId : null;
    const org = typeof d.organizationId === 'string' && d.organizationId ? d.organizationId : null;
    const keyId = typeof d.apiKeyId === 'string' && d.apiKeyId ? d.apiKeyId : null;
    if (e.eventType === 'security.api_key_created' || e.eventType === 'auth.login' || e.eventType === 'auth.mfa_enabled') return;
    if (userId) drop((p) => p.userId === userId);
    if (org) drop((p) => p.organizationId === org);
    if (keyId) drop((p) => p.apiKeyId === keyId);
  };
  const unsubscribe = options.bus ? [options.bus.subscribe('auth.', onEvent), options.bus.subscribe('authz.', onEvent), options.bus.subscribe('security.', onEvent)] : [];

  const keyOf = (c: Credentials): string =>
    createHash('sha256').update(`${c.authorization ?? ''}\n${c['x-api-key'] ?? ''}\n${c.cookie ?? ''}`).digest('base64url');

  return {
    forget(credentials) {
      generation++;
      entries.delete(keyOf(credentials));
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
            if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
            entries.set(key, { resolution: r, expires: Math.min(Date.now() + ttlMs, r.expiresAt ?? Infinity) });
          }
          return r;
        });
        pending.finally(() => inflight.delete(key)).catch(() => {});
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
