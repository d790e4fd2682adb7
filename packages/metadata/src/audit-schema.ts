import { z } from 'zod';
import { snakeName } from './field-schema.ts';

/** Spec audit event types (system/audit.zod.ts), plus ObjectOS's `job.*`, `automation.*` and `auth.session_revoked` (a session ended by someone else). */
export const AUDIT_EVENT_TYPES = [
  'data.create', 'data.read', 'data.update', 'data.delete', 'data.export', 'data.import', 'data.bulk_update', 'data.bulk_delete',
  'auth.login', 'auth.login_failed', 'auth.logout', 'auth.session_created', 'auth.session_expired', 'auth.password_reset',
  'auth.password_changed', 'auth.email_verified', 'auth.session_revoked', 'auth.mfa_enabled', 'auth.mfa_disabled', 'auth.account_locked', 'auth.account_unlocked',
  'authz.permission_granted', 'authz.permission_revoked', 'authz.role_assigned', 'authz.role_removed', 'authz.role_created',
  'authz.role_updated', 'authz.role_deleted', 'authz.policy_created', 'authz.policy_updated', 'authz.policy_deleted',
  'system.config_changed', 'system.plugin_installed', 'system.plugin_uninstalled', 'system.backup_created', 'system.backup_restored',
  'system.integration_added', 'system.integration_removed',
  'security.access_denied', 'security.suspicious_activity', 'security.data_breach', 'security.api_key_created', 'security.api_key_revoked',
  'job.started', 'job.completed', 'job.failed', 'job.dead_lettered', 'job.replayed',
  'automation.action_failed', 'automation.loop_stopped', 'automation.rule_toggled',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** Spec severities, lowest first. */
export const AUDIT_SEVERITIES = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;

const CATEGORIES = [...new Set(AUDIT_EVENT_TYPES.map((t) => t.split('.')[0]!))];

/** An event type, or a whole category (`auth.*`); anything else is an error naming what exists. */
const eventTypeOrCategory = z.string().superRefine((t, ctx) => {
  if ((AUDIT_EVENT_TYPES as readonly string[]).includes(t) || (t.endsWith('.*') && CATEGORIES.includes(t.slice(0, -2)))) return;
  ctx.addIssue({ code: 'custom', message: `unknown audit event type "${t}" (an event type such as auth.login, or a category: ${CATEGORIES.map((c) => `${c}.*`).join(', ')})` });
});

/** Spec `AuditRetentionPolicy`; archives go to a folder (the only storage this runtime writes). */
export const AuditRetentionPolicySchema = z
  .strictObject({
    retentionDays: z.int().positive().default(180),
    /** No event is purged younger than this, whatever `customRetention` says. */
    minimumRetentionDays: z.int().min(0).default(30),
    /** Days per event type or category (`auth.*`), overriding `retentionDays`. */
    customRetention: z.record(eventTypeOrCategory, z.int().positive()).default({}),
    archiveAfterRetention: z.boolean().default(false),
    archiveStorage: z.strictObject({ type: z.literal('filesystem', { error: 'only filesystem archives are written here (type: filesystem, path: …)' }), path: z.string().min(1) }).optional(),
  })
  .superRefine((p, ctx) => {
    if (p.retentionDays < p.minimumRetentionDays) ctx.addIssue({ code: 'custom', path: ['retentionDays'], message: `retentionDays (${p.retentionDays}) is below minimumRetentionDays (${p.minimumRetentionDays})` });
    for (const [type, days] of Object.entries(p.customRetention))
      if (days < p.minimumRetentionDays) ctx.addIssue({ code: 'custom', path: ['customRetention', type], message: `${type} keeps ${days} days, below minimumRetentionDays (${p.minimumRetentionDays})` });
    if (p.archiveAfterRetention && !p.archiveStorage) ctx.addIssue({ code: 'custom', path: ['archiveStorage'], message: 'archiveAfterRetention needs archiveStorage: { type: filesystem, path: … }' });
  });

/** Spec `suspiciousActivityRules`: `threshold` matching events within `windowSeconds` raise security.suspicious_activity. */
export const SuspiciousActivityRuleSchema = z.strictObject({
  name: snakeName,
  eventType: z.enum(['auth.login_failed', 'security.access_denied'], { error: (i) => `suspicious activity is counted on auth.login_failed or security.access_denied, got ${JSON.stringify(i.input)}` }).default('auth.login_failed'),
  threshold: z.int().min(2).max(10_000),
  windowSeconds: z.int().positive().max(86_400),
  actions: z.array(z.enum(['alert', 'lock_account', 'require_mfa'], { error: (i) => `unknown action ${JSON.stringify(i.input)} (alert, lock_account, require_mfa)` })).min(1),
  /** lock_account: how long the lock lasts. */
  lockMinutes: z.int().positive().max(525_600).default(30),
});

/** Spec `AuditConfig` (`*.audit.yaml`, at most one): what is recorded, what is never stored, how long it is kept. */
export const AuditConfigSchema = z.strictObject({
  name: snakeName,
  label: z.string().optional(),
  enabled: z.boolean().default(true),
  /** Recorded types and categories; empty: all. */
  eventTypes: z.array(eventTypeOrCategory).default([]),
  minimumSeverity: z.enum(AUDIT_SEVERITIES, { error: (i) => `unknown severity ${JSON.stringify(i.input)} (${AUDIT_SEVERITIES.join(', ')})` }).default('info'),
  storage: z.strictObject({ type: z.literal('database', { error: 'audit events are stored in the database here (storage: { type: database })' }) }).default({ type: 'database' }),
  retentionPolicy: AuditRetentionPolicySchema.default(() => AuditRetentionPolicySchema.parse({})),
  suspiciousActivityRules: z.array(SuspiciousActivityRuleSchema).default([]),
  /** Field names whose values are never stored (matched case-insensitively, anywhere in a change). */
  redactFields: z.array(z.string().min(1)).default(['password', 'token', 'apiKey', 'secret', 'ssn']),
  logReads: z.boolean().default(false),
  readSamplingRate: z.number().min(0).max(1).default(0.1),
});

export type AuditConfig = z.output<typeof AuditConfigSchema>;
export type AuditRetentionPolicy = z.output<typeof AuditRetentionPolicySchema>;

/** What applies when the metadata declares no `*.audit.yaml`: every event type, the spec's defaults. */
export const DEFAULT_AUDIT_CONFIG: AuditConfig = AuditConfigSchema.parse({ name: 'spec_default' });
