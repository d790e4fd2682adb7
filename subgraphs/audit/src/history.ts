import { sql } from 'drizzle-orm';
import { queryRows, type Db } from '@objectos/db';
import type { Principal } from '@objectos/principal';
import { trackedColumns, type Access, type CompiledSchema } from '@objectos/schema';
import { auditError } from './audit-access.ts';
import { MAX_PAGE } from './query.ts';

interface HistoryRow { seq: string; id: string; event_type: string; occurred_at: Date | string; actor_type: string; actor_id: string | null; actor_ip: string | null; actor_user_agent: string | null; changes: unknown; request_id: string | null }
interface Change { field: string; oldValue: unknown; newValue: unknown }

const EMPTY = { edges: [], pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null }, totalCount: 0 };
const cursorOf = (r: HistoryRow) => Buffer.from(`h|${new Date(r.occurred_at).toISOString()}|${r.seq}`).toString('base64url');

/**
 * Field history of one record (spec trackHistory), for one principal: only its tracked fields the
 * principal can read, on a record it can read (`readable` is decided by the caller with the data
 * subgraph's own record access); otherwise no history at all. Entries without a visible change are not
 * shown, and not counted.
 */
export async function recordHistory(
  db: Db, compiled: CompiledSchema, principal: Principal, access: Access, object: string, recordId: string, readable: boolean,
  args: { first?: number | null; after?: string | null },
) {
  const first = args.first ?? 20;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw auditError('BAD_USER_INPUT', `first: must be between 1 and ${MAX_PAGE}, got ${first}`);
  let after: { at: string; seq: string } | null = null;
  if (args.after) {
    const m = /^h\|(\d{4}-\d\d-\d\dT[\d:.]+Z)\|(\d{1,19})$/.exec(Buffer.from(args.after, 'base64url').toString());
    if (!m) throw auditError('BAD_USER_INPUT', 'after: not a cursor of history (use pageInfo.endCursor)');
    after = { at: m[1]!, seq: m[2]! };
  }
  const p = compiled.plan.objects[object];
  if (!p || !readable || principal.organizationId === null) return EMPTY;
  const o = access.objects[object];
  if (!o?.read) return EMPTY;
  const visible = trackedColumns(p).filter((c) => o.fields[c.field!.name]?.readable ?? true).map((c) => c.graphqlName);
  if (visible.length === 0) return EMPTY;
  const shown = new Set(visible);
  const filter = sql`tenant_id = ${principal.organizationId} and target_type = ${object} and target_id = ${recordId}
    and event_type in ('data.create', 'data.update')
    and exists (select 1 from jsonb_array_elements(coalesce(changes, '[]'::jsonb)) c where c->>'field' = any(${sql.param(visible)}::text[]))`;
  const keyset = after ? sql`and (occurred_at, seq) < (${after.at}::timestamptz, ${after.seq}::bigint)` : sql``;
  const rows = await queryRows<HistoryRow>(db, sql`select seq, id::text as id, event_type, occurred_at, actor_type, actor_id, actor_ip, actor_user_agent, changes, request_id
    from audit.events where ${filter} ${keyset} order by occurred_at desc, seq desc limit ${first + 1}`);
  const page = rows.slice(0, first);
  return {
    edges: page.map((r) => {
      const all = (typeof r.changes === 'string' ? JSON.parse(r.changes) : r.changes) as Change[] | null;
      return {
        cursor: cursorOf(r),
        node: {
          id: r.id,
          timestamp: new Date(r.occurred_at),
          operation: r.event_type === 'data.create' ? 'create' : 'update',
          // The address and agent of other users are the audit log's (viewAuditLog), not the record's.
          actor: { type: r.actor_type, id: r.actor_id, ipAddress: null, userAgent: null },
          changes: (all ?? []).filter((c) => shown.has(c.field)),
          requestId: r.request_id,
        },
      };
    }),
    pageInfo: { hasNextPage: rows.length > first, hasPreviousPage: after !== null, startCursor: page[0] ? cursorOf(page[0]) : null, endCursor: page.length ? cursorOf(page[page.length - 1]!) : null },
    totalCount: async () => (await queryRows<{ n: number }>(db, sql`select count(*)::int as n from audit.events where ${filter}`))[0]!.n,
  };
}
