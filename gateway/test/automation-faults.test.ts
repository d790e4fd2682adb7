import { describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@objectos/db';
import { freePort, services, signedFetch, spawnTs, startMailCatcher, TEST_ORG, TEST_SECRET, testPrincipal, type MailCatcher, type Spawned } from '@objectos/testkit';
import { poll, PrivateCluster, PrivateRedis, Resources } from '../../packages/jobs/test/fault-helpers.ts';
import { expectMailsByKey, mailingMetadata, RULE, settleMails } from './automation-faults-mail.ts';

/** Opportunities won per fault: 3 actions each (a field update, a task and a mail to the owner). */
const N = 40;
const ACTIONS = 3 * N;
const OWNER = '00000000-0000-4000-8000-0000000000f1';
const OWNER_EMAIL = 'owner@faults.test';
const TEST_MS = 300_000;

interface Stack { db: Database; data: Spawned; dataUrl: string; worker: () => Spawned; redis: PrivateRedis; cluster: PrivateCluster; mail: MailCatcher }

/**
 * Services mode with its own PostgreSQL cluster and Redis (AOF), so the faults disturb nothing else:
 * the data subgraph process and a worker process running the demo rule (an opportunity won → its
 * probability set to 100 and an onboarding task for its owner), here with an email alert to the owner
 * added, delivered over SMTP to a real server in this process.
 */
async function stack(resources: Resources): Promise<Stack> {
  const [cluster, redis] = [await PrivateCluster.start(resources), await PrivateRedis.start(resources)];
  const db = await connectDatabase({ databaseUrl: cluster.url, poolSize: 2 });
  resources.add(() => db.close());
  const mail = await startMailCatcher();
  resources.add(() => mail.close());
  // The organization's member and its user as identity stores them: the rule assigns tasks to the
  // record's owner, a member, and mails the owner at the user's address.
  await db.run('create schema if not exists auth', []);
  await db.run('create table if not exists auth.member (id text primary key, organization_id text not null, user_id text not null, role text not null)', []);
  await db.run("insert into auth.member values ('m1', $1, $2, 'owner')", [TEST_ORG, OWNER]);
  await db.run('create table if not exists auth."user" (id text primary key, email text not null)', []);
  await db.run('insert into auth."user" values ($1, $2)', [OWNER, OWNER_EMAIL]);
  const port = await freePort();
  const env = { OBJECTOS_SECRET: TEST_SECRET, DATABASE_URL: cluster.url, REDIS_URL: redis.url, NODE_ENV: 'development', OBJECTOS_METADATA: await mailingMetadata(resources) };
  const data = spawnTs('subgraphs/data/src/main.ts', { ...env, PORT: String(port), OBJECTOS_SEED: 'false' });
  resources.add(() => data.kill('SIGKILL'));
  await data.waitFor(/data subgraph listening on/, 90_000);
  const dataUrl = `http://127.0.0.1:${port}/graphql`;
  const worker = () => {
    // A 2 s hold: a killed worker's actions go to the next one after about that long.
    const p = spawnTs('subgraphs/automation/src/worker.ts', { ...env, PORT: '0', DATA_URL: dataUrl, OBJECTOS_JOBS_PREFIX: 'objectos-faults', OBJECTOS_JOBS_LOCK_MS: '2000', SMTP_URL: mail.url });
    resources.add(() => p.kill('SIGKILL'));
    return p;
  };
  return { db, data, dataUrl, worker, redis, cluster, mail };
}

async function gql<T>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const r = await signedFetch((req) => fetch(req), testPrincipal(TEST_ORG, OWNER))(new Request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) }));
  const body = (await r.json()) as { data?: T; errors?: unknown[] };
  if (body.errors?.length || !body.data) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/** N opportunities, created and then won one after another; returns their ids. */
async function winAll(s: Stack): Promise<string[]> {
  const account = (await gql<{ createAccount: { id: string } }>(s.dataUrl, 'mutation { createAccount(input: { name: "Faults" }) { id } }')).createAccount.id;
  const ids: string[] = [];
  for (let i = 0; i < N; i++)
    ids.push((await gql<{ createOpportunity: { id: string } }>(s.dataUrl, 'mutation($a: ID!, $n: String!) { createOpportunity(input: { name: $n, accountId: $a, stage: prospecting, probability: 10 }) { id } }', { a: account, n: `Deal ${i}` })).createOpportunity.id);
  for (const id of ids) await gql(s.dataUrl, 'mutation($id: ID!) { updateOpportunity(id: $id, input: { stage: closed_won }) { id } }', { id });
  return ids;
}

const succeeded = async (db: Database) => (await db.run<{ n: number }>("select count(*)::int as n from automation.runs where status = 'succeeded'", []))[0]!.n;
const runsTable = async (db: Database) => Boolean((await db.run<{ t: string | null }>("select to_regclass('automation.runs')::text as t", []))[0]?.t);

