import { and, eq, inArray, isNull } from 'drizzle-orm';
import type { ChangeEvent } from '@objectos/events';
import type { SqlRunner } from '@objectos/db';
import type { ObjectPlan } from '@objectos/schema';
import { col, deletedAtColumn } from '../db/tables.ts';
import type { DataSource, Row } from '../data-source.ts';
import { writeChange } from './outbox.ts';

/** Detail records told of one share at most (each is an outbox row and a check of its own); past it, their next change tells. */
export const MAX_DETAILS = 1_000;

/** A manual share as stored (security.record_share). */
export interface StoredShare { id: string; organization_id?: string; object: string; record_id: string; shared_with_type: string; shared_with: string; access_level: string }

type Tx = SqlRunner & Pick<DataSource['db'], 'select'>;

/**
 * Records, in the transaction that grants or revokes a share, that who may read its record changed: an
 * outbox event (op `access`) with the record as it is, so its live subscribers are told it entered or
 * left their view (see fan-out.ts). The records controlled by it (controlled_by_parent details, and
 * theirs in turn) are read through it, so each gets the same event on its own object (those not in the
 * trash, MAX_DETAILS at most). Nothing when the record is gone or a grant changed nothing; whether it wrote one.
 */
export async function recordAccessChange(tx: Tx, ds: DataSource, p: ObjectPlan, share: StoredShare, granted: boolean, previousLevel: 'read' | 'edit' | null): Promise<boolean> {
  if (granted && previousLevel === share.access_level) return false;
  const table = ds.tables[p.object.name]!;
  const [row] = (await tx.select().from(table).where(eq(col(table, p.columns[0]!), share.record_id))) as Row[];
  if (!row) return false;
  const access: NonNullable<ChangeEvent['access']> = {
    granted, previousLevel,
    share: { id: share.id, organizationId: ds.tenant!, object: share.object, recordId: share.record_id, sharedWithType: share.shared_with_type, sharedWith: share.shared_with, accessLevel: share.access_level === 'edit' ? 'edit' : 'read' },
  };
  const write = (object: string, recordId: string, record: Row) => writeChange(tx, {
    organizationId: ds.tenant!, object, recordId, op: 'access', record, previous: record, changedFields: [], actorId: ds.actor, context: ds.context ?? null, access,
  });
  await write(p.object.name, share.record_id, row);
  // Down the controlled_by_parent chains, level by level (each object once: a chain that came back would loop).
  let level: { object: string; ids: string[] }[] = [{ object: p.object.name, ids: [share.record_id] }];
  const seen = new Set([p.object.name]);
  let budget = MAX_DETAILS;
  while (level.length > 0 && budget > 0) {
    const next: typeof level = [];
    for (const { object, ids: parents } of level) {
      for (const child of Object.values(ds.sc?.security.objects ?? {})) {
        if (child.owd !== 'controlled_by_parent' || child.parent?.object !== object || seen.has(child.name)) continue;
        seen.add(child.name);
        const cp = ds.plan.objects[child.name]!;
        const ct = ds.tables[child.name]!;
        const fk = cp.columns.find((c) => c.column === child.parent!.column)!;
        const deletedAt = deletedAtColumn(ct);
        const rows = (await tx.select().from(ct).where(and(inArray(col(ct, fk), parents), deletedAt ? isNull(deletedAt) : undefined)).limit(budget)) as Row[];
        budget -= rows.length;
        const ids = rows.map((r) => String(r[cp.columns[0]!.graphqlName]));
        for (const [n, r] of rows.entries()) await write(child.name, ids[n]!, r);
        if (rows.length > 0) next.push({ object: child.name, ids });
      }
    }
    level = next;
  }
  return true;
}
