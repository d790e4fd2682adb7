import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { queryRows, type Database, type Db } from '@objectos/db';
import type { Principal } from '@objectos/principal';
import type { SecurityPlan } from '@objectos/schema';
import { PUBLISH_LOCK } from './outbox.ts';

/** Resume points told LEFT in this process kept at most (a development reload's hand-over; see `ServedRules.told`). */
const TOLD = 10_000;

/**
 * The access rules this data subgraph serves, and the record of those served before it. A deploy that
 * changes the rules restarts the processes: their subscriptions drop, and clients resume with `after`.
 * What left their view under the new rules is told then (LEFT, see subscriptions.ts), which needs the
 * rules the client's last event was delivered under: each change of rules is an epoch
 * (`events.rule_epochs`), stored with the rules and the last event published before it.
 */
export interface ServedRules {
  /** Data subgraphs sharing a database with other metadata keep their epochs apart (their name prefix). */
  scope: string;
  /** SHA-256 of the compiled rules (roles, groups, permission sets, OWDs, sharing rules, RLS). */
  digest: string;
  /**
   * Resume points whose LEFT events this process already told: a development reload tells each live
   * subscription what left its view before ending it, and the client resuming from there is not told
   * twice (key: `resumeKey(…)` + the event id). Bounded; a process that restarted holds none.
   */
  told: Set<string>;
}

export const rulesDigest = (security: SecurityPlan): string => createHash('sha256').update(JSON.stringify(security)).digest('hex');

/** The key of a subscription's resume point in `ServedRules.told`. */
export const resumeKey = (who: Principal, object: string, where: unknown, id: string | null, after: string): string =>
  JSON.stringify([who.kind, who.userId, who.apiKeyId, who.organizationId, object, where ?? null, id, after]);

/** Marks a resume point as told, forgetting the oldest past TOLD. */
export function markTold(rules: ServedRules, key: string): void {
  rules.told.add(key);
  if (rules.told.size > TOLD) rules.told.delete(rules.told.values().next().value!);
}

/** The rules an instance serves, before they are recorded (see `recordRules`). */
export const servedRules = (scope: string, security: SecurityPlan): ServedRules => ({ scope, digest: rulesDigest(security), told: new Set() });

/**
 * Records that `security` (digest `served.digest`) serves from now on: a new epoch when the last one
 * recorded for the scope had other rules. Its `from_seq` is the newest published event: events after it are delivered
 * under these rules. Taken under the relay's publish lock, so no publish falls between reading that
 * position and recording it, and replicas starting together record one epoch. Epochs no retained event
 * needs go.
 */
export async function recordRules(db: Db, served: ServedRules, security: SecurityPlan): Promise<void> {
  const { scope, digest } = served;
  await db.execute(sql`create table if not exists events.rule_epochs (
    id bigserial primary key,
    scope text not null,
    digest text not null,
    rules jsonb not null,
    from_seq bigint not null,
    served_at timestamptz not null default now())`);
  await db.execute(sql`create index if not exists rule_epochs_scope on events.rule_epochs (scope, id)`);
  await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${PUBLISH_LOCK})`);
    const [last] = await queryRows<{ digest: string }>(tx, sql`select digest from events.rule_epochs where scope = ${scope} order by id desc limit 1`);
    if (last?.digest === digest) return;
    await tx.execute(sql`insert into events.rule_epochs (scope, digest, rules, from_seq)
      select ${scope}, ${digest}, ${JSON.stringify(security)}::jsonb, coalesce(max(published_seq), 0) from events.outbox`);
    // Kept: the epoch the oldest retained event was delivered under, and every later one.
    await tx.execute(sql`delete from events.rule_epochs e where e.scope = ${scope} and exists (
      select 1 from events.rule_epochs n where n.scope = e.scope and n.id > e.id and n.from_seq < (select coalesce(min(published_seq), 9223372036854775807) from events.outbox))`);
  });
}

/**
 * The rules the event at published position `seq` was delivered under ("0", before every event: those
 * served when none was published), or null when no epoch that old is recorded.
 */
export async function rulesAt(database: Database, scope: string, seq: string): Promise<{ digest: string; rules: () => Promise<SecurityPlan> } | null> {
  // Ordered by the bigint id (an output column named id, as text, would order '9' after '10').
  const [epoch] = await database.run<{ epoch: string; digest: string }>(
    `select e.id::text as epoch, e.digest from events.rule_epochs e where e.scope = $1 and (e.from_seq < $2::bigint or ($2::bigint = 0 and e.from_seq = 0)) order by e.id desc limit 1`, [scope, seq]);
  if (!epoch) return null;
  return {
    digest: epoch.digest,
    async rules() {
      const [row] = await database.run<{ rules: SecurityPlan | string }>('select rules from events.rule_epochs where id = $1::bigint', [epoch.epoch]);
      if (!row) throw new Error('the rules of that epoch were removed meanwhile');
      return typeof row.rules === 'string' ? (JSON.parse(row.rules) as SecurityPlan) : row.rules;
    },
  };
}
