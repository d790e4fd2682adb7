import { createHash } from 'node:crypto';
import type { AuditEvent } from './audit-event.ts';
import type { DataChangeEvent } from './change-event.ts';

/** Who made a change and through which request: stored beside the change, for the audit trail. */
export interface ChangeContext {
  requestId: string | null;
  actorType: 'user' | 'api_client' | 'system';
  ipAddress: string | null;
  userAgent: string | null;
  impersonatedBy: string | null;
  /** The change was an automation rule's action (a field update, a task): which, and how deep in a chain of rules. */
  automation?: AutomationCause | null;
}

/** The rule action that made a change, and its depth: 1 for a rule run by a person's change, n+1 for a rule run by depth n's change. */
export interface AutomationCause {
  rule: string;
  action: string;
  depth: number;
}

/** A UUID derived from a name: the same outbox row always gives the same audit event id. */
export function nameUuid(name: string): string {
  const h = createHash('sha256').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * The audit event of a committed record change (spec data.create / data.update / data.delete), with
 * `changes` for every field whose value changed: unredacted here (the audit subgraph redacts before
 * storing) and with an id derived from the outbox row, so a row handed over twice is stored once.
 */
export function auditEventOfChange(c: DataChangeEvent, context: ChangeContext | null): AuditEvent {
  // A create lists the values it set and a delete those it removed: a field empty on both sides is no change.
  const changes = c.changedFields
    .map((field) => ({ field, oldValue: c.previous?.[field] ?? null, newValue: c.record?.[field] ?? null }))
    .filter((x) => x.oldValue !== null || x.newValue !== null);
  return {
    id: nameUuid(`outbox:${c.id}:${c.at}`),
    eventType: `data.${c.op}`,
    severity: 'info',
    timestamp: c.at,
    actor: { type: context?.actorType ?? (c.actorId ? 'user' : 'system'), id: c.actorId, ipAddress: context?.ipAddress ?? null, userAgent: context?.userAgent ?? null },
    target: { type: c.object, id: c.recordId },
    description: `${c.op} ${c.object} ${c.recordId}${c.deletedWith?.length ? ` (with its ${c.deletedWith[0]!.object})` : ''}`,
    changes,
    result: 'success',
    tenantId: c.organizationId,
    requestId: context?.requestId ?? null,
    details: { object: c.object, ...(context?.impersonatedBy ? { impersonatedBy: context.impersonatedBy } : {}) },
  };
}
