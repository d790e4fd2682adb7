import { randomUUID } from 'node:crypto';
import type { AuditEventType } from '@objectos/metadata';

export type { AuditEventType };

export type Severity = 'debug' | 'info' | 'notice' | 'warning' | 'error' | 'critical' | 'alert' | 'emergency';

/** Spec `AuditEvent.changes[]`: one field of a record, before and after. */
export interface AuditChange {
  field: string;
  oldValue: unknown;
  newValue: unknown;
}

/** Spec `AuditEvent`: what the audit subgraph stores; published on the internal event bus. */
export interface AuditEvent {
  id: string;
  eventType: AuditEventType;
  severity: Severity;
  timestamp: string;
  actor: { type: 'user' | 'system' | 'service' | 'api_client' | 'integration'; id: string | null; ipAddress?: string | null; userAgent?: string | null };
  target?: { type: string; id: string } | undefined;
  description: string;
  changes?: AuditChange[];
  result: 'success' | 'failure' | 'partial';
  tenantId: string | null;
  requestId?: string | null;
  /** Extra facts for consumers (never secrets): e.g. the session ids a revocation ended. */
  details?: Record<string, unknown>;
}

export function auditEvent(e: Omit<AuditEvent, 'id' | 'timestamp' | 'severity' | 'result'> & Partial<Pick<AuditEvent, 'id' | 'severity' | 'result'>>): AuditEvent {
  return { id: randomUUID(), timestamp: new Date().toISOString(), severity: 'info', result: 'success', ...e };
}
