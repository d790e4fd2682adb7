import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '@objectos/testkit';
import { codes, R, startRegressionFixture, type RegressionFixture, type UserName } from './security/regression-fixture.ts';
import { subscribeSse } from '@objectos/testkit';

type Change = { eventId: string; op: string; changedFields: string[]; record: Record<string, unknown> | null; previous: Record<string, unknown> | null; at: string };
type Got = { projectChanged?: Change; taskChanged?: Change };

const PROJECT = 'subscription($w: ProjectWhere, $id: ID, $ops: [ChangeOperation!]) { projectChanged(where: $w, id: $id, operations: $ops) { eventId op changedFields at record { id name budget } previous { id name budget } } }';
const TASK = 'subscription { taskChanged { op changedFields record { id name } previous { id name } } }';

/**
 * Live change events end to end (mutation → outbox → relay → data subgraph → gateway → client), on the
 * security regression organization: alice and bob are workers (alice cannot read project.secret or
 * task.note), dave is their boss, carol is in group team, owen owns the organization, eve is in another.
 */
describe.each(engines())('subscriptions on %s', (engine) => {
  let f: RegressionFixture;
  beforeAll(async () => {
    f = await startRegressionFixture(engine);
  }, 60_000);
  afterAll(() => f?.close());

  /** Subscribes, and returns once the subscription is live on the data subgraph (or was answered: refused). */
  const watch = async (user: UserName, query = PROJECT, variables?: Record<string, unknown>) => {
    const before = f.data.hub.size();
    const s = await subscribeSse<Got>(f.as(user), query, variables);
    const deadline = Date.now() + 10_000;
    while (f.data.hub.size() <= before && s.results.length === 0 && !s.completed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return s;
  };
  const write = async <T = Record<string, unknown>>(user: UserName, query: string, variables?: Record<string, unknown>): Promise<T> => {
    const r = await f.ask<T>(user, query, variables);
    expect(r.errors).toBeUndefined();
    return r.data!;
  };
  /** Every change committed so far has been published; subscribers' checks then take a moment. */
  const published = () => f.data.relay.drain();
  const ops = (rs: { data?: Got | null }[]) => rs.map((r) => r.data?.projectChanged?.op ?? r.data?.taskChanged?.op);

  it('delivers create, update and delete with both states and the changed fields; a no-op update is no event', async () => {
    const s = await watch('owen');
    try {
      const { createProject: p } = await write<{ createProject: { id: string } }>('owen', 'mutation { createProject(input: { name: "Live", budget: 1 }) { id } }');
      await write('owen', 'mutation($id: ID!) { updateProject(id: $id, input: { budget: 2 }) { id } }', { id: p.id });
      await write('owen', 'mutation($id: ID!) { updateProject(id: $id, input: { budget: 2 }) { id } }', { id: p.id });
      await write('owen', 'mutation($id: ID!) { deleteProject(id: $id) { id } }', { id: p.id });
      await published();
      const [c, u, d] = (await s.until(3)).map((r) => r.data!.projectChanged!);
      expect([c!.op, u!.op, d!.op]).toEqual(['CREATED', 'UPDATED', 'DELETED']);
      expect(c).toMatchObject({ record: { id: p.id, name: 'Live', budget: 1 }, previous: null });
      expect(c!.changedFields).toEqual(expect.arrayContaining(['name', 'budget', 'secret']));
      expect(u).toMatchObject({ changedFields: ['budget'], record: { budget: 2 }, previous: { budget: 1 } });
      expect(d).toMatchObject({ record: null, previous: { id: p.id, budget: 2 } });
      expect(Number(c!.eventId)).toBeLessThan(Number(u!.eventId));
      expect(Number(u!.eventId)).toBeLessThan(Number(d!.eventId));
      expect(Date.parse(d!.at)).toBeGreaterThan(Date.now() - 60_000);
      // The second update changed nothing: no fourth event.
      expect(await s.settle(300)).toHaveLength(3);
    } finally {
      s.close();
    }
  });

  it('checks each event against each subscriber: owner, hierarchy, sharing rule, tenant', async () => {
    const subs: Record<string, Awaited<ReturnType<typeof watch>>> = {};
    for (const u of ['alice', 'bob', 'carol', 'dave', 'eve'] as const) subs[u] = await watch(u);
    try {
      // bob's small project: bob (owner) and dave (boss of worker) see it; alice (a peer) does not.
      const { createProject: p } = await write<{ createProject: { id: string } }>('bob', 'mutation { createProject(input: { name: "Bob live", budget: 10 }) { id } }');
      // Over 1000 the big_projects rule shares it with the worker role: alice sees the update, without the state before.
      await write('bob', 'mutation($id: ID!) { updateProject(id: $id, input: { budget: 5000 }) { id } }', { id: p.id });
      // Back under: alice no longer sees it: she is told it left her view (its id, no values).
      await write('bob', 'mutation($id: ID!) { updateProject(id: $id, input: { budget: 20 }) { id } }', { id: p.id });
      await published();
      await subs.bob!.until(3);
      await subs.dave!.until(3);
      await subs.alice!.until(2);
      const alice = await subs.alice!.settle(300);
      expect(ops(subs.bob!.results)).toEqual(['CREATED', 'UPDATED', 'UPDATED']);
      expect(ops(subs.dave!.results)).toEqual(['CREATED', 'UPDATED', 'UPDATED']);
      expect(alice.map((r) => r.data!.projectChanged)).toEqual([
        expect.objectContaining({ op: 'UPDATED', record: { id: p.id, name: 'Bob live', budget: 5000 }, previous: null }),
        expect.objectContaining({ op: 'LEFT', record: null, previous: null, changedFields: [] }),
      ]);
      expect(subs.carol!.results).toEqual([]);
      expect(subs.eve!.results).toEqual([]);
    } finally {
      Object.values(subs).forEach((s) => s.close());
    }
  });

  it('never delivers a field the subscriber cannot read: not selectable, null when asked directly, absent from changedFields; a change of such fields only is no event for them', async () => {
    const asked = await watch('alice', 'subscription { projectChanged { record { secret } } }');
    await asked.until(1);
    expect(asked.results[0]?.errors?.[0]?.message).toMatch(/Not allowed to read Project\.secret/);
    expect(codes(asked.results[0]!)).toEqual(['FORBIDDEN']);
    const filtered = await watch('alice', 'subscription { projectChanged(where: { secret: { eq: "x" } }) { op } }');
    await filtered.until(1);
    expect(codes(filtered.results[0]!)).toEqual(['FORBIDDEN']);
    const s = await watch('alice');
    const owner = await watch('owen', 'subscription { projectChanged { changedFields } }');
    // Around the gateway (signed as alice), the data subgraph itself nulls the field.
    const direct = await subscribeSse<Got>(f.signed('alice'), 'subscription { projectChanged { changedFields record { id secret } } }');
    try {
      await write('owen', 'mutation($id: ID!) { updateProject(id: $id, input: { secret: "new secret" }) { id } }', { id: R.p1 });
      await write('owen', 'mutation($id: ID!) { updateProject(id: $id, input: { secret: "newer", name: "P1 renamed" }) { id } }', { id: R.p1 });
      await published();
      // Whoever reads the field hears of both changes; alice only of the one with a field she reads.
      expect((await owner.until(2)).map((r) => r.data!.projectChanged!.changedFields)).toEqual([['secret'], ['name', 'secret']]);
      await s.until(1);
      await direct.until(1);
      await s.settle(300);
      expect(s.results.map((r) => r.data!.projectChanged!.changedFields)).toEqual([['name']]);
      const d = direct.results.map((r) => r.data!.projectChanged!);
      expect(d.map((x) => x.record!['secret'])).toEqual([null]);
      expect(d.map((x) => x.changedFields)).toEqual([['name']]);
      expect(JSON.stringify(direct.results)).not.toContain('newer');
    } finally {
      s.close();
      owner.close();
      direct.close();
    }
  });

  it('filters by where (also telling when a record leaves it), id and operations; bad filters are refused before the stream starts', async () => {
    const big = await watch('owen', PROJECT, { w: { budget: { gte: 100 } } });
    const one = await watch('owen', PROJECT, { id: R.p4 });
    const deletes = await watch('owen', PROJECT, { ops: ['DELETED'] });
    try {
      const { createProject: p } = await write<{ createProject: { id: string } }>('owen', 'mutation { createProject(input: { name: "Filter", budget: 50 }) { id } }');
      await write('owen', 'mutation($id: ID!) { updateProject(id: $id, input: { budget: 500 }) { id } }', { id: p.id });
      await write('owen', 'mutation($id: ID!) { updateProject(id: $id, input: { budget: 5 }) { id } }', { id: p.id });
      await write('owen', 'mutation($id: ID!) { updateProject(id: $id, input: { budget: 7 }) { id } }', { id: p.id });
      await write('owen', 'mutation($id: ID!) { updateProject(id: $id, input: { name: "P4 seen" }) { id } }', { id: R.p4 });
      await write('owen', 'mutation($id: ID!) { deleteProject(id: $id) { id } }', { id: p.id });
      await published();
      // Entered (500), left (5): the move to 7 and the create at 50 never matched.
      const entered = (await big.until(2)).map((r) => r.data!.projectChanged!);
      expect(entered.map((c) => [c.op, c.record?.['budget']])).toEqual([['UPDATED', 500], ['UPDATED', 5]]);
      expect((await one.until(1)).map((r) => r.data!.projectChanged!.record!['name'])).toEqual(['P4 seen']);
      expect(ops(await deletes.until(1))).toEqual(['DELETED']);
      await big.settle(300);
      expect(big.results).toHaveLength(2);
      expect(one.results).toHaveLength(1);
      expect(deletes.results).toHaveLength(1);
    } finally {
      [big, one, deletes].forEach((s) => s.close());
    }
    const bad = await watch('owen', PROJECT, { id: 'not-an-id' });
    await bad.until(1);
    expect(codes(bad.results[0]!)).toEqual(['BAD_USER_INPUT']);
    const badOp = await watch('owen', 'subscription { projectChanged(where: { budget: { contains: "x" } }) { op } }');
    await badOp.until(1);
    expect(codes(badOp.results[0]!)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  });

  it('a manual share is an ENTERED event and starts delivery; its revocation is a LEFT event and stops it', async () => {
    const s = await watch('alice', TASK);
    try {
      const rename = (name: string) => write('owen', 'mutation($id: ID!, $n: String!) { updateTask(id: $id, input: { name: $n }) { id } }', { id: R.t3, n: name });
      await rename('T3 before share');
      await published();
      expect(await s.settle(300)).toEqual([]);
      const { shareRecord } = await write<{ shareRecord: { id: string } }>('owen', `mutation { shareRecord(input: { object: "task", recordId: "${R.t3}", sharedWithType: USER, sharedWith: "alice", accessLevel: READ }) { id } }`);
      await rename('T3 shared');
      await published();
      const seen = () => s.results.map((r) => [r.data!.taskChanged!.op, r.data!.taskChanged!.record?.['name'] ?? null]);
      await s.until(2);
      expect(seen()).toEqual([['ENTERED', 'T3 before share'], ['UPDATED', 'T3 shared']]);
      await write('owen', 'mutation($id: ID!) { unshareRecord(id: $id) }', { id: shareRecord.id });
      await rename('T3 after revocation');
      await published();
      await s.until(3);
      await s.settle(400);
      expect(seen()).toEqual([['ENTERED', 'T3 before share'], ['UPDATED', 'T3 shared'], ['LEFT', null]]);
    } finally {
      s.close();
    }
  });

  it('tells subscribers about records the database changes with a delete (lookup set_null)', async () => {
    const { createProject: p } = await write<{ createProject: { id: string } }>('owen', 'mutation { createProject(input: { name: "Doomed" }) { id } }');
    const { a, b } = await write<{ a: { id: string }; b: { id: string } }>('owen',
      'mutation($p: ID!) { a: createTask(input: { name: "Orphan A", projectId: $p }) { id } b: createTask(input: { name: "Orphan B", projectId: $p }) { id } }', { p: p.id });
    await published();
    const s = await watch('owen', 'subscription { taskChanged { op changedFields record { id projectId } previous { projectId } } }');
    try {
      await write('owen', 'mutation($id: ID!) { deleteProject(id: $id) { id } }', { id: p.id });
      await published();
      const got = (await s.until(2)).map((r) => r.data!.taskChanged!);
      expect(got.map((c) => [c.op, c.record!['id'], c.record!['projectId'], c.previous!['projectId'], c.changedFields]).sort()).toEqual(
        [['UPDATED', a.id, null, p.id, ['projectId']], ['UPDATED', b.id, null, p.id, ['projectId']]].sort());
    } finally {
      s.close();
    }
  });

  it('ends the subscription on the data subgraph when the client goes away', async () => {
    const drained = async () => {
      const deadline = Date.now() + 5_000;
      while (f.data.hub.size() !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      return f.data.hub.size();
    };
    // Every subscription of the tests above was closed by its client.
    expect(await drained()).toBe(0);
    const subs = [await watch('owen'), await watch('alice'), await watch('bob', TASK)];
    const deadline = Date.now() + 5_000;
    while (f.data.hub.size() < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(f.data.hub.size()).toBe(3);
    subs.forEach((s) => s.close());
    expect(await drained()).toBe(0);
  });
});
