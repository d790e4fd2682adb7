import { z } from 'zod';
import { snakeName } from './field-schema.ts';

/** Spec `PasswordPolicy` (security/policy.zod.ts), with the spec's defaults. */
export const PasswordPolicySchema = z.strictObject({
  minLength: z.int().min(6).max(128).default(8),
  requireUppercase: z.boolean().default(true),
  requireLowercase: z.boolean().default(true),
  requireNumbers: z.boolean().default(true),
  requireSymbols: z.boolean().default(false),
  /** Days after which a password must be changed; absent = never. */
  expirationDays: z.int().positive().optional(),
  /** How many previous passwords may not be reused (the current one included). */
  historyCount: z.int().min(0).max(24).default(3),
});

/** Spec `SessionPolicy`; timeouts in minutes (fractions allowed). */
export const SessionPolicySchema = z
  .strictObject({
    idleTimeout: z.number().positive().max(525_600).default(30),
    absoluteTimeout: z.number().positive().max(525_600).default(480),
    forceMfa: z.boolean().default(false),
  })
  .refine((s) => s.idleTimeout <= s.absoluteTimeout, { message: 'idleTimeout cannot exceed absoluteTimeout', path: ['idleTimeout'] });

/** Spec `Policy` bundle. Only the parts this runtime enforces are accepted (no NetworkPolicy yet). */
export const PolicySchema = z.strictObject({
  name: snakeName,
  label: z.string().optional(),
  password: PasswordPolicySchema.default(() => PasswordPolicySchema.parse({})),
  session: SessionPolicySchema.default(() => SessionPolicySchema.parse({})),
  isDefault: z.boolean().default(false),
});

export type PasswordPolicy = z.output<typeof PasswordPolicySchema>;
export type SessionPolicy = z.output<typeof SessionPolicySchema>;
export type PolicyDefinition = z.output<typeof PolicySchema>;

/** The spec's defaults, used when the metadata declares no default policy. */
export const DEFAULT_POLICY: PolicyDefinition = PolicySchema.parse({ name: 'spec_default', isDefault: true });
