import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '@objectos/db';
import { parseMetadata } from '@objectos/metadata';
import { engines, gqlOk, type EngineHandle, TEST_ORG, TEST_SECRET, signedFetch } from '@objectos/testkit';
import { createDataSubgraph, MigrationError } from '../src/index.ts';

const thing = (fields: string, extra = '') => ({ file: 'thing.object.yaml', text: `name: thing\nfields:\n${fields}${extra}` });
const V1 = [thing('  title: { type: text, required: true }\n  size: { type: number, precision: 6, scale: 2 }\n  note: { type: text }\n')];

describe.each(engines())('schema changes at start on $name', (engine) => {
  let handle: EngineHandle;
  beforeAll(async () => {
    handle = await engine.open({ persistent: true });
    const s = await createDataSubgraph({ secret: TEST_SECRET, metadata: parseMetadata(V1), ...handle.options });
    expect(s.migration.applied).toBe(true);
    await gqlOk(signedFetch(s.fetch), 'mutation { a: createThing(input: { title: "one", size: 1.5 }) { id } b: createThing(input: { title: "two" }) { id } }');
    await s.dispose();
  });
  afterAll(() => handle?.cleanup());

  const start = (sources: { file: string; text: string }[]) => createDataSubgraph({ secret: TEST_SECRET, metadata: parseMetadata(sources), ...handle.options });

  it('does nothing when the metadata did not change', async () => {
    const s = await start(V1);
    expect(s.migration).toEqual({ applied: false, statements: [] });
    await s.dispose();
  });

  it.each([
    ['removing a field', thing('  title: { type: text, required: true }\n  size: { type: number, precision: 6, scale: 2 }\n'), /column "thing.note" is no longer in the metadata; dropping it would lose data/],
    ['changing a field type', thing('  title: { type: text, required: true }\n  size: { type: number, precision: 6, scale: 2 }\n  note: { type: number }\n'), /thing.note: column "thing.note" is text but the metadata now needs double precision/],
    ['narrowing a number', thing('  title: { type: text, required: true }\n  size: { type: number, precision: 4, scale: 1 }\n  note: { type: text }\n'), /thing.size: column "thing.size" is numeric\(6,2\) but the metadata now needs numeric\(4, 1\)/],
    ['a required field without default on a table with rows', thing('  title: { type: text, required: true }\n  size: { type: number, precision: 6, scale: 2 }\n  note: { type: text }\n  code: { type: text, required: true }\n'), /thing.code: cannot add a required field without defaultValue to "thing", which has 2 rows/],
    ['making a field required while rows lack it', thing('  title: { type: text, required: true }\n  size: { type: number, precision: 6, scale: 2, required: true }\n  note: { type: text }\n'), /thing.size: cannot make the field required while 1 rows have no value/],
  ])('refuses %s, naming it, and applies nothing', async (_name, source, message) => {
    const both = [source, { file: 'extra.object.yaml', text: 'name: extra\nfields:\n  label: { type: text }\n' }];
    const err = await start(both).then(
      async (s) => {
        await s.dispose();
        return null;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as Error).message).toMatch(/Refusing to change the database schema \(nothing was applied\)/);
    expect((err as Error).message).toMatch(message);
    // Nothing of the refused change landed: the old metadata still starts with no migration at all.
    const s = await start(V1);
    expect(s.migration.applied).toBe(false);
    const r = await gqlOk<{ things: { totalCount: number } }>(signedFetch(s.fetch), '{ things { totalCount } }');
    expect(r.things.totalCount).toBe(2);
    await s.dispose();
  });

  it('applies additive changes and keeps the data: new field, object, index, wider number, defaults', async () => {
    const v2 = [
      thing(
        '  title: { type: text, required: true }\n  size: { type: number, precision: 8, scale: 3 }\n  note: { type: text }\n  colour: { type: select, required: true, defaultValue: red, options: [{ label: Red, value: red }, { label: Blue, value: blue }] }\n  owner_thing: { type: lookup, reference: thing }\n',
        'indexes:\n  - { name: by_title, fields: [title], unique: true }\n',
      ),
      { file: 'part.object.yaml', text: 'name: part\nfields:\n  label: { type: text }\n  thing: { type: master_detail, reference: thing }\n' },
    ];
    const s = await start(v2);
    expect(s.migration.applied).toBe(true);
    const r = await gqlOk<{ things: { nodes: { title: string; size: number | null; colour: string }[] } }>(
      signedFetch(s.fetch), '{ things(orderBy: [{ field: TITLE }]) { nodes { title size colour } } }');
    expect(r.things.nodes).toEqual([{ title: 'one', size: 1.5, colour: 'red' }, { title: 'two', size: null, colour: 'red' }]);
    const t = await gqlOk<{ createThing: { id: string; size: number } }>(signedFetch(s.fetch), 'mutation { createThing(input: { title: "three", size: 12345.678 }) { id size } }');
    expect(t.createThing.size).toBe(12345.678);
    await gqlOk(signedFetch(s.fetch), 'mutation($t: ID!) { createPart(input: { label: "p", thingId: $t }) { id } }', { t: t.createThing.id });
    const dup = await signedFetch(s.fetch)(new Request('http://x/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'mutation { createThing(input: { title: "one" }) { id } }' }) }));
    expect(JSON.stringify(await dup.json())).toMatch(/"code":"CONFLICT"/);
    await s.dispose();
  });
});

describe('field options at the database and API', () => {
  it('indexes fields marked index, and keeps readonly fields out of every input', async () => {
    const model = parseMetadata([{
      file: 'a.object.yaml',
      text: 'name: gadget\nfields:\n  title: { type: text, index: true }\n  labels: { type: multiselect, index: true, options: [{ label: A, value: a }] }\n  status: { type: select, readonly: true, required: true, defaultValue: draft, options: [{ label: Draft, value: draft }, { label: Live, value: live }] }\n',
    }]);
    const s = await createDataSubgraph({ secret: TEST_SECRET, metadata: model });
    try {
      expect(s.migration.statements).toContain('create index if not exists "gadget_title_idx" on "gadget" using btree ("title")');
      expect(s.migration.statements).toContain('create index if not exists "gadget_labels_idx" on "gadget" using gin ("labels")');
      expect(s.sdl).not.toMatch(/input GadgetCreateInput \{[^}]*status/);
      expect(s.sdl).not.toMatch(/input GadgetUpdateInput \{[^}]*status/);
      const r = await gqlOk<{ createGadget: { status: string } }>(signedFetch(s.fetch), 'mutation { createGadget(input: { title: "g" }) { status } }');
      expect(r.createGadget.status).toBe('draft');
    } finally {
      await s.dispose();
    }
  });
});

describe.each(engines())('system columns added to a database an older runtime migrated, on $name', (engine) => {
  const TRASHED = [thing('  title: { type: text, required: true }\n', 'enable: { trash: true }\n')];
  it('adds version (existing rows at 1) and the trash columns, and refuses to drop a trash that holds records', async () => {
    const handle = await engine.open({ persistent: true });
    try {
      // The table and stamp a runtime without `version` or the trash left (its stamp: the metadata hash alone).
      const old = await connectDatabase(handle.options);
      await old.db.execute(sql.raw(`create table thing (id uuid primary key default gen_random_uuid(), title text not null,
        created_at timestamp(3) with time zone default now() not null, updated_at timestamp(3) with time zone default now() not null,
        organization_id text not null, owner_id text)`));
      await old.db.execute(sql`insert into thing (title, organization_id) values ('one', ${TEST_ORG}), ('two', ${TEST_ORG})`);
      await old.db.execute(sql.raw('create table "_objectos_meta" (key text primary key, value jsonb not null)'));
      await old.db.execute(sql`insert into "_objectos_meta" (key, value) values ('schema_hash', ${JSON.stringify(parseMetadata(TRASHED).hash)}::jsonb)`);
      await old.close();

      const s = await createDataSubgraph({ secret: TEST_SECRET, metadata: parseMetadata(TRASHED), ...handle.options });
      try {
        expect(s.migration.applied).toBe(true);
        expect(s.migration.statements).toContain('alter table "thing" add column "version" integer default 1 not null');
        expect(s.migration.statements).toContain('alter table "thing" add column "deleted_at" timestamp(3) with time zone');
        const q = signedFetch(s.fetch);
        const r = await gqlOk<{ things: { nodes: { id: string; title: string; version: number }[] } }>(q, '{ things(orderBy: [{ field: TITLE }]) { nodes { id title version } } }');
        expect(r.things.nodes.map((n) => [n.title, n.version])).toEqual([['one', 1], ['two', 1]]);
        const u = await gqlOk<{ updateThing: { version: number } }>(q, 'mutation($id: ID!) { updateThing(id: $id, input: { title: "uno" }, expectedVersion: 1) { version } }', { id: r.things.nodes[0]!.id });
        expect(u.updateThing.version).toBe(2);
        await gqlOk(q, 'mutation($id: ID!) { deleteThing(id: $id) { id } }', { id: r.things.nodes[1]!.id });
      } finally {
        await s.dispose();
      }
      // Without its trash, the record in it would be back in every list: refused until it is restored or purged.
      const off = await createDataSubgraph({ secret: TEST_SECRET, metadata: parseMetadata([thing('  title: { type: text, required: true }\n')]), ...handle.options }).then(
        async (x) => {
          await x.dispose();
          return null;
        },
        (e: unknown) => e,
      );
      expect(off).toBeInstanceOf(MigrationError);
      expect((off as Error).message).toMatch(/thing: cannot turn enable.trash off while 1 records are in its trash; restore or purge them first/);
    } finally {
      await handle.cleanup();
    }
  });
});
