import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, queryRows, type Database } from '@objectos/db';
import { ensureEventTables } from '@objectos/events';
import type { SecurityPlan } from '@objectos/schema';
import { engines, type EngineHandle } from '@objectos/testkit';
import { recordRules, rulesAt, rulesDigest, servedRules, type ServedRules } from '../src/events/rule-epochs.ts';

/** A security plan told apart by one sharing rule's name (what a deploy changing that rule serves). */
const plan = (rule: string): SecurityPlan => ({
  roles: {}, groups: [], permissionSets: {}, defaultProfiles: {}, builtin: true,
  objects: { thing: { name: 'thing', owd: 'private', parent: null, rlsPolicies: [], sharingRules: [{ name: rule } as SecurityPlan['objects'][string]['sharingRules'][number]] } },
});

/**
 * The record of which access rules served which events (events.rule_epochs), that a subscriber resuming
 * after a deploy is judged by: one epoch per change of rules, starting after the newest published event;
 * a restart keeping the rules adds none; each published position maps to the rules it was delivered under.
 */
describe.each(engines())('rule epochs on $name', (engine) => {
  let handle: EngineHandle;
  let database: Database;
  /** Publishes `n` events (as the relay marks them), returning the last published position. */
  const publish = async (n: number): Promise<number> => {
    const [row] = await queryRows<{ seq: string }>(database.db, sql`with made as (
        insert into events.outbox (organization_id, object, record_id, op, changed_fields, published_at, published_seq)
        select 'org', 'thing', gen_random_uuid(), 'create', '{}', now(), nextval('events.outbox_published_seq') from generate_series(1, ${n})
        returning published_seq)
      select max(published_seq)::text as seq from made`);
    return Number(row!.seq);
  };
  /** A start serving `security` (under `scope`): its epoch recorded. */
  const serve = async (scope: string, security: SecurityPlan): Promise<ServedRules> => {
    const served = servedRules(scope, security);
    await recordRules(database.db, served, security);
    return served;
  };
  const digestAt = async (seq: number) => (await rulesAt(database, '', String(seq)))?.digest ?? null;
  const epochs = async () => (await queryRows<{ n: string }>(database.db, sql`select count(*)::text as n from events.rule_epochs where scope = ''`))[0]!.n;

  beforeAll(async () => {
    handle = await engine.open();
    database = await connectDatabase(handle.options);
    await ensureEventTables(database.db);
  });
  afterAll(async () => {
    await database?.close();
    await handle?.cleanup();
  });

  it('maps every published position to the rules served when it was published, across a dozen deploys (ordered by number, not text)', async () => {
    const first = await serve('', plan('r0'));
    expect(first.digest).toBe(rulesDigest(plan('r0')));
    // Before every event ("0"): the rules served while none was published.
    expect(await digestAt(0)).toBe(first.digest);
    const spans: { digest: string; from: number; to: number }[] = [];
    let from = 0;
    for (let k = 0; k < 12; k++) {
      const served = k === 0 ? first : await serve('', plan(`r${k}`));
      const to = await publish(3);
      spans.push({ digest: served.digest, from: from + 1, to });
      from = to;
    }
    expect(await epochs()).toBe('12');
    for (const s of spans) for (let seq = s.from; seq <= s.to; seq++) expect(await digestAt(seq), `event at ${seq}`).toBe(s.digest);
    // The stored rules are those served then.
    expect(await (await rulesAt(database, '', String(spans[10]!.to)))!.rules()).toEqual(plan('r10'));
  });

  it('a restart keeping the rules adds no epoch; another scope (name prefix) keeps its own', async () => {
    const before = await epochs();
    await serve('', plan('r11'));
    expect(await epochs()).toBe(before);
    const other = await serve('crm_', plan('r11'));
    expect(await rulesAt(database, 'crm_', '0')).toBeNull();
    const at = await publish(1);
    expect((await rulesAt(database, 'crm_', String(at)))!.digest).toBe(other.digest);
  });

  it('epochs no retained event needs are removed at the next deploy', async () => {
    const [{ max }] = await queryRows<{ max: string }>(database.db, sql`select max(published_seq)::text as max from events.outbox`) as [{ max: string }];
    // Retention removed every event but the newest: only its epoch and later ones are still needed.
    await database.db.execute(sql`delete from events.outbox where published_seq < ${Number(max)}`);
    const latest = await serve('', plan('pruned'));
    expect(await epochs()).toBe('2');
    expect(await digestAt(Number(max))).toBe(rulesDigest(plan('r11')));
    const next = await publish(1);
    expect(await digestAt(next)).toBe(latest.digest);
  });
});
