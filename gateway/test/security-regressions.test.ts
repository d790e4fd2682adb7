import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, queryRows, type Database } from '@objectos/db';
import { createDataSubgraph, type DataSubgraph } from '@objectos/data-subgraph';
import { securityNamesOf } from '@objectos/identity-subgraph';
import { loadMetadata, parseMetadata, type MetadataSource } from '@objectos/metadata';
import type { Principal } from '@objectos/principal';
import { engines, gql, signedFetch, TEST_SECRET, type EngineHandle, type GraphQLResult } from '@objectos/testkit';
import { createGateway, type Gateway } from '../src/index.ts';
import { PASSWORD, startSecureStack, type SecureStack } from './secure-stack.ts';
import { METADATA } from './stack.ts';

/**
 * Named regressions of the security model, each through the real gateway and data subgraph in process:
 * the leaks and oracles a randomized test could miss or that deserve a name of their own.
 */

const FILES: Record<string, string> = {
  'project.object.yaml': 'name: project\nsharingModel: private\nfields:\n  name: { type: text }\n  budget: { type: number }\n  secret: { type: text }\n',
  'task.object.yaml': 'name: task\nsharingModel: private\nfields:\n  name: { type: text }\n  note: { type: text }\n  project: { type: lookup, reference: project }\n',
  'boss.role.yaml': 'name: boss\n',
  'worker.role.yaml': 'name: worker\nparent: boss\n',
  'team.group.yaml': 'name: team\n',
  'member.permission.yaml': `name: member_profile
isProfile: true
defaultFor: [member]
objects:
  project: { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: true }
  task: { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: true }
fields:
  project.secret: { readable: false }
  task.note: { readable: false }
`,
  'admin.permission.yaml': `name: admin_profile
isProfile: true
defaultFor: [owner, admin]
objects:
  project: { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: true, viewAllRecords: true, modifyAllRecords: true }
  task: { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: true, viewAllRecords: true, modifyAllRecords: true }
`,
  'big.sharing.yaml': 'name: big_projects\nobject: project\ntype: criteria\ncondition: "budget >= 1000"\naccessLevel: read\nsharedWith: { type: role, value: worker }\n',
};
const SOURCES: MetadataSource[] = Object.entries(FILES).map(([file, text]) => ({ file, text }));

const ORG = `org-a-${randomUUID()}`;
const OTHER_ORG = `org-b-${randomUUID()}`;

type UserName = 'alice' | 'bob' | 'carol' | 'dave' | 'owen' | 'eve';
/** alice, bob: workers (alice with the profile assigned, bob with the org-role default); carol: no role, group team; dave: boss; owen: org owner; eve: a member of the other organization. */
const PRINCIPALS: Record<UserName, Principal> = {
  alice: { kind: 'user', userId: 'alice', organizationId: ORG, roles: ['member'], permissionSets: ['member_profile'], role: 'worker', groups: [], isAdmin: false, sessionId: null, apiKeyId: null },
  bob: { kind: 'user', userId: 'bob', organizationId: ORG, roles: ['member'], permissionSets: [], role: 'worker', groups: [], isAdmin: false, sessionId: null, apiKeyId: null },
  carol: { kind: 'user', userId: 'carol', organizationId: ORG, roles: ['member'], permissionSets: [], role: null, groups: ['team'], isAdmin: false, sessionId: null, apiKeyId: null },
  dave: { kind: 'user', userId: 'dave', organizationId: ORG, roles: ['member'], permissionSets: [], role: 'boss', groups: [], isAdmin: false, sessionId: null, apiKeyId: null },
  owen: { kind: 'user', userId: 'owen', organizationId: ORG, roles: ['owner'], permissionSets: [], role: null, groups: [], isAdmin: false, sessionId: null, apiKeyId: null },
  eve: { kind: 'user', userId: 'alice', organizationId: OTHER_ORG, roles: ['member'], permissionSets: [], role: 'worker', groups: [], isAdmin: false, sessionId: null, apiKeyId: null },
};

