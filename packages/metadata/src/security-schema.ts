import { z } from 'zod';
import { snakeName } from './field-schema.ts';

/** Spec `Role` (identity/role.zod.ts): a node of the role hierarchy. */
export const RoleSchema = z.strictObject({
  name: snakeName,
  label: z.string().min(1).optional(),
  parent: snakeName.optional(),
  description: z.string().optional(),
});

/** What a member is given in their organization: its organization role, hierarchy role, permission sets and groups. */
const AccessGrantSchema = z.strictObject({
  /** Never `owner`: ownership is not handed out by an identity provider. */
  organizationRole: z.enum(['member', 'admin']).optional(),
  role: snakeName.optional(),
  permissionSets: z.array(snakeName).default([]),
  groups: z.array(snakeName).default([]),
});

/**
 * Just-in-time access for one SSO provider (`*.sso.yaml`): at each sign-in through it, the values of a
 * claim of the verified ID token (a string or a list, e.g. `groups`) decide the member's organization
 * role, hierarchy role, permission sets and groups in the provider's organization. The identity
 * provider is the source of truth: what no mapping grants is taken away at the next sign-in.
 */
export const SsoMappingSchema = z.strictObject({
  name: snakeName,
  label: z.string().min(1).optional(),
  description: z.string().optional(),
  /** The providerId the organization registered (`/api/auth/sso/register`). */
  providerId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'a providerId: letters, digits, dot, dash, underscore'),
  /**
   * The slug of the organization the provider must belong to: a provider of that id registered by any other
   * organization (provider ids are first come, first served) gets nothing from this mapping.
   */
  organization: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'an organization slug: lowercase letters, digits, dashes'),
  /** The ID token claim whose values are mapped. @default groups */
  claim: z.string().min(1).default('groups'),
  /** Every mapping whose value the claim holds applies: the highest organization role, the first hierarchy role, all sets and groups. */
  mappings: z.array(AccessGrantSchema.extend({ value: z.string().min(1) })).default([]),
  /** What a user none of whose values is mapped gets. @default organizationRole member, nothing else */
  default: AccessGrantSchema.optional(),
});

/**
 * Access from an organization's directory (`*.scim.yaml`): the SCIM groups a provisioned member belongs to
 * (each group's display name and externalId are its values) decide their organization role, hierarchy
 * role, permission sets and groups, as an SSO mapping's claim does. The directory is the source of truth:
 * each change it sends recomputes them. One mapping per organization.
 */
export const ScimMappingSchema = z.strictObject({
  name: snakeName,
  label: z.string().min(1).optional(),
  description: z.string().optional(),
  /** The slug of the organization whose SCIM connection this maps. */
  organization: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'an organization slug: lowercase letters, digits, dashes'),
  /** Every mapping whose value names one of the member's SCIM groups applies: the highest organization role, the first hierarchy role, all sets and groups. */
  mappings: z.array(AccessGrantSchema.extend({ value: z.string().min(1) })).default([]),
  /** What a member none of whose groups is mapped gets. @default organizationRole member, nothing else */
  default: AccessGrantSchema.optional(),
});

/** A public group: a named set of members records can be shared with. */
export const GroupSchema = z.strictObject({
  name: snakeName,
  label: z.string().min(1).optional(),
  description: z.string().optional(),
});

/** Spec `ObjectPermission`: every flag defaults to false. */
export const ObjectPermissionSchema = z.strictObject({
  allowRead: z.boolean().default(false),
  allowCreate: z.boolean().default(false),
  allowEdit: z.boolean().default(false),
  allowDelete: z.boolean().default(false),
  /** Transfer records one can edit without owning them (owners, admins and modifyAllRecords always can). */
  allowTransfer: z.boolean().default(false),
  viewAllRecords: z.boolean().default(false),
  modifyAllRecords: z.boolean().default(false),
});

/** Spec `FieldPermission`: readable (true), editable (false). */
export const FieldPermissionSchema = z.strictObject({
  readable: z.boolean().default(true),
  editable: z.boolean().default(false),
});

