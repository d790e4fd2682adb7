import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '@objectos/db';
import { engines, gql } from '@objectos/testkit';
import { bare, codes, ids, ORG, R, startRegressionFixture, type Conn, type RegressionFixture, type UserName } from './security/regression-fixture.ts';

/**
 * Named regressions of the security model on the read paths, through the real gateway and data subgraph
 * in process: the leaks and oracles a randomized test could miss or that deserve a name of their own.
 */
describe.each(engines())('security regressions (read paths) on $name', (engine) => {
  let f: RegressionFixture;
  beforeAll(async () => {
    f = await startRegressionFixture(engine);
  }, 120_000);
  afterAll(() => f?.close());
  const ask = <T = Record<string, unknown>>(user: UserName, query: string, variables?: Record<string, unknown>) => f.ask<T>(user, query, variables);
  const direct = <T = Record<string, unknown>>(user: UserName, query: string, variables?: Record<string, unknown>) => f.direct<T>(user, query, variables);
  const one = <T>(q: string) => f.one<T>(q);

  it('count/aggregate does not leak hidden rows', async () => {
    const cases: [UserName, string, string[]][] = [
      ['alice', 'projects', [R.p1, R.p2]], // own + sharing rule
      ['bob', 'projects', [R.p2, R.p3]], // own (p2 also by the rule, counted once)
      ['carol', 'projects', [R.p4]],
      ['dave', 'projects', [R.p1, R.p2, R.p3]], // hierarchy: workers' records, not carol's
      ['eve', 'projects', [R.p5]],
      ['alice', 'tasks', [R.t1, R.t2, R.t4]], // own + manual share
      ['carol', 'tasks', []],
    ];
    for (const [user, list, want] of cases) {
      const r = await ask<Record<string, Conn>>(user, `{ l: ${list}(first: 100) { totalCount nodes { id } pageInfo { hasNextPage } } }`);
      expect(r.errors, `${user} ${list}: ${JSON.stringify(r.errors)}`).toBeUndefined();
      expect(r.data!['l']!.totalCount, `${user} ${list} totalCount`).toBe(want.length);
      expect(ids(r.data!['l']!.nodes), `${user} ${list} nodes`).toEqual([...want].sort());
      // Count alone, and a first page: neither reveals the hidden rows.
      const c = await ask<Record<string, Conn>>(user, `{ l: ${list} { totalCount } p: ${list}(first: ${Math.max(want.length, 1)}) { totalCount pageInfo { hasNextPage } } }`);
      expect(c.data!['l']!.totalCount, `${user} ${list} count only`).toBe(want.length);
      expect(c.data!['p']!.totalCount).toBe(want.length);
      expect(c.data!['p']!.pageInfo!.hasNextPage, `${user} ${list}: no next page made of hidden rows`).toBe(false);
    }
    // With a where: only visible rows matching it are counted (p3 matches budget < 100 but is hidden from alice).
    const filtered: [string, number][] = [
      ['budget: { lt: 100 }', 1], // p1 (p3, p4 hidden)
      ['budget: { gte: 100 }', 1], // p2 (p5 in the other organization)
      ['name: { startsWith: "P" }', 2],
      ['id: { in: ["__P3__", "__P4__", "__P5__"] }', 0],
      ['or: [{ id: { eq: "__P3__" } }, { budget: { gt: 0 } }]', 2],
    ];
    for (const [where, n] of filtered) {
      const w = where.replace('__P3__', R.p3).replace('__P4__', R.p4).replace('__P5__', R.p5);
      const r = await ask<Record<string, Conn>>('alice', `{ l: projects(where: { ${w} }) { totalCount nodes { id } } }`);
      expect(r.errors, where).toBeUndefined();
      expect(r.data!['l']!.totalCount, `alice where ${where}`).toBe(n);
      expect(r.data!['l']!.nodes).toHaveLength(n);
    }
    // Offsets past the visible rows are empty, whatever the hidden rows.
    const far = await ask<Record<string, Conn>>('alice', '{ l: projects(offset: 2, first: 10) { totalCount nodes { id } } }');
    expect(far.data!['l']).toEqual({ totalCount: 2, nodes: [] });
    // Children lists of a visible parent count visible children only.
    const kids = await ask<{ project: { tasks: { id: string }[] } }>('alice', `{ project(id: "${R.p1}") { tasks { id } } }`);
    expect(ids(kids.data!.project.tasks)).toEqual([R.t4]);
  });

  it('filter on a hidden field is not an oracle', async () => {
    // The hidden field's value of a visible record: no query may tell whether it equals a guess.
    const literal = [
      `{ projects(where: { secret: { eq: "alice-secret" } }) { totalCount } }`,
      `{ projects(where: { and: [{ name: { isNull: false } }, { not: { secret: { startsWith: "a" } } }] }) { totalCount } }`,
      `{ projects(where: { or: [{ secret: { isNull: true } }] }) { nodes { id } } }`,
      `{ projects(orderBy: [{ field: SECRET }]) { nodes { id } } }`,
      `{ projects(orderBy: [{ field: NAME }, { field: SECRET, direction: DESC }]) { nodes { id } } }`,
      `{ project(id: "${R.p1}") { tasks { id } } tasks { nodes { project { id } } } projects(where: { secret: { contains: "secret" } }) { totalCount } }`,
      // Nested: a relation's where and orderBy on a hidden field of the child.
      `{ project(id: "${R.p1}") { id tasks(where: { note: { eq: "note of T4 alice under P1" } }) { id } } }`,
      `{ projects { nodes { tasks(orderBy: [{ field: NOTE }]) { id } } } }`,
      `{ tasks(where: { project: { id: { eq: "x" } } }) { totalCount } }`.replace('project: { id: { eq: "x" } }', 'note: { isNull: false }'),
    ];
    for (const q of literal) {
      const before = f.calls();
      const r = await ask('alice', q);
      expect(codes(r), q).toContain('FORBIDDEN');
      expect(r.data ?? null, q).toBeNull();
      expect(r.errors!.some((e) => /Project\.secret|Task\.note/.test(e.message)), `${q}: ${JSON.stringify(r.errors)}`).toBe(true);
      expect(f.calls() - before, `${q}: refused before the subgraph is called`).toBe(0);
    }
    // The same through variables: the gateway cannot see them at validation, the data subgraph refuses.
    const viaVariables: [string, Record<string, unknown>][] = [
      ['query($w: ProjectWhere) { projects(where: $w) { totalCount nodes { id name } } }', { w: { secret: { eq: 'alice-secret' } } }],
      ['query($w: ProjectWhere) { projects(where: $w) { totalCount nodes { id name } } }', { w: { or: [{ name: { eq: 'nope' } }, { not: { secret: { isNull: true } } }] } }],
      ['query($o: [ProjectOrderBy!]) { projects(orderBy: $o) { totalCount nodes { id name } } }', { o: [{ field: 'SECRET' }] }],
      ['query($w: ProjectWhere) { p: project(id: "' + R.p1 + '") { id tasks { id } } projects(where: $w) { nodes { id } } }', { w: { secret: { in: ['alice-secret'] } } }],
    ];
    // Nested relation arguments as variables: refused by the data subgraph, no child rows returned.
    const nested: [string, Record<string, unknown>][] = [
      ['query($w: TaskWhere) { project(id: "' + R.p1 + '") { id tasks(where: $w) { id name } } }', { w: { note: { eq: 'note of T4 alice under P1' } } }],
      ['query($o: [TaskOrderBy!]) { project(id: "' + R.p1 + '") { id tasks(orderBy: $o) { id name } } }', { o: [{ field: 'NOTE', direction: 'DESC' }] }],
      ['query($w: TaskWhere) { tasks(where: $w) { totalCount } }', { w: { and: [{ note: { startsWith: 'note of T4' } }] } }],
    ];
    for (const [q, v] of nested) {
      const r = await ask<{ project?: { tasks: unknown } | null; tasks?: unknown }>('alice', q, v);
      expect(codes(r), `${q} ${JSON.stringify(v)}: ${JSON.stringify(r)}`).toContain('FORBIDDEN');
      expect(r.errors!.some((e) => /Task\.note/.test(e.message)), JSON.stringify(r.errors)).toBe(true);
      expect(r.data?.project?.tasks ?? null).toBeNull();
      expect(JSON.stringify(r)).not.toContain('T4 alice');
    }
    for (const [q, v] of viaVariables) {
      const before = f.calls();
      const r = await ask('alice', q, v);
      expect(codes(r), `${JSON.stringify(v)}: ${JSON.stringify(r)}`).toContain('FORBIDDEN');
      expect(f.calls() - before, 'this one is decided by the data subgraph').toBeGreaterThan(0);
      expect(r.errors!.some((e) => /secret/i.test(e.message)), JSON.stringify(r.errors)).toBe(true);
      // No rows for the refused field (the response carries no projects list).
      expect((r.data as Record<string, unknown> | null)?.['projects'] ?? null, JSON.stringify(r.data)).toBeNull();
    }
    // And a filter on a variable that matches nothing must not differ from one that matches: both are refused.
    const hit = await ask('alice', 'query($w: ProjectWhere) { projects(where: $w) { totalCount } }', { w: { secret: { eq: 'alice-secret' } } });
    const miss = await ask('alice', 'query($w: ProjectWhere) { projects(where: $w) { totalCount } }', { w: { secret: { eq: 'wrong-guess' } } });
    expect(bare(hit)).toEqual(bare(miss));
    // Control: the owner, whose profile reads the field, may filter on it.
    const ok = await ask<{ projects: { totalCount: number } }>('owen', 'query($w: ProjectWhere) { projects(where: $w) { totalCount } }', { w: { secret: { eq: 'alice-secret' } } });
    expect(ok.errors).toBeUndefined();
    expect(ok.data!.projects.totalCount).toBe(1);
  });

  it('traversal from a visible child to a hidden parent', async () => {
    const r = await ask<{ tasks: { nodes: { id: string; name: string; projectId: string | null; project: { id: string; name: string } | null }[] } }>(
      'alice', '{ tasks(first: 100, orderBy: [{ field: NAME }]) { nodes { id name projectId project { id name } } } }');
    const nodes = r.data!.tasks.nodes;
    expect(ids(nodes)).toEqual([R.t1, R.t2, R.t4].sort());
    const byId = Object.fromEntries(nodes.map((n) => [n.id, n]));
    // t1 (owned) and t2 (manually shared) point at p3, which alice cannot read: null, never its name.
    expect(byId[R.t1]!.project).toBeNull();
    expect(byId[R.t2]!.project).toBeNull();
    expect(byId[R.t4]!.project).toEqual({ id: R.p1, name: 'P1 alice' });
    expect(JSON.stringify(r.data)).not.toContain('P3 bob small');
    const forbidden = (r.errors ?? []).filter((e) => e.extensions?.['code'] === 'FORBIDDEN');
    expect(forbidden, JSON.stringify(r.errors)).toHaveLength(2);
    const idx = (id: string) => nodes.findIndex((n) => n.id === id);
    expect(forbidden.map((e) => e.path).sort()).toEqual([
      ['tasks', 'nodes', idx(R.t1), 'project'],
      ['tasks', 'nodes', idx(R.t2), 'project'],
    ].sort());
    for (const e of forbidden) expect(e.message).toMatch(/Task\.project/);
    // Single record, same answer.
    const single = await ask<{ task: { project: unknown } }>('alice', `{ task(id: "${R.t2}") { id project { id } } }`);
    expect(single.data!.task).toEqual({ id: R.t2, project: null });
    expect(codes(single)).toEqual(['FORBIDDEN']);
    expect(single.errors![0]!.path).toEqual(['task', 'project']);
    // The hidden parent is not reachable by its id either.
    expect((await ask('alice', `{ project(id: "${R.p3}") { id } }`)).data).toEqual({ project: null });
    // Nor can a new child point at it: the refusal is the one for an id that does not exist.
    const random = randomUUID();
    const toHidden = await ask('alice', `mutation { createTask(input: { name: "C-ref", projectId: "${R.p3}" }) { id } }`);
    const toMissing = await ask('alice', `mutation { createTask(input: { name: "C-ref", projectId: "${random}" }) { id } }`);
    expect(toHidden.errors, JSON.stringify(toHidden)).toBeDefined();
    expect(bare(toHidden, R.p3)).toEqual(bare(toMissing, random));
    const moved = await ask('alice', `mutation { updateTask(id: "${R.t4}", input: { projectId: "${R.p3}" }) { id } }`);
    expect(bare(moved, R.p3)).toEqual(bare(await ask('alice', `mutation { updateTask(id: "${R.t4}", input: { projectId: "${random}" }) { id } }`), random));
    const written = await queryRows<{ n: string | number }>(f.db.db, sql`select count(*) as n from task where name = 'C-ref' or (id = ${R.t4} and project_id <> ${R.p1})`);
    expect(Number(written[0]!.n)).toBe(0);
  });

  it('traversal from a parent to hidden children', async () => {
    const r = await ask<{ projects: { nodes: { id: string; tasks: { id: string; name: string }[] }[] } }>('alice', '{ projects(first: 100) { nodes { id tasks { id name } } } }');
    expect(r.errors).toBeUndefined();
    const byId = Object.fromEntries(r.data!.projects.nodes.map((n) => [n.id, n]));
    expect(ids(byId[R.p1]!.tasks)).toEqual([R.t4]); // t3 (bob's) hidden
    expect(byId[R.p2]!.tasks).toEqual([]);
    // dave (boss) sees both tasks under p1 and the two under p3.
    const d = await ask<{ projects: { nodes: { id: string; tasks: { id: string }[] }[] } }>('dave', '{ projects(first: 100) { nodes { id tasks { id } } } }');
    const dById = Object.fromEntries(d.data!.projects.nodes.map((n) => [n.id, n]));
    expect(ids(dById[R.p1]!.tasks)).toEqual([R.t3, R.t4].sort());
    expect(ids(dById[R.p3]!.tasks)).toEqual([R.t1, R.t2].sort());
    // Children filtered and counted by a where on the parent relation: only visible ones.
    const w = await ask<{ tasks: Conn }>('alice', `{ tasks(where: { projectId: { eq: "${R.p1}" } }) { totalCount nodes { id } } }`);
    expect(w.data!.tasks.totalCount).toBe(1);
    const hiddenParent = await ask<{ tasks: Conn }>('alice', `{ tasks(where: { projectId: { eq: "${R.p3}" } }) { totalCount nodes { id } } }`);
    expect(ids(hiddenParent.data!.tasks.nodes)).toEqual([R.t1, R.t2].sort());
  });

  it('_entities with arbitrary representations', async () => {
    const Q = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Project { id name budget secret } ... on Task { id name note projectId } } }';
    const reps = [
      { __typename: 'Project', id: R.p1 }, // visible
      { __typename: 'Project', id: R.p3 }, // hidden
      { __typename: 'Project', id: R.p4 }, // hidden
      { __typename: 'Project', id: R.p5 }, // other tenant, owned by the same user id
      { __typename: 'Task', id: R.t3 }, // hidden
      { __typename: 'Task', id: R.t5 }, // other tenant
      { __typename: 'Project', id: R.t4 }, // a visible task's id as a project
      { __typename: 'Project', id: randomUUID() },
      { __typename: 'Task', id: 'not-a-uuid' },
      { __typename: 'Project', id: '' },
      { __typename: 'Project', id: `${R.p3}' or '1'='1` },
      { __typename: 'Project', id: 42 },
      { __typename: 'Project', id: null },
      { __typename: 'Project' },
      { __typename: 'Project', id: [R.p3] },
      { __typename: 'Project', id: { eq: R.p3 } },
      { __typename: 'Project', id: R.p3, name: 'forged', secret: 'forged', organizationId: ORG, ownerId: 'alice' },
    ];
    const r = await direct<{ _entities: (Record<string, unknown> | null)[] }>('alice', Q, { r: reps });
    expect(r.data, JSON.stringify(r.errors)).toBeTruthy();
    const got = r.data!._entities;
    expect(got).toHaveLength(reps.length);
    // The one visible record, its hidden field masked even without the gateway's validation.
    expect(got[0]).toEqual({ id: R.p1, name: 'P1 alice', budget: 10, secret: null });
    got.slice(1).forEach((g, i) => expect(g, `representation ${JSON.stringify(reps[i + 1])}`).toBeNull());
    // A visible task through _entities: its hidden field masked too.
    const t = await direct<{ _entities: (Record<string, unknown> | null)[] }>('alice', Q, { r: [{ __typename: 'Task', id: R.t4 }, { __typename: 'Task', id: R.t2 }] });
    expect(t.data!._entities).toEqual([
      { id: R.t4, name: 'T4 alice under P1', note: null, projectId: R.p1 },
      { id: R.t2, name: 'T2 bob shared', note: null, projectId: R.p3 },
    ]);
    const text = JSON.stringify(r);
    for (const leak of ['bob-small-secret', 'carol-secret', 'other-org-secret', 'alice-secret', 'P3 bob', 'P4 carol', 'P5 other', 'T3 bob', 'T5 other', 'forged']) expect(text).not.toContain(leak);

    // eve: same user id "alice" in the other organization sees only that organization's record.
    const e = await direct<{ _entities: (Record<string, unknown> | null)[] }>('eve', Q, { r: [{ __typename: 'Project', id: R.p1 }, { __typename: 'Project', id: R.p5 }] });
    expect(e.data!._entities[0]).toBeNull();
    expect(e.data!._entities[1]).toMatchObject({ id: R.p5, name: 'P5 other org' });

    // An unknown or non-entity __typename: a coded client error naming it, never data (nor INTERNAL).
    for (const typename of ['Nope', 'AccessExplanation', 'Query', '__Schema']) {
      const u = await direct<{ _entities: unknown[] | null }>('alice', Q, { r: [{ __typename: typename, id: R.p3 }, { __typename: 'Project', id: R.p3 }] });
      expect(JSON.stringify(u)).not.toContain('bob-small-secret');
      expect(JSON.stringify(u)).not.toContain('P3 bob');
      expect(u.data?._entities ?? null, typename).toBeNull();
      expect(u.errors?.[0], typename).toMatchObject({ message: `representations[0]: "${typename}" is not an entity of this subgraph (entities: Project, Task)`, extensions: { code: 'BAD_USER_INPUT' } });
    }
    // Without a signature the subgraph answers nothing.
    const unsigned = await gql(f.dataFetch, Q, { r: [{ __typename: 'Project', id: R.p1 }] });
    expect(JSON.stringify(unsigned)).not.toContain('P1 alice');
  });

});
