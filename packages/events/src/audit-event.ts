import { randomUUID } from 'node:crypto';

/** Spec audit event types (system/audit.zod.ts) that ObjectOS emits today. */
export type AuditEventType =
  | 'auth.login'
  | 'auth.login_failed'
  | 'auth.logout'
  | 'auth.session_created'
  | 'auth.session_expired'
  | 'auth.session_revoked'
  | 'auth.password_changed'
  | 'auth.password_reset'
  | 'auth.mfa_enabled'
  | 'auth.mfa_disabled'
  | 'auth.account_locked'
  | 'auth.account_unlocked'
  | 'authz.role_assigned'
  | 'authz.role_removed'
  | 'authz.permission_granted'
  | 'authz.permission_revoked'
  | 'security.access_denied'
  | 'security.api_key_created'
  | 'security.api_key_revoked';

export type Severity = 'debug' | 'info' | 'notice' | 'warning' | 'error' | 'critical' | 'alert' | 'emergency';

/** Spec `AuditEvent`: what the audit subgraph stores; published on the internal event bus. */
export interface AuditEvent {
  id: string;
  eventType: AuditEventType;
  severity: Severity;
  timestamp: string;
  actor: { type: 'user' | 'system' | 'service' | 'api_client'; id: string | null; ipAddress?: string | null; userAgent?: string | null };
  target?: { type: string; id: string } | undefined;
  description: string;
  result: 'success' | 'failure' | 'partial';
  tenantId: string | null;
  requestId?: string | null;
  /** Extra facts for consumers (never secrets): e.g. the session ids a revocation ended. */
  details?: Record<string, unknown>;
}

export function auditEvent(e: Omit<AuditEvent, 'id' | 'timestamp' | 'severity' | 'result'> & Partial<Pick<AuditEvent, 'severity' | 'result'>>): AuditEvent {
  return { id: randomUUID(), timestamp: new Date().toISOString(), severity: 'info', result: 'success', ...e };
}
