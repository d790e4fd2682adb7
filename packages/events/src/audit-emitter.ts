import type { Db } from '@objectos/db';
import type { AuditEvent } from './audit-event.ts';
import type { EventBus } from './event-bus.ts';
import { recordAuditEvents } from './event-tables.ts';

/** Records an audit event durably, then tells the bus (caches, sockets) at once. */
export type AuditEmitter = (event: AuditEvent) => Promise<void>;

/**
 * The durable path of auth, authz and security events: the event is in `events.audit_outbox` before the
 * promise resolves (so before the action is acknowledged), then published on the bus, which stays at
 * most once and only serves quick reactions. A failed write rejects: the caller decides whether the
 * action may be acknowledged without its trace.
 */
export function createAuditEmitter(db: Db | null, bus: EventBus | null): AuditEmitter {
  return async (event) => {
    if (db) await recordAuditEvents(db, [event]);
    await bus?.publish(event).catch(() => {});
  };
}
