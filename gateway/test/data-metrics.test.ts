import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { services, subscribeSse, withHeaders } from '@objectos/testkit';
import { metrics } from '@objectos/observability';
import { parseScrape, seriesOf, total, type Sample } from './metrics-kit.ts';
import { startRulesApp, until, type RulesApp, type RulesEngine } from './rules-app.ts';

/**
 * The data side of the metrics (one process's registry, as a scraper reads it): SQL statement durations by
 * engine and kind, the outbox lags, the job metrics and queue depths, the PostgreSQL pool, and events moved
 * on. The variants run one after another in this process and share its registry, so counts are compared
 * before and after each variant's write.
 */
const variants: RulesEngine[] = ['pglite', ...(services.postgres ? ['postgres' as const] : []), ...(services.postgres && services.redis ? ['postgres+redis' as const] : [])];
const scrape = async (): Promise<Sample[]> => parseScrape(await metrics.scrape());
const ACTION = 'automation.action';

for (const engine of variants) {
  describe(`data-side metrics (${engine})`, () => {
    let rig: RulesApp;
    let closed = false;
    let opportunityId: string;
    const sqlEngine = engine === 'pglite' ? 'pglite' : 'pg';
    beforeAll(async () => {
      rig = await startRulesApp({ engine, slug: `metrics-${engine.replace('+', '-')}` });
      const accountId = (await rig.q<{ createAccount: { id: string } }>('mutation { createAccount(input: { name: "Measured Inc" }) { id } }')).createAccount.id;
      opportunityId = (await rig.q<{ createOpportunity: { id: string } }>('mutation($i: OpportunityCreateInput!) { createOpportunity(input: $i) { id } }',
        { i: { name: 'Measured Deal', accountId, stage: 'prospecting', probability: 10 } })).createOpportunity.id;
      await rig.settle();
    }, 120_000);
    afterAll(async () => {
      if (!closed) await rig?.close();
    });

    it('after a write: SQL durations of its engine, outbox lags, events published, delivered and evaluated, the rule\'s jobs measured, queue depths (and the pool on PostgreSQL)', async () => {
      // A live subscriber of the opportunity: the change is delivered to it (counted as delivered).
      const live = await subscribeSse(withHeaders(`${rig.base}/graphql`, { authorization: `Bearer ${rig.owner}` }), 'subscription($id: ID!) { opportunityChanged(id: $id) { op } }', { id: opportunityId }, `${rig.base}/graphql`);
      expect(live.status).toBe(200);
      await new Promise((r) => setTimeout(r, 300));
      const before = await scrape();
      const sqlCount = (s: readonly Sample[], kind: string) => total(s, 'objectos_sql_statement_duration_seconds_count', { engine: sqlEngine, kind, outcome: 'ok' });
      const jobs = (s: readonly Sample[], name: string, labels: Record<string, string> = {}) => total(s, name, { queue: ACTION, ...labels });

      await rig.q('mutation($id: ID!) { updateOpportunity(id: $id, input: { stage: closed_won }) { id } }', { id: opportunityId });
      const runs = await until(
        () => rig.q<{ automationRuns: { status: string }[] }>('query($id: ID!) { automationRuns(where: { recordId: $id }) { status } }', { id: opportunityId }),
        (r) => r.automationRuns.length === 2 && r.automationRuns.every((x) => x.status === 'SUCCEEDED'),
      );
      expect(runs.automationRuns.map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
      await rig.settle();
      // The update and the rule's field update, delivered to the subscriber.
      expect((await live.until(2)).map((r) => r.data)).toEqual([{ opportunityChanged: { op: 'UPDATED' } }, { opportunityChanged: { op: 'UPDATED' } }]);
      live.close();
      const after = await scrape();

      // Every statement kind the write path uses, timed under this engine's label (and only kinds, never text).
      for (const kind of ['begin', 'insert', 'update', 'select', 'commit']) expect(sqlCount(after, kind), kind).toBeGreaterThan(sqlCount(before, kind));
      const kinds = new Set(seriesOf(after, 'objectos_sql_statement_duration_seconds_count').map((s) => s.labels['kind']));
      for (const k of kinds) expect(k).toMatch(/^[a-z]+$/);
      // The three outboxes report their lag (what is pending right after settling is at most a few seconds old).
      for (const outbox of ['outbox', 'audit_outbox', 'automation_outbox']) {
        const lag = seriesOf(after, 'objectos_outbox_lag_seconds').filter((s) => s.labels['outbox'] === outbox);
        expect(lag, outbox).toHaveLength(1);
        expect(lag[0]!.value).toBeGreaterThanOrEqual(0);
        expect(lag[0]!.value).toBeLessThan(30);
      }
      // The change was published by the relay, delivered to the subscriber and evaluated by the rule engine.
      expect(total(after, 'objectos_event_deliveries_total', { kind: 'delivered' })).toBeGreaterThanOrEqual(total(before, 'objectos_event_deliveries_total', { kind: 'delivered' }) + 2);
      expect(total(after, 'objectos_event_deliveries_total', { kind: 'published' })).toBeGreaterThanOrEqual(total(before, 'objectos_event_deliveries_total', { kind: 'published' }) + 1);
      expect(total(after, 'objectos_event_deliveries_total', { kind: 'evaluated' })).toBeGreaterThanOrEqual(total(before, 'objectos_event_deliveries_total', { kind: 'evaluated' }) + 1);
      // The rule's two action jobs: run time by outcome, and wait from due to start.
      expect(jobs(after, 'objectos_job_duration_seconds_count', { outcome: 'ok' }) - jobs(before, 'objectos_job_duration_seconds_count', { outcome: 'ok' })).toBe(2);
      expect(jobs(after, 'objectos_job_latency_seconds_count') - jobs(before, 'objectos_job_latency_seconds_count')).toBe(2);
      // Queue depth of the queues this process works, by state (nothing left waiting once settled).
      const depth = seriesOf(after, 'objectos_queue_depth').filter((s) => s.labels['queue'] === ACTION);
      expect(depth.map((s) => s.labels['state']).sort()).toEqual(['active', 'delayed', 'failed', 'waiting']);
      expect(depth.find((s) => s.labels['state'] === 'waiting')!.value).toBe(0);
      // Queue labels are fixed names, never ids.
      for (const s of [...seriesOf(after, 'objectos_queue_depth'), ...seriesOf(after, 'objectos_job_duration_seconds_count')]) expect(s.labels['queue']).toMatch(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/);
      // The PostgreSQL pool: total, idle and waiting connections (the embedded engine has no pool).
      const pool = seriesOf(after, 'objectos_db_pool_connections');
      if (engine === 'pglite') expect(pool).toEqual([]);
      else {
        expect(pool.map((s) => s.labels['state']).sort()).toEqual(['idle', 'total', 'waiting']);
        expect(pool.find((s) => s.labels['state'] === 'total')!.value).toBeGreaterThanOrEqual(1);
      }
    });

    it('stops reporting the pool, the outbox lags and the queue depths once ObjectOS stops', async () => {
      await rig.close();
      closed = true;
      const after = await scrape();
      for (const name of ['objectos_db_pool_connections', 'objectos_outbox_lag_seconds', 'objectos_queue_depth']) expect(seriesOf(after, name), name).toEqual([]);
    });
  });
}
