import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, queryRows, type Database } from '@objectos/db';
import { createDataSubgraph, type DataSubgraph } from '@objectos/data-subgraph';
import { parseMetadata } from '@objectos/metadata';
import type { Principal } from '@objectos/principal';
import { engines, gql, TEST_SECRET, type EngineHandle, type GraphQLResult } from '@objectos/testkit';
import { createGateway, type Gateway } from '../src/index.ts';

/**
 * RLS on writes: `check` of insert and update policies, `using` of update and delete policies. A write
 * the policies refuse is FORBIDDEN and leaves the table as it was (the check runs in the transaction).
 */
const FILES = {
  'ticket.object.yaml': 'name: ticket\nsharingModel: public_read_write\nfields:\n  name: { type: text }\n  amount: { type: number }\n  status: { type: select, options: [{ label: Open, value: open }, { label: Closed, value: closed }] }\n',
  'member.permission.yaml': 'name: member_profile\nisProfile: true\ndefaultFor: [member]\nobjects:\n  ticket: { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: true }\n',
  'insert.rls.yaml': 'name: small_new_tickets\nobject: ticket\noperation: insert\ncheck: "amount < 1000"\n',
  'update.rls.yaml': "name: open_tickets_stay_small\nobject: ticket\noperation: update\nusing: \"status <> 'closed'\"\ncheck: \"amount < 1000\"\n",
  'delete.rls.yaml': 'name: delete_own\nobject: ticket\noperation: delete\nusing: "owner_id = $current_user.id"\n',
};
const ORG = `org-${randomUUID()}`;
const principal = (userId: string): Principal => ({
  kind: 'user', userId, organizationId: ORG, roles: ['member'], permissionSets: [], role: null, groups: [], isAdmin: false, sessionId: null, apiKeyId: null, impersonatedBy: null,
});
const codes = (r: GraphQLResult) => (r.errors ?? []).map((e) => e.extensions?.['code']);

describe.each(engines())('RLS on writes on $name', (engine) => {
  let handle: EngineHandle;
  let db: Database;
  let data: DataSubgraph;
  let gateway: Gateway;
  const mine = randomUUID();
  const closed = randomUUID();
  const theirs = randomUUID();

  beforeAll(async () => {
    handle = await engine.open();
    db = await connectDatabase(handle.options);
    data = await createDataSubgraph({ metadata: parseMetadata(Object.entries(FILES).map(([file, text]) => ({ file, text }))), database: db, secret: TEST_SECRET });
    const ticket = (id: string, status: string, owner: string) =>
      queryRows(db.db, sql`insert into ticket (id, name, amount, status, organization_id, owner_id) values (${id}, ${id}, 10, ${status}, ${ORG}, ${owner})`);
    await ticket(mine, 'open', 'ann');
    await ticket(closed, 'closed', 'ann');
    await ticket(theirs, 'open', 'ben');
    gateway = await createGateway({
      subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: data.sdl, fetch: data.fetch }],
      auth: { secret: TEST_SECRET, resolve: async () => ({ principal: principal('ann') }) },
    });
  }, 120_000);
  afterAll(async () => {
    await gateway?.dispose();
    await data?.dispose();
    await db?.close();
    await handle?.cleanup();
  });

  const ask = (query: string) => gql(gateway.fetch, query);
  const row = async (id: string) => (await queryRows<{ amount: number; status: string }>(db.db, sql`select amount, status from ticket where id = ${id}`))[0];
  const count = async () => Number((await queryRows<{ n: string | number }>(db.db, sql`select count(*) as n from ticket`))[0]!.n);

  it('insert: a row failing the check is refused and not written', async () => {
    const before = await count();
    const refused = await ask('mutation { createTicket(input: { name: "big", amount: 5000, status: open }) { id } }');
    expect(codes(refused)).toEqual(['FORBIDDEN']);
    expect(refused.errors![0]!.message).toMatch(/row-level security/);
    expect(await count()).toBe(before);
    const ok = await ask('mutation { createTicket(input: { name: "small", amount: 5, status: open }) { id } }');
    expect(ok.errors).toBeUndefined();
    expect(await count()).toBe(before + 1);
  });

  it('update: using hides closed rows from edits, check refuses the new values, nothing changes', async () => {
    const tooBig = await ask(`mutation { updateTicket(id: "${mine}", input: { amount: 5000 }) { id } }`);
    expect(codes(tooBig)).toEqual(['FORBIDDEN']);
    expect((await row(mine))!.amount).toBe(10);
    const onClosed = await ask(`mutation { updateTicket(id: "${closed}", input: { amount: 20 }) { id } }`);
    expect(codes(onClosed)).toEqual(['FORBIDDEN']);
    expect(onClosed.errors![0]!.message).toMatch(/can read this Ticket but not edit it/);
    expect((await row(closed))!.amount).toBe(10);
    const ok = await ask(`mutation { updateTicket(id: "${mine}", input: { amount: 20 }) { amount } }`);
    expect(ok.errors).toBeUndefined();
    expect((await row(mine))!.amount).toBe(20);
  });

  it("delete: using limits deletes to the member's own rows", async () => {
    const refused = await ask(`mutation { deleteTicket(id: "${theirs}") { id } }`);
    expect(codes(refused)).toEqual(['FORBIDDEN']);
    expect(await row(theirs)).toBeDefined();
    const ok = await ask(`mutation { deleteTicket(id: "${mine}") { id } }`);
    expect(ok.errors).toBeUndefined();
    expect(await row(mine)).toBeUndefined();
  });
});
