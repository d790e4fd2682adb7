import { sql } from 'drizzle-orm';
import { queryRows, type Db } from '@objectos/db';
import { auditEvent, recordAuditEvents } from '@objectos/events';
import type { Principal } from '@objectos/principal';
import type { AuditScope } from './audit-access.ts';
import { checkWhere, COLUMNS, eventOut, whereSql, type AuditEventWhere } from './query.ts';
import type { EventRow } from './store.ts';

const BATCH = 1_000;
const CSV_COLUMNS = ['id', 'timestamp', 'eventType', 'severity', 'result', 'tenantId', 'actorType', 'actorId', 'actorIp', 'actorUserAgent',
  'targetType', 'targetId', 'description', 'requestId', 'changes', 'details'] as const;

/** A CSV cell: quoted when needed, and never read as a formula by a spreadsheet (=, +, -, @ lead with '). */
function cell(v: unknown): string {
  let s = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csvLine(e: ReturnType<typeof eventOut>): string {
  const values = [e.id, e.timestamp.toISOString(), e.eventType, e.severity, e.result, e.tenantId, e.actor.type, e.actor.id, e.actor.ipAddress,
    e.actor.userAgent, e.target?.type, e.target?.id, e.description, e.requestId, e.changes.length ? e.changes : null, e.details];
  return `${values.map(cell).join(',')}\r\n`;
}

/** The filter of an export, from its query string (the names of auditEvents' `where`); mistakes are named (thrown). */
export function exportWhere(params: URLSearchParams): AuditEventWhere {
  const date = (name: string): Date | null => {
    const v = params.get(name);
    if (v === null) return null;
    const d = new Date(v);
    if (Number.isNaN(d.getTime())) throw new Error(`${name}: "${v}" is not an ISO 8601 date-time`);
    return d;
  };
  const types = params.getAll('eventType').flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);
  return checkWhere({
      ...(types.length ? { eventType: types } : {}),
      actor: params.get('actor'),
      target: { type: params.get('targetType'), id: params.get('targetId') },
      from: date('from'),
      to: date('to'),
      result: params.get('result'),
      severity: params.get('severity'),
      requestId: params.get('requestId'),
  });
}

/**
 * Streams the events of a scope and filter, oldest first, as NDJSON or CSV, reading 1,000 rows at a
 * time (keyset on seq within the filter), so a range of millions never sits in memory. The export is
 * itself recorded (data.export, with its filter) before the first byte goes out.
 */
export async function exportEvents(db: Db, scope: AuditScope, principal: Principal, format: 'ndjson' | 'csv', where: AuditEventWhere, requestId: string | null): Promise<Response> {
  await recordAuditEvents(db, [auditEvent({
    eventType: 'data.export',
    severity: 'notice',
    actor: { type: principal.kind === 'api_key' ? 'api_client' : 'user', id: principal.userId },
    target: { type: 'audit_event', id: '*' },
    tenantId: principal.organizationId,
    requestId,
    description: `audit trail exported as ${format}`,
    details: { format, where: JSON.parse(JSON.stringify(where)) as unknown },
  })]);
  const filter = whereSql(scope, where);
  let last = 0n;
  let header = format === 'csv';
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const rows = await queryRows<EventRow>(db, sql`select ${COLUMNS} from audit.events where ${filter} and seq > ${String(last)}::bigint order by seq limit ${BATCH}`);
        let out = header ? `${CSV_COLUMNS.join(',')}\r\n` : '';
        header = false;
        for (const r of rows) out += format === 'csv' ? csvLine(eventOut(r, scope)) : `${JSON.stringify(eventOut(r, scope))}\n`;
        if (out) controller.enqueue(encoder.encode(out));
        if (rows.length < BATCH) controller.close();
        else last = BigInt(rows[rows.length - 1]!.seq);
      } catch (e) {
        controller.error(e);
      }
    },
  });
  return new Response(stream, {
    status: 200,
    headers: {
      'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
      'content-disposition': `attachment; filename="audit-events.${format === 'csv' ? 'csv' : 'ndjson'}"`,
      'cache-control': 'no-store',
    },
  });
}
