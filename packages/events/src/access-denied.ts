import { auditEvent, type AuditEvent } from './audit-event.ts';

/** One refused request, as the server that refused it saw it. */
export interface AccessDenial {
  actor: AuditEvent['actor'];
  tenantId: string | null;
  /** The error code the client got (FORBIDDEN, UNAUTHENTICATED…). */
  code: string;
  /** What was refused, as the client was told (no values). */
  reason: string;
  requestId: string | null;
}

export interface AccessDeniedAggregator {
  note(denial: AccessDenial): void;
  /** Writes what the current window holds now (tests, shutdown). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

interface Bucket { first: AccessDenial; count: number; codes: Set<string>; reasons: string[]; requestIds: string[]; since: string }

/**
 * `security.access_denied` without a flood: refusals are counted per source (actor, or IP for anonymous
 * callers), tenant and code over a window, and each source gets one event per window with the count,
 * the codes, up to 3 distinct reasons and request ids. Past `maxSources` sources in one window the rest
 * are counted into a single overflow event, so no burst can write more than `maxSources + 1` rows per
 * window.
 */
export function createAccessDeniedAggregator(options: { sink: (events: AuditEvent[]) => Promise<void>; windowMs?: number; maxSources?: number; onError?: (e: Error) => void }): AccessDeniedAggregator {
  const { sink, windowMs = 10_000, maxSources = 1_000, onError = () => {} } = options;
  let buckets = new Map<string, Bucket>();
  let overflow = 0;
  let pending: Promise<void> = Promise.resolve();

  const take = (): AuditEvent[] => {
    const events: AuditEvent[] = [];
    for (const b of buckets.values())
      events.push(auditEvent({
        eventType: 'security.access_denied',
        severity: b.count >= 100 ? 'error' : 'warning',
        result: 'failure',
        actor: b.first.actor,
        tenantId: b.first.tenantId,
        requestId: b.first.requestId,
        description: b.count === 1 ? b.first.reason : `${b.count} requests refused (${[...b.codes].join(', ')})`,
        details: { count: b.count, codes: [...b.codes], reasons: b.reasons, requestIds: b.requestIds, since: b.since },
      }));
    if (overflow > 0)
      events.push(auditEvent({
        eventType: 'security.access_denied', severity: 'error', result: 'failure', actor: { type: 'system', id: null }, tenantId: null,
        description: `${overflow} more requests refused from more than ${maxSources} sources in one window`, details: { count: overflow, overflow: true },
      }));
    buckets = new Map();
    overflow = 0;
    return events;
  };
  const flush = (): Promise<void> => {
    const events = take();
    if (events.length > 0) pending = pending.then(() => sink(events)).catch((e: unknown) => onError(e as Error));
    return pending;
  };
  const timer = setInterval(() => void flush(), windowMs);
  timer.unref();
  return {
    note(d) {
      const source = d.actor.id ? `${d.actor.type}:${d.actor.id}` : `ip:${d.actor.ipAddress ?? '?'}`;
      const key = `${source}|${d.tenantId ?? ''}|${d.code}`;
      let b = buckets.get(key);
      if (!b) {
        if (buckets.size >= maxSources) {
          overflow++;
          return;
        }
        buckets.set(key, (b = { first: d, count: 0, codes: new Set(), reasons: [], requestIds: [], since: new Date().toISOString() }));
      }
      b.count++;
      b.codes.add(d.code);
      if (b.reasons.length < 3 && !b.reasons.includes(d.reason)) b.reasons.push(d.reason.slice(0, 300));
      if (d.requestId && b.requestIds.length < 3) b.requestIds.push(d.requestId);
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
