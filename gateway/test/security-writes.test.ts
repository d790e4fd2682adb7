import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '@objectos/db';
import { engines } from '@objectos/testkit';
import { bare, codes, ORG, R, startRegressionFixture, type Conn, type RegressionFixture, type UserName } from './security/regression-fixture.ts';

/** Named regressions of the security model on writes, explainAccess and manual shares. */
describe.each(engines())('security regressions (writes, explain, shares) on $name', (engine) => {
  let f: RegressionFixture;
  beforeAll(async () => {
    f = await startRegressionFixture(engine);
  }, 120_000);
  afterAll(() => f?.close());
  const ask = <T = Record<string, unknown>>(user: UserName, query: string, variables?: Record<string, unknown>) => f.ask<T>(user, query, variables);
  const direct = <T = Record<string, unknown>>(user: UserName, query: string, variables?: Record<string, unknown>) => f.direct<T>(user, query, variables);
  const one = <T>(q: string) => f.one<T>(q);

  it('field security on mutation responses', async () => {
    const count = async (name: string) => Number((await one<{ n: string | number }>(`select count(*) as n from project where name = '${name}'`)).n);
    // Create without the hidden field: fine; the response carries no value for it.
    const created = await ask<{ createProject: { id: string; name: string; budget: number } }>('alice', 'mutation { createProject(input: { name: "E1", budget: 3 }) { id name budget } }');
    expect(created.errors).toBeUndefined();
    expect(created.data!.createProject).toMatchObject({ name: 'E1', budget: 3 });
    const id = created.data!.createProject.id;
    // The owner sets the hidden field; alice's later mutations never return it.
    await queryRows(f.db.db, sql`update project set secret = 'e1-secret' where id = ${id}`);
    const updated = await ask<{ updateProject: { id: string; name: string } }>('alice', `mutation { updateProject(id: "${id}", input: { name: "E1b" }) { id name } }`);
    expect(updated.errors).toBeUndefined();
    expect(updated.data!.updateProject).toEqual({ id, name: 'E1b' });

    // Selecting the hidden field in a mutation response is refused, and the mutation does not run.
    const before = f.calls();
    const sel = await ask('alice', 'mutation { createProject(input: { name: "E2" }) { id secret } }');
    expect(codes(sel)).toContain('FORBIDDEN');
    expect(sel.data ?? null).toBeNull();
    expect(sel.errors![0]!.message).toMatch(/Project\.secret/);
    expect(f.calls()).toBe(before);
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
    await queryRows(f.db.db, sql`insert into project (id, name, budget, secret, organization_id, owner_id) values (${m1}, 'M1 alice', 1, 'm1-secret', ${ORG}, 'alice')`);
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

    // Only a member of the organization can hold a share: not a stranger, not a made-up id.
    for (const stranger of ['mallory', randomUUID()]) {
      const r = await ask('alice', SHARE, { i: { object: 'project', recordId: m1, sharedWithType: 'USER', sharedWith: stranger, accessLevel: 'READ' } });
      expect(codes(r), stranger).toEqual(['BAD_USER_INPUT']);
      expect(JSON.stringify(r.errors)).toContain(`no member with id \\"${stranger}\\" in this organization`);
    }
    const strays = await queryRows<{ n: string | number }>(f.db.db, sql`select count(*) as n from security.record_share where record_id = ${m1} and shared_with_type = 'user' and shared_with <> 'bob'`);
    expect(Number(strays[0]!.n)).toBe(0);

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
    const rows = await queryRows<{ n: string | number }>(f.db.db, sql`select count(*) as n from security.record_share where record_id in (${R.p3}, ${R.p5}, ${random})`);
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