/** Records: ids fixed per run. */
const R = {
  p1: randomUUID(), // alice's, budget 10, secret
  p2: randomUUID(), // bob's, budget 5000: reaches alice through big_projects
  p3: randomUUID(), // bob's, budget 10: hidden from alice
  p4: randomUUID(), // carol's, budget 20
  p5: randomUUID(), // other organization, owned by "alice" (same user id, other tenant)
  t1: randomUUID(), // alice's task under p3 (hidden parent)
  t2: randomUUID(), // bob's task under p3, manually shared with alice
  t3: randomUUID(), // bob's task under p1 (hidden from alice)
  t4: randomUUID(), // alice's task under p1
  t5: randomUUID(), // other organization, owned by "alice", under p5
};

const codes = (r: GraphQLResult) => (r.errors ?? []).map((e) => e.extensions?.['code']);
/** A response without its per-request id, for comparing two answers. */
const bare = (r: GraphQLResult, ...ids: string[]): string => {
  let text = JSON.stringify({ ...r, errors: r.errors?.map(({ extensions, ...e }) => ({ ...e, extensions: { ...extensions, requestId: undefined } })) });
  for (const id of ids) text = text.replaceAll(id, 'X');
  return text;
};
const ids = (nodes: { id: string }[]) => nodes.map((n) => n.id).sort();

