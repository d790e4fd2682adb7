import {
  SYSTEM_PERMISSIONS, type MetadataModel, type ObjectPermission, type PermissionSetDefinition, type ProfileAudience, type RlsPolicyModel, type SharingRuleModel,
} from '@objectos/metadata';
import type { DataPlan } from '../plan.ts';

/** The security model compiled once from metadata: what both enforcement points (gateway, data subgraph) use. */
export interface SecurityPlan {
  /** Role → its transitive subordinates (not itself) and its ancestors. */
  roles: Record<string, { parent: string | null; subordinates: string[]; ancestors: string[] }>;
  groups: string[];
  permissionSets: Record<string, PermissionSetDefinition>;
  /** Organization role → default profile (members without an assigned profile get it); `guest` → the guest profile. */
  defaultProfiles: Partial<Record<ProfileAudience, string>>;
  /** True when the metadata declares no permission set: built-in profiles apply (see {@link BUILTIN_PROFILES}). */
  builtin: boolean;
  objects: Record<string, ObjectSecurity>;
}

export interface ObjectSecurity {
  name: string;
  owd: 'private' | 'public_read' | 'public_read_write' | 'controlled_by_parent';
  /** For controlled_by_parent: the master_detail field and the parent object. */
  parent: { field: string; column: string; object: string } | null;
  sharingRules: SharingRuleModel[];
  rlsPolicies: RlsPolicyModel[];
}

const ALL: ObjectPermission = { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: true, allowTransfer: true, viewAllRecords: true, modifyAllRecords: true };
const STANDARD: ObjectPermission = { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: true, allowTransfer: false, viewAllRecords: false, modifyAllRecords: false };

/** Profiles used when the metadata declares no permission sets: owners and admins see everything, members follow the OWD. */
export const BUILTIN_PROFILES = { admin: '__builtin_admin', standard: '__builtin_standard' } as const;

function builtinSets(model: MetadataModel): PermissionSetDefinition[] {
  const objects = (perm: ObjectPermission) => Object.fromEntries(model.objects.map((o) => [o.name, { ...perm }]));
  return [
    { name: BUILTIN_PROFILES.admin, label: 'Administrator (built-in)', isProfile: true, defaultFor: ['owner', 'admin'], objects: objects(ALL), fields: {}, systemPermissions: [...SYSTEM_PERMISSIONS] },
    { name: BUILTIN_PROFILES.standard, label: 'Standard user (built-in)', isProfile: true, defaultFor: ['member'], objects: objects(STANDARD), fields: {}, systemPermissions: [] },
  ];
}

/** Compiles roles, permission sets, OWDs, sharing rules and RLS policies into a {@link SecurityPlan}. Pure. */
export function compileSecurity(model: MetadataModel, data: DataPlan): SecurityPlan {
  const s = model.security;
  const builtin = s.permissionSets.length === 0;
  const sets = builtin ? builtinSets(model) : s.permissionSets;
  const roles: SecurityPlan['roles'] = {};
  const parentOf = new Map(s.roles.map((r) => [r.name, r.parent ?? null]));
  for (const r of s.roles) {
    const ancestors: string[] = [];
    for (let p = r.parent ?? null; p !== null; p = parentOf.get(p) ?? null) ancestors.push(p);
    roles[r.name] = { parent: r.parent ?? null, subordinates: [], ancestors };
  }
  for (const [name, r] of Object.entries(roles)) for (const a of r.ancestors) roles[a]!.subordinates.push(name);
  for (const r of Object.values(roles)) r.subordinates.sort();
  const defaultProfiles: SecurityPlan['defaultProfiles'] = {};
  for (const set of sets) for (const role of set.defaultFor) defaultProfiles[role] = set.name;
  const objects: Record<string, ObjectSecurity> = {};
  for (const o of model.objects) {
    const md = o.sharingModel === 'controlled_by_parent' ? o.fields.find((f) => f.type === 'master_detail') : undefined;
    objects[o.name] = {
      name: o.name,
      owd: o.sharingModel,
      parent: md && md.type === 'master_detail' ? { field: md.name, column: data.objects[o.name]!.columns.find((c) => c.name === md.name)!.column, object: md.reference } : null,
      sharingRules: s.sharingRules.filter((r) => r.object === o.name && r.active),
      rlsPolicies: s.rlsPolicies.filter((p) => p.object === o.name && p.enabled).sort((a, b) => b.priority - a.priority),
    };
  }
  return { roles, groups: s.groups.map((g) => g.name), permissionSets: Object.fromEntries(sets.map((x) => [x.name, x])), defaultProfiles, builtin, objects };
}

