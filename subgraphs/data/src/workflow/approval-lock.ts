import { approvalLockOf, type SqlRunner } from '@objectos/db';
import type { ObjectPlan } from '@objectos/schema';
import { dataError } from '../errors.ts';
import type { DataSource } from '../data-source.ts';

/**
 * A record pending a locking approval process is edited or deleted only by its pending approvers (and
 * their delegates), the organization's admins and the runtime (whose writes are the process's own).
 * Every update and delete path calls this with the record locked, before it writes.
 */
export async function requireUnlocked(tx: SqlRunner, ds: DataSource, p: ObjectPlan, id: string, op: 'edit' | 'delete'): Promise<void> {
  if (!ds.approvalObjects?.has(p.object.name) || ds.tenant === null) return;
  if (ds.transition || ds.sc === null || ds.sc.access.orgAdmin) return;
  const lock = await approvalLockOf(tx, ds.tenant, p.object.name, id);
  if (!lock || (ds.actor !== null && lock.editors.includes(ds.actor))) return;
  throw dataError('FORBIDDEN', `This ${p.typeName} is locked while it is pending approval (${lock.process}): only its approvers and the organization's admins can ${op} it`);
}
