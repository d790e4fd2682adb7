import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { services } from '@objectos/testkit';
import type { RulesEngine } from './rules-app.ts';
import { ENTERPRISE, PATCH_OP, SCIM_GROUP, SCIM_USER, startScimRig, stateOf, type ScimRig } from './scim-rig.ts';

/**
 * Issue #21 point 4: SCIM 2.0 provisioning (better-auth's SCIM plugin at /api/auth/scim/v2), through
 * `npm start`'s path, with the request sequences Okta and Microsoft Entra ID send: users are created,
 * updated, deactivated and deleted; SCIM group membership becomes ObjectOS group membership
 * (`Key Account Team` → the metadata's `key_account_team`). Every change is audited and reaches
 * ObjectOS (membership, groups, account lock, sessions) before the provider gets its answer.
 */
/** The organization's directory mapping: its SCIM groups decide role, permission sets and organization role. */
const directory = (engine: string) => `name: directory
organization: scim-${engine}
mappings:
  - value: ObjectOS Admins
    organizationRole: admin
  - value: Sales
    role: sales_rep
    permissionSets: [revenue_viewer]
default:
  organizationRole: member
`;
const ENGINES: RulesEngine[] = ['pglite', ...(services.postgres ? (['postgres'] as const) : [])];

describe.each(ENGINES)('SCIM provisioning on %s', (engine) => {
  let s: ScimRig;
  beforeAll(async () => {
    s = await startScimRig(engine, `scim-${engine}`, {}, { 'security/directory.scim.yaml': directory(engine) });
  }, 60_000);
  afterAll(() => s?.close());

  it('Okta: find, create, push a group, update, deactivate, reactivate', async () => {
    const email = `alice@${s.domain}`;
    // Okta first looks the user up by userName.
    const found = await s.scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}&startIndex=1&count=100`);
    expect(found.status).toBe(200);
    expect(found.json.totalResults).toBe(0);

    const created = await s.scim('POST', '/Users', {
      schemas: [SCIM_USER], userName: email, name: { givenName: 'Alice', familyName: 'Anders' },
      emails: [{ primary: true, value: email, type: 'work' }], displayName: 'Alice Anders', locale: 'en-US', externalId: '00u1alice', groups: [], active: true,
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const id = String(created.json.id);
    expect((await s.scim('GET', `/Users/${id}`)).json).toMatchObject({ userName: email, active: true, name: { givenName: 'Alice', familyName: 'Anders' } });
    // In ObjectOS: a member of the organization, the address vouched for by the directory of its proved domain.
    let state = await stateOf(s, email);
    expect(state).toMatchObject({ role: 'member', banned: false });
    const added = await s.events('authz.role_assigned');
    expect(added.some((e) => e.details.userId === state.userId && e.details.method === 'scim' && e.actor_type === 'integration')).toBe(true);

    // Okta group push: the group, then its members.
    const group = await s.scim('POST', '/Groups', { schemas: [SCIM_GROUP], displayName: 'Key Account Team', members: [] });
    expect(group.status, JSON.stringify(group.json)).toBe(201);
    const gid = String(group.json.id);
    const push = await s.scim('PATCH', `/Groups/${gid}`, { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: id, display: email }] }] });
    expect([200, 204]).toContain(push.status);
    expect((await stateOf(s, email)).groups).toEqual(['key_account_team']);
    // Through the identity API too: the owner reads the member's access.
    const access = await s.rig.q<{ memberAccess: { groups: string[] } }>('query($u: ID!) { memberAccess(userId: $u) { groups } }', { u: state.userId });
    expect(access.memberAccess.groups).toEqual(['key_account_team']);
    // A group no metadata group stands for is kept by the directory and gives nothing here.
    const other = await s.scim('POST', '/Groups', { schemas: [SCIM_GROUP], displayName: 'Everyone in Okta', members: [{ value: id }] });
    expect(other.status).toBe(201);
    expect((await stateOf(s, email)).groups).toEqual(['key_account_team']);

    // Okta updates a profile with PUT.
    const put = await s.scim('PUT', `/Users/${id}`, {
      schemas: [SCIM_USER], userName: email, name: { givenName: 'Alice', familyName: 'Anders-Berg' },
      emails: [{ primary: true, value: email, type: 'work' }], displayName: 'Alice Anders-Berg', externalId: '00u1alice', active: true,
    });
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    expect(put.json).toMatchObject({ name: { familyName: 'Anders-Berg' } });

    // Deactivation (Okta: PATCH active false): out of the organization, the account locked.
    const off = await s.scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] });
    expect(off.status, JSON.stringify(off.json)).toBe(200);
    state = await stateOf(s, email);
    expect(state).toMatchObject({ role: null, groups: null, banned: true });
    expect((await s.events('authz.role_removed')).some((e) => e.details.userId === state.userId && e.details.method === 'scim')).toBe(true);
    expect((await s.events('auth.account_locked')).some((e) => e.details.userId === state.userId)).toBe(true);

    // Reactivation: back in, with the groups the directory still holds for them, and unlocked.
    const on = await s.scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: true } }] });
    expect(on.status).toBe(200);
    expect(await stateOf(s, email)).toMatchObject({ role: 'member', groups: ['key_account_team'], banned: false });
    expect((await s.events('auth.account_unlocked')).some((e) => e.details.userId === state.userId)).toBe(true);

    // Removed from the group: the ObjectOS group goes too.
    const pull = await s.scim('PATCH', `/Groups/${gid}`, { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${id}"]` }] });
    expect([200, 204]).toContain(pull.status);
    expect((await stateOf(s, email)).groups).toEqual([]);
    expect((await s.events('authz.permission_revoked')).some((e) => e.details.userId === state.userId && (e.details.groups as string[]).includes('key_account_team'))).toBe(true);
  });

  it('Entra ID: filter by externalId, enterprise extension, legacy group schema, capitalized PATCH, delete', async () => {
    const email = `bo.chen@${s.domain}`;
    expect((await s.scim('GET', `/Users?filter=${encodeURIComponent('externalId eq "e-bo-1"')}`)).json.totalResults).toBe(0);
    const created = await s.scim('POST', '/Users', {
      schemas: [SCIM_USER, ENTERPRISE], externalId: 'e-bo-1', userName: email, active: true, displayName: 'Bo Chen',
      emails: [{ primary: true, type: 'work', value: email }], name: { formatted: 'Bo Chen', familyName: 'Chen', givenName: 'Bo' },
      [ENTERPRISE]: { department: 'Sales', employeeNumber: '1042' },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const id = String(created.json.id);
    // Entra's classic group create: its legacy schema marker beside the core one, no members (added by a
    // capitalized PATCH). Its externalId names the metadata group, whatever the display name says.
    const group = await s.scim('POST', '/Groups', {
      schemas: [SCIM_GROUP, 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group'], externalId: 'key_account_team', displayName: 'KAT (Entra)',
    });
    expect(group.status, JSON.stringify(group.json)).toBe(201);
    const gid = String(group.json.id);
    const add = await s.scim('PATCH', `/Groups/${gid}`, { schemas: [PATCH_OP], Operations: [{ op: 'Add', path: 'members', value: [{ value: id }] }] });
    expect([200, 204], JSON.stringify(add.json)).toContain(add.status);
    expect(await stateOf(s, email)).toMatchObject({ role: 'member', groups: ['key_account_team'] });
    // Entra updates attributes one by one, with "Replace" and booleans as strings.
    const rename = await s.scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'displayName', value: 'Bo Chen (Sales)' }] });
    expect(rename.status, JSON.stringify(rename.json)).toBe(200);
    const off = await s.scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });
    expect(off.status, JSON.stringify(off.json)).toBe(200);
    expect(await stateOf(s, email)).toMatchObject({ role: null, banned: true });
    // Entra deletes a user removed from the application's scope (after a soft delete).
    const gone = await s.scim('DELETE', `/Users/${id}`);
    expect(gone.status).toBe(204);
    expect((await s.scim('GET', `/Users/${id}`)).status).toBe(404);
    // The account stays (records and the audit trail name it), locked and out of the organization.
    expect(await stateOf(s, email)).toMatchObject({ role: null, groups: null, banned: true });
  });

  it("the organization's *.scim.yaml: SCIM groups decide the role, permission sets and organization role; leaving a group takes its grant away", async () => {
    const email = `sven@${s.domain}`;
    const created = await s.scim('POST', '/Users', { schemas: [SCIM_USER], userName: email, emails: [{ primary: true, value: email }], name: { givenName: 'Sven', familyName: 'S' }, active: true });
    expect(created.status).toBe(201);
    const id = String(created.json.id);
    const { userId } = await stateOf(s, email);
    const sales = await s.scim('POST', '/Groups', { schemas: [SCIM_GROUP], displayName: 'Sales', members: [{ value: id }] });
    const admins = await s.scim('POST', '/Groups', { schemas: [SCIM_GROUP], displayName: 'ObjectOS Admins', members: [{ value: id }] });
    expect([sales.status, admins.status]).toEqual([201, 201]);
    const access = async () => (await s.rig.q<{ memberAccess: { role: string | null; permissionSets: string[] } }>('query($u: ID!) { memberAccess(userId: $u) { role permissionSets } }', { u: userId })).memberAccess;
    expect(await access()).toEqual({ role: 'sales_rep', permissionSets: ['revenue_viewer'] });
    expect((await stateOf(s, email)).role).toBe('admin');
    const leave = (gid: unknown) => s.scim('PATCH', `/Groups/${String(gid)}`, { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${id}"]` }] });
    expect([200, 204]).toContain((await leave(admins.json.id)).status);
    expect((await stateOf(s, email)).role).toBe('member');
    expect([200, 204]).toContain((await leave(sales.json.id)).status);
    expect(await access()).toEqual({ role: null, permissionSets: [] });
    expect((await s.events('authz.permission_revoked')).some((e) => e.details.userId === userId && (e.details.permissionSets as string[]).includes('revenue_viewer'))).toBe(true);
  });
});
