import { eq } from 'drizzle-orm';
import type { SqlRunner } from '@objectos/db';
import type { ObjectPlan } from '@objectos/schema';
import { col } from '../db/tables.ts';
import type { DataSource, Row } from '../data-source.ts';
import { writeChange } from './outbox.ts';

/** A manual share as stored (security.record_share). */
export interface StoredShare { id: string; organization_id?: string; object: string; record_id: string; shared_with_type: string; shared_with: string; access_level: string }

type Tx = SqlRunner & Pick<DataSource['db'], 'select'>;

/**
 * Records, in the transaction that grants or revokes a share, that who may read its record changed: an
 * outbox event (op `access`) with the record as it is, so its live subscribers are told it entered or
 * left their view (see fan-out.ts). Nothing when the record is gone or a grant changed nothing; whether it wrote one.
 */
export async function recordAccessChange(tx: Tx, ds: DataSource, p: ObjectPlan, share: StoredShare, granted: boolean, previousLevel: 'read' | 'edit' | null): Promise<boolean> {
  if (granted && previousLevel === share.access_level) return false;
  const table = ds.tables[p.object.name]!;
  const [row] = (await tx.select().from(table).where(eq(col(table, p.columns[0]!), share.record_id))) as Row[];
  if (!row) return false;
  await writeChange(tx, {
    organizationId: ds.tenant!, object: p.object.name, recordId: share.record_id, op: 'access', record: row, previous: row, changedFields: [], actorId: ds.actor, context: ds.context ?? null,
    access: {
      granted, previousLevel,
      share: { id: share.id, organizationId: ds.tenant!, object: share.object, recordId: share.record_id, sharedWithType: share.shared_with_type, sharedWith: share.shared_with, accessLevel: share.access_level === 'edit' ? 'edit' : 'read' },
    },
  });
  return true;
}