describe.each(engines())('security regressions on $name', (engine) => {
  let handle: EngineHandle;
  let db: Database;
  let data: DataSubgraph;
  let gateway: Gateway;
  /** GraphQL requests the gateway sent to the data subgraph. */
  let subgraphCalls = 0;

  beforeAll(async () => {
    handle = await engine.open();
    db = await connectDatabase(handle.options);
    data = await createDataSubgraph({ metadata: parseMetadata(SOURCES), database: db, secret: TEST_SECRET });
    const member = (org: string, user: string, role: string | null, sets: string[], groups: string[]) =>
      queryRows(db.db, sql`insert into security.member_access (organization_id, user_id, role, permission_sets, groups)
        values (${org}, ${user}, ${role}, ${sql.param(sets)}::text[], ${sql.param(groups)}::text[])`);
    await member(ORG, 'alice', 'worker', ['member_profile'], []);
    await member(ORG, 'bob', 'worker', [], []);
    await member(ORG, 'carol', null, [], ['team']);
    await member(ORG, 'dave', 'boss', [], []);
    await member(OTHER_ORG, 'alice', 'worker', [], []);
    const project = (id: string, name: string, budget: number, secret: string, org: string, owner: string) =>
      queryRows(db.db, sql`insert into project (id, name, budget, secret, organization_id, owner_id) values (${id}, ${name}, ${budget}, ${secret}, ${org}, ${owner})`);
    const task = (id: string, name: string, projectId: string, org: string, owner: string) =>
      queryRows(db.db, sql`insert into task (id, name, note, project_id, organization_id, owner_id) values (${id}, ${name}, ${`note of ${name}`}, ${projectId}, ${org}, ${owner})`);
    await project(R.p1, 'P1 alice', 10, 'alice-secret', ORG, 'alice');
    await project(R.p2, 'P2 bob big', 5000, 'bob-big-secret', ORG, 'bob');
    await project(R.p3, 'P3 bob small', 10, 'bob-small-secret', ORG, 'bob');
    await project(R.p4, 'P4 carol', 20, 'carol-secret', ORG, 'carol');
    await project(R.p5, 'P5 other org', 9999, 'other-org-secret', OTHER_ORG, 'alice');
    await task(R.t1, 'T1 alice under hidden', R.p3, ORG, 'alice');
    await task(R.t2, 'T2 bob shared', R.p3, ORG, 'bob');
    await task(R.t3, 'T3 bob under P1', R.p1, ORG, 'bob');
    await task(R.t4, 'T4 alice under P1', R.p1, ORG, 'alice');
    await task(R.t5, 'T5 other org', R.p5, OTHER_ORG, 'alice');
    await queryRows(db.db, sql`insert into security.record_share (organization_id, object, record_id, shared_with_type, shared_with, access_level)
      values (${ORG}, 'task', ${R.t2}, 'user', 'alice', 'read')`);

    gateway = await createGateway({
      subgraphs: [{
        name: 'data', url: 'http://data.test/graphql', sdl: data.sdl,
        fetch: (r) => {
          if (r.method === 'POST' && new URL(r.url).pathname === '/graphql') subgraphCalls++;
          return data.fetch(r);
        },
      }],
      auth: {
        secret: TEST_SECRET,
        resolve: async (c) => {
          const name = String((c as Record<string, string>)['authorization'] ?? '').replace(/^Bearer /, '') as UserName;
          const principal = PRINCIPALS[name];
          if (!principal) throw new Error(`test: unknown user ${name}`);
          return { principal };
        },
      },
    });
  }, 120_000);

  afterAll(async () => {
    await gateway?.dispose();
    await data?.dispose();
    await db?.close();
    await handle?.cleanup();
  });

  const as = (user: UserName) => (req: Request) => {
    const h = new Headers(req.headers);
    h.set('authorization', `Bearer ${user}`);
    return gateway.fetch(new Request(req, { headers: h }));
  };
  const ask = <T = Record<string, unknown>>(user: UserName, query: string, variables?: Record<string, unknown>) => gql<T>(as(user), query, variables);
  const direct = <T = Record<string, unknown>>(user: UserName, query: string, variables?: Record<string, unknown>) =>
    gql<T>(signedFetch(data.fetch, PRINCIPALS[user]), query, variables);
  const one = async <T>(q: string): Promise<T> => (await queryRows<T>(db.db, sql.raw(q)))[0]!;

  type Conn = { totalCount: number; nodes: { id: string }[]; pageInfo?: { hasNextPage: boolean } };

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
      const before = subgraphCalls;
      const r = await ask('alice', q);
      expect(codes(r), q).toContain('FORBIDDEN');
      expect(r.data ?? null, q).toBeNull();
      expect(r.errors!.some((e) => /Project\.secret|Task\.note/.test(e.message)), `${q}: ${JSON.stringify(r.errors)}`).toBe(true);
      expect(subgraphCalls - before, `${q}: refused before the subgraph is called`).toBe(0);
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
      const before = subgraphCalls;
      const r = await ask('alice', q, v);
      expect(codes(r), `${JSON.stringify(v)}: ${JSON.stringify(r)}`).toContain('FORBIDDEN');
      expect(subgraphCalls - before, 'this one is decided by the data subgraph').toBeGreaterThan(0);
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
    const written = await queryRows<{ n: string | number }>(db.db, sql`select count(*) as n from task where name = 'C-ref' or (id = ${R.t4} and project_id <> ${R.p1})`);
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

    // An unknown or non-entity __typename: a clean error, never data.
    for (const typename of ['Nope', 'AccessExplanation', 'Query', '__Schema']) {
      const u = await direct<{ _entities: unknown[] | null }>('alice', Q, { r: [{ __typename: typename, id: R.p3 }, { __typename: 'Project', id: R.p3 }] });
      expect(JSON.stringify(u)).not.toContain('bob-small-secret');
      expect(JSON.stringify(u)).not.toContain('P3 bob');
      const entities = u.data?._entities ?? null;
      if (entities !== null) expect(entities.every((x) => x === null), `${typename}: ${JSON.stringify(u)}`).toBe(true);
      else expect(u.errors?.length, `${typename}: an error explains the refusal`).toBeGreaterThan(0);
    }
    // Without a signature the subgraph answers nothing.
    const unsigned = await gql(data.fetch, Q, { r: [{ __typename: 'Project', id: R.p1 }] });
    expect(JSON.stringify(unsigned)).not.toContain('P1 alice');
  });

  it('field security on mutation responses', async () => {
    const count = async (name: string) => Number((await one<{ n: string | number }>(`select count(*) as n from project where name = '${name}'`)).n);
    // Create without the hidden field: fine; the response carries no value for it.
    const created = await ask<{ createProject: { id: string; name: string; budget: number } }>('alice', 'mutation { createProject(input: { name: "E1", budget: 3 }) { id name budget } }');
    expect(created.errors).toBeUndefined();
    expect(created.data!.createProject).toMatchObject({ name: 'E1', budget: 3 });
    const id = created.data!.createProject.id;
    // The owner sets the hidden field; alice's later mutations never return it.
    await queryRows(db.db, sql`update project set secret = 'e1-secret' where id = ${id}`);
    const updated = await ask<{ updateProject: { id: string; name: string } }>('alice', `mutation { updateProject(id: "${id}", input: { name: "E1b" }) { id name } }`);
    expect(updated.errors).toBeUndefined();
    expect(updated.data!.updateProject).toEqual({ id, name: 'E1b' });

    // Selecting the hidden field in a mutation response is refused, and the mutation does not run.
    const before = subgraphCalls;
    const sel = await ask('alice', 'mutation { createProject(input: { name: "E2" }) { id secret } }');
    expect(codes(sel)).toContain('FORBIDDEN');
    expect(sel.data ?? null).toBeNull();
    expect(sel.errors![0]!.message).toMatch(/Project\.secret/);
    expect(subgraphCalls).toBe(before);
    expect(await count('E2')).toBe(0);
    const selUpdate = await ask('alice', `mutation { updateProject(id: "${id}", input: { name: "E1c" }) { id secret } }`);
    expect(codes(selUpdate)).toContain('FORBIDDEN');
    expect(JSON.stringify(selUpdate)).not.toContain('e1-secret');
    expect((await one<{ name: string }>(`select name from project where id = '${id}'`)).name).toBe('E1b');
    // Straight to the subgraph (no gateway validation): the value is masked in the response.
    const d = await direct<{ updateProject: { id: string; secret: string | null } }>('alice', `mutation { updateProject(id: "${id}", input: { budget: 4 }) { id secret } }`);
    expect(JSON.stringify(d)).not.toContain('e1-secret');
    if (d.data?.updateProject) expect(d.data.updateProject.secret).toBeNull();
    else expect(codes(d)).toContain('FORBIDDEN');
    const dc = await direct<{ createProject: { secret: string | null } | null }>('alice', 'mutation { createProject(input: { name: "E3" }) { id secret } }');
    if (dc.data?.createProject) expect(dc.data.createProject.secret).toBeNull();

    // Writing the hidden field is refused, naming it, and nothing is written.
    const writes: [string, Record<string, unknown>][] = [
      ['mutation { createProject(input: { name: "E4", secret: "mine" }) { id name } }', {}],
      ['mutation($i: ProjectCreateInput!) { createProject(input: $i) { id name } }', { i: { name: 'E4', secret: 'mine' } }],
      [`mutation { updateProject(id: "${id}", input: { name: "E5", secret: "overwritten" }) { id name } }`, {}],
      [`mutation($i: ProjectUpdateInput!) { updateProject(id: "${id}", input: $i) { id name } }`, { i: { secret: null } }],
    ];
    for (const [q, v] of writes) {
      const w = await ask('alice', q, v);
      expect(codes(w), `${q} ${JSON.stringify(v)}: ${JSON.stringify(w)}`).toContain('FORBIDDEN');
      expect(w.errors!.find((e) => e.extensions?.['code'] === 'FORBIDDEN')!.message).toMatch(/Project\.secret/);
    }
    expect(await count('E4')).toBe(0);
    expect(await count('E5')).toBe(0);
    expect(await one<{ name: string; secret: string | null }>(`select name, secret from project where id = '${id}'`)).toEqual({ name: 'E1b', secret: 'e1-secret' });
  });

  it('explainAccess', async () => {
    const FIELDS = 'object recordId field userId allowed read edit delete fieldReadable fieldEditable profile permissionSets role reasons { layer rule access effect }';
    type Explanation = { allowed: boolean; read: boolean; edit: boolean; delete: boolean; fieldReadable: boolean | null; fieldEditable: boolean | null; profile: string | null; permissionSets: string[]; role: string | null; recordId: string; userId: string; reasons: { layer: string; rule: string; access: string; effect: string }[] };
    const explain = async (user: UserName, id: string, extra = '') => {
      const r = await ask<{ explainAccess: Explanation }>(user, `{ explainAccess(object: "project", id: "${id}"${extra}) { ${FIELDS} } }`);
      expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
      return r.data!.explainAccess;
    };
    const grants = (x: Explanation, access = 'read') => x.reasons.filter((r) => r.effect === 'grants' && r.access === access);

    const own = await explain('alice', R.p1);
    expect(own).toMatchObject({ allowed: true, read: true, edit: true, delete: true, profile: 'member_profile', permissionSets: ['member_profile'], role: 'worker', userId: 'alice' });
    expect(grants(own)).toContainEqual({ layer: 'owner', rule: 'record owner', access: 'read', effect: 'grants' });

    const shared = await explain('alice', R.p2);
    expect(shared).toMatchObject({ allowed: true, read: true, edit: false });
    expect(grants(shared).filter((r) => r.layer === 'sharing_rule')).toEqual([{ layer: 'sharing_rule', rule: 'big_projects', access: 'read', effect: 'grants' }]);
    expect(grants(shared).some((r) => r.layer === 'owner')).toBe(false);

    // A hidden record and a random id get the same answer.
    const hidden = await explain('alice', R.p3);
    const random = randomUUID();
    const missing = await explain('alice', random);
    expect(hidden).toMatchObject({ allowed: false, read: false, edit: false, delete: false });
    expect({ ...hidden, recordId: null }).toEqual({ ...missing, recordId: null });
    expect(JSON.stringify(hidden)).not.toMatch(/bob|sharing_rule|owner/);
    // …and an id of the other organization too, and a malformed one.
    expect({ ...(await explain('alice', R.p5)), recordId: null }).toEqual({ ...missing, recordId: null });
    const malformed = await ask<{ explainAccess: Explanation }>('alice', `{ explainAccess(object: "project", id: "nope") { ${FIELDS} } }`);
    if (malformed.data) expect({ ...malformed.data.explainAccess, recordId: null }).toEqual({ ...missing, recordId: null });

    // A hidden field of a visible record.
    const field = await explain('alice', R.p1, ', field: "secret"');
    expect(field).toMatchObject({ allowed: false, read: true, fieldReadable: false, fieldEditable: false });
    expect(field.reasons).toContainEqual({ layer: 'field_permission', rule: 'member_profile: hidden', access: 'secret', effect: 'denies' });
    const readableField = await explain('alice', R.p1, ', field: "name"');
    expect(readableField).toMatchObject({ allowed: true, fieldReadable: true, fieldEditable: true });

    // An org owner explaining on behalf of alice gets alice's answer (with every reason for records alice reads).
    const verdict = ({ reasons: _r, ...x }: Explanation) => x;
    for (const [id, extra] of [[R.p1, ''], [R.p2, ''], [R.p1, ', field: "secret"']] as const) {
      const mine = await explain('alice', id, extra);
      const onBehalf = await explain('owen', id, `${extra}, userId: "alice"`);
      expect(onBehalf, `${id}${extra}`).toEqual(mine);
    }
    // A record the owner reads and alice does not: alice's verdict; the owner, who may read it, is told why.
    const behalfHidden = await explain('owen', R.p3, ', userId: "alice"');
    expect(verdict(behalfHidden)).toEqual(verdict(hidden));
    expect(behalfHidden.reasons).toContainEqual({ layer: 'record', rule: 'no private grant, ownership, hierarchy or share reaches this record', access: 'read', effect: 'denies' });
    expect(behalfHidden.reasons.some((r) => r.effect === 'grants' && r.access === 'read' && !['object_permission', 'row_level_security'].includes(r.layer))).toBe(false);
    // The owner's own answer differs (viewAll).
    expect(grants(await explain('owen', R.p3)).map((r) => r.layer)).toContain('view_all');

    // A member asking on behalf of another: FORBIDDEN, nothing explained.
    for (const target of ['bob', 'owen', 'nobody']) {
      const r = await ask('alice', `{ explainAccess(object: "project", id: "${R.p3}", userId: "${target}") { ${FIELDS} } }`);
      expect(codes(r), target).toEqual(['FORBIDDEN']);
      expect(r.data ?? null).toBeNull();
    }
  });

  it('manual shares', async () => {
    const SHARE = 'mutation($i: ShareRecordInput!) { shareRecord(input: $i) { id object recordId sharedWithType sharedWith accessLevel grantedBy } }';
    const UNSHARE = 'mutation($id: ID!) { unshareRecord(id: $id) }';
    const sees = async (user: UserName, id: string) => {
      const r = await ask<{ project: { id: string } | null; projects: Conn }>(user, `{ project(id: "${id}") { id } projects(first: 100) { totalCount nodes { id } } }`);
      expect(r.errors).toBeUndefined();
      const inList = r.data!.projects.nodes.some((n) => n.id === id);
      expect(inList, 'single and list agree').toBe(r.data!.project !== null);
      return r.data!.project !== null;
    };
    const m1 = randomUUID();
    await queryRows(db.db, sql`insert into project (id, name, budget, secret, organization_id, owner_id) values (${m1}, 'M1 alice', 1, 'm1-secret', ${ORG}, 'alice')`);
    expect(await sees('bob', m1)).toBe(false);
    expect(await sees('carol', m1)).toBe(false);

    // The owner shares with bob: at once visible, read only.
    const s = await ask<{ shareRecord: { id: string } }>('alice', SHARE, { i: { object: 'project', recordId: m1, sharedWithType: 'USER', sharedWith: 'bob', accessLevel: 'READ' } });
    expect(s.errors, JSON.stringify(s.errors)).toBeUndefined();
    expect(s.data!.shareRecord).toMatchObject({ object: 'project', recordId: m1, sharedWithType: 'USER', sharedWith: 'bob', accessLevel: 'READ', grantedBy: 'alice' });
    expect(await sees('bob', m1)).toBe(true);
    const edit = await ask('bob', `mutation { updateProject(id: "${m1}", input: { name: "hijacked" }) { id } }`);
    expect(codes(edit)).toEqual(['FORBIDDEN']);
    expect((await one<{ name: string }>(`select name from project where id = '${m1}'`)).name).toBe('M1 alice');
    expect(codes(await ask('bob', `mutation { deleteProject(id: "${m1}") { id } }`))).toEqual(['FORBIDDEN']);
    expect(Number((await one<{ n: string | number }>(`select count(*) as n from project where id = '${m1}'`)).n)).toBe(1);
    // A group share reaches carol.
    const g = await ask<{ shareRecord: { id: string } }>('alice', SHARE, { i: { object: 'project', recordId: m1, sharedWithType: 'GROUP', sharedWith: 'team', accessLevel: 'EDIT' } });
    expect(g.errors).toBeUndefined();
    expect(await sees('carol', m1)).toBe(true);
    expect((await ask('carol', `mutation { updateProject(id: "${m1}", input: { name: "M1 by carol" }) { id } }`)).errors).toBeUndefined();

    // A non-owner member cannot share or unshare (bob can read it, carol can even edit it).
    for (const who of ['bob', 'carol'] as const) {
      const r = await ask(who, SHARE, { i: { object: 'project', recordId: m1, sharedWithType: 'USER', sharedWith: 'dave', accessLevel: 'EDIT' } });
      expect(codes(r), who).toEqual(['FORBIDDEN']);
      const u = await ask(who, UNSHARE, { id: s.data!.shareRecord.id });
      expect(codes(u), who).toEqual(['FORBIDDEN']);
    }
    // alice reads p2 through a sharing rule but does not own it.
    expect(codes(await ask('alice', SHARE, { i: { object: 'project', recordId: R.p2, sharedWithType: 'USER', sharedWith: 'carol', accessLevel: 'READ' } }))).toEqual(['FORBIDDEN']);
    expect(await sees('dave', m1)).toBe(true); // hierarchy, not the refused share
    expect(await sees('carol', R.p2)).toBe(false);

    // Sharing a record you cannot see: NOT_FOUND, exactly as for an id that does not exist.
    const shareOf = (id: string) => ask('alice', SHARE, { i: { object: 'project', recordId: id, sharedWithType: 'USER', sharedWith: 'alice', accessLevel: 'EDIT' } });
    const random = randomUUID();
    const hidden = await shareOf(R.p3);
    const missing = await shareOf(random);
    expect(codes(hidden)).toEqual(['NOT_FOUND']);
    expect(bare(hidden, R.p3)).toEqual(bare(missing, random));
    const otherOrg = await shareOf(R.p5);
    expect(bare(otherOrg, R.p5)).toEqual(bare(missing, random));
    expect(await sees('alice', R.p3)).toBe(false);
    const rows = await queryRows<{ n: string | number }>(db.db, sql`select count(*) as n from security.record_share where record_id in (${R.p3}, ${R.p5}, ${random})`);
    expect(Number(rows[0]!.n)).toBe(0);

    // The owner unshares: bob loses access on his next request.
    const u = await ask<{ unshareRecord: boolean }>('alice', UNSHARE, { id: s.data!.shareRecord.id });
    expect(u.errors).toBeUndefined();
    expect(u.data!.unshareRecord).toBe(true);
    expect(await sees('bob', m1)).toBe(false);
    expect(await sees('carol', m1)).toBe(true); // the group share stays
    expect(codes(await ask('alice', UNSHARE, { id: s.data!.shareRecord.id }))).toEqual(['NOT_FOUND']);
    // bob cannot even tell that a share of a record he cannot see exists.
    const gShare = g.data!.shareRecord.id;
    const probe = await ask('bob', UNSHARE, { id: gShare });
    const randomShare = randomUUID();
    const probeMissing = await ask('bob', UNSHARE, { id: randomShare });
    expect(codes(probe)).toEqual(['NOT_FOUND']);
    expect(bare(probe, gShare)).toEqual(bare(probeMissing, randomShare));
  });
});

