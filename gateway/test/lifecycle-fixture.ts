import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { connectDatabase, queryRows, type Database } from '@objectos/db';
import { createDataSubgraph, type DataSubgraph } from '@objectos/data-subgraph';
import { parseMetadata } from '@objectos/metadata';
import type { Principal } from '@objectos/principal';
import { gql, TEST_SECRET, type Engine, type GraphQLResult } from '@objectos/testkit';
import { createGateway, type Gateway } from '../src/index.ts';

/**
 * A small organization for the record lifecycle: projects (trash, unique code) with tasks (master-detail,
 * cascade, trash), notes (lookup, set_null) and milestones (lookup, restrict), members of every kind of
 * access, and a second tenant. Served by the real data subgraph and gateway (compiled reads on).
 */
const FILES: Record<string, string> = {
  'project.object.yaml': 'name: project\nsharingModel: private\nenable: { trash: true }\nfields:\n  name: { type: text, required: true }\n  code: { type: text, unique: true }\n  budget: { type: number }\n'
    + 'validations:\n  - { name: deficit_keeps_owner, type: script, events: [update], condition: "ISCHANGED(owner_id) AND budget < 0", message: A project in deficit keeps its owner }\n',
  'task.object.yaml': 'name: task\nsharingModel: controlled_by_parent\nenable: { trash: true }\nfields:\n  title: { type: text }\n  project: { type: master_detail, reference: project }\n'
    + 'validations:\n  - { name: signed_off_stays, type: script, events: [delete], condition: "title = \'Signed off\'", message: A signed-off task is kept }\n',
  'note.object.yaml': 'name: note\nsharingModel: public_read_write\nfields:\n  body: { type: text }\n  project: { type: lookup, reference: project }\n',
  'milestone.object.yaml': 'name: milestone\nsharingModel: public_read_write\nfields:\n  label: { type: text }\n  project: { type: lookup, reference: project, deleteBehavior: restrict }\n',
  'boss.role.yaml': 'name: boss\n',
  'worker.role.yaml': 'name: worker\nparent: boss\n',
  'member.permission.yaml': `name: member_profile
isProfile: true
defaultFor: [member]
objects:
  project: { allowRead: true, allowCreate: true, allowEdit: true }
  task: { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: true }
  note: { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: true }
  milestone: { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: true }
`,
  'deleter.permission.yaml': 'name: deleter\nobjects:\n  project: { allowRead: true, allowEdit: true, allowDelete: true }\n',
  'transferer.permission.yaml': 'name: transferer\nobjects:\n  project: { allowRead: true, allowEdit: true, allowTransfer: true }\n',
  'viewer.permission.yaml': 'name: viewer\nisProfile: true\nobjects:\n  project: { allowRead: true }\n  task: { allowRead: true }\n',
  'admin.permission.yaml': `name: admin_profile
isProfile: true
defaultFor: [owner, admin]
objects:
  project: { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: true, viewAllRecords: true, modifyAllRecords: true }
  task: { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: true, viewAllRecords: true, modifyAllRecords: true }
  note: { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: true, viewAllRecords: true, modifyAllRecords: true }
  milestone: { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: true, viewAllRecords: true, modifyAllRecords: true }
`,
};

export const ORG = `org-life-${randomUUID()}`;
export const OTHER_ORG = `org-other-${randomUUID()}`;

export type UserName = 'alice' | 'bob' | 'carol' | 'dave' | 'owen' | 'vera' | 'eve';
const user = (userId: string, org: string, roles: string[], role: string | null, permissionSets: string[] = []): Principal =>
  ({ kind: 'user', userId, organizationId: org, roles, permissionSets, role, groups: [], isAdmin: false, sessionId: null, apiKeyId: null, impersonatedBy: null });
/**
 * alice, bob: workers (own their records, no project delete); carol: a member who may transfer projects
 * she can edit; dave: boss of the workers, may delete projects; owen: organization owner (everything);
 * vera: reads projects only; eve: a member of the other organization.
 */
export const PRINCIPALS: Record<UserName, Principal> = {
  alice: user('alice', ORG, ['member'], 'worker'),
  bob: user('bob', ORG, ['member'], 'worker'),
  carol: user('carol', ORG, ['member'], null, ['transferer']),
  dave: user('dave', ORG, ['member'], 'boss', ['deleter']),
  owen: user('owen', ORG, ['owner'], null),
  vera: user('vera', ORG, ['member'], null, ['viewer']),
  eve: user('eve', OTHER_ORG, ['member'], 'worker'),
};

export const codes = (r: GraphQLResult) => (r.errors ?? []).map((e) => e.extensions?.['code']);

export interface LifecycleFixture {
  db: Database;
  data: DataSubgraph;
  gateway: Gateway;
  /** The gateway's handler acting as the user (subscriptions over SSE). */
  as(user: UserName): (r: Request) => Promise<Response>;
  /** A request through the gateway as the user. */
  ask<T = Record<string, unknown>>(user: UserName, query: string, variables?: Record<string, unknown>): Promise<GraphQLResult<T>>;
  /** Like ask, failing on any GraphQL error. */
  ok<T = Record<string, unknown>>(user: UserName, query: string, variables?: Record<string, unknown>): Promise<T>;
  rows<T>(q: ReturnType<typeof sql>): Promise<T[]>;
  close(): Promise<void>;
}

export async function startLifecycleFixture(engine: Engine): Promise<LifecycleFixture> {
  const handle = await engine.open();
  const db = await connectDatabase(handle.options);
  const data = await createDataSubgraph({ metadata: parseMetadata(Object.entries(FILES).map(([file, text]) => ({ file, text }))), database: db, secret: TEST_SECRET, outboxSweepMs: 3_600_000 });
  for (const p of Object.values(PRINCIPALS))
    await queryRows(db.db, sql`insert into security.member_access (organization_id, user_id, role, permission_sets, groups)
      values (${p.organizationId}, ${p.userId}, ${p.role}, ${sql.param(p.permissionSets)}::text[], ${sql.param([])}::text[])`);
  const gateway = await createGateway({
    subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: data.sdl, fetch: data.fetch, ...(data.readCompiled ? { readCompiled: data.readCompiled } : {}) }],
    auth: {
      secret: TEST_SECRET,
      resolve: async (c) => {
        const principal = PRINCIPALS[String((c as Record<string, string>)['authorization'] ?? '').replace(/^Bearer /, '') as UserName];
        if (!principal) throw new Error('test: unknown user');
        return { principal };
      },
    },
  });
  const as = (name: UserName) => (req: Request) => {
    const h = new Headers(req.headers);
    h.set('authorization', `Bearer ${name}`);
    return gateway.fetch(new Request(req, { headers: h }));
  };
  const ask = <T>(name: UserName, query: string, variables?: Record<string, unknown>) => gql<T>(as(name), query, variables);
  return {
    db, data, gateway, as, ask,
    async ok<T>(name: UserName, query: string, variables?: Record<string, unknown>) {
      const r = await ask<T>(name, query, variables);
      if (r.errors?.length) throw new Error(`${name}: ${JSON.stringify(r.errors)}`);
      return r.data!;
    },
    rows: <T>(q: ReturnType<typeof sql>) => queryRows<T>(db.db, q),
    async close() {
      await gateway.dispose();
      await data.dispose();
      await db.close();
      await handle.cleanup();
    },
  };
}
