import { describe, expect, it } from 'vitest';
import { parseMetadata } from '../src/index.ts';
import { issuesOf, sources } from './security-fixture.ts';

/** Every mistake in security metadata is reported with its file, path (and line) and a message naming it. */

interface Mistake {
  name: string;
  files: Record<string, string>;
  /** The issue expected (file, path, message fragment; line when given). */
  want: { file: string; path: string; message: RegExp; line?: number };
  /** Other issues may be reported too (the expected one is among them). */
  more?: boolean;
}

const set = (objects: string, fields = '') => `name: s\nobjects:\n${objects}\n${fields ? `fields:\n${fields}\n` : ''}`;
const rule = (body: string) => `name: r\n${body}\n`;
const crit = (object: string, condition: string, level = 'read') => rule(`object: ${object}\ntype: criteria\ncondition: ${condition}\naccessLevel: ${level}\nsharedWith: { type: role, value: boss }`);
const BOSS = { 'boss.role.yaml': 'name: boss\n' };
const rls = (body: string) => `name: p\nobject: account\n${body}\n`;

const MISTAKES: Mistake[] = [
  {
    name: 'SSO mapping naming an unknown permission set',
    files: { 'o.sso.yaml': 'name: o\nproviderId: okta\norganization: acme\nmappings:\n  - value: sales\n    permissionSets: [sellers]\n' },
    want: { file: 'o.sso.yaml', path: 'mappings.0.permissionSets.0', message: /unknown permission set "sellers"/ },
  },
  {
    name: 'SSO mapping naming an unknown role and group',
    files: { 'o.sso.yaml': 'name: o\nproviderId: okta\norganization: acme\ndefault: { role: chief, groups: [crew] }\n' },
    want: { file: 'o.sso.yaml', path: 'default.role', message: /unknown role "chief"/ },
    more: true,
  },
  {
    name: 'SSO mapping granting ownership',
    files: { 'o.sso.yaml': 'name: o\nproviderId: okta\norganization: acme\nmappings:\n  - { value: x, organizationRole: owner }\n' },
    want: { file: 'o.sso.yaml', path: 'mappings.0.organizationRole', message: /member|admin/ },
  },
  {
    name: 'SSO mapping not bound to an organization',
    files: { 'o.sso.yaml': 'name: o\nproviderId: okta\n' },
    want: { file: 'o.sso.yaml', path: 'organization', message: /./ },
  },
  {
    name: 'two SSO mappings for one provider',
    files: { 'a.sso.yaml': 'name: a\nproviderId: okta\norganization: acme\n', 'b.sso.yaml': 'name: b\nproviderId: okta\norganization: acme\n' },
    want: { file: 'b.sso.yaml', path: 'providerId', message: /another SSO mapping already maps provider "okta"/ },
  },
  {
    name: 'SCIM mapping naming an unknown permission set',
    files: { 'd.scim.yaml': 'name: d\norganization: acme\nmappings:\n  - value: Sales\n    permissionSets: [sellers]\n' },
    want: { file: 'd.scim.yaml', path: 'mappings.0.permissionSets.0', message: /unknown permission set "sellers"/ },
  },
  {
    name: 'SCIM mapping granting ownership',
    files: { 'd.scim.yaml': 'name: d\norganization: acme\nmappings:\n  - { value: Owners, organizationRole: owner }\n' },
    want: { file: 'd.scim.yaml', path: 'mappings.0.organizationRole', message: /member|admin/ },
  },
  {
    name: 'two SCIM mappings for one organization',
    files: { 'a.scim.yaml': 'name: a\norganization: acme\n', 'b.scim.yaml': 'name: b\norganization: acme\n' },
    want: { file: 'b.scim.yaml', path: 'organization', message: /another SCIM mapping already maps organization "acme"/ },
  },
  {
    name: 'unknown system permission',
    files: { 'p.permission.yaml': 'name: s\nsystemPermissions: [viewAuditLog, viewAuditLogs]\n' },
    want: { file: 'p.permission.yaml', line: 2, path: 'systemPermissions.1', message: /unknown system permission "viewAuditLogs" \(known: viewAuditLog, exportAuditLog,/ },
  },
  {
    name: 'unknown parent role',
    files: { 'a.role.yaml': 'name: rep\nparent: manger\n' },
    want: { file: 'a.role.yaml', line: 2, path: 'parent', message: /unknown parent role "manger"/ },
  },
  {
    name: 'role hierarchy cycle',
    files: { 'a.role.yaml': 'name: alpha\nparent: beta\n', 'b.role.yaml': 'name: beta\nparent: gamma\n', 'c.role.yaml': 'name: gamma\nparent: alpha\n' },
    want: { file: 'a.role.yaml', line: 2, path: 'parent', message: /role hierarchy cycle: alpha → beta → gamma → alpha/ },
    more: true,
  },
  {
    name: 'allowEdit without allowRead',
    files: { 'p.permission.yaml': set('  account: { allowEdit: true }') },
    want: { file: 'p.permission.yaml', line: 3, path: 'objects.account.allowEdit', message: /allowEdit needs allowRead/ },
  },
  {
    name: 'modifyAllRecords without viewAllRecords',
    files: { 'p.permission.yaml': set('  account: { allowRead: true, allowEdit: true, allowDelete: true, modifyAllRecords: true }') },
    want: { file: 'p.permission.yaml', path: 'objects.account.modifyAllRecords', message: /modifyAllRecords needs viewAllRecords/ },
  },
  {
    name: 'editable field that is not readable',
    files: { 'p.permission.yaml': set('  account: { allowRead: true, allowEdit: true }', '  account.name: { readable: false, editable: true }') },
    want: { file: 'p.permission.yaml', line: 5, path: 'fields.account.name.editable', message: /cannot be editable without being readable/ },
  },
  {
    name: 'field permission on an unknown object',
    files: { 'p.permission.yaml': set('  account: { allowRead: true }', '  acount.name: { readable: false }') },
    want: { file: 'p.permission.yaml', line: 5, path: 'fields.acount.name', message: /unknown object "acount"/ },
  },
  {
    name: 'field permission on an unknown field',
    files: { 'p.permission.yaml': set('  account: { allowRead: true }', '  account.nmae: { readable: false }') },
    want: { file: 'p.permission.yaml', line: 5, path: 'fields.account.nmae', message: /object "account" has no field "nmae"/ },
  },
  {
    name: 'object permission on an unknown object',
    files: { 'p.permission.yaml': set('  acount: { allowRead: true }') },
    want: { file: 'p.permission.yaml', line: 3, path: 'objects.acount', message: /unknown object "acount"/ },
  },
  {
    name: 'field permission key that is not object.field',
    files: { 'p.permission.yaml': set('  account: { allowRead: true }', '  name: { readable: false }') },
    want: { file: 'p.permission.yaml', path: 'fields.name', message: /field permission key "name" must be "object.field"/ },
  },
  {
    name: 'editable on a readonly field',
    files: { 'p.permission.yaml': set('  account: { allowRead: true, allowEdit: true }', '  account.code: { readable: true, editable: true }') },
    want: { file: 'p.permission.yaml', path: 'fields.account.code.editable', message: /account.code is read-only in the object metadata; it cannot be made editable/ },
  },
  {
    name: 'editable on an autonumber field',
    files: { 'p.permission.yaml': set('  account: { allowRead: true, allowEdit: true }', '  account.number: { editable: true }') },
    want: { file: 'p.permission.yaml', path: 'fields.account.number.editable', message: /account.number is read-only/ },
  },
  {
    name: 'defaultFor on a permission set that is not a profile',
    files: { 'p.permission.yaml': 'name: s\ndefaultFor: [member]\nobjects:\n  account: { allowRead: true }\n' },
    want: { file: 'p.permission.yaml', line: 2, path: 'defaultFor', message: /only a profile \(isProfile: true\) can be the default/ },
  },
  {
    name: 'defaultFor an unknown organization role',
    files: { 'p.permission.yaml': 'name: s\nisProfile: true\ndefaultFor: [visitor]\n' },
    want: { file: 'p.permission.yaml', path: 'defaultFor.0', message: /owner|admin|member|guest/ },
  },
  {
    name: 'two profiles default for the same organization role',
    files: {
      'a.permission.yaml': 'name: first\nisProfile: true\ndefaultFor: [member]\n',
      'b.permission.yaml': 'name: second\nisProfile: true\ndefaultFor: [owner, member]\n',
    },
    want: { file: 'b.permission.yaml', line: 3, path: 'defaultFor', message: /organization role "member" already has the default profile "first"/ },
  },
  {
    name: 'duplicate permission set name',
    files: { 'a.permission.yaml': 'name: s\n', 'b.permission.yaml': 'name: s\n' },
    want: { file: 'b.permission.yaml', line: 1, path: 'name', message: /duplicate permission set name "s"/ },
  },
  {
    name: 'sharing rule on an unknown object',
    files: { ...BOSS, 'r.sharing.yaml': crit('acount', '"name = \'x\'"') },
    want: { file: 'r.sharing.yaml', line: 2, path: 'object', message: /unknown object "acount"/ },
  },
  {
    name: 'sharing rule on a public_read_write object',
    files: { ...BOSS, 'r.sharing.yaml': crit('note', '"title = \'x\'"', 'edit') },
    want: { file: 'r.sharing.yaml', path: 'object', message: /note is public_read_write: a sharing rule cannot widen access to it/ },
  },
  {
    name: 'read sharing rule on a public_read object',
    files: { ...BOSS, 'r.sharing.yaml': crit('memo', '"title = \'x\'"', 'read') },
    want: { file: 'r.sharing.yaml', line: 5, path: 'accessLevel', message: /memo is public_read: a read sharing rule cannot widen access to it/ },
  },
  {
    name: 'sharing rule on a controlled_by_parent object',
    files: { ...BOSS, 'r.sharing.yaml': crit('contact', '"last_name = \'x\'"') },
    want: { file: 'r.sharing.yaml', path: 'object', message: /contact is controlled_by_parent: share its parent records instead/ },
  },
  {
    name: 'owner rule without ownedBy',
    files: { ...BOSS, 'r.sharing.yaml': rule('object: account\ntype: owner\naccessLevel: read\nsharedWith: { type: role, value: boss }') },
    want: { file: 'r.sharing.yaml', line: 3, path: 'type', message: /an owner-based sharing rule needs ownedBy/ },
  },
  {
    name: 'owner rule with a condition',
    files: { ...BOSS, 'r.sharing.yaml': rule('object: account\ntype: owner\nownedBy: { type: role, value: boss }\ncondition: "name = \'x\'"\naccessLevel: read\nsharedWith: { type: role, value: boss }') },
    want: { file: 'r.sharing.yaml', path: 'condition', message: /an owner-based sharing rule takes ownedBy, not condition/ },
  },
  {
    name: 'criteria rule without condition',
    files: { ...BOSS, 'r.sharing.yaml': rule('object: account\ntype: criteria\naccessLevel: read\nsharedWith: { type: role, value: boss }') },
    want: { file: 'r.sharing.yaml', line: 3, path: 'type', message: /a criteria-based sharing rule needs a condition/ },
  },
  {
    name: 'unknown role recipient',
    files: { ...BOSS, 'r.sharing.yaml': rule('object: account\ntype: criteria\ncondition: "name = \'x\'"\naccessLevel: read\nsharedWith: { type: role_and_subordinates, value: bos }') },
    want: { file: 'r.sharing.yaml', path: 'sharedWith.value', message: /unknown role "bos"/ },
  },
  {
    name: 'unknown group recipient',
    files: { 'r.sharing.yaml': rule('object: account\ntype: criteria\ncondition: "name = \'x\'"\naccessLevel: read\nsharedWith: { type: group, value: nobody }') },
    want: { file: 'r.sharing.yaml', path: 'sharedWith.value', message: /unknown group "nobody"/ },
  },
  {
    name: 'unknown ownedBy role',
    files: { ...BOSS, 'r.sharing.yaml': rule('object: account\ntype: owner\nownedBy: { type: role, value: bos }\naccessLevel: read\nsharedWith: { type: role, value: boss }') },
    want: { file: 'r.sharing.yaml', path: 'ownedBy.value', message: /unknown role "bos"/ },
  },
  {
    name: 'guest recipient without a guest profile',
    files: { 'r.sharing.yaml': rule('object: account\ntype: criteria\ncondition: "name = \'x\'"\naccessLevel: read\nsharedWith: { type: guest }') },
    want: { file: 'r.sharing.yaml', path: 'sharedWith.type', message: /sharing with guest users needs a guest profile/ },
  },
  {
    name: 'recipient without a value',
    files: { 'r.sharing.yaml': rule('object: account\ntype: criteria\ncondition: "name = \'x\'"\naccessLevel: read\nsharedWith: { type: group }') },
    want: { file: 'r.sharing.yaml', path: 'sharedWith', message: /sharedWith group needs a value/ },
  },
  {
    name: 'accessLevel full',
    files: { ...BOSS, 'r.sharing.yaml': crit('account', '"name = \'x\'"', 'full') },
    want: { file: 'r.sharing.yaml', line: 5, path: 'accessLevel', message: /accessLevel "full" is not supported: use read or edit/ },
  },
  {
    name: 'criteria condition naming an unknown field',
    files: { ...BOSS, 'r.sharing.yaml': crit('account', '"revenue > 10"') },
    want: { file: 'r.sharing.yaml', line: 4, path: 'condition', message: /account: unknown field "revenue"/ },
  },
  {
    name: 'criteria condition (filter form) naming an unknown field',
    files: { ...BOSS, 'r.sharing.yaml': crit('account', '{ revenue: { $gt: 10 } }') },
    want: { file: 'r.sharing.yaml', path: 'condition', message: /account: unknown field "revenue"/ },
  },
  {
    name: 'criteria condition with an unknown operator (filter form)',
    files: { ...BOSS, 'r.sharing.yaml': crit('account', '{ name: { $like: "a%" } }') },
    want: { file: 'r.sharing.yaml', path: 'condition', message: /unknown operator "\$like" on "name"/ },
  },
  {
    name: 'criteria condition with an unsupported operator (SQL form)',
    files: { ...BOSS, 'r.sharing.yaml': crit('account', '"name LIKE \'a%\'"') },
    want: { file: 'r.sharing.yaml', path: 'condition', message: /unsupported operator LIKE/ },
  },
  {
    name: 'criteria condition comparing a number with a string',
    files: { ...BOSS, 'r.sharing.yaml': crit('account', '"employees = \'many\'"') },
    want: { file: 'r.sharing.yaml', path: 'condition', message: /account: a comparison compares a number with a string/ },
  },
  {
    name: 'criteria condition (filter form) with a type mismatch',
    files: { ...BOSS, 'r.sharing.yaml': crit('account', '{ active: "yes" }') },
    want: { file: 'r.sharing.yaml', path: 'condition', message: /compares a boolean with a string/ },
  },
  {
    name: 'criteria condition whose select value is not an option',
    files: { ...BOSS, 'r.sharing.yaml': crit('account', '"industry = \'mining\'"') },
    want: { file: 'r.sharing.yaml', path: 'condition', message: /"mining" is not an option of industry \(tech, retail\)/ },
  },
  {
    name: 'criteria condition whose IN value is not an option',
    files: { ...BOSS, 'r.sharing.yaml': crit('account', '{ industry: { $in: [tech, mining] } }') },
    want: { file: 'r.sharing.yaml', path: 'condition', message: /"mining" is not an option of industry/ },
  },
  {
    name: 'RLS with an unparseable using',
    files: { 'p.rls.yaml': rls('using: "owner_id = = current_user.id"') },
    want: { file: 'p.rls.yaml', line: 3, path: 'using', message: /account: cannot parse "owner_id = = current_user.id"/ },
  },
  {
    name: 'RLS with an unknown variable',
    files: { 'p.rls.yaml': rls('using: "owner_id = current_user.foo"') },
    want: { file: 'p.rls.yaml', path: 'using', message: /unknown variable current_user.foo \(known: current_user.id, current_user.organization_id, current_user.role\)/ },
  },
  {
    name: 'RLS with an unknown variable in check',
    files: { 'p.rls.yaml': rls('operation: insert\ncheck: "owner_id = {{ bogus }}"') },
    want: { file: 'p.rls.yaml', path: 'check', message: /unknown variable current_user.bogus/ },
  },
  {
    name: 'RLS naming an unknown role',
    files: { ...BOSS, 'p.rls.yaml': rls('using: "owner_id = current_user.id"\nroles: [boss, intern]') },
    want: { file: 'p.rls.yaml', line: 4, path: 'roles.1', message: /unknown role "intern"/ },
  },
  {
    name: 'RLS with neither using nor check',
    files: { 'p.rls.yaml': rls('operation: update') },
    want: { file: 'p.rls.yaml', path: 'using', message: /an RLS policy needs using or check/ },
  },
  {
    name: 'insert RLS policy with using',
    files: { 'p.rls.yaml': rls('operation: insert\nusing: "owner_id = current_user.id"') },
    want: { file: 'p.rls.yaml', line: 4, path: 'using', message: /an insert policy has no rows to filter: use check/ },
  },
  {
    name: 'select RLS policy with check',
    files: { 'p.rls.yaml': rls('operation: select\ncheck: "owner_id = current_user.id"') },
    want: { file: 'p.rls.yaml', path: 'check', message: /a select policy writes nothing: use using/ },
  },
  {
    name: 'RLS on an unknown object',
    files: { 'p.rls.yaml': 'name: p\nobject: acount\nusing: "true"\n' },
    want: { file: 'p.rls.yaml', line: 2, path: 'object', message: /unknown object "acount"/ },
  },
  {
    name: 'RLS condition naming another table',
    files: { 'p.rls.yaml': rls('using: "other.owner_id = current_user.id"') },
    want: { file: 'p.rls.yaml', path: 'using', message: /only fields of the object and current_user/ },
  },
  {
    name: 'RLS comparing with NULL using =',
    files: { 'p.rls.yaml': rls('using: "name = NULL"') },
    want: { file: 'p.rls.yaml', path: 'using', message: /IS NULL/ },
  },
  {
    name: 'misspelt property in a role file',
    files: { 'a.role.yaml': 'name: rep\nparnet: boss\n' },
    want: { file: 'a.role.yaml', line: 2, path: 'parnet', message: /unknown property "parnet"/ },
  },
];

describe('security metadata errors name the file, path and problem', () => {
  it.each(MISTAKES)('$name', ({ files, want, more }) => {
    const issues = issuesOf(files);
    if (!more) expect(issues, JSON.stringify(issues)).toHaveLength(1);
    const issue = issues.find((i) => i.file === want.file && i.path === want.path && want.message.test(i.message));
    expect(issue, `expected ${want.file} ${want.path} ${want.message} among ${JSON.stringify(issues, null, 1)}`).toBeDefined();
    expect(issue!.line).toBeGreaterThan(0);
    if (want.line !== undefined) expect(issue!.line).toBe(want.line);
  });

  it('reports every role of a cycle, and the error message lists each with its position', () => {
    const files = { 'a.role.yaml': 'name: alpha\nparent: beta\n', 'b.role.yaml': 'name: beta\nparent: alpha\n' };
    const issues = issuesOf(files);
    expect(issues.map((i) => `${i.file}:${i.line} ${i.path}`)).toEqual(['a.role.yaml:2 parent', 'b.role.yaml:2 parent']);
    try {
      parseMetadata(sources(files));
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toContain('a.role.yaml:2:9 parent: role hierarchy cycle: alpha → beta → alpha');
      expect((e as Error).message).toContain('b.role.yaml:2:9 parent: role hierarchy cycle: beta → alpha → beta');
    }
  });

  it('reports several problems of one permission set at once', () => {
    const issues = issuesOf({
      'p.permission.yaml': set('  account: { allowEdit: true, allowDelete: true }', '  account.nmae: { readable: false }\n  account.name: { readable: false, editable: true }'),
    });
    expect(issues.map((i) => i.path).sort()).toEqual(['fields.account.name.editable', 'fields.account.nmae', 'objects.account.allowEdit']);
    expect(issues.every((i) => i.file === 'p.permission.yaml')).toBe(true);
  });
});