// Identity (better-auth) is the slow part: the cache eviction does not depend on the engine, so embedded PGlite only.
describe.each(engines().slice(0, 1))('a member removed from a role loses access on the next request, on $name', (engine) => {
  let s: SecureStack;
  beforeAll(async () => {
    // A long principal cache: only the event published by setMemberAccess can make the change visible at once.
    s = await startSecureStack(engine, { cacheTtlMs: 60_000, security: securityNamesOf((await loadMetadata(METADATA)).security) });
  }, 120_000);
  afterAll(() => s?.close());

  async function join(org: string, email: string) {
    const joined = await s.user(email);
    await s.identity.auth.api.addMember({ body: { userId: joined.userId, organizationId: org, role: 'member' } });
    const signedIn = await s.auth('/sign-in/email', { email, password: PASSWORD });
    return { headers: { authorization: `Bearer ${signedIn.headers.get('set-auth-token')}` }, userId: joined.userId };
  }

  it('a member removed from a role loses access on the next request', async () => {
    const owner = await s.user('rr-owner@example.com', 'RoleCo');
    const org = (await s.q<{ activeOrganization: { id: string } }>(owner.headers, '{ activeOrganization { id } }')).data!.activeOrganization.id;
    const manager = await join(org, 'rr-manager@example.com');
    const rep = await join(org, 'rr-rep@example.com');
    const SET = 'mutation($i: SetMemberAccessInput!) { setMemberAccess(input: $i) { userId role } }';
    for (const [who, role] of [[manager, 'sales_manager'], [rep, 'sales_rep']] as const) {
      const r = await s.q(owner.headers, SET, { i: { userId: who.userId, role, permissionSets: [], groups: [] } });
      expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    }
    const created = await s.q<{ createAccount: { id: string } }>(rep.headers, 'mutation { createAccount(input: { name: "Rep Account" }) { id } }');
    expect(created.errors, JSON.stringify(created.errors)).toBeUndefined();
    const id = created.data!.createAccount.id;
    const visible = async (headers: Record<string, string>) => {
      const r = await s.q<{ account: { id: string } | null; accounts: { totalCount: number } }>(headers, `{ account(id: "${id}") { id } accounts { totalCount } }`);
      expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
      return { one: r.data!.account !== null, count: r.data!.accounts.totalCount };
    };
    // Through the hierarchy, the manager sees the rep's account (private OWD); the principal is now cached.
    expect(await visible(manager.headers)).toEqual({ one: true, count: 1 });
    expect(await visible(manager.headers)).toEqual({ one: true, count: 1 });
    // explainAccess names the hierarchy; the owner explaining on the manager's behalf (org role from auth.member) agrees.
    const EXPLAIN = 'query($id: ID!, $u: ID) { explainAccess(object: "account", id: $id, userId: $u) { allowed read edit profile role reasons { layer rule access effect } } }';
    type Explained = { explainAccess: { allowed: boolean; read: boolean; role: string | null; profile: string | null; reasons: { layer: string; effect: string; access: string }[] } };
    const mine = await s.q<Explained>(manager.headers, EXPLAIN, { id });
    expect(mine.errors, JSON.stringify(mine.errors)).toBeUndefined();
    expect(mine.data!.explainAccess).toMatchObject({ allowed: true, read: true, role: 'sales_manager', profile: 'standard_user' });
    expect(mine.data!.explainAccess.reasons.filter((r) => r.effect === 'grants' && r.access === 'read').map((r) => r.layer)).toContain('role_hierarchy');
    const onBehalf = await s.q<Explained>(owner.headers, EXPLAIN, { id, u: manager.userId });
    expect(onBehalf.errors, JSON.stringify(onBehalf.errors)).toBeUndefined();
    expect(onBehalf.data).toEqual(mine.data);

    const removed = await s.q(owner.headers, SET, { i: { userId: manager.userId, role: null, permissionSets: [], groups: [] } });
    expect(removed.errors).toBeUndefined();
    // The very next request: no role, no hierarchy, no account.
    expect(await visible(manager.headers)).toEqual({ one: false, count: 0 });
    const my = await s.q<{ myAccess: { role: string | null } }>(manager.headers, '{ myAccess { role } }');
    expect(my.data!.myAccess.role).toBeNull();
    const after = await s.q<Explained>(owner.headers, EXPLAIN, { id, u: manager.userId });
    expect(after.data!.explainAccess).toMatchObject({ allowed: false, read: false, role: null, profile: 'standard_user' });
    // The rep keeps their own record.
    expect(await visible(rep.headers)).toEqual({ one: true, count: 1 });
    // Given the role back, the manager sees it again at once.
    await s.q(owner.headers, SET, { i: { userId: manager.userId, role: 'sales_manager', permissionSets: [], groups: [] } });
    expect(await visible(manager.headers)).toEqual({ one: true, count: 1 });
  });
});
