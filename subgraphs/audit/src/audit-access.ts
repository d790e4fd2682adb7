import { GraphQLError } from 'graphql';
import type { SystemPermission } from '@objectos/metadata';
import type { Principal } from '@objectos/principal';
import { accessFor, type CompiledSchema } from '@objectos/schema';

/** Which events a principal may see: one organization's, or (platform operators) every tenant's. */
export type AuditScope = { all: true } | { all: false; tenant: string };

export const auditError = (code: string, message: string): GraphQLError => new GraphQLError(message, { extensions: { code } });

/**
 * The tenant wall of the audit trail. A platform operator sees every tenant (and the platform's own
 * events); anyone else needs the system permission (viewAuditLog, exportAuditLog) in their organization
 * and sees that organization only.
 */
export function auditScope(compiled: CompiledSchema, principal: Principal, permission: SystemPermission): AuditScope {
  if (principal.kind === 'user' && principal.isAdmin && principal.impersonatedBy === null) return { all: true };
  if (principal.organizationId === null || (principal.kind !== 'user' && principal.kind !== 'api_key'))
    throw auditError('FORBIDDEN', `The audit trail needs the ${permission} system permission in an organization`);
  const access = accessFor(compiled.plan, compiled.security, principal);
  if (!access.systemPermissions.includes(permission))
    throw auditError('FORBIDDEN', `The audit trail needs the ${permission} system permission (none of your permission sets grants it)`);
  return { all: false, tenant: principal.organizationId };
}
