import { sql, type SQL } from 'drizzle-orm';
import { queryRows, type Db } from '@objectos/db';
import { AUDIT_EVENT_TYPES, AUDIT_SEVERITIES } from '@objectos/metadata';
import { auditError, type AuditScope } from './audit-access.ts';
import type { EventRow } from './store.ts';

export const MAX_PAGE = 500;

export interface AuditEventWhere {
  eventType?: string[] | null;
  actor?: string | null;
  target?: { type?: string | null; id?: string | null } | null;
  from?: Date | null;
  to?: Date | null;
  result?: string | null;
  severity?: string | null;
  requestId?: string | null;
}

const CATEGORIES = new Set(AUDIT_EVENT_TYPES.map((t) => t.split('.')[0]!));
const bad = (field: string, message: string) => auditError('BAD_USER_INPUT', `${field}: ${message}`);

/** Validates a filter; every mistake is named (unknown event type, an empty range…). */
export function checkWhere(where: AuditEventWhere | null | undefined): AuditEventWhere {
  const w = where ?? {};
  for (const t of w.eventType ?? [])
    if (!(AUDIT_EVENT_TYPES as readonly string[]).includes(t) && !(t.endsWith('.*') && CATEGORIES.has(t.slice(0, -2))))
      throw bad('where.eventType', `unknown audit event type "${t}" (an event type such as auth.login, or a category: ${[...CATEGORIES].map((c) => `${c}.*`).join(', ')})`);
  if (w.from && w.to && w.from.getTime() > w.to.getTime()) throw bad('where.from', `from (${w.from.toISOString()}) is later than to (${w.to.toISOString()})`);
  return w;
}

const rankOf = (severity: string | null | undefined): number => (severity ? AUDIT_SEVERITIES.indexOf(severity as (typeof AUDIT_SEVERITIES)[number]) : 0);

/** The SQL conditions of a scope and a (checked) filter. */
export function whereSql(scope: AuditScope, w: AuditEventWhere): SQL {
  const parts: SQL[] = [];
  if (!scope.all) parts.push(sql`tenant_id = ${scope.tenant}`);
  if (w.eventType?.length) {
    // A category is its list of types (a LIKE prefix is no index range under every collation).
    const types = [...new Set(w.eventType.flatMap((t) => (t.endsWith('.*') ? AUDIT_EVENT_TYPES.filter((x) => x.startsWith(t.slice(0, -1))) : [t])))];
    parts.push(sql`event_type = any(${sql.param(types)}::text[])`);
  }
  if (w.actor) parts.push(sql`actor_id = ${w.actor}`);
  if (w.target?.type) parts.push(sql`target_type = ${w.target.type}`);
  if (w.target?.id) parts.push(sql`target_id = ${w.target.id}`);
  if (w.from) parts.push(sql`occurred_at >= ${w.from.toISOString()}::timestamptz`);
  if (w.to) parts.push(sql`occurred_at < ${w.to.toISOString()}::timestamptz`);
  if (w.result) parts.push(sql`result = ${w.result}`);
  if (w.severity) parts.push(sql`severity >= ${rankOf(w.severity)}`);
  if (w.requestId) parts.push(sql`request_id = ${w.requestId}`);
  return parts.length ? sql.join(parts, sql` and `) : sql`true`;
}

interface StoredChange { field: string; oldValue: unknown; newValue: unknown }

/** The GraphQL shape of a stored row (spec AuditEvent); with a scope, changes to fields it cannot read are left out. */
export function eventOut(r: EventRow, scope?: AuditScope) {
  const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
  const changes = (json(r.changes) as StoredChange[] | null) ?? [];
  const readable = scope?.readable;
  const target = r.target_type;
  return {
    id: r.id,
    eventType: r.event_type,
    severity: AUDIT_SEVERITIES[r.severity] ?? 'info',
    timestamp: new Date(r.occurred_at),
    actor: { type: r.actor_type, id: r.actor_id, ipAddress: r.actor_ip, userAgent: r.actor_user_agent },
    target: r.target_type && r.target_id ? { type: r.target_type, id: r.target_id } : null,
    description: r.description,
    changes: readable && target ? changes.filter((c) => readable(target, c.field)) : changes,
    result: r.result,
    tenantId: r.tenant_id,
    requestId: r.request_id,
    details: json(r.details) ?? null,
  };
}

const cursorOf = (r: { occurred_at: Date | string; seq: string | number }) => Buffer.from(`${new Date(r.occurred_at).toISOString()}|${r.seq}`).toString('base64url');

function afterOf(after: string | null | undefined): { at: string; seq: string } | null {
  if (!after) return null;
  const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)\|(\d{1,19})$/.exec(Buffer.from(after, 'base64url').toString());
  if (!m) throw bad('after', 'not a cursor of auditEvents (use pageInfo.endCursor)');
  return { at: m[1]!, seq: m[2]! };
}

export const COLUMNS = sql.raw(`seq, id::text as id, event_type, severity, occurred_at, tenant_id, actor_type, actor_id, actor_ip, actor_user_agent,
  target_type, target_id, description, changes, result, request_id, details, prev_hash, hash`);

/** auditEvents: a keyset page (occurred_at, seq) in the scope, newest first unless asked; totalCount only when selected. */
export async function auditEvents(db: Db, scope: AuditScope, args: { where?: AuditEventWhere | null; orderBy?: string | null; first?: number | null; after?: string | null }) {
  const first = args.first ?? 50;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw bad('first', `must be between 1 and ${MAX_PAGE}, got ${first}`);
  const w = checkWhere(args.where);
  const filter = whereSql(scope, w);
  const asc = args.orderBy === 'TIMESTAMP_ASC';
  const after = afterOf(args.after);
  const keyset = after ? (asc ? sql`and (occurred_at, seq) > (${after.at}::timestamptz, ${after.seq}::bigint)` : sql`and (occurred_at, seq) < (${after.at}::timestamptz, ${after.seq}::bigint)`) : sql``;
  const order = asc ? sql`order by occurred_at asc, seq asc` : sql`order by occurred_at desc, seq desc`;
  const rank = rankOf(w.severity);
  // severity ≥ X for a rare X: one ordered index range per level, merged (a range scan of the time index
  // filtering for a rare level reads thousands of rows for one page).
  const rows = rank > 0
    ? await queryRows<EventRow>(db, sql`select * from (${sql.join(AUDIT_SEVERITIES.slice(rank).map((_, i) =>
        sql`(select ${COLUMNS} from audit.events where ${whereSql(scope, { ...w, severity: null })} and severity = ${rank + i} ${keyset} ${order} limit ${first + 1})`), sql` union all `)}) page ${order} limit ${first + 1}`)
    : await queryRows<EventRow>(db, sql`select ${COLUMNS} from audit.events where ${filter} ${keyset} ${order} limit ${first + 1}`);
  const page = rows.slice(0, first);
  return {
    edges: page.map((r) => ({ cursor: cursorOf(r), node: eventOut(r, scope) })),
    pageInfo: {
      hasNextPage: rows.length > first,
      hasPreviousPage: after !== null,
      startCursor: page[0] ? cursorOf(page[0]) : null,
      endCursor: page.length ? cursorOf(page[page.length - 1]!) : null,
    },
    totalCount: async () => (await queryRows<{ n: number }>(db, sql`select count(*)::int as n from audit.events where ${filter}`))[0]!.n,
  };
}
