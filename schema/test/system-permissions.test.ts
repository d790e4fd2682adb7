import { describe, expect, it } from 'vitest';
import { loadMetadata, parseMetadata } from '@objectos/metadata';
import { REPO_ROOT, TEST_ORG, testPrincipal } from '@objectos/testkit';
import { accessFor, compile } from '../src/index.ts';

/** Spec PermissionSet.systemPermissions: compiled into each principal's access, from its effective sets. */
describe('system permissions', () => {
  it('are the union of the effective sets, profile and assigned sets alike', async () => {
    const { plan, security } = compile(await loadMetadata(`${REPO_ROOT}metadata`));
    const member = (over: Partial<ReturnType<typeof testPrincipal>>) => ({ ...testPrincipal(TEST_ORG), ...over });
    // An owner gets the system administrator profile (defaultFor owner): every system permission.
    expect(accessFor(plan, security, member({ roles: ['owner'] })).systemPermissions).toEqual(
      ['exportAuditLog', 'manageAutomation', 'manageJobs', 'manageUsers', 'manageWorkflows', 'viewAuditLog', 'viewJobs', 'viewMetrics', 'viewSetup']);
    // A member (standard_user profile) has none; revenue_viewer adds viewAuditLog and nothing else.
    expect(accessFor(plan, security, member({ roles: ['member'] })).systemPermissions).toEqual([]);
    expect(accessFor(plan, security, member({ roles: ['member'], permissionSets: ['revenue_viewer'] })).systemPermissions).toEqual(['viewAuditLog']);
    // Outside an organization nothing applies.
    expect(accessFor(plan, security, { ...member({ roles: ['owner'] }), organizationId: null }).systemPermissions).toEqual([]);
  });

  it('are all the built-in administrator’s when the metadata declares no permission set, and none of the built-in member’s', () => {
    const model = parseMetadata([{ file: 'note.object.yaml', text: 'name: note\nlabel: Note\nfields:\n  title: { type: text, label: Title }\n' }]);
    const { plan, security } = compile(model);
    expect(accessFor(plan, security, { ...testPrincipal(TEST_ORG), roles: ['admin'] }).systemPermissions).toContain('viewAuditLog');
    expect(accessFor(plan, security, { ...testPrincipal(TEST_ORG), roles: ['member'] }).systemPermissions).toEqual([]);
  });
});
