import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadMetadata, parseMetadata } from '@objectos/metadata';
import { compile, CompileError, GENERATED_DIR, generatedFiles } from '../src/index.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** A fixture's metadata.yaml holds one object per YAML document. */
function fixtureModel(dir: string) {
  const text = readFileSync(`${FIXTURES}${dir}/metadata.yaml`, 'utf8');
  return parseMetadata(text.split(/^---$/m).map((doc, i) => ({ file: `${dir}/metadata.yaml#${i + 1}`, text: doc })));
}

describe('golden SDL fixtures', () => {
  for (const dir of readdirSync(FIXTURES)) {
    it(dir, () => {
      const sdl = compile(fixtureModel(dir)).subgraphs.data.sdl;
      const expectedFile = `${FIXTURES}${dir}/expected.graphql`;
      // UPDATE_FIXTURES=1 rewrites the golden files; review the diff before committing.
      if (process.env['UPDATE_FIXTURES'] === '1' || !existsSync(expectedFile)) writeFileSync(expectedFile, sdl);
      expect(sdl).toBe(readFileSync(expectedFile, 'utf8'));
    });
  }
});

describe('compile', () => {
  it('is pure: the same model gives byte-identical SDL and plan', () => {
    const model = fixtureModel('relations');
    const a = compile(model);
    const b = compile(structuredClone(model));
    expect(a.subgraphs.data.sdl).toBe(b.subgraphs.data.sdl);
    expect(JSON.stringify(a.plan)).toBe(JSON.stringify(b.plan));
  });

  it('makes every object a federation entity keyed by id, with connection, where, orderBy and inputs', () => {
    const { sdl } = compile(fixtureModel('all-field-types')).subgraphs.data;
    expect(sdl).toContain('type Widget @key(fields: "id")');
    expect(sdl).toContain('extend schema @link(url: "https://specs.apollo.dev/federation/v2.6"');
    for (const name of ['WidgetConnection', 'WidgetEdge', 'input WidgetWhere', 'input WidgetOrderBy', 'enum WidgetSortField', 'input WidgetCreateInput', 'input WidgetUpdateInput'])
      expect(sdl).toContain(name);
    expect(sdl).toMatch(/widgets\(where: WidgetWhere, orderBy: \[WidgetOrderBy!\], first: Int, after: String, last: Int, before: String, offset: Int\): WidgetConnection!/);
    // Required without default → non-null in the create input; with a default → optional.
    expect(sdl).toMatch(/input WidgetCreateInput \{[^}]*\n  title: String!/);
    expect(sdl).toMatch(/input WidgetCreateInput \{[^}]*\n  color: WidgetColor\n/);
    // Autonumbers are generated, never written.
    expect(sdl).not.toMatch(/input WidgetCreateInput \{[^}]*serial/);
  });

  it('names everything through the inflection module, which can be overridden', () => {
    const model = fixtureModel('relations');
    const { sdl } = compile(model, { inflection: { listField: (o) => `all_${o.name}s` } }).subgraphs.data;
    expect(sdl).toContain('all_companys(');
    expect(sdl).toContain('subsidiaries(where: CompanyWhere');
  });

  it('keeps objects with apiEnabled false out of the API, and honours apiMethods', () => {
    const { sdl } = compile(fixtureModel('api-methods')).subgraphs.data;
    expect(sdl).not.toContain('SecretSource');
    expect(sdl).toContain('sourceId: ID');
    // Only the security and presence APIs' own mutations remain: no object of this fixture allows create/update/delete.
    const mutation = /type Mutation \{([^}]*)\}/.exec(sdl)?.[1] ?? '';
    expect([...mutation.matchAll(/^\s+(\w+)\(/gm)].map((m) => m[1])).toEqual(['setPresence', 'shareRecord', 'unshareRecord']);
    expect(sdl).not.toMatch(/CreateInput|UpdateInput/);
    expect(sdl).toContain('newsList(');
  });

  it('refuses metadata whose generated names collide, naming both objects', () => {
    const model = parseMetadata([
      { file: 'a.object.yaml', text: 'name: account\nfields:\n  name: { type: text }\n' },
      { file: 'b.object.yaml', text: 'name: account_edge\nfields:\n  name: { type: text }\n' },
    ]);
    expect(() => compile(model)).toThrow(CompileError);
    expect(() => compile(model)).toThrow(/"AccountEdge" from object "account_edge" collides with the one from object "account"/);
  });

  it('refuses a field whose GraphQL name collides with a relation id field', () => {
    const model = parseMetadata([
      { file: 'a.object.yaml', text: 'name: account\nfields:\n  name: { type: text }\n' },
      { file: 'c.object.yaml', text: 'name: contact\nfields:\n  account: { type: lookup, reference: account }\n  account_id: { type: text }\n' },
    ]);
    expect(() => compile(model)).toThrow(/object "contact" generates the GraphQL field "accountId" twice/);
  });
});

