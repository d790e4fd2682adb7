import { sql, type SQL } from 'drizzle-orm';
import { queryRows, type SqlRunner } from '@objectos/db';
import { auditEvent, type AuditEvent } from '@objectos/events';
import type { AuditConfig } from '@objectos/metadata';
import type { AfterAppend } from './capture.ts';

type Rule = AuditConfig['suspiciousActivityRules'][number];

/** Whose activity an event counts against: the account it targets, else the email tried, else the address. */
function subjectOf(e: AuditEvent): { key: string; where: SQL; userId: string | null } | null {
  const email = typeof e.details?.['email'] === 'string' ? (e.details['email'] as string).toLowerCase() : null;
  if (e.eventType === 'auth.login_failed' && e.target?.type === 'user')
    return { key: `user:${e.target.id}`, where: sql`target_type = 'user' and target_id = ${e.target.id}`, userId: e.target.id };
  if (e.eventType === 'auth.login_failed' && email) return { key: `email:${email}`, where: sql`lower(details->>'email') = ${email}`, userId: null };
  if (e.actor.id) return { key: `${e.actor.type}:${e.actor.id}`, where: sql`actor_id = ${e.actor.id}`, userId: e.actor.type === 'user' ? e.actor.id : null };
  if (e.actor.ipAddress) return { key: `ip:${e.actor.ipAddress}`, where: sql`actor_ip = ${e.actor.ipAddress}`, userId: null };
  return null;
}

/**
 * Spec `suspiciousActivityRules`, evaluated in the transaction that stores the events: when `threshold`
 * matching events (an aggregated access-denied event counts as many) fall within `windowSeconds` for one
 * subject, `security.suspicious_activity` is raised once per window and the rule's actions run:
 * `alert` raises it at severity alert; `lock_account` bans the account until `lockMinutes` from now and
 * ends its sessions (better-auth's own ban: sign-in and every credential are refused until it expires);
 * `require_mfa` ends its sessions and marks it (security.mfa_required): until the account enables a
 * second factor, its sessions get 403 MFA_REQUIRED.
 */
export function suspiciousActivity(config: AuditConfig, options: { authTables: boolean }): AfterAppend {
  const rules = config.enabled ? config.suspiciousActivityRules : [];
  return async (tx, stored) => {
    const raised: AuditEvent[] = [];
    const done = new Set<string>();
    for (const rule of rules)
      for (const e of stored) {
        if (e.eventType !== rule.eventType) continue;
        const subject = subjectOf(e);
        if (!subject || done.has(`${rule.name}|${subject.key}`)) continue;
        done.add(`${rule.name}|${subject.key}`);
        const since = new Date(Date.now() - rule.windowSeconds * 1000).toISOString();
        const tenant = e.tenantId === null ? sql`tenant_id is null` : sql`tenant_id = ${e.tenantId}`;
        const [count] = await queryRows<{ n: number }>(tx, sql`select coalesce(sum(coalesce((details->>'count')::int, 1)), 0)::int as n from audit.events
          where ${tenant} and event_type = ${rule.eventType} and occurred_at > ${since}::timestamptz and ${subject.where}`);
        if ((count?.n ?? 0) < rule.threshold) continue;
        const already = await queryRows(tx, sql`select 1 from audit.events where ${tenant} and event_type = 'security.suspicious_activity'
          and occurred_at > ${since}::timestamptz and details->>'rule' = ${rule.name} and details->>'subject' = ${subject.key} limit 1`);
        if (already.length > 0) continue;
        raised.push(...(await act(tx, rule, e, subject, count!.n, options.authTables)));
      }
    return raised;
  };
}

async function act(tx: SqlRunner, rule: Rule, e: AuditEvent, subject: { key: string; userId: string | null }, count: number, authTables: boolean): Promise<AuditEvent[]> {
  const target = subject.userId ? { type: 'user', id: subject.userId } : undefined;
  const out: AuditEvent[] = [auditEvent({
    eventType: 'security.suspicious_activity',
    severity: rule.actions.includes('alert') ? 'alert' : 'warning',
    result: 'failure',
    actor: { type: 'system', id: null, ipAddress: e.actor.ipAddress ?? null },
    target,
    tenantId: e.tenantId,
    requestId: e.requestId ?? null,
    description: `${count} ${rule.eventType} events within ${rule.windowSeconds} s for ${subject.key} (rule ${rule.name})`,
    details: { rule: rule.name, subject: subject.key, count, threshold: rule.threshold, windowSeconds: rule.windowSeconds, actions: rule.actions },
  })];
  if (rule.actions.includes('lock_account') && subject.userId && authTables) {
    const until = new Date(Date.now() + rule.lockMinutes * 60_000);
    const locked = await queryRows(tx, sql`update auth."user" set banned = true, ban_reason = ${`locked by suspicious activity rule ${rule.name}`}, ban_expires = ${until.toISOString()}::timestamptz
      where id = ${subject.userId} returning id`);
    if (locked.length > 0) {
      await tx.execute(sql`delete from auth.session where user_id = ${subject.userId}`);
      out.push(auditEvent({
        eventType: 'auth.account_locked', severity: 'warning', actor: { type: 'system', id: null }, target, tenantId: e.tenantId,
        description: `account locked until ${until.toISOString()} by rule ${rule.name}`,
        details: { userId: subject.userId, until: until.toISOString(), rule: rule.name },
      }));
    }
  }
  if (rule.actions.includes('require_mfa') && subject.userId && authTables) {
    // Every session ends; the next one acts only once the account has a second factor (identity checks).
    await tx.execute(sql`insert into security.mfa_required (user_id, reason) values (${subject.userId}, ${`suspicious activity rule ${rule.name}`})
      on conflict (user_id) do update set reason = excluded.reason, since = now()`);
    await tx.execute(sql`delete from auth.session where user_id = ${subject.userId}`);
    out.push(auditEvent({
      eventType: 'auth.session_revoked', severity: 'warning', actor: { type: 'system', id: null }, target, tenantId: e.tenantId,
      description: `sessions ended: two-factor authentication now required (rule ${rule.name})`,
      details: { userId: subject.userId, requireMfa: true, rule: rule.name },
    }));
  }
  return out;
}
