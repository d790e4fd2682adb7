import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, spawnTs, withHeaders, type FetchHandler, type Spawned } from '@objectos/testkit';
import { startRulesApp, type RulesApp } from './rules-app.ts';
import { FLOW_ENGINES, ok, owner, runOf, runUntil, runWhen, startFlow, PASSWORD } from './workflow-flows-kit.ts';

const MAIN = 'gateway/src/main.ts';
const ENDPOINT = /GraphQL endpoint: (http:\/\/\S+)/;
const ITEMS = 40;
const HELD = 'Item 010';

/** A timer wait, and a loop that creates one task per item and then calls a receiver (which holds one call: the kill lands there). */
const flows = (hook: string): Record<string, string> => ({
  'workflows/sleeper.flow.yaml': `name: sleeper
type: autolaunched
variables:
  - { name: key, type: text, isInput: true }
nodes:
  - { id: start, type: start }
  - { id: nap, type: wait, waitEventConfig: { eventType: timer, timerDuration: "+8s" } }
  - { id: mark, type: create_record, config: { object: task, values: { subject: "Woke {!key}" } } }
  - { id: done, type: end }
edges:
  - { id: a, source: start, target: nap }
  - { id: b, source: nap, target: mark }
  - { id: c, source: mark, target: done }
`,
  'workflows/looper.flow.yaml': `name: looper
type: autolaunched
variables:
  - { name: items, type: list, isInput: true }
  - { name: item, type: text }
nodes:
  - { id: start, type: start }
  - { id: each, type: loop, config: { collection: items, itemVariable: item } }
  - { id: make, type: create_record, config: { object: task, values: { subject: "{!item}" } } }
  - { id: pace, type: http_request, config: { url: "${hook}/pace/{!item}", method: GET } }
  - { id: done, type: end }
edges:
  - { id: a, source: start, target: each }
  - { id: b, source: each, target: make }
  - { id: c, source: make, target: pace }
  - { id: d, source: pace, target: each }
  - { id: e, source: each, target: done, type: default }
`,
});

/**
 * Durability with real processes: `npm start` on a PGlite folder, killed with SIGKILL in the middle of
 * a flow and started again on the same folder. A run waiting on a timer resumes when due; a run killed
 * mid-loop resumes after its last committed step, and every record it creates exists exactly once.
 */