/** The better-auth organization roles a profile can be the default for. */
export const ORGANIZATION_ROLES = ['owner', 'admin', 'member'] as const;
/**
 * Who a profile can be the default for: an organization role, or `guest` (anonymous requests, when
 * OBJECTOS_GUEST_ORGANIZATION names the organization whose records they may read).
 */
export const PROFILE_AUDIENCES = [...ORGANIZATION_ROLES, 'guest'] as const;
export type ProfileAudience = (typeof PROFILE_AUDIENCES)[number];

/**
 * Spec `PermissionSet.systemPermissions`: powers over the platform's own surfaces rather than records.
 * Each admin surface checks its own (the audit log, setup, jobs, automation, workflows, metrics).
 */
export const SYSTEM_PERMISSIONS = [
  'viewAuditLog', 'exportAuditLog', 'viewSetup', 'manageUsers', 'viewJobs', 'manageJobs',
  'manageAutomation', 'manageWorkflows', 'viewMetrics',
] as const;
export type SystemPermission = (typeof SYSTEM_PERMISSIONS)[number];

/** Spec `PermissionSet` (a profile when `isProfile`). */
export const PermissionSetSchema = z.strictObject({
  name: snakeName,
  label: z.string().min(1).optional(),
  description: z.string().optional(),
  isProfile: z.boolean().default(false),
  /** Profiles only: members whose organization role is listed get this profile unless one is assigned. */
  defaultFor: z.array(z.enum(PROFILE_AUDIENCES)).default([]),
  objects: z.record(snakeName, ObjectPermissionSchema).default({}),
  fields: z.record(z.string(), FieldPermissionSchema).default({}),
  systemPermissions: z.array(z.enum(SYSTEM_PERMISSIONS, { error: (i) => `unknown system permission ${JSON.stringify(i.input)} (known: ${SYSTEM_PERMISSIONS.join(', ')})` })).default([]),
});

const recipient = z.strictObject({
  type: z.enum(['user', 'group', 'role', 'role_and_subordinates', 'guest']),
  value: z.string().min(1).optional(),
});

/** A condition: the SQL-ish WHERE of the spec (`status = 'closed'`) or the spec filter object form. */
export const ConditionInputSchema = z.union([z.string().min(1), z.record(z.string(), z.unknown())]);

/** Spec `SharingRule` (security/sharing.zod.ts). */
export const SharingRuleSchema = z.strictObject({
  name: snakeName,
  label: z.string().min(1).optional(),
  description: z.string().optional(),
  object: snakeName,
  active: z.boolean().default(true),
  type: z.enum(['owner', 'criteria']),
  ownedBy: z.strictObject({ type: z.enum(['user', 'group', 'role', 'role_and_subordinates']), value: z.string().min(1) }).optional(),
  condition: ConditionInputSchema.optional(),
  accessLevel: z.enum(['read', 'edit', 'full']),
  sharedWith: recipient,
});

/** Spec `RowLevelSecurityPolicy` (security/rls.zod.ts). */
export const RlsPolicySchema = z.strictObject({
  name: snakeName,
  label: z.string().optional(),
  description: z.string().optional(),
  object: snakeName,
  operation: z.enum(['select', 'insert', 'update', 'delete', 'all']).default('all'),
  using: z.string().min(1).optional(),
  check: z.string().min(1).optional(),
  roles: z.array(snakeName).default([]),
  enabled: z.boolean().default(true),
  priority: z.int().default(0),
});

export type RoleDefinition = z.output<typeof RoleSchema>;
export type GroupDefinition = z.output<typeof GroupSchema>;
export type SsoMappingDefinition = z.output<typeof SsoMappingSchema>;
export type ScimMappingDefinition = z.output<typeof ScimMappingSchema>;
export type ObjectPermission = z.output<typeof ObjectPermissionSchema>;
export type FieldPermission = z.output<typeof FieldPermissionSchema>;
export type PermissionSetDefinition = z.output<typeof PermissionSetSchema>;
export type SharingRuleDefinition = z.output<typeof SharingRuleSchema>;
export type RlsPolicyDefinition = z.output<typeof RlsPolicySchema>;
export type OrganizationRole = (typeof ORGANIZATION_ROLES)[number];
