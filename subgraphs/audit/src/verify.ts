import { sql } from 'drizzle-orm';
import { queryRows, type Db } from '@objectos/db';
import { auditError, type AuditScope } from './audit-access.ts';
import { COLUMNS } from './query.ts';
import { GENESIS, hashOf, type EventRow } from './store.ts';

export interface BrokenLink { eventId: string; tenantId: string | null; timestamp: Date; reason: string }
export interface ChainReport { ok: boolean; checked: number; firstBrokenLink: BrokenLink | null }

interface Range { from_seq: string; to_seq: string; prev_hash: string; hash: string }

const BATCH = 5_000;

/**
 * Checks the hash chain of each tenant in scope over events in [from, to): every event's hash must match
 * its content and its link must be the hash of the event before it in its tenant (or the last link of a
 * stretch the retention purge removed). Without `to`, the last event must also be the chain's head, so
 * removing the newest events shows too. Reports the first broken link (tenants in order, then sequence).
 */
export async function verifyAuditChain(db: Db, scope: AuditScope, from: Date | null, to: Date | null): Promise<ChainReport> {
  if (from && to && from.getTime() > to.getTime()) throw auditError('BAD_USER_INPUT', `from (${from.toISOString()}) is later than to (${to.toISOString()})`);
  const keys = scope.all
    ? (await queryRows<{ tenant_key: string }>(db, sql`select tenant_key from audit.chains order by tenant_key`)).map((r) => r.tenant_key)
    : [scope.tenant];
  let checked = 0;
  let first: BrokenLink | null = null;
  for (const key of keys) {
    const r = await verifyTenant(db, key, from, to);
    checked += r.checked;
    first ??= r.broken?.link ?? null;
  }
  return { ok: first === null, checked, firstBrokenLink: first };
}

async function verifyTenant(db: Db, key: string, from: Date | null, to: Date | null) {
  const tenant = key === '' ? sql`tenant_id is null` : sql`tenant_id = ${key}`;
  const ranges = await queryRows<Range>(db, sql`select from_seq::text, to_seq::text, prev_hash, hash from audit.purged_ranges where tenant_key = ${key} order by from_seq`);
  const rangeFrom = new Map(ranges.map((r) => [r.prev_hash, r]));
  /** The link expected next after `hash`, following purged stretches that start there. */
  const across = (hash: string, target: string): boolean => {
    let h = hash;
    for (let i = 0; i <= ranges.length; i++) {
      if (h === target) return true;
      const range = rangeFrom.get(h);
      if (!range) return false;
      h = range.hash;
    }
    return false;
  };
  const time = sql`${from ? sql`and occurred_at >= ${from.toISOString()}::timestamptz` : sql``} ${to ? sql`and occurred_at < ${to.toISOString()}::timestamptz` : sql``}`;
  let expected: string | null = null;
  let lastSeq = -1n;
  let checked = 0;
  const broken = (r: EventRow, reason: string) => ({ link: { eventId: r.id, tenantId: r.tenant_id, timestamp: new Date(r.occurred_at), reason } });
  for (;;) {
    const rows = await queryRows<EventRow>(db, sql`select ${COLUMNS} from audit.events where ${tenant} ${time} and seq > ${String(lastSeq)}::bigint order by seq limit ${BATCH}`);
    for (const r of rows) {
      if (expected === null) {
        // The link before the first event checked: the event before it in its tenant, else the chain's start.
        const [prev] = await queryRows<{ hash: string }>(db, sql`select hash from audit.events where ${tenant} and seq < ${String(r.seq)}::bigint order by seq desc limit 1`);
        expected = prev?.hash ?? GENESIS;
      }
      checked++;
      if (hashOf(r.prev_hash, r) !== r.hash) return { checked, broken: broken(r, 'its content does not match its hash: the event was altered after it was stored') };
      if (!across(expected, r.prev_hash)) return { checked, broken: broken(r, 'its link does not match the event before it: an event before it was removed, inserted or reordered') };
      expected = r.hash;
      lastSeq = BigInt(r.seq);
    }
    if (rows.length < BATCH) break;
  }
  if (!to && expected !== null) {
    const [head] = await queryRows<{ hash: string }>(db, sql`select hash from audit.chains where tenant_key = ${key}`);
    if (head && !across(expected, head.hash)) {
      const [last] = await queryRows<EventRow>(db, sql`select ${COLUMNS} from audit.events where ${tenant} order by seq desc limit 1`);
      if (last) return { checked, broken: broken(last, 'the chain head does not match the last event: events after it were removed') };
    }
  }
  return { checked, broken: null };
}
