import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMetadata } from '@objectos/metadata';
import { queryRows } from '@objectos/db';
import { engines, gqlOk, signedFetch, TEST_SECRET, type EngineHandle } from '@objectos/testkit';
import { createDataSubgraph, type DataSubgraph } from '../src/index.ts';

const note = (fields: string) => [{ file: 'note.object.yaml', text: `name: note\ndisplayNameField: title\nfields:\n${fields}` }];
const V1 = note('  title: { type: text, searchable: true }\n  body: { type: textarea }\n');
const V2 = note('  title: { type: text, searchable: true }\n  body: { type: textarea, searchable: true }\n');
const V3 = note('  title: { type: text }\n  body: { type: textarea }\n');

/** The generated search column follows the searchable fields: made, re-made when they change, dropped without them. */
describe.each(engines())('search column migrations on $name', (engine) => {
  let handle: EngineHandle;
  let s: DataSubgraph | null = null;
  beforeAll(async () => {
    handle = await engine.open({ persistent: true });
  });
  afterAll(async () => {
    await s?.dispose();
    await handle?.cleanup();
  });
  const start = async (sources: { file: string; text: string }[]) => {
    await s?.dispose();
    s = await createDataSubgraph({ secret: TEST_SECRET, metadata: parseMetadata(sources), ...handle.options });
    return s;
  };
  const column = async () => (await queryRows<{ expr: string | null; indexed: boolean }>(s!.database.db, sql`
    select pg_get_expr(d.adbin, d.adrelid) as expr,
      exists (select 1 from pg_indexes where tablename = 'note' and indexname = 'note_search_idx' and indexdef like '%gin%') as indexed
    from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
    where a.attrelid = 'note'::regclass and a.attname = '_search' and not a.attisdropped`))[0] ?? null;
  const found = async (word: string) => (await gqlOk<{ notes: { nodes: { title: string }[] } }>(signedFetch(s!.fetch),
    'query($w: String!) { notes(search: $w) { nodes { title } } }', { w: word })).notes.nodes.map((n) => n.title);

  it('makes a stored tsvector over the searchable fields, GIN indexed, filled for existing rows when it changes', async () => {
    const v1 = await start(V1);
    expect(v1.migration.statements.some((x) => /add column "_search" tsvector generated always as/.test(x))).toBe(true);
    await gqlOk(signedFetch(v1.fetch), 'mutation { createNote(input: { title: "Quarterly plan", body: "budget figures" }) { id } }');
    const c1 = await column();
    expect(c1?.expr).toContain('title');
    expect(c1?.expr).not.toContain('body');
    expect(c1?.indexed).toBe(true);
    expect(await found('quarter')).toEqual(['Quarterly plan']);
    expect(await found('budget')).toEqual([]);

    await start(V2);
    expect((await column())?.expr).toContain('body');
    // The row written before the change is searchable by the new field at once (the column is recomputed).
    expect(await found('budget')).toEqual(['Quarterly plan']);

    // Same fields again: nothing is re-made.
    const again = await start(V2);
    expect(again.migration.statements.filter((x) => x.includes('_search'))).toEqual([]);

    const v3 = await start(V3);
    expect(v3.migration.statements).toContain('alter table "note" drop column "_search"');
    expect(await column()).toBeNull();
  });
});
