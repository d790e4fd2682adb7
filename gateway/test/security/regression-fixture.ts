import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { connectDatabase, queryRows, type Database } from '@objectos/db';
import { createDataSubgraph, type DataSubgraph } from '@objectos/data-subgraph';
import { parseMetadata, type MetadataSource } from '@objectos/metadata';
import type { Principal } from '@objectos/principal';
import { gql, signedFetch, TEST_SECRET, type Engine, type GraphQLResult } from '@objectos/testkit';
import { createGateway } from '../../src/index.ts';

/**
 * The small organization the named security regressions run against: projects and tasks, a worker
 * below a boss, a group, a member and an admin profile, a criteria sharing rule, a manual share and a
 * second tenant. Served by the real data subgraph and gateway, in process.
 */
export const FILES: Record<string, string> = {
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
export const SOURCES: MetadataSource[] = Object.entries(FILES).map(([file, text]) => ({ file, text }));

export const ORG = `org-a-${randomUUID()}`;
export const OTHER_ORG = `org-b-${randomUUID()}`;

export type UserName = 'alice' | 'bob' | 'carol' | 'dave' | 'owen' | 'eve';
/** alice, bob: workers (alice with the profile assigned, bob with the org-role default); carol: no role, group team; dave: boss; owen: org owner; eve: a member of the other organization. */
export const PRINCIPALS: Record<UserName, Principal> = {
  alice: { kind: 'user', userId: 'alice', organizationId: ORG, roles: ['member'], permissionSets: ['member_profile'], role: 'worker', groups: [], isAdmin: false, sessionId: null, apiKeyId: null, impersonatedBy: null },
  bob: { kind: 'user', userId: 'bob', organizationId: ORG, roles: ['member'], permissionSets: [], role: 'worker', groups: [], isAdmin: false, sessionId: null, apiKeyId: null, impersonatedBy: null },
  carol: { kind: 'user', userId: 'carol', organizationId: ORG, roles: ['member'], permissionSets: [], role: null, groups: ['team'], isAdmin: false, sessionId: null, apiKeyId: null, impersonatedBy: null },
  dave: { kind: 'user', userId: 'dave', organizationId: ORG, roles: ['member'], permissionSets: [], role: 'boss', groups: [], isAdmin: false, sessionId: null, apiKeyId: null, impersonatedBy: null },
  owen: { kind: 'user', userId: 'owen', organizationId: ORG, roles: ['owner'], permissionSets: [], role: null, groups: [], isAdmin: false, sessionId: null, apiKeyId: null, impersonatedBy: null },
  eve: { kind: 'user', userId: 'alice', organizationId: OTHER_ORG, roles: ['member'], permissionSets: [], role: 'worker', groups: [], isAdmin: false, sessionId: null, apiKeyId: null, impersonatedBy: null },
};

/** Records: ids fixed per run. */
export const R = {
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

export const codes = (r: GraphQLResult) => (r.errors ?? []).map((e) => e.extensions?.['code']);
/** A response without its per-request id, for comparing two answers. */
export const bare = (r: GraphQLResult, ...ids: string[]): string => {
  let text = JSON.stringify({ ...r, errors: r.errors?.map(({ extensions, ...e }) => ({ ...e, extensions: { ...extensions, requestId: undefined } })) });
  for (const id of ids) text = text.replaceAll(id, 'X');
  return text;
};
export const ids = (nodes: { id: string }[]) => nodes.map((n) => n.id).sort();

export type Conn = { totalCount: number; nodes: { id: string }[]; pageInfo?: { hasNextPage: boolean } };

export interface RegressionFixture {
  db: Database;
  data: DataSubgraph;
  /** The gateway's handler acting as the user (subscriptions over SSE use it). */
  as(user: UserName): (r: Request) => Promise<Response>;
  /** The data subgraph's handler, signed as the user (what the gateway would send). */
  signed(user: UserName): (r: Request) => Promise<Response>;
  /** The data subgraph's own handler (unsigned calls, direct signed calls). */
  dataFetch: (r: Request) => Promise<Response>;
  /** GraphQL requests the gateway has sent to the data subgraph so far. */
  calls(): number;
  ask<T = Record<string, unknown>>(user: UserName, query: string, variables?: Record<string, unknown>): Promise<GraphQLResult<T>>;
  /** A call straight to the data subgraph, signed as the user (what the gateway would send). */
  direct<T = Record<string, unknown>>(user: UserName, query: string, variables?: Record<string, unknown>): Promise<GraphQLResult<T>>;
  one<T>(q: string): Promise<T>;
  close(): Promise<void>;
}

export async function startRegressionFixture(engine: Engine): Promise<RegressionFixture> {
  const handle = await engine.open();
  const db = await connectDatabase(handle.options);
  const data: DataSubgraph = await createDataSubgraph({ metadata: parseMetadata(SOURCES), database: db, secret: TEST_SECRET });
  let subgraphCalls = 0;
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

  const gateway = await createGateway({
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
  const as = (user: UserName) => (req: Request) => {
    const h = new Headers(req.headers);
    h.set('authorization', `Bearer ${user}`);
    return gateway.fetch(new Request(req, { headers: h }));
  };
  return {
    db,
    data,
    as,
    signed: (user) => signedFetch(data.fetch, PRINCIPALS[user]),
    dataFetch: data.fetch,
    calls: () => subgraphCalls,
    ask: (user, query, variables) => gql(as(user), query, variables),
    direct: (user, query, variables) => gql(signedFetch(data.fetch, PRINCIPALS[user]), query, variables),
    one: async <T>(q: string): Promise<T> => (await queryRows<T>(db.db, sql.raw(q)))[0]!,
    async close() {
      await gateway.dispose();
      await data.dispose();
      await db.close();
      await handle.cleanup();
    },
  };
}