describe('record lifecycle', () => {
  const model = (extra: string, child = '') => parseMetadata([
    { file: 'a.object.yaml', text: `name: account\n${extra}fields:\n  name: { type: text }\n` },
    ...(child ? [{ file: 'c.object.yaml', text: `name: contact\n${child}fields:\n  account: { type: master_detail, reference: account }\n` }] : []),
  ]);

  it('gives every object a version (Int!, filtered and sorted), expectedVersion on update and transfer with update', () => {
    const { sdl } = compile(model('')).subgraphs.data;
    expect(sdl).toMatch(/type Account @key\(fields: "id"\) \{[^}]*\n  version: Int!\n/);
    expect(sdl).toMatch(/input AccountWhere \{[^}]*\n  version: IntFilter\n/);
    expect(sdl).toMatch(/enum AccountSortField \{[^}]*\n  VERSION\n/);
    expect(sdl).toContain('updateAccount(id: ID!, input: AccountUpdateInput!, expectedVersion: Int): Account!');
    expect(sdl).toContain('transferAccount(id: ID!, newOwnerId: ID!, expectedVersion: Int): Account!');
    // Without a trash there is nothing to restore, purge or list.
    expect(sdl).not.toMatch(/restoreAccount|purgeAccount|trashedAccounts/);
    expect(compile(model('enable: { apiMethods: [get, list] }\n')).subgraphs.data.sdl).not.toContain('transferAccount');
  });

  it('generates restore, purge and the trash for enable.trash, as apiMethods allow', () => {
    const { sdl } = compile(model('enable: { trash: true }\n')).subgraphs.data;
    expect(sdl).toContain('restoreAccount(id: ID!): Account!');
    expect(sdl).toContain('purgeAccount(id: ID!): Account!');
    expect(sdl).toMatch(/trashedAccounts\(where: AccountWhere, orderBy: \[AccountOrderBy!\], first: Int, after: String, last: Int, before: String, offset: Int\): AccountConnection!/);
    const restoreOnly = compile(model('enable: { trash: true, apiMethods: [get, list, delete, restore] }\n')).subgraphs.data.sdl;
    expect(restoreOnly).toContain('restoreAccount(');
    expect(restoreOnly).toContain('trashedAccounts(');
    expect(restoreOnly).not.toContain('purgeAccount(');
  });

  it('refuses a cascade from an object with a trash into one without, naming both', () => {
    expect(() => compile(model('enable: { trash: true }\n', 'sharingModel: controlled_by_parent\n'))).toThrow(CompileError);
    expect(() => compile(model('enable: { trash: true }\n', 'sharingModel: controlled_by_parent\n'))).toThrow(/contact.account cascades deletes from account, which has enable.trash: set enable.trash on contact too/);
    expect(() => compile(model('enable: { trash: true }\n', 'sharingModel: controlled_by_parent\nenable: { trash: true }\n'))).not.toThrow();
  });

  it('refuses a field named like a system column', () => {
    expect(() => parseMetadata([{ file: 'a.object.yaml', text: 'name: account\nfields:\n  version: { type: number }\n' }])).toThrow(/"version" is a reserved field name/);
  });
});

describe('schema/generated', () => {
  it('matches the metadata (run `npm run schema:generate` after changing metadata/)', async () => {
    const compiled = compile(await loadMetadata(fileURLToPath(new URL('../../metadata', import.meta.url))));
    for (const [name, text] of Object.entries(generatedFiles(compiled))) {
      const committed = readFileSync(`${GENERATED_DIR}${name}`, 'utf8');
      expect(committed, `schema/generated/${name} drifted from metadata/`).toBe(text);
    }
  });
});