/** Every action done, each effect once: one task, one field update and one mail action per opportunity, nothing lost. */
async function expectEachOnce(db: Database, ids: string[]): Promise<void> {
  const runs = await db.run<{ status: string; n: number }>('select status, count(*)::int as n from automation.runs group by status', []);
  expect(runs).toEqual([{ status: 'succeeded', n: ACTIONS }]);
  const byAction = await db.run<{ action: string; n: number }>('select action, count(*)::int as n from automation.runs group by action order by action', []);
  expect(byAction).toEqual([{ action: 'certain_probability', n: N }, { action: 'onboarding_task', n: N }, { action: 'tell_owner', n: N }]);
  const tasks = await db.run<{ opportunity_id: string; n: number }>('select opportunity_id, count(*)::int as n from task group by opportunity_id order by opportunity_id', []);
  expect(tasks.map((t) => t.n)).toEqual(ids.map(() => 1));
  expect(tasks.map((t) => t.opportunity_id).sort()).toEqual([...ids].sort());
  const [probable] = await db.run<{ n: number }>('select count(*)::int as n from opportunity where probability = 100', []);
  expect(probable!.n).toBe(N);
  // The rule's field update reached the outbox once per record: a repeated job wrote nothing again.
  const updates = await db.run<{ n: number }>("select count(*)::int as n from events.outbox where context->'automation'->>'action' = 'certain_probability' group by record_id", []);
  expect(updates.map((u) => u.n)).toEqual(ids.map(() => 1));
  // The two database writes record their keys; the mail is not a database write (its key travels with it).
  const [keys] = await db.run<{ n: number }>(`select count(*)::int as n from jobs.effects where key like '%:${RULE}:%'`, []);
  expect(keys!.n).toBe(2 * N);
  const [again] = await db.run<{ n: number }>('select count(*)::int as n from automation.runs where attempts > 1', []);
  console.log(`[rule faults] ${again!.n} of ${ACTIONS} actions ran more than once (their effects once)`);
}

/** Every won opportunity mailed; a repeated mail only ever with the first one's idempotency key. */
async function expectMailsOnce(s: Stack, ids: string[], fault: string): Promise<void> {
  await settleMails(s.mail, N);
  const repeats = expectMailsByKey(s.mail.mails, ids, OWNER_EMAIL);
  console.log(`[rule faults] ${fault}: ${s.mail.mails.length} mails for ${N} opportunities, ${repeats} repeated (each with its first key); ${s.mail.connectionErrors.length} SMTP sessions broken off`);
}

/** Waits for the first actions to be done, so the fault lands in the middle of the run. */
async function midRun(db: Database): Promise<void> {
  await poll('the first actions', async () => ((await runsTable(db)) ? succeeded(db) : 0), (n) => n >= 2, 60_000);
}

/**
 * One run: the stack, a worker, N opportunities won; `fault` strikes once the first actions are done
 * (checked: not all are); then every action must finish, each effect once.
 */
async function faultRun(name: string, fault: (s: Stack, worker: Spawned) => Promise<void>): Promise<void> {
  const resources = new Resources();
  try {
    const s = await stack(resources);
    const worker = s.worker();
    await worker.waitFor(/worker running bullmq/, 90_000);
    const ids = await winAll(s);
    await midRun(s.db);
    expect(await succeeded(s.db)).toBeLessThan(ACTIONS);
    await fault(s, worker);
    await poll('every action', () => succeeded(s.db).catch(() => 0), (n) => n === ACTIONS, 120_000);
    await expectEachOnce(s.db, ids);
    await expectMailsOnce(s, ids, name);
  } finally {
    await resources.release();
  }
}

describe.skipIf(!services.postgres || !services.redis)('workflow rules under faults (services mode, own PostgreSQL and Redis)', () => {
  it('kill -9 of the worker in the middle of actions: all done by the next worker, no update or task twice, a mail again only with its key', () => faultRun('kill -9', async (s, worker) => {
    await worker.kill('SIGKILL');
    await s.worker().waitFor(/worker running bullmq/, 90_000);
  }), TEST_MS);

  it('Redis killed and restarted on its append-only file mid-run: nothing acknowledged lost, nothing twice, a mail again only with its key', () => faultRun('Redis restart', async (s) => {
    await s.redis.kill();
    await new Promise((r) => setTimeout(r, 1_000));
    await s.redis.launch();
  }), TEST_MS);

  it('PostgreSQL restarted (immediate) mid-run: the hand-over, the runs and the writes recover, each once, a mail again only with its key', () => faultRun('PostgreSQL restart', (s) => s.cluster.restart()), TEST_MS);
});
