import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, subscribeSse } from '@objectos/testkit';
import { codes, ORG, startLifecycleFixture, type LifecycleFixture } from './lifecycle-fixture.ts';

type Project = { id: string; name: string; code: string | null; budget: number | null; version: number };
const PROJECT = 'id name code budget version';

/** Optimistic concurrency, the trash (delete, restore, purge) and owner transfer, through the gateway. */
describe.each(engines())('record lifecycle on $name', (engine) => {
  let f: LifecycleFixture;
  beforeAll(async () => {
    f = await startLifecycleFixture(engine);
  }, 120_000);
  afterAll(() => f?.close());

  const create = async (user: 'alice' | 'bob' | 'owen', name: string, extra = '') =>
    (await f.ok<{ createProject: Project }>(user, `mutation { createProject(input: { name: "${name}"${extra} }) { ${PROJECT} } }`)).createProject;
  const read = async (user: 'alice' | 'bob' | 'owen' | 'dave', id: string) => (await f.ok<{ project: Project | null }>(user, `{ project(id: "${id}") { ${PROJECT} } }`)).project;
  const stored = async (id: string) => (await f.rows<{ name: string; version: number; owner_id: string | null; deleted_at: Date | null; deleted_by: string | null; trash_batch: string | null }>(
    sql`select name, version, owner_id, deleted_at, deleted_by, trash_batch from project where id = ${id}`))[0];
  const events = async (id: string) => f.rows<{ op: string; changed_fields: string[] }>(sql`select op, changed_fields from events.outbox where record_id = ${id} order by id`);

  it('versions every record: 1 when created, one more per update; a stale expectedVersion is a CONFLICT that writes nothing', async () => {
    const p = await create('alice', 'Versioned');
    expect(p.version).toBe(1);
    const u = await f.ok<{ updateProject: Project }>('alice', `mutation { updateProject(id: "${p.id}", input: { budget: 10 }) { ${PROJECT} } }`);
    expect(u.updateProject.version).toBe(2);
    const v = await f.ok<{ updateProject: Project }>('alice', `mutation { updateProject(id: "${p.id}", input: { budget: 11 }, expectedVersion: 2) { ${PROJECT} } }`);
    expect(v.updateProject).toMatchObject({ budget: 11, version: 3 });

    // Someone read version 2: their write is refused, naming the version the record is at.
    const stale = await f.ask('alice', `mutation { updateProject(id: "${p.id}", input: { name: "Overwritten" }, expectedVersion: 2) { id } }`);
    expect(codes(stale)).toEqual(['CONFLICT']);
    expect(stale.errors![0]!.message).toMatch(/is at version 3, not 2 \(expectedVersion\)/);
    expect(stale.errors![0]!.extensions?.['issues']).toEqual([expect.objectContaining({ field: 'expectedVersion', constraint: 'version' })]);
    expect(await read('alice', p.id)).toMatchObject({ name: 'Versioned', budget: 11, version: 3 });
    expect(await stored(p.id)).toMatchObject({ name: 'Versioned', version: 3 });
    // An empty update with a stale version is refused too; with the right one it changes nothing.
    expect(codes(await f.ask('alice', `mutation { updateProject(id: "${p.id}", input: {}, expectedVersion: 1) { id } }`))).toEqual(['CONFLICT']);
    expect((await f.ok<{ updateProject: Project }>('alice', `mutation { updateProject(id: "${p.id}", input: {}, expectedVersion: 3) { ${PROJECT} } }`)).updateProject.version).toBe(3);

    // version filters and sorts like any column (the compiled path answers these lists).
    const listed = await f.ok<{ projects: { nodes: Project[]; totalCount: number } }>('alice', `{ projects(where: { version: { gte: 3 } }, orderBy: [{ field: VERSION, direction: DESC }]) { totalCount nodes { ${PROJECT} } } }`);
    expect(listed.projects.nodes.map((n) => n.id)).toContain(p.id);
    expect(listed.projects.nodes.every((n) => n.version >= 3)).toBe(true);
    // The version is no field of its own in change events: the updates list what they changed.
    await f.data.relay.drain();
    expect((await events(p.id)).map((e) => [e.op, e.changed_fields])).toEqual([
      ['create', expect.arrayContaining(['name'])], ['update', ['budget']], ['update', ['budget']],
    ]);
  });

  it('a delete moves the record and the records it cascades to into the trash, hidden from every read path', async () => {
    const p = await create('alice', 'Trashed', ', code: "TR-1", budget: 7');
    const other = await create('alice', 'Stays');
    const { createTask: t } = await f.ok<{ createTask: { id: string } }>('alice', `mutation { createTask(input: { title: "Child", projectId: "${p.id}" }) { id } }`);
    const { createNote: n } = await f.ok<{ createNote: { id: string } }>('alice', `mutation { createNote(input: { body: "About", projectId: "${p.id}" }) { id } }`);

    // Without delete permission: refused by the gateway, nothing moved.
    const refused = await f.ask('alice', `mutation { deleteProject(id: "${p.id}") { id } }`);
    expect(codes(refused)).toContain('FORBIDDEN');
    expect((await stored(p.id))!.deleted_at).toBeNull();

    // dave (alice's boss, allowDelete) deletes it: the record comes back as it was.
    const del = await f.ok<{ deleteProject: Project }>('dave', `mutation { deleteProject(id: "${p.id}") { ${PROJECT} } }`);
    expect(del.deleteProject).toMatchObject({ id: p.id, name: 'Trashed', version: 1 });
    const row = (await stored(p.id))!;
    expect(row.deleted_at).not.toBeNull();
    expect(row).toMatchObject({ deleted_by: 'dave', version: 2 });
    const [task] = await f.rows<{ deleted_at: Date | null; trash_batch: string | null }>(sql`select deleted_at, trash_batch from task where id = ${t.id}`);
    expect(task!.trash_batch).toBe(row.trash_batch);

    for (const who of ['alice', 'owen', 'dave'] as const) {
      expect(await read(who, p.id)).toBeNull();
      const list = await f.ok<{ projects: { totalCount: number; nodes: { id: string; tasks: { id: string }[] }[] } }>(who, '{ projects(first: 100) { totalCount nodes { id tasks { id } } } }');
      expect(list.projects.nodes.map((x) => x.id)).not.toContain(p.id);
      expect(list.projects.nodes.map((x) => x.id)).toContain(other.id);
      expect(list.projects.totalCount).toBe(list.projects.nodes.length);
      const tasks = await f.ok<{ task: null; tasks: { totalCount: number; nodes: { id: string }[] } }>(who, `{ task(id: "${t.id}") { id } tasks { totalCount nodes { id } } }`);
      expect(tasks.task).toBeNull();
      expect(tasks.tasks.nodes.map((x) => x.id)).not.toContain(t.id);
      // A lookup to it reads as empty: the reference stays, for a restore.
      const note = await f.ok<{ note: { projectId: string; project: null } }>(who, `{ note(id: "${n.id}") { projectId project { id } } }`);
      expect(note.note).toEqual({ projectId: p.id, project: null });
    }
    // Nothing can point at it, or change it, while it is in the trash.
    expect(codes(await f.ask('alice', `mutation { createNote(input: { body: "x", projectId: "${p.id}" }) { id } }`))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await f.ask('owen', `mutation { updateProject(id: "${p.id}", input: { name: "x" }) { id } }`))).toEqual(['NOT_FOUND']);
    expect(codes(await f.ask('owen', `mutation { deleteProject(id: "${p.id}") { id } }`))).toEqual(['NOT_FOUND']);
    // Its unique values stay held (a restore never conflicts), and the error says so.
    const dup = await f.ask('alice', 'mutation { createProject(input: { name: "Dup", code: "TR-1" }) { id } }');
    expect(codes(dup)).toEqual(['CONFLICT']);
    expect(dup.errors![0]!.message).toMatch(/records in the trash count too/);

    // The trash lists what the member could delete.
    const trash = async (who: 'alice' | 'owen' | 'dave') => f.ask<{ trashedProjects: { totalCount: number; nodes: { id: string; name: string }[] } }>(who, '{ trashedProjects { totalCount nodes { id name } } }');
    expect((await trash('dave')).data!.trashedProjects.nodes).toEqual([{ id: p.id, name: 'Trashed' }]);
    expect((await trash('owen')).data!.trashedProjects.totalCount).toBe(1);
    expect(codes(await trash('alice'))).toContain('FORBIDDEN');
    const trashedTasks = await f.ok<{ trashedTasks: { nodes: { id: string }[] } }>('owen', '{ trashedTasks { nodes { id } } }');
    expect(trashedTasks.trashedTasks.nodes.map((x) => x.id)).toEqual([t.id]);

    // To subscribers and the audit trail, both were deleted.
    await f.data.relay.drain();
    expect((await events(p.id)).map((e) => e.op)).toEqual(['create', 'delete']);
    expect((await events(t.id)).map((e) => e.op)).toEqual(['create', 'delete']);
  });

  it('restore brings a record back with its fields and what went with it; only for who could delete it', async () => {
    const p = await create('alice', 'Comeback', ', code: "CB-1", budget: 42');
    const { createTask: t } = await f.ok<{ createTask: { id: string } }>('alice', `mutation { createTask(input: { title: "Along", projectId: "${p.id}" }) { id } }`);
    const { createTask: early } = await f.ok<{ createTask: { id: string } }>('alice', `mutation { createTask(input: { title: "Deleted before", projectId: "${p.id}" }) { id } }`);
    await f.ok('alice', `mutation { deleteTask(id: "${early.id}") { id } }`);
    await f.ok('dave', `mutation { deleteProject(id: "${p.id}") { id } }`);

    // A task that went with its project comes back with it, not before.
    const alone = await f.ask('owen', `mutation { restoreTask(id: "${t.id}") { id } }`);
    expect(codes(alone)).toEqual(['CONFLICT']);
    expect(alone.errors![0]!.message).toMatch(/before its Project .* which is in the trash/);
    // Without delete permission: refused at the gateway; another tenant: not found; a bad id: not found.
    expect(codes(await f.ask('alice', `mutation { restoreProject(id: "${p.id}") { id } }`))).toContain('FORBIDDEN');
    expect(codes(await f.ask('eve', `mutation { restoreProject(id: "${p.id}") { id } }`))).toContain('FORBIDDEN');
    const bad = await f.ask('owen', 'mutation { restoreProject(id: "not-an-id") { id } }');
    expect(codes(bad)).toEqual(['NOT_FOUND']);
    expect(bad.errors![0]!.message).toMatch(/No Project with id "not-an-id" in the trash/);

    const back = await f.ok<{ restoreProject: Project }>('dave', `mutation { restoreProject(id: "${p.id}") { ${PROJECT} } }`);
    expect(back.restoreProject).toMatchObject({ id: p.id, name: 'Comeback', code: 'CB-1', budget: 42, version: 3 });
    expect(await read('alice', p.id)).toMatchObject({ name: 'Comeback', budget: 42 });
    expect((await stored(p.id))!).toMatchObject({ deleted_at: null, deleted_by: null, trash_batch: null });
    const tasks = await f.ok<{ project: { tasks: { id: string }[] } }>('alice', `{ project(id: "${p.id}") { tasks { id } } }`);
    // The one deleted on its own stays in the trash.
    expect(tasks.project.tasks.map((x) => x.id)).toEqual([t.id]);
    const trashed = await f.ok<{ trashedTasks: { nodes: { id: string }[] } }>('owen', '{ trashedTasks { nodes { id } } }');
    expect(trashed.trashedTasks.nodes.map((x) => x.id)).toContain(early.id);
    // A record that is not in the trash cannot be restored.
    expect(codes(await f.ask('dave', `mutation { restoreProject(id: "${p.id}") { id } }`))).toEqual(['NOT_FOUND']);
    await f.data.relay.drain();
    expect((await events(p.id)).map((e) => e.op)).toEqual(['create', 'delete', 'create']);
    expect((await events(t.id)).map((e) => e.op)).toEqual(['create', 'delete', 'create']);
  });

  it('a delete that takes records along is judged by their delete rules too: one kept keeps its parent', async () => {
    const p = await create('alice', 'Keeper');
    const { createTask: t } = await f.ok<{ createTask: { id: string } }>('alice', `mutation { createTask(input: { title: "Signed off", projectId: "${p.id}" }) { id } }`);
    const r = await f.ask('dave', `mutation { deleteProject(id: "${p.id}") { id } }`);
    expect(codes(r)).toEqual(['BAD_USER_INPUT']);
    expect(r.errors![0]!.message).toMatch(/A signed-off task is kept \(rule signed_off_stays\)/);
    expect(await stored(p.id)).toMatchObject({ deleted_at: null });
    expect(await f.rows(sql`select id from task where id = ${t.id} and deleted_at is null`)).toHaveLength(1);
    await f.ok('alice', `mutation { updateTask(id: "${t.id}", input: { title: "Open" }) { id } }`);
    await f.ok('dave', `mutation { deleteProject(id: "${p.id}") { id } }`);
    expect((await stored(p.id))!.deleted_at).not.toBeNull();
  });

  it('purge deletes a record in the trash for good; then it cannot be restored', async () => {
    const p = await create('alice', 'Gone', ', code: "GO-1"');
    const { createTask: t } = await f.ok<{ createTask: { id: string } }>('alice', `mutation { createTask(input: { title: "With it", projectId: "${p.id}" }) { id } }`);
    const { createNote: n } = await f.ok<{ createNote: { id: string } }>('alice', `mutation { createNote(input: { body: "Refers", projectId: "${p.id}" }) { id } }`);
    // Only a record in the trash can be purged.
    expect(codes(await f.ask('dave', `mutation { purgeProject(id: "${p.id}") { id } }`))).toEqual(['NOT_FOUND']);
    await f.ok('dave', `mutation { deleteProject(id: "${p.id}") { id } }`);
    expect(codes(await f.ask('alice', `mutation { purgeProject(id: "${p.id}") { id } }`))).toContain('FORBIDDEN');
    expect(await stored(p.id)).toBeDefined();

    const purged = await f.ok<{ purgeProject: Project }>('dave', `mutation { purgeProject(id: "${p.id}") { ${PROJECT} } }`);
    expect(purged.purgeProject).toMatchObject({ id: p.id, name: 'Gone' });
    expect(await stored(p.id)).toBeUndefined();
    expect(await f.rows(sql`select id from task where id = ${t.id}`)).toEqual([]);
    // The note outside the trash loses its reference, as after a real delete (an update event, a new version).
    expect((await f.ok<{ note: { projectId: string | null; version: number } }>('alice', `{ note(id: "${n.id}") { projectId version } }`)).note).toEqual({ projectId: null, version: 2 });
    const gone = await f.ask('dave', `mutation { restoreProject(id: "${p.id}") { id } }`);
    expect(codes(gone)).toEqual(['NOT_FOUND']);
    expect(codes(await f.ask('dave', `mutation { purgeProject(id: "${p.id}") { id } }`))).toEqual(['NOT_FOUND']);
    // Its unique value is free again.
    await create('alice', 'Reuse', ', code: "GO-1"');
    await f.data.relay.drain();
    expect((await events(p.id)).map((e) => e.op)).toEqual(['create', 'delete']);
    expect((await events(n.id)).map((e) => [e.op, e.changed_fields])).toEqual([['create', expect.anything()], ['update', ['projectId']]]);
    // The purge itself is in the audit trail (beside the create and the delete to the trash).
    const audit = await f.rows<{ event: { eventType: string; description: string; details: { purged?: boolean } } }>(sql`select event from events.audit_outbox where event->'target'->>'id' = ${p.id}`);
    const purges = audit.filter((a) => a.event.details.purged);
    expect(purges.map((a) => a.event.eventType)).toEqual(['data.delete']);
    expect(purges[0]!.event.description).toMatch(/^purge project .* from the trash \(with 1 records deleted with it\)$/);
  });

  it('a restrict reference refuses the delete, and holds a record in the trash until it goes', async () => {
    const p = await create('owen', 'Held');
    const { createMilestone: m } = await f.ok<{ createMilestone: { id: string } }>('owen', `mutation { createMilestone(input: { label: "M", projectId: "${p.id}" }) { id } }`);
    const refused = await f.ask('owen', `mutation { deleteProject(id: "${p.id}") { id } }`);
    expect(codes(refused)).toEqual(['CONFLICT']);
    expect(refused.errors![0]!.message).toMatch(/Milestones still refer to it through project \(deleteBehavior restrict\)/);
    expect((await stored(p.id))!.deleted_at).toBeNull();
    await f.ok('owen', `mutation { deleteMilestone(id: "${m.id}") { id } }`);
    await f.ok('owen', `mutation { deleteProject(id: "${p.id}") { id } }`);
    await f.ok('owen', `mutation { purgeProject(id: "${p.id}") { id } }`);
  });

  it('transfer gives a record another owner: edit access and owner, admin, modifyAll or allowTransfer; a member only', async () => {
    const p = await create('alice', 'Handover');
    const before = (await stored(p.id))!;
    const unchanged = async () => expect(await stored(p.id)).toMatchObject({ owner_id: before.owner_id, version: before.version });
    expect(before.owner_id).toBe('alice');

    // Not a member, a member of another organization, or no one: BAD_USER_INPUT naming newOwnerId.
    for (const target of ['zed', 'eve', ' ']) {
      const r = await f.ask('alice', `mutation { transferProject(id: "${p.id}", newOwnerId: "${target}") { id } }`);
      expect(codes(r), target).toEqual(['BAD_USER_INPUT']);
      expect(r.errors![0]!.message).toMatch(/newOwnerId/);
      await unchanged();
    }
    // dave edits it through the role hierarchy but neither owns it nor may transfer: refused.
    const dave = await f.ask('dave', `mutation { transferProject(id: "${p.id}", newOwnerId: "bob") { id } }`);
    expect(codes(dave)).toEqual(['FORBIDDEN']);
    expect(dave.errors![0]!.message).toMatch(/owner, an organization admin or a holder of modifyAllRecords or allowTransfer/);
    // vera may not edit projects at all: the gateway refuses; bob cannot see it: not found.
    expect(codes(await f.ask('vera', `mutation { transferProject(id: "${p.id}", newOwnerId: "bob") { id } }`))).toContain('FORBIDDEN');
    expect(codes(await f.ask('bob', `mutation { transferProject(id: "${p.id}", newOwnerId: "bob") { id } }`))).toEqual(['NOT_FOUND']);
    expect(codes(await f.ask('alice', `mutation { transferProject(id: "${p.id}", newOwnerId: "bob", expectedVersion: 7) { id } }`))).toEqual(['CONFLICT']);
    await unchanged();
    // A transfer is an update of the owner: the object's update rules judge it, and refuse this one while in deficit.
    await f.ok('alice', `mutation { updateProject(id: "${p.id}", input: { budget: -1 }) { id } }`);
    const deficit = await f.ask('alice', `mutation { transferProject(id: "${p.id}", newOwnerId: "bob") { id } }`);
    expect(codes(deficit)).toEqual(['BAD_USER_INPUT']);
    expect(deficit.errors![0]!.message).toMatch(/A project in deficit keeps its owner \(rule deficit_keeps_owner\)/);
    expect(await stored(p.id)).toMatchObject({ owner_id: 'alice', version: 2 });
    await f.ok('alice', `mutation { updateProject(id: "${p.id}", input: { budget: null }) { id } }`);

    // The owner hands it to bob: bob now sees it, alice (a peer) no longer does.
    const moved = await f.ok<{ transferProject: Project }>('alice', `mutation { transferProject(id: "${p.id}", newOwnerId: "bob", expectedVersion: 3) { ${PROJECT} } }`);
    expect(moved.transferProject.version).toBe(4);
    expect(await stored(p.id)).toMatchObject({ owner_id: 'bob', version: 4 });
    expect(await read('bob', p.id)).toMatchObject({ name: 'Handover' });
    expect(await read('alice', p.id)).toBeNull();
    await f.data.relay.drain();
    expect((await events(p.id)).at(-1)).toEqual({ op: 'update', changed_fields: ['ownerId'] });

    // carol holds allowTransfer: with edit access (a share), she may transfer what she does not own.
    await f.rows(sql`insert into security.record_share (organization_id, object, record_id, shared_with_type, shared_with, access_level) values (${ORG}, 'project', ${p.id}, 'user', 'carol', 'edit')`);
    await f.ok('carol', `mutation { transferProject(id: "${p.id}", newOwnerId: "alice") { id } }`);
    expect((await stored(p.id))!.owner_id).toBe('alice');
    // The organization owner may transfer anything.
    await f.ok('owen', `mutation { transferProject(id: "${p.id}", newOwnerId: "dave") { id } }`);
    expect(await stored(p.id)).toMatchObject({ owner_id: 'dave', version: 6 });
  });

  it('subscribers see a record leave with its delete, come back with its restore, and come into view with a transfer', async () => {
    type Got = { projectChanged: { op: string; record: { id: string; name: string } | null; previous: { id: string } | null } };
    const p = await create('alice', 'Watched');
    // Its create is published before anyone watches; each subscription is live on the data subgraph before the writes.
    await f.data.relay.drain();
    const q = `subscription { projectChanged(id: "${p.id}") { op record { id name } previous { id } } }`;
    const watch = async (user: 'owen' | 'bob') => {
      const before = f.data.hub.size();
      const s = await subscribeSse<Got>(f.as(user), q);
      const deadline = Date.now() + 10_000;
      while (f.data.hub.size() <= before && s.results.length === 0 && !s.completed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      return s;
    };
    const owen = await watch('owen');
    const bob = await watch('bob');
    try {
      await f.ok('dave', `mutation { deleteProject(id: "${p.id}") { id } }`);
      await f.ok('dave', `mutation { restoreProject(id: "${p.id}") { id } }`);
      await f.ok('alice', `mutation { transferProject(id: "${p.id}", newOwnerId: "bob") { id } }`);
      await f.data.relay.drain();
      const got = (await owen.until(2)).map((r) => r.data!.projectChanged);
      expect(got).toEqual([
        { op: 'DELETED', record: null, previous: { id: p.id } },
        { op: 'CREATED', record: { id: p.id, name: 'Watched' }, previous: null },
      ]);
      // The owner change alone is no news to owen (he saw it before and after); bob sees it come into view.
      expect((await bob.until(1)).map((r) => r.data!.projectChanged)).toEqual([{ op: 'UPDATED', record: { id: p.id, name: 'Watched' }, previous: null }]);
      expect(await owen.settle(300)).toHaveLength(2);
    } finally {
      owen.close();
      bob.close();
    }
  });
});
