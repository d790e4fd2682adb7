import type { AuditChange, AuditEvent } from '@objectos/events';
import { AUDIT_SEVERITIES, type AuditConfig } from '@objectos/metadata';

export const REDACTED = '[REDACTED]';

/** Whether the configuration records this event (enabled, its type or category listed, severity high enough). */
export function recorded(config: AuditConfig): (e: AuditEvent) => boolean {
  const types = new Set(config.eventTypes);
  const min = AUDIT_SEVERITIES.indexOf(config.minimumSeverity);
  return (e) =>
    config.enabled
    && (types.size === 0 || types.has(e.eventType) || types.has(`${e.eventType.split('.')[0]}.*`))
    && AUDIT_SEVERITIES.indexOf(e.severity) >= min;
}

/**
 * `redactFields`, matched case-insensitively inside a name (`apiKey` covers `stripeApiKey`): values under
 * such a name are never stored, in changes or details, at any depth.
 */
export function redactor(config: AuditConfig): (e: AuditEvent) => AuditEvent {
  const terms = config.redactFields.map((t) => t.toLowerCase().replace(/[_\s-]/g, ''));
  const secret = (name: string) => {
    const n = name.toLowerCase().replace(/[_\s-]/g, '');
    return terms.some((t) => n.includes(t));
  };
  const scrub = (v: unknown, depth = 0): unknown => {
    if (depth > 8 || v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map((x) => scrub(x, depth + 1));
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, secret(k) ? REDACTED : scrub(x, depth + 1)]));
  };
  return (e) => {
    const changes = e.changes?.map((c): AuditChange => (secret(c.field) ? { field: c.field, oldValue: REDACTED, newValue: REDACTED } : { field: c.field, oldValue: scrub(c.oldValue), newValue: scrub(c.newValue) }));
    return { ...e, ...(changes ? { changes } : {}), ...(e.details ? { details: scrub(e.details) as Record<string, unknown> } : {}) };
  };
}
