import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audienceKey, signRequest, SYSTEM, type Principal } from '@objectos/principal';
import { createTestDatabase, freePort, services, spawnTs, TEST_SECRET, until, type Spawned, type TestDatabase } from '@objectos/testkit';

const FLOWS: Record<string, string> = {
  'workflows/make_task.flow.yaml': `name: make_task
type: autolaunched
variables:
  - { name: subject, type: text, isInput: true }
  - { name: task_id, type: text, isOutput: true }
nodes:
  - { id: start, type: start }
  - { id: make, type: create_record, config: { object: task, values: { subject: "{!subject}" }, outputVariable: task_id } }
  - { id: nap, type: wait, waitEventConfig: { eventType: timer, timerDuration: "+1s" } }
  - { id: done, type: end }
edges:
  - { id: a, source: start, target: make }
  - { id: b, source: make, target: nap }
  - { id: c, source: nap, target: done }
`,
  'workflows/on_case.flow.yaml': `name: on_case
type: record_change
trigger: { object: case, on: create }
variables:
  - { name: record, type: record, object: case, isInput: true }
nodes:
  - { id: start, type: start }
  - { id: make, type: create_record, config: { object: task, values: { subject: "For {!record.subject}" } } }
  - { id: done, type: end }
edges:
  - { id: a, source: start, target: make }
  - { id: b, source: make, target: done }
`,
};

const ORG = 'org-flow-services';
const member: Principal = { ...SYSTEM, kind: 'user', userId: 'user-flow-services', organizationId: ORG, roles: ['owner'], permissionSets: [], sessionId: 's1' };

/**
 * Services mode: the data subgraph, the automation worker and the workflow subgraph as separate
 * processes on one PostgreSQL (pg-boss, no Redis). The workflow process works the flow queues itself; a
 * record change reaches it through the worker's rule engine (`workflow.flow_start`).
 */
describe.skipIf(!services.postgres)('flows in services mode (separate processes)', () => {
  let db: TestDatabase;
  let dir: string;
  const running: Spawned[] = [];
  const spawn = (entry: string, env: Record<string, string>) => {
    const p = spawnTs(entry, { REDIS_URL: '', NODE_ENV: 'development', OBJECTOS_SECRET: TEST_SECRET, DATABASE_URL: db.url, OBJECTOS_METADATA: join(dir, 'metadata'), ...env });
    running.push(p);
    return p;
  };
  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await mkdtemp(join(tmpdir(), 'objectos-flow-services-'));
    await cp('metadata', join(dir, 'metadata'), { recursive: true });
    await mkdir(join(dir, 'metadata', 'workflows'), { recursive: true });
    for (const [file, text] of Object.entries(FLOWS)) await writeFile(join(dir, 'metadata', file), text);
  });
  afterAll(async () => {
    await Promise.all(running.map((p) => p.kill('SIGKILL')));
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('startFlow on the workflow process runs the flow (its record node through DATA_URL); a created record starts a record_change flow', async () => {
    const [dataPort, wfPort, workerPort] = [await freePort(), await freePort(), await freePort()];
    const data = spawn('subgraphs/data/src/main.ts', { PORT: String(dataPort) });
    await data.waitFor(/data subgraph listening on/, 90_000);
    const dataUrl = `http://127.0.0.1:${dataPort}/graphql`;
    const workflow = spawn('subgraphs/workflow/src/main.ts', { PORT: String(wfPort), DATA_URL: dataUrl });
    const worker = spawn('subgraphs/automation/src/worker.ts', { PORT: String(workerPort), DATA_URL: dataUrl });
    await Promise.all([workflow.waitFor(/workflow subgraph listening on/, 90_000), worker.waitFor(/worker running pg-boss queues .*workflow\.flow_start/, 90_000)]);
    const call = async <T>(port: number, audience: string, query: string, variables: Record<string, unknown> = {}): Promise<T> => {
      const request = new Request(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
      const r = (await (await fetch(await signRequest(request, audienceKey(TEST_SECRET, audience), audience, member))).json()) as { data?: T; errors?: unknown[] };
      if (r.errors?.length) throw new Error(JSON.stringify(r.errors));
      return r.data!;
    };
    const RUN = 'query($id: ID!) { flowRun(id: $id) { status outputs error steps { node status } } }';
    type RunView = { flowRun: { status: string; outputs: { task_id: string } | null; error: string | null; steps: { node: string; status: string }[] } | null };

    const started = await call<{ startFlow: { id: string } }>(wfPort, 'workflow', 'mutation { startFlow(name: "make_task", inputs: { subject: "From services" }) { id } }');
    const done = await until(() => call<RunView>(wfPort, 'workflow', RUN, { id: started.startFlow.id }), (r) => r.flowRun?.status === 'completed' || r.flowRun?.status === 'failed', 60_000);
    expect(done.flowRun).toMatchObject({ status: 'completed', error: null });
    expect(done.flowRun!.steps.map((s) => s.node)).toEqual(['start', 'make', 'nap', 'done']);
    const task = await call<{ task: { subject: string } | null }>(dataPort, 'data', 'query($id: ID!) { task(id: $id) { subject } }', { id: done.flowRun!.outputs!.task_id });
    expect(task.task).toEqual({ subject: 'From services' });

    await call(dataPort, 'data', 'mutation { createCase(input: { subject: "Services case" }) { id } }');
    const runs = await until(() => call<{ flowRuns: { id: string; status: string }[] }>(wfPort, 'workflow', '{ flowRuns(where: { flow: "on_case" }) { id status } }'),
      (r) => r.flowRuns.some((x) => x.status === 'completed'), 60_000);
    expect(runs.flowRuns).toHaveLength(1);
    const made = await call<{ tasks: { totalCount: number } }>(dataPort, 'data', '{ tasks(where: { subject: { eq: "For Services case" } }) { totalCount } }');
    expect(made.tasks.totalCount).toBe(1);
  }, 240_000);
});