describe('flows survive kill -9 (embedded PGlite, real processes)', () => {
  let dir: string;
  let receiver: Server;
  /** Calls the receiver got, by item: the idempotency key of each. */
  const calls = new Map<string, string[]>();
  let held: (() => void) | null = null;
  let env: Record<string, string>;
  let port: number;
  let who: FetchHandler;
  const running: Spawned[] = [];
  const start = async () => {
    const p = spawnTs(MAIN, { DATABASE_URL: '', REDIS_URL: '', NODE_ENV: 'development', ...env }, ['--empty']);
    running.push(p);
    await p.waitFor(ENDPOINT, 120_000);
    return p;
  };
  const tasks = async (prefix: string) =>
    (await ok<{ tasks: { nodes: { subject: string }[] } }>(who, 'query($p: String!) { tasks(where: { subject: { startsWith: $p } }, first: 500) { nodes { subject } } }', { p: prefix })).tasks.nodes.map((t) => t.subject);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'objectos-flow-restart-'));
    // The first call for HELD is never answered: the process is killed while that step's call is out.
    receiver = createServer((req, res) => {
      const item = decodeURIComponent((req.url ?? '').replace('/pace/', ''));
      const seen = calls.get(item) ?? [];
      calls.set(item, [...seen, String(req.headers['x-objectos-idempotency-key'])]);
      if (item === HELD && seen.length === 0) return held?.();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const metadata = join(dir, 'metadata');
    await cp('metadata', metadata, { recursive: true });
    await mkdir(join(metadata, 'workflows'), { recursive: true });
    for (const [file, text] of Object.entries(flows(`http://127.0.0.1:${(receiver.address() as { port: number }).port}`))) await writeFile(join(metadata, file), text);
    port = await freePort();
    env = { PORT: String(port), HOST: '127.0.0.1', OBJECTOS_DATA_DIR: join(dir, 'data'), OBJECTOS_SECRET_FILE: join(dir, 'secret'), OBJECTOS_METADATA: metadata, OBJECTOS_WEBHOOK_ALLOW: 'loopback', OBJECTOS_RATE_LIMIT: '0' };
  });
  afterAll(async () => {
    await Promise.all(running.map((p) => p.kill('SIGKILL')));
    await new Promise<void>((r) => receiver.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });

  it('a run waiting on a timer, and a run in the middle of a loop, both finish after kill -9 and a restart; no record is made twice', async () => {
    const first = await start();
    const origin = `http://127.0.0.1:${port}`;
    const post = (path: string, body: unknown, token?: string) =>
      fetch(`${origin}/api/auth${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
    const up = await post('/sign-up/email', { email: 'flows@restart.test', password: PASSWORD, name: 'Flo Restart' });
    expect(up.status).toBe(200);
    const token = up.headers.get('set-auth-token')!;
    const org = (await (await post('/organization/create', { name: 'Restart Co', slug: 'restart-co' }, token)).json()) as { id: string };
    await post('/organization/set-active', { organizationId: org.id }, token);
    who = withHeaders(`${origin}/graphql`, { authorization: `Bearer ${token}` });

    const sleeper = await startFlow(who, 'sleeper', { key: 'k1' });
    await runUntil(who, sleeper.id, ['waiting']);
    const items = Array.from({ length: ITEMS }, (_, i) => `Item ${String(i).padStart(3, '0')}`);
    const holding = new Promise<void>((r) => (held = r));
    const looper = await startFlow(who, 'looper', { items });
    // Killed while the call of HELD is out: its task is committed, its call step is not.
    await holding;
    const before = (await runOf(who, looper.id))!;
    expect(await first.kill('SIGKILL')).toBeNull();
    expect(before.steps.filter((s) => s.node === 'make')).toHaveLength(11);
    expect(before.steps.filter((s) => s.node === 'pace')).toHaveLength(10);

    await start();
    // The loop goes on from its last committed step and finishes.
    const looped = await runUntil(who, looper.id, ['completed', 'failed'], 120_000);
    expect(looped.error).toBeNull();
    expect(looped.status).toBe('completed');
    expect(looped.steps.map((s) => s.seq)).toEqual(looped.steps.map((_, i) => i + 1));
    const made = looped.steps.filter((s) => s.node === 'make');
    expect(made).toHaveLength(ITEMS);
    expect(made.every((s) => s.status === 'succeeded')).toBe(true);
    // Each item's task exists exactly once; each call was made once, but the one that was out at the kill:
    // its step ran again (the step after the last committed one), with the same idempotency key.
    const subjects = await tasks('Item ');
    expect(subjects.sort()).toEqual(items);
    for (const item of items) expect(calls.get(item), item).toHaveLength(item === HELD ? 2 : 1);
    const [firstKey, againKey] = calls.get(HELD)!;
    expect(againKey).toBe(firstKey);
    expect(firstKey).toBe(`flow:${looper.id}:${made.find((s) => s.output && (s.input as { values: { subject: string } }).values.subject === HELD)!.seq + 1}`);
    // The timer was due while the process was down: the run resumes after the restart and finishes.
    const slept = await runUntil(who, sleeper.id, ['completed', 'failed'], 60_000);
    expect(slept.status).toBe('completed');
    expect(slept.steps.map((s) => `${s.node}:${s.status}`)).toEqual(['start:succeeded', 'nap:succeeded', 'mark:succeeded', 'done:succeeded']);
    expect(await tasks('Woke ')).toEqual(['Woke k1']);
    expect((await runOf(who, sleeper.id))!.nextNode).toBeNull();
  }, 300_000);
});

const ONCE = `name: once
type: autolaunched
variables:
  - { name: key, type: text, isInput: true }
  - { name: task_id, type: text, isOutput: true }
nodes:
  - { id: start, type: start }
  - { id: make, type: create_record, config: { object: task, values: { subject: "Once {!key}" }, outputVariable: task_id } }
  - { id: hold, type: wait, waitEventConfig: { eventType: signal, signal: go } }
  - { id: done, type: end }
edges:
  - { id: a, source: start, target: make }
  - { id: b, source: make, target: hold }
  - { id: c, source: hold, target: done }
`;

/** A task made, then deleted, then a wait: the delete step is the one put back. */
const ONCE_DELETE = `name: once_delete
type: autolaunched
variables:
  - { name: key, type: text, isInput: true }
  - { name: task_id, type: text }
nodes:
  - { id: start, type: start }
  - { id: make, type: create_record, config: { object: task, values: { subject: "Gone {!key}" }, outputVariable: task_id } }
  - { id: drop, type: delete_record, config: { object: task, recordId: "{!task_id}" } }
  - { id: hold, type: wait, waitEventConfig: { eventType: signal, signal: go } }
  - { id: done, type: end }
edges:
  - { id: a, source: start, target: make }
  - { id: b, source: make, target: drop }
  - { id: c, source: drop, target: hold }
  - { id: d, source: hold, target: done }
`;

for (const engine of FLOW_ENGINES) {
  /**
   * The states a crash leaves, made exactly. Between a step's effect and its commit: the run put back to
   * the step whose record was already created, its job queued again; the step runs again with the same
   * key, and the data subgraph answers with the record it made the first time. Between a commit and the
   * job after it: the sweep queues the run.
   */
  describe(`crash states: a step run again repeats no record effect; the sweep finds runs without a job (${engine})`, () => {
    let rig: RulesApp;
    beforeAll(async () => {
      rig = await startRulesApp({ engine, slug: `flow-once-${engine.replace('+', '-')}`, extra: {
        'workflows/once.flow.yaml': ONCE, 'workflows/once_delete.flow.yaml': ONCE_DELETE,
        // The same as `once`, its record nodes acting as the user who started it.
        'workflows/once_user.flow.yaml': ONCE.replace('name: once\n', 'name: once_user\nrunAs: user\n'),
      } });
    }, 120_000);
    afterAll(async () => rig?.close());

    for (const [flow, key] of [['once', 'k1'], ['once_user', 'k4']] as const) it(`runs make again at the same seq: one task, the same id (${flow})`, async () => {
      const admin = owner(rig);
      const started = await startFlow(admin, flow, { key });
      const first = await runWhen(admin, started.id, (r) => r.waitingFor?.['signal'] === 'go', 'waited');
      const made = first.steps.find((s) => s.node === 'make')!;
      const db = rig.app.data!.database;
      await db.run(`update workflow.flow_runs set status = 'running', step_seq = $2, next_node = 'make', waiting_for = null where id = $1`, [started.id, made.seq]);
      await db.run('delete from workflow.flow_steps where run_id = $1 and seq >= $2', [started.id, made.seq]);
      expect((await rig.app.flows!.runner.advance({ id: started.id, organization_id: (await rig.q<{ activeOrganization: { id: string } }>('{ activeOrganization { id } }')).activeOrganization.id }, made.seq, 'replay')).created).toBe(true);
      const again = await runWhen(admin, started.id, (r) => r.waitingFor?.['signal'] === 'go', 'waited again');
      const remade = again.steps.find((s) => s.node === 'make')!;
      expect(remade.seq).toBe(made.seq);
      expect(remade.output).toEqual(made.output);
      const { tasks } = await ok<{ tasks: { nodes: { id: string }[] } }>(admin, `{ tasks(where: { subject: { eq: "Once ${key}" } }) { nodes { id } } }`);
      expect(tasks.nodes).toEqual([{ id: (made.output as { id: string }).id }]);
    });

    it('runs a delete again at the same seq: the keyed delete answers as done (no NOT_FOUND to excuse)', async () => {
      const admin = owner(rig);
      const started = await startFlow(admin, 'once_delete', { key: 'k3' });
      const first = await runWhen(admin, started.id, (r) => r.waitingFor?.['signal'] === 'go', 'waited');
      const dropped = first.steps.find((s) => s.node === 'drop')!;
      const db = rig.app.data!.database;
      await db.run(`update workflow.flow_runs set status = 'running', step_seq = $2, next_node = 'drop', waiting_for = null where id = $1`, [started.id, dropped.seq]);
      await db.run('delete from workflow.flow_steps where run_id = $1 and seq >= $2', [started.id, dropped.seq]);
      const org = (await rig.q<{ activeOrganization: { id: string } }>('{ activeOrganization { id } }')).activeOrganization.id;
      expect((await rig.app.flows!.runner.advance({ id: started.id, organization_id: org }, dropped.seq, 'replay')).created).toBe(true);
      const again = await runWhen(admin, started.id, (r) => r.waitingFor?.['signal'] === 'go', 'waited again');
      const redone = again.steps.find((s) => s.node === 'drop')!;
      expect(redone).toMatchObject({ seq: dropped.seq, status: 'succeeded' });
      // The data subgraph found the key claimed and answered with the id: the step did not need the NOT_FOUND excuse.
      expect(redone.output).toEqual({ id: (first.steps.find((s) => s.node === 'make')!.output as { id: string }).id });
    });

    it('the sweep queues a run a crash left running without its job (here: after a signal, before its job was queued)', async () => {
      const admin = owner(rig);
      const started = await startFlow(admin, 'once', { key: 'k2' });
      const waiting = await runWhen(admin, started.id, (r) => r.waitingFor?.['signal'] === 'go', 'waited');
      const hold = waiting.steps.find((s) => s.node === 'hold')!;
      // What signalFlow commits (the wait done, the run running at the next node), a minute ago, with no job queued after.
      const db = rig.app.data!.database;
      await db.run(`update workflow.flow_runs set status = 'running', waiting_for = null, next_node = 'done', updated_at = now() - interval '1 minute' where id = $1`, [started.id]);
      await db.run(`update workflow.flow_steps set status = 'succeeded', finished_at = now() where run_id = $1 and seq = $2`, [started.id, hold.seq]);
      expect(await rig.app.flows!.sweep()).toBeGreaterThanOrEqual(1);
      const done = await runUntil(admin, started.id, ['completed', 'failed']);
      expect(done.status).toBe('completed');
      expect(done.steps.map((s) => s.node)).toEqual(['start', 'make', 'hold', 'done']);
    });
  });
}
