import { describe, expect, it } from 'vitest';
import { parseMetadata, type Condition } from '../src/index.ts';
import { sources } from './security-fixture.ts';

/** Security metadata (roles, groups, permission sets, sharing rules, RLS policies): a valid set parses into the normalised SecurityModel. */

const OWNER_IS_ME: Condition = { op: 'eq', left: { kind: 'field', name: 'owner_id' }, right: { kind: 'var', name: 'id' } };

describe('a valid security metadata set', () => {
  const SPELLINGS = ['current_user.id', '$current_user.id', '$user.id', '{{ userId }}', '{$userId}'];
  const files: Record<string, string> = {
    'ceo.role.yaml': 'name: ceo\nlabel: Chief\n',
    'manager.role.yaml': 'name: manager\nparent: ceo\n',
    'rep.role.yaml': 'name: rep\nparent: manager\n',
    'team.group.yaml': 'name: team\nlabel: Key team\n',
    'standard.permission.yaml': `name: standard
isProfile: true
defaultFor: [member]
objects:
  account: { allowRead: true, allowCreate: true, allowEdit: true }
fields:
  account.employees: { readable: false }
  account.name: { readable: true, editable: true }
`,
    'admin.permission.yaml': `name: admin
isProfile: true
defaultFor: [owner, admin]
objects:
  account: { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: true, viewAllRecords: true, modifyAllRecords: true }
`,
    'extra.permission.yaml': 'name: extra\nobjects:\n  memo: { allowRead: true, allowEdit: true }\nfields:\n  account.industry: { readable: true }\n',
    'by_owner.sharing.yaml': 'name: by_owner\nobject: account\ntype: owner\nownedBy: { type: role_and_subordinates, value: manager }\naccessLevel: read\nsharedWith: { type: group, value: team }\n',
    'big.sharing.yaml': 'name: big\nobject: account\ntype: criteria\ncondition: { employees: { $gte: 1000 }, industry: tech }\naccessLevel: edit\nsharedWith: { type: role, value: rep }\n',
    'tech.sharing.yaml': `name: tech\nobject: account\ntype: criteria\ncondition: "industry = 'tech' AND active = true"\naccessLevel: read\nsharedWith: { type: user, value: u-1 }\n`,
    'memo_edit.sharing.yaml': 'name: memo_edit\nobject: memo\ntype: criteria\ncondition: "title IS NOT NULL"\naccessLevel: edit\nsharedWith: { type: role_and_subordinates, value: ceo }\n',
    ...Object.fromEntries(SPELLINGS.map((s, i) => [`own_${i}.rls.yaml`, `name: own_${i}\nobject: account\noperation: select\nusing: ${JSON.stringify(`owner_id = ${s}`)}\nroles: [rep]\n`])),
    'insert.rls.yaml': 'name: insert_own\nobject: account\noperation: insert\ncheck: "owner_id = current_user.id"\n',
    'update.rls.yaml': "name: update_open\nobject: account\noperation: update\nusing: \"industry IN ('tech', 'retail') AND employees >= 0\"\n",
  };

  it('parses roles, groups, permission sets (with defaults filled in), sharing rules and RLS policies', () => {
    const { security } = parseMetadata(sources(files));
    expect(security.roles).toEqual([
      { name: 'ceo', label: 'Chief' },
      { name: 'manager', parent: 'ceo' },
      { name: 'rep', parent: 'manager' },
    ]);
    expect(security.groups).toEqual([{ name: 'team', label: 'Key team' }]);
    const sets = Object.fromEntries(security.permissionSets.map((s) => [s.name, s]));
    expect(Object.keys(sets).sort()).toEqual(['admin', 'extra', 'standard']);
    expect(sets['standard']).toMatchObject({
      isProfile: true,
      defaultFor: ['member'],
      objects: { account: { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: false, viewAllRecords: false, modifyAllRecords: false } },
      fields: { 'account.employees': { readable: false, editable: false }, 'account.name': { readable: true, editable: true } },
    });
    expect(sets['admin']).toMatchObject({ isProfile: true, defaultFor: ['owner', 'admin'], fields: {} });
    expect(sets['extra']).toMatchObject({ isProfile: false, defaultFor: [], fields: { 'account.industry': { readable: true, editable: false } } });

    const rules = Object.fromEntries(security.sharingRules.map((r) => [r.name, r]));
    expect(rules['by_owner']).toMatchObject({ type: 'owner', active: true, accessLevel: 'read', ownedBy: { type: 'role_and_subordinates', value: 'manager' }, sharedWith: { type: 'group', value: 'team' }, condition: null });
    expect(rules['big']!.condition).toEqual({
      op: 'and',
      args: [
        { op: 'gte', left: { kind: 'field', name: 'employees' }, right: { kind: 'value', value: 1000 } },
        { op: 'eq', left: { kind: 'field', name: 'industry' }, right: { kind: 'value', value: 'tech' } },
      ],
    });
    expect(rules['big']!.accessLevel).toBe('edit');
    expect(rules['tech']!.condition).toEqual({
      op: 'and',
      args: [
        { op: 'eq', left: { kind: 'field', name: 'industry' }, right: { kind: 'value', value: 'tech' } },
        { op: 'eq', left: { kind: 'field', name: 'active' }, right: { kind: 'value', value: true } },
      ],
    });
    expect(rules['memo_edit']!.condition).toEqual({ op: 'not', arg: { op: 'isNull', arg: { kind: 'field', name: 'title' } } });

    const policies = Object.fromEntries(security.rlsPolicies.map((p) => [p.name, p]));
    expect(policies['insert_own']).toMatchObject({ operation: 'insert', using: { op: 'const', value: true }, check: OWNER_IS_ME, enabled: true, priority: 0, roles: [] });
    expect(policies['update_open']!.using).toEqual({
      op: 'and',
      args: [
        { op: 'in', left: { kind: 'field', name: 'industry' }, values: [{ kind: 'value', value: 'tech' }, { kind: 'value', value: 'retail' }] },
        { op: 'gte', left: { kind: 'field', name: 'employees' }, right: { kind: 'value', value: 0 } },
      ],
    });
    // check defaults to using.
    expect(policies['update_open']!.check).toEqual(policies['update_open']!.using);
  });

  it.each(SPELLINGS.map((s, i) => [s, i] as const))('RLS variable spelling %s normalises to current_user.id', (_spelling, i) => {
    const { security } = parseMetadata(sources(files));
    const p = security.rlsPolicies.find((x) => x.name === `own_${i}`)!;
    expect(p).toMatchObject({ object: 'account', operation: 'select', roles: ['rep'] });
    expect(p.using).toEqual(OWNER_IS_ME);
    expect(p.check).toEqual(OWNER_IS_ME);
  });

  it('the filter-object form accepts the variable spellings too', () => {
    for (const s of ['current_user.id', '$current_user.id', '$user.id', '{{ userId }}', '{$userId}']) {
      const { security } = parseMetadata(sources({
        'team.group.yaml': 'name: team\n',
        'mine.sharing.yaml': `name: mine\nobject: account\ntype: criteria\ncondition: { owner_id: ${JSON.stringify(s)} }\naccessLevel: read\nsharedWith: { type: group, value: team }\n`,
      }));
      expect(security.sharingRules[0]!.condition, s).toEqual(OWNER_IS_ME);
    }
  });

  it('metadata without security files gives an empty security model', () => {
    expect(parseMetadata(sources({})).security).toEqual({ roles: [], groups: [], permissionSets: [], sharingRules: [], rlsPolicies: [], ssoMappings: [], scimMappings: [] });
  });

  it('parses a SCIM mapping (*.scim.yaml): each SCIM group\'s access, the default', () => {
    const { security } = parseMetadata(sources({
      'team.group.yaml': 'name: team\n', 'rep.role.yaml': 'name: rep\n',
      'directory.scim.yaml': 'name: directory\norganization: acme\nmappings:\n  - { value: ObjectOS Admins, organizationRole: admin }\n  - { value: Sales, role: rep, groups: [team] }\n',
    }));
    expect(security.scimMappings).toEqual([{
      name: 'directory', organization: 'acme',
      mappings: [
        { value: 'ObjectOS Admins', organizationRole: 'admin', permissionSets: [], groups: [] },
        { value: 'Sales', role: 'rep', permissionSets: [], groups: ['team'] },
      ],
    }]);
  });

  it('parses an SSO mapping (*.sso.yaml): the claim (groups by default), each value\'s access, the default', () => {
    const { security } = parseMetadata(sources({
      'team.group.yaml': 'name: team\n', 'rep.role.yaml': 'name: rep\n', 'viewer.permission.yaml': 'name: viewer\nobjects: {}\n',
      'okta.sso.yaml': 'name: okta\nproviderId: acme-okta\norganization: acme\nmappings:\n  - { value: admins, organizationRole: admin }\n  - { value: sales, role: rep, permissionSets: [viewer], groups: [team] }\ndefault: { organizationRole: member }\n',
    }));
    expect(security.ssoMappings).toEqual([{
      name: 'okta', providerId: 'acme-okta', organization: 'acme', claim: 'groups',
      mappings: [
        { value: 'admins', organizationRole: 'admin', permissionSets: [], groups: [] },
        { value: 'sales', role: 'rep', permissionSets: ['viewer'], groups: ['team'] },
      ],
      default: { organizationRole: 'member', permissionSets: [], groups: [] },
    }]);
  });
});
