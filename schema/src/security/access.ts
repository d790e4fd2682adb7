import type { Condition, FieldDep, RlsPolicyModel, SystemPermission } from '@objectos/metadata';
import type { Principal } from '@objectos/principal';
import type { SecurityPlan } from './security-plan.ts';
import type { DataPlan } from '../plan.ts';

export interface FieldAccess { readable: boolean; editable: boolean }
export interface ObjectAccess {
  read: boolean;
  create: boolean;
  edit: boolean;
  delete: boolean;
  /** Spec allowTransfer: may give records it can edit to another owner without owning them. */
  transfer: boolean;
  viewAll: boolean;
  modifyAll: boolean;
  /** Per field (metadata name): readable/editable. Fields absent here are system fields: readable with the object. */
  fields: Record<string, FieldAccess>;
}

/** What one principal may do, per object and field: computed once per request from the plan. */
export interface Access {
  userId: string | null;
  organizationId: string | null;
  /** The member's role in the hierarchy (spec Role), if any. */
  role: string | null;
  /** Roles below the member's role. */
  subordinates: string[];
  groups: string[];
  /** Effective permission sets, profile first. */
  permissionSets: string[];
  profile: string | null;
  /** Organization owner/admin: manages access assignments and any record's shares. */
  orgAdmin: boolean;
  /** Spec `systemPermissions` of the effective sets, together (viewAuditLog, viewSetup…), sorted. */
  systemPermissions: readonly SystemPermission[];
  objects: Record<string, ObjectAccess>;
  /** An anonymous request served in an organization (OBJECTOS_GUEST_ORGANIZATION): the guest profile's reads, guest sharing rules. */
  guest: boolean;
}

const ORG_ROLE_RANK = ['owner', 'admin', 'member'] as const;
const NONE: ObjectAccess = Object.freeze({ read: false, create: false, edit: false, delete: false, transfer: false, viewAll: false, modifyAll: false, fields: {} }) as ObjectAccess;

/** Effective permission sets of a principal: assigned ones, plus the default profile of its organization role when none is a profile. */
export function effectiveSets(plan: SecurityPlan, principal: Principal): { profile: string | null; sets: string[] } {
  // A guest has the guest profile and nothing else (no assignment can reach an anonymous request).
  if (isGuest(principal)) {
    const guest = plan.defaultProfiles.guest ?? null;
    return { profile: guest, sets: guest ? [guest] : [] };
  }
  const assigned = principal.permissionSets.filter((n) => plan.permissionSets[n] !== undefined);
  let profile = assigned.find((n) => plan.permissionSets[n]!.isProfile) ?? null;
  if (!profile && principal.organizationId) {
    const role = ORG_ROLE_RANK.find((r) => principal.roles.includes(r));
    profile = role ? plan.defaultProfiles[role] ?? null : null;
  }
  const sets = [...(profile ? [profile] : []), ...assigned.filter((n) => n !== profile && !plan.permissionSets[n]!.isProfile)];
  return { profile, sets };
}

/**
 * Object and field access granted by a list of permission sets: the same for every principal holding
 * them, so it is computed once per set list and shared (treat it as read-only).
 */
function grantedBy(data: DataPlan, plan: SecurityPlan, sets: readonly string[]): Record<string, ObjectAccess> {
  const objects: Record<string, ObjectAccess> = {};
  for (const name of Object.keys(plan.objects)) {
    const perms = sets.map((s) => plan.permissionSets[s]!.objects[name]).filter((x) => x !== undefined);
    if (perms.length === 0) {
      objects[name] = NONE;
      continue;
    }
    const granted = (k: keyof (typeof perms)[number]) => perms.some((p) => p[k]);
    const a: ObjectAccess = {
      read: granted('allowRead'), create: granted('allowCreate'), edit: granted('allowEdit'), delete: granted('allowDelete'), transfer: granted('allowTransfer'),
      viewAll: granted('viewAllRecords'), modifyAll: granted('modifyAllRecords'), fields: {},
    };
    // A set restricts a field by listing it; a field it does not list follows the object. Sets only add:
    // a field is readable when any set that grants the object's read leaves it readable.
    const readers = sets.map((s) => plan.permissionSets[s]!).filter((s) => s.objects[name]?.allowRead);
    const editors = sets.map((s) => plan.permissionSets[s]!).filter((s) => s.objects[name]?.allowEdit);
    for (const f of data.objects[name]?.object.fields ?? []) {
      const key = `${name}.${f.name}`;
      a.fields[f.name] = {
        readable: readers.some((s) => s.fields[key]?.readable ?? true),
        editable: !f.readonly && f.type !== 'autonumber' && editors.some((s) => {
          const fp = s.fields[key];
          return fp ? fp.readable && fp.editable : true;
        }),
      };
    }
    objects[name] = a;
  }
  readThrough(data, objects);
  return objects;
}

