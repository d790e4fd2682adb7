import { GraphQLError } from 'graphql';
import type { SystemPermission } from '@objectos/metadata';
import type { Principal } from '@objectos/principal';
import { accessFor, type CompiledSchema } from '@objectos/schema';

/** Whether a principal may read a record field's values (object name, GraphQL field name). */
export type FieldReadable = (object: string, field: string) => boolean;

/**
 * Which events a principal may see: one organization's, or (platform operators) every tenant's; and
 * whose values in record changes it may see (field security applies in the trail as everywhere else).
 */
export type AuditScope = { all: true; readable?: undefined } | { all: false; tenant: string; readable: FieldReadable };

export const auditError = (code: string, message: string): GraphQLError => new GraphQLError(message, { extensions: { code } });

/**
 * The tenant wall of the audit trail. A platform operator sees every tenant (and the platform's own
 * events); anyone else needs the system permission (viewAuditLog, exportAuditLog) in their organization
 * and sees that organization only, with the changes of record fields it cannot read left out.
 */
export function auditScope(compiled: CompiledSchema, principal: Principal, permission: SystemPermission): AuditScope {
  if (principal.kind === 'user' && principal.isAdmin && principal.impersonatedBy === null) return { all: true };
  if (principal.organizationId === null || (principal.kind !== 'user' && principal.kind !== 'api_key'))
    throw auditError('FORBIDDEN', `The audit trail needs the ${permission} system permission in an organization`);
  const access = accessFor(compiled.plan, compiled.security, principal);
  if (!access.systemPermissions.includes(permission))
    throw auditError('FORBIDDEN', `The audit trail needs the ${permission} system permission (none of your permission sets grants it)`);
  const readable: FieldReadable = (object, field) => {
    const p = Object.hasOwn(compiled.plan.objects, object) ? compiled.plan.objects[object] : undefined;
    if (!p) return true; // not a record field (details of auth events carry no record values)
    const o = access.objects[object];
    const column = p.columns.find((c) => c.graphqlName === field);
    return Boolean(o?.read) && (column?.field ? (o!.fields[column.field.name]?.readable ?? true) : true);
  };
  return { all: false, tenant: principal.organizationId, readable };
}
