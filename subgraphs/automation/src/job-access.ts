import { GraphQLError } from 'graphql';
import type { JobRun } from '@objectos/jobs';
import type { SystemPermission } from '@objectos/metadata';
import type { Principal } from '@objectos/principal';
import { accessFor, type CompiledSchema } from '@objectos/schema';

export const automationError = (code: string, message: string): GraphQLError => new GraphQLError(message, { extensions: { code } });

/** Whose jobs a principal may see: every tenant's (platform operators) or one organization's. */
export type JobScope = { all: true; tenant?: undefined } | { all: false; tenant: string };

/**
 * The tenant wall of the job monitor, as the audit trail's: a platform operator sees every job (the
 * system's own among them); anyone else needs `viewJobs` / `manageJobs` in their organization and sees
 * that organization's jobs only.
 */
export function jobScope(compiled: CompiledSchema, principal: Principal, permission: Extract<SystemPermission, 'viewJobs' | 'manageJobs'>): JobScope {
  if (principal.kind === 'user' && principal.isAdmin && principal.impersonatedBy === null) return { all: true };
  if (principal.organizationId === null || (principal.kind !== 'user' && principal.kind !== 'api_key'))
    throw automationError('FORBIDDEN', `The job monitor needs the ${permission} system permission in an organization`);
  if (!accessFor(compiled.plan, compiled.security, principal).systemPermissions.includes(permission))
    throw automationError('FORBIDDEN', `The job monitor needs the ${permission} system permission (none of your permission sets grants it)`);
  return { all: false, tenant: principal.organizationId };
}

/** A run the scope may see; another tenant's job is "not found", never "forbidden" (its existence is not told). */
export function visibleRun(scope: JobScope, run: JobRun | null, id: string): JobRun {
  if (!run || (!scope.all && run.tenant !== scope.tenant)) throw automationError('NOT_FOUND', `No job ${id} that you can see`);
  return run;
}

/** Pausing stops a queue for every tenant, so only platform operators may. */
export function requireOperator(principal: Principal, what: string): void {
  if (!(principal.kind === 'user' && principal.isAdmin && principal.impersonatedBy === null))
    throw automationError('FORBIDDEN', `${what} affects every organization's jobs: platform operators only`);
}

/** The signed-in user and organization notifications belong to. */
export function notificationOwner(principal: Principal): { userId: string; tenant: string | null } {
  if ((principal.kind !== 'user' && principal.kind !== 'api_key') || !principal.userId)
    throw automationError('UNAUTHENTICATED', 'Sign in to see your notifications');
  return { userId: principal.userId, tenant: principal.organizationId };
}