/**
 * A computed field shows what it reads: it is readable only when every field it reads is, on this object,
 * through its lookups and in the children it rolls up (and those records' objects are readable), so a
 * formula or roll-up never reveals a field its reader could not select. Its rows are the reader's too (sql/computed.ts).
 */
function readThrough(data: DataPlan, objects: Record<string, ObjectAccess>): void {
  const dep = (d: FieldDep, seen: Set<string>): boolean => {
    const a = objects[d.object];
    if (!a?.read) return false;
    const f = data.objects[d.object]?.object.fields.find((x) => x.name === d.field);
    if (!f) return true; // a system column (id, created_at…): readable with its object
    if (!(a.fields[f.name]?.readable ?? false)) return false;
    const key = `${d.object}.${d.field}`;
    if (!f.computed || seen.has(key)) return true;
    seen.add(key);
    return f.computed.deps.every((x) => dep(x, seen));
  };
  const decided: [FieldAccess, boolean][] = [];
  for (const [name, a] of Object.entries(objects)) {
    if (!a.read) continue;
    for (const f of data.objects[name]?.object.fields ?? []) {
      const fa = a.fields[f.name];
      if (f.computed && fa) decided.push([fa, fa.readable && f.computed.deps.every((d) => dep(d, new Set([`${name}.${f.name}`])))]);
    }
  }
  for (const [fa, readable] of decided) fa.readable = readable;
}

/** Per security plan (compiled together with its data plan): set list → granted object access and system permissions. */
const grantedCache = new WeakMap<SecurityPlan, Map<string, { objects: Record<string, ObjectAccess>; system: readonly SystemPermission[] }>>();

/** The system permissions a list of sets grants together (a set only adds). */
const systemGrantedBy = (plan: SecurityPlan, sets: readonly string[]): readonly SystemPermission[] =>
  Object.freeze([...new Set(sets.flatMap((s) => plan.permissionSets[s]!.systemPermissions ?? []))].sort());

/** What a principal may do under the plans: computed per request, the per-set-list part memoized. */
export function accessFor(data: DataPlan, plan: SecurityPlan, principal: Principal): Access {
  const { profile, sets } = principal.organizationId ? effectiveSets(plan, principal) : { profile: null, sets: [] };
  const role = principal.role !== null && plan.roles[principal.role] ? principal.role : null;
  let cache = grantedCache.get(plan);
  if (!cache) grantedCache.set(plan, (cache = new Map()));
  const key = sets.join(',');
  let granted = cache.get(key);
  if (!granted) cache.set(key, (granted = { objects: grantedBy(data, plan, sets), system: systemGrantedBy(plan, sets) }));
  return {
    userId: principal.userId,
    organizationId: principal.organizationId,
    role,
    subordinates: role ? plan.roles[role]!.subordinates : [],
    groups: principal.groups.filter((g) => plan.groups.includes(g)),
    permissionSets: sets,
    profile,
    orgAdmin: principal.organizationId !== null && (principal.roles.includes('owner') || principal.roles.includes('admin')),
    systemPermissions: granted.system,
    objects: granted.objects,
    guest: isGuest(principal),
  };
}

/** An anonymous request the gateway serves in an organization: the guest profile applies. */
export const isGuest = (principal: Principal): boolean => principal.kind === 'anonymous' && principal.organizationId !== null;

export type AccessLevel = 'read' | 'edit';

