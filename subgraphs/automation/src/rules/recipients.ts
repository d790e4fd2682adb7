import { sql } from 'drizzle-orm';
import { queryRows, type SqlRunner } from '@objectos/db';

/** A person (or an address) an alert goes to. */
export interface Addressee {
  userId: string | null;
  email: string | null;
}

/**
 * The people an email alert or a push notification names, for one record: `owner`, `admins` (the
 * organization's owners and admins), `user:<id>` (a member of this organization only), `role:<role>`
 * (members holding that role), `manager` (members holding the parent role, in the role hierarchy, of the
 * record owner's role), `field:<email field>` (the address in the record). Duplicates collapse; a user
 * outside the organization is never reached.
 */
export async function resolveRecipients(db: SqlRunner, org: string, recipients: readonly string[], record: Readonly<Record<string, unknown>> | null, parentRole: (role: string) => string | undefined = () => undefined): Promise<Addressee[]> {
  const userIds = new Set<string>();
  const emails = new Set<string>();
  for (const r of recipients) {
    const [kind, value] = r.includes(':') ? [r.slice(0, r.indexOf(':')), r.slice(r.indexOf(':') + 1)] : [r, ''];
    if (kind === 'owner') {
      const owner = record?.['owner_id'];
      if (typeof owner === 'string') userIds.add(owner);
    } else if (kind === 'admins') {
      const rows = await queryRows<{ user_id: string; role: string }>(db, sql`select user_id, role from auth.member where organization_id = ${org}`);
      for (const row of rows) if (row.role.split(',').map((x) => x.trim()).some((x) => x === 'owner' || x === 'admin')) userIds.add(row.user_id);
    } else if (kind === 'manager') {
      const owner = record?.['owner_id'];
      const [access] = typeof owner === 'string' ? await queryRows<{ role: string | null }>(db, sql`select role from security.member_access where organization_id = ${org} and user_id = ${owner}`) : [];
      const parent = access?.role ? parentRole(access.role) : undefined;
      if (parent) for (const row of await queryRows<{ user_id: string }>(db, sql`select user_id from security.member_access where organization_id = ${org} and role = ${parent}`)) userIds.add(row.user_id);
    } else if (kind === 'user') userIds.add(value);
    else if (kind === 'role') {
      const rows = await queryRows<{ user_id: string }>(db, sql`select user_id from security.member_access where organization_id = ${org} and role = ${value}`);
      for (const row of rows) userIds.add(row.user_id);
    } else if (kind === 'field') {
      const email = record?.[value];
      if (typeof email === 'string' && email.includes('@')) emails.add(email.toLowerCase());
    }
  }
  const out: Addressee[] = [];
  if (userIds.size > 0) {
    // Members of this organization only, with their address.
    const rows = await queryRows<{ id: string; email: string }>(db, sql`select u.id, u.email from auth."user" u join auth.member m on m.user_id = u.id
      where m.organization_id = ${org} and u.id = any(${sql.param([...userIds])}::text[])`);
    for (const row of rows) {
      out.push({ userId: row.id, email: row.email });
      emails.delete(row.email.toLowerCase());
    }
  }
  for (const email of emails) out.push({ userId: null, email });
  return out;
}
