import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadMetadata, MetadataError, parseMetadata, type MetadataIssue, type MetadataSource } from '../src/index.ts';

const account = `name: account
fields:
  name:
    type: text
    required: true
`;

function issuesOf(sources: MetadataSource[]): MetadataIssue[] {
  try {
    parseMetadata(sources);
  } catch (e) {
    expect(e).toBeInstanceOf(MetadataError);
    return (e as MetadataError).issues;
  }
  throw new Error('expected the metadata to be rejected');
}

/** Each case: files, then the one issue expected (file, line, path and a fragment of the message). */
const MISTAKES: { name: string; files: Record<string, string>; expect: Partial<Omit<MetadataIssue, "message">> & { message: RegExp }; more?: boolean }[] = [
  {
    name: 'unknown field type',
    files: { 'a.object.yaml': 'name: account\nfields:\n  name:\n    type: strng\n' },
    expect: { file: 'a.object.yaml', line: 4, path: 'fields.name.type', message: /unknown field type "strng" \(expected one of text, textarea/ },
  },
  {
    name: 'lookup to an unknown object',
    files: { 'a.object.yaml': account, 'c.object.yaml': 'name: contact\nfields:\n  company:\n    type: lookup\n    reference: acount\n' },
    expect: { file: 'c.object.yaml', line: 5, path: 'fields.company.reference', message: /references unknown object "acount"/ },
  },
  {
    name: 'duplicate object names',
    files: { 'a.object.yaml': account, 'b.object.yaml': account },
    expect: { file: 'b.object.yaml', line: 1, path: 'name', message: /duplicate object name "account"/ },
  },
  {
    name: 'object name not snake_case',
    files: { 'a.object.yaml': 'name: SalesOrder\nfields:\n  name:\n    type: text\n' },
    expect: { line: 1, path: 'name', message: /must be snake_case/ },
  },
  {
    name: 'field name not snake_case',
    files: { 'a.object.yaml': 'name: account\nfields:\n  firstName:\n    type: text\n' },
    expect: { line: 3, path: 'fields.firstName', message: /must be snake_case/ },
  },
  {
    name: 'reserved field name',
    files: { 'a.object.yaml': 'name: account\nfields:\n  name:\n    type: text\n  created_at:\n    type: datetime\n' },
    expect: { line: 5, path: 'fields.created_at', message: /"created_at" is a reserved field name/ },
  },
  {
    name: 'option of the wrong type',
    files: { 'a.object.yaml': 'name: account\nfields:\n  name:\n    type: text\n    required: "yes"\n' },
    expect: { line: 5, path: 'fields.name.required', message: /expected boolean, received string/ },
  },
  {
    name: 'misspelt option (unknown property)',
    files: { 'a.object.yaml': 'name: account\nfields:\n  name:\n    type: text\n    maxLenght: 10\n' },
    expect: { line: 5, path: 'fields.name.maxLenght', message: /unknown property "maxLenght"/ },
  },
  {
    name: 'select default not among the options',
    files: { 'a.object.yaml': 'name: account\nfields:\n  stage:\n    type: select\n    defaultValue: won\n    options:\n      - { label: Open, value: open }\n' },
    expect: { line: 5, path: 'fields.stage.defaultValue', message: /defaultValue "won" is not one of the options \(open\)/ },
  },
  {
    name: 'min greater than max',
    files: { 'a.object.yaml': 'name: account\nfields:\n  score:\n    type: number\n    min: 10\n    max: 1\n' },
    expect: { line: 5, path: 'fields.score.min', message: /min \(10\) is greater than max \(1\)/ },
  },
  {
    name: 'scale greater than precision',
    files: { 'a.object.yaml': 'name: account\nfields:\n  amount:\n    type: currency\n    precision: 4\n    scale: 6\n' },
    expect: { line: 6, path: 'fields.amount.scale', message: /scale \(6\) is greater than precision \(4\)/ },
  },
  {
    name: 'index on an unknown field',
    files: { 'a.object.yaml': `${account}indexes:\n  - name: by_region\n    fields: [region]\n` },
    expect: { line: 8, path: 'indexes.0.fields.0', message: /index refers to unknown field "region"/ },
  },
  {
    name: 'master_detail with set_null',
    files: { 'a.object.yaml': account, 'c.object.yaml': 'name: contact\nfields:\n  account:\n    type: master_detail\n    reference: account\n    deleteBehavior: set_null\n' },
    expect: { file: 'c.object.yaml', line: 6, path: 'fields.account.deleteBehavior', message: /master_detail child cannot outlive its parent/ },
  },
  {
    name: 'two lookups producing the same reverse relationship',
    files: {
      'a.object.yaml': account,
      'c.object.yaml': 'name: contact\nfields:\n  employer:\n    type: lookup\n    reference: account\n  former_employer:\n    type: lookup\n    reference: account\n',
    },
    expect: { file: 'c.object.yaml', line: 6, path: 'fields.former_employer', message: /reverse relationship "contacts" on "account" is already used by contact.employer; set relationshipName/ },
  },
  {
    name: 'YAML syntax error',
    files: { 'a.object.yaml': 'name: account\nfields:\n  name:\n    type: text\n   bad: [\n' },
    expect: { line: 5, message: /YAML syntax error/ },
    more: true,
  },
  {
    name: 'controlled_by_parent without a master_detail',
    files: { 'a.object.yaml': `${account}sharingModel: controlled_by_parent\n` },
    expect: { line: 6, path: 'sharingModel', message: /needs a master_detail field/ },
  },
  {
    name: 'unsupported validation type is refused, not ignored',
    files: { 'a.object.yaml': `${account}validations:\n  - name: positive\n    type: json_schema\n    message: nope\n` },
    expect: { line: 8, path: 'validations.0.type', message: /unknown validation type "json_schema" \(expected one of format, unique, script, cross_field, state_machine, conditional\)/ },
  },
  {
    name: 'object file that is not a mapping',
    files: { 'a.object.yaml': '- just\n- a list\n' },
    expect: { line: 1, message: /must be a YAML mapping/ },
  },
  {
    name: 'policy with an unknown password rule',
    files: { 'a.object.yaml': account, 'p.policy.yaml': 'name: strict\npassword:\n  minLenght: 12\n' },
    expect: { file: 'p.policy.yaml', line: 3, path: 'password.minLenght', message: /unknown property "minLenght"/ },
  },
  {
    name: 'policy idle timeout longer than the absolute timeout',
    files: { 'a.object.yaml': account, 'p.policy.yaml': 'name: strict\nsession:\n  idleTimeout: 600\n  absoluteTimeout: 60\n' },
    expect: { file: 'p.policy.yaml', line: 3, path: 'session.idleTimeout', message: /idleTimeout cannot exceed absoluteTimeout/ },
  },
  {
    name: 'two default policies',
    files: { 'a.object.yaml': account, 'p.policy.yaml': 'name: one\nisDefault: true\n', 'q.policy.yaml': 'name: two\nisDefault: true\n' },
    expect: { file: 'q.policy.yaml', line: 2, path: 'isDefault', message: /only one policy can be the default; p.policy.yaml already is/ },
  },
  {
    name: 'password minimum length below the floor',
    files: { 'a.object.yaml': account, 'p.policy.yaml': 'name: weak\npassword:\n  minLength: 3\n' },
    expect: { file: 'p.policy.yaml', line: 3, path: 'password.minLength', message: /6/ },
  },
];

describe('metadata errors name the file, line, path and problem', () => {
  it.each(MISTAKES)('$name', ({ files, expect: want, more }) => {
    const issues = issuesOf(Object.entries(files).map(([file, text]) => ({ file, text })));
    if (!more) expect(issues).toHaveLength(1);
    const [issue] = issues;
    const { message, ...location } = want;
    expect(issue).toMatchObject({ file: want.file ?? 'a.object.yaml', ...location });
    expect(issue!.message).toMatch(message);
  });

  it('reports every problem at once, and the error message lists them with positions', () => {
    const text = 'name: account\nfields:\n  name:\n    type: strng\n  id:\n    type: text\n';
    try {
      parseMetadata([{ file: 'objects/account.object.yaml', text }]);
      expect.unreachable();
    } catch (e) {
      const err = e as MetadataError;
      expect(err.issues.map((i) => i.path)).toEqual(['fields.name.type']);
      expect(err.message).toContain('objects/account.object.yaml:4:11 fields.name.type: unknown field type "strng"');
    }
    // Once the type is fixed, the reserved name is reported too.
    const issues = issuesOf([{ file: 'x.object.yaml', text: text.replace('strng', 'text') }]);
    expect(issues.map((i) => `${i.line}:${i.path}`)).toEqual(['5:fields.id']);
  });
});

describe('the demo metadata', () => {
  const dir = fileURLToPath(new URL('../../../metadata', import.meta.url));

  it('loads into a normalised model with defaults filled in', async () => {
    const model = await loadMetadata(dir);
    expect(model.objects.map((o) => o.name)).toEqual(['account', 'case', 'contact', 'leave_request', 'opportunity', 'task']);
    const contact = model.objects.find((o) => o.name === 'contact')!;
    const account = contact.fields.find((f) => f.name === 'account')!;
    expect(account).toMatchObject({ type: 'master_detail', required: true, deleteBehavior: 'cascade', label: 'Account' });
    expect(contact.fields.find((f) => f.name === 'first_name')!.label).toBe('First Name');
    expect(model.objects.find((o) => o.name === 'task')!.pluralLabel).toBe('Tasks');
    expect(model.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('has the declared default policy, and spec defaults when no policy is declared', async () => {
    const model = await loadMetadata(fileURLToPath(new URL('../../../metadata', import.meta.url)));
    expect(model.defaultPolicy).toMatchObject({ name: 'default', password: { minLength: 10, historyCount: 3 }, session: { idleTimeout: 120, absoluteTimeout: 720, forceMfa: false } });
    const bare = parseMetadata([{ file: 'a.object.yaml', text: account }]);
    expect(bare.defaultPolicy).toMatchObject({ password: { minLength: 8, requireUppercase: true, requireSymbols: false, historyCount: 3 }, session: { idleTimeout: 30, absoluteTimeout: 480, forceMfa: false } });
  });

  it('is keyed by a content hash that ignores file names and key order', () => {
    const a = parseMetadata([{ file: 'one.object.yaml', text: 'name: thing\nlabel: Thing\nfields:\n  title:\n    type: text\n' }]);
    const b = parseMetadata([{ file: 'two.object.yaml', text: 'fields:\n  title:\n    type: text\nlabel: Thing\nname: thing\n' }]);
    const c = parseMetadata([{ file: 'one.object.yaml', text: 'name: thing\nlabel: Thing\nfields:\n  title:\n    type: textarea\n' }]);
    expect(a.hash).toBe(b.hash);
    expect(a.hash).not.toBe(c.hash);
  });

  it('refuses an empty or missing folder', async () => {
    await expect(loadMetadata('/nonexistent/objectos-metadata')).rejects.toThrow(/cannot read metadata folder/);
  });
});

describe('field options that need each other', () => {
  it('refuses a readonly required field without defaultValue', () => {
    const issues = issuesOf([{ file: 'a.object.yaml', text: 'name: account\nfields:\n  code:\n    type: text\n    required: true\n    readonly: true\n' }]);
    expect(issues).toMatchObject([{ line: 6, path: 'fields.code.readonly', message: 'a readonly required field needs a defaultValue: no input can ever set it' }]);
  });
});