/** Who a share (rule or manual) is with: does it reach this member? */
export function reaches(plan: SecurityPlan, access: Access, to: { type: string; value?: string | undefined }): boolean {
  switch (to.type) {
    case 'user': return access.userId !== null && to.value === access.userId;
    case 'role': return access.role !== null && to.value === access.role;
    case 'role_and_subordinates':
      return access.role !== null && to.value !== undefined && (to.value === access.role || (plan.roles[to.value]?.subordinates.includes(access.role) ?? false));
    case 'group': return to.value !== undefined && access.groups.includes(to.value);
    case 'guest': return access.guest;
    default: return false;
  }
}

/** One way a record can be reached; the data subgraph compiles each to SQL, explainAccess names them. */
export type Grant =
  | { layer: 'organization_wide_default' | 'view_all' | 'modify_all'; rule: string; kind: 'all' }
  | { layer: 'owner'; rule: string; kind: 'owner' }
  | { layer: 'role_hierarchy'; rule: string; kind: 'ownerInRoles'; roles: string[] }
  | { layer: 'sharing_rule'; rule: string; kind: 'ownedBy'; ownedBy: { type: 'user' | 'group' | 'role' | 'role_and_subordinates'; value: string }; roles: string[] }
  | { layer: 'sharing_rule'; rule: string; kind: 'criteria'; condition: Condition }
  | { layer: 'manual_share'; rule: string; kind: 'manualShare'; level: AccessLevel }
  | { layer: 'parent'; rule: string; kind: 'parent'; object: string; column: string; level: AccessLevel };

/**
 * The ways this principal reaches records of `object` at `level`; an empty list means none. The object
 * permission (allowRead/allowEdit) gates everything; RLS is applied on top (AND), see {@link rlsFor}.
 */
export function recordGrants(plan: SecurityPlan, access: Access, object: string, level: AccessLevel): Grant[] {
  const o = plan.objects[object];
  const a = access.objects[object];
  if (!o || !a || access.organizationId === null) return [];
  if (level === 'read' ? !a.read : !a.edit) return [];
  if (level === 'read' ? a.viewAll : a.modifyAll)
    return [{ layer: level === 'read' ? 'view_all' : 'modify_all', rule: level === 'read' ? 'viewAllRecords' : 'modifyAllRecords', kind: 'all' }];
  if (o.parent) return [{ layer: 'parent', rule: `${o.owd}: access follows ${o.parent.object}`, kind: 'parent', object: o.parent.object, column: o.parent.column, level }];
  if (o.owd === 'public_read_write' || (o.owd === 'public_read' && level === 'read'))
    return [{ layer: 'organization_wide_default', rule: o.owd, kind: 'all' }];
  const grants: Grant[] = [{ layer: 'owner', rule: 'record owner', kind: 'owner' }];
  if (access.subordinates.length > 0) grants.push({ layer: 'role_hierarchy', rule: `owned by a role below ${access.role}`, kind: 'ownerInRoles', roles: access.subordinates });
  for (const r of o.sharingRules) {
    if (level === 'edit' && r.accessLevel !== 'edit') continue;
    if (!reaches(plan, access, r.sharedWith)) continue;
    if (r.type === 'owner' && r.ownedBy) {
      const ob = r.ownedBy;
      const roles = ob.type === 'role' ? [ob.value] : ob.type === 'role_and_subordinates' ? [ob.value, ...(plan.roles[ob.value]?.subordinates ?? [])] : [];
      grants.push({ layer: 'sharing_rule', rule: r.name, kind: 'ownedBy', ownedBy: ob, roles });
    } else if (r.condition) grants.push({ layer: 'sharing_rule', rule: r.name, kind: 'criteria', condition: r.condition });
  }
  grants.push({ layer: 'manual_share', rule: 'manual share', kind: 'manualShare', level });
  return grants;
}

export type RlsOperation = 'select' | 'insert' | 'update' | 'delete';

/**
 * RLS policies that apply to this principal for an operation. `null`: the object has no policy for the
 * operation (no restriction). An empty list: it has some, none applies to this member: nothing passes.
 */
export function rlsFor(plan: SecurityPlan, access: Access, object: string, op: RlsOperation): RlsPolicyModel[] | null {
  const all = (plan.objects[object]?.rlsPolicies ?? []).filter((p) => p.operation === op || p.operation === 'all');
  if (all.length === 0) return null;
  return all.filter((p) => p.roles.length === 0 || (access.role !== null && p.roles.includes(access.role)));
}
