import { sql } from 'drizzle-orm';
import { queryRows, type SqlRunner } from '@objectos/db';
import type { ApproverDefinition, MetadataModel } from '@objectos/metadata';

/** What approvers are resolved against: the organization, the record (field approvers) and whose manager (manager approvers). */
export interface ApproverScope {
  org: string;
  record: Readonly<Record<string, unknown>>;
  /** The member whose manager a `manager` approver means: the submitter (or, escalating, the approver). */
  subject: string | null;
}

/** The user ids a step's approvers name today, members of the organization only, deduplicated, in a stable order. */
export async function resolveApprovers(db: SqlRunner, model: Pick<MetadataModel, 'security'>, approvers: readonly ApproverDefinition[], s: ApproverScope): Promise<string[]> {
  const out = new Set<string>();
  for (const a of approvers) for (const id of await one(db, model, a, s)) out.add(id);
  if (out.size === 0) return [];
  // Members of this organization only (a user id in metadata or in a field may name anyone).
  const members = await queryRows<{ user_id: string }>(db, sql`select user_id from auth.member where organization_id = ${s.org} and user_id = any(${sql.param([...out])}::text[])`);
  const ok = new Set(members.map((m) => m.user_id));
  return [...out].filter((id) => ok.has(id)).sort();
}

async function one(db: SqlRunner, model: Pick<MetadataModel, 'security'>, a: ApproverDefinition, s: ApproverScope): Promise<string[]> {
  const ids = (rows: { user_id: string }[]) => rows.map((r) => r.user_id);
  switch (a.type) {
    case 'user':
      return [a.value!];
    case 'field': {
      const v = s.record[a.value!];
      return typeof v === 'string' && v ? [v] : [];
    }
    case 'role':
      return ids(await queryRows(db, sql`select user_id from security.member_access where organization_id = ${s.org} and role = ${a.value!}`));
    case 'queue':
      return ids(await queryRows(db, sql`select user_id from security.member_access where organization_id = ${s.org} and ${a.value!} = any(groups)`));
    case 'manager': {
      if (!s.subject) return [];
      const [row] = await queryRows<{ role: string | null }>(db, sql`select role from security.member_access where organization_id = ${s.org} and user_id = ${s.subject}`);
      const parent = row?.role ? model.security.roles.find((r) => r.name === row.role)?.parent : undefined;
      return parent ? ids(await queryRows(db, sql`select user_id from security.member_access where organization_id = ${s.org} and role = ${parent}`)) : [];
    }
  }
}

/** The organization's owners and admins: who decides when a step's approvers resolve to nobody. */
export async function organizationAdmins(db: SqlRunner, org: string): Promise<string[]> {
  const rows = await queryRows<{ user_id: string; role: string }>(db, sql`select user_id, role from auth.member where organization_id = ${org}`);
  return rows.filter((r) => r.role.split(',').map((x) => x.trim()).some((x) => x === 'owner' || x === 'admin')).map((r) => r.user_id).sort();
}
