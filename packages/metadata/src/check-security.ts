import { ConditionError, parseFilterCondition, parseSqlCondition, type Condition } from './condition.ts';
import type { FieldDefinition } from './field-schema.ts';
import type { ObjectDefinition } from './object-schema.ts';
import type { Report } from './parse-metadata.ts';
import type { ScimMappingDefinition, SsoMappingDefinition,
  GroupDefinition, PermissionSetDefinition, RlsPolicyDefinition, RoleDefinition, SharingRuleDefinition,
} from './security-schema.ts';

export interface SharingRuleModel extends Omit<SharingRuleDefinition, 'condition' | 'accessLevel'> {
  accessLevel: 'read' | 'edit';
  condition: Condition | null;
}
export interface RlsPolicyModel extends Omit<RlsPolicyDefinition, 'using' | 'check'> {
  /** Filters the rows an operation sees (select, update, delete). */
  using: Condition;
  /** What a written row must satisfy (insert, update); defaults to `using`. */
  check: Condition;
}

/** The security metadata: validated, conditions normalised. */
export interface SecurityModel {
  roles: RoleDefinition[];
  groups: GroupDefinition[];
  permissionSets: PermissionSetDefinition[];
  sharingRules: SharingRuleModel[];
  rlsPolicies: RlsPolicyModel[];
  /** Just-in-time access per SSO provider (`*.sso.yaml`). */
  ssoMappings: SsoMappingDefinition[];
  /** Access from each organization's directory (`*.scim.yaml`). */
  scimMappings: ScimMappingDefinition[];
}

interface Entry<T> { value: T; report: Report }
export interface SecurityEntries {
  roles: Entry<RoleDefinition>[];
  groups: Entry<GroupDefinition>[];
  permissionSets: Entry<PermissionSetDefinition>[];
  sharingRules: Entry<SharingRuleDefinition>[];
  rlsPolicies: Entry<RlsPolicyDefinition>[];
  ssoMappings: Entry<SsoMappingDefinition>[];
  scimMappings: Entry<ScimMappingDefinition>[];
}

function unique<T extends { name: string }>(entries: Entry<T>[], kind: string): Map<string, T> {
  const seen = new Map<string, T>();
  for (const { value, report } of entries) {
    if (seen.has(value.name)) report(['name'], `duplicate ${kind} name "${value.name}"`);
    else seen.set(value.name, value);
  }
  return seen;
}

/**
 * Cross-checks the security metadata against the objects. Contradictions (edit without read, a sharing
 * rule that can never widen anything) and unknown references are reported; nothing is thrown.
 */
export function checkSecurity(e: SecurityEntries, objects: ReadonlyMap<string, ObjectDefinition>): SecurityModel {
  const roles = unique(e.roles, 'role');
  const groups = unique(e.groups, 'group');
  unique(e.permissionSets, 'permission set');
  unique(e.sharingRules, 'sharing rule');
  unique(e.rlsPolicies, 'RLS policy');

  for (const { value: r, report } of e.roles) {
    if (r.parent === undefined) continue;
    if (!roles.has(r.parent)) {
      report(['parent'], `unknown parent role "${r.parent}"`);
      continue;
    }
    const path = [r.name];
    for (let p: string | undefined = r.parent; p !== undefined; p = roles.get(p)?.parent) {
      if (path.includes(p)) {
        report(['parent'], `role hierarchy cycle: ${[...path, p].join(' → ')}`);
        break;
      }
      path.push(p);
    }
  }

  const defaults = new Map<string, string>();
  for (const { value: s, report } of e.permissionSets) {
    if (!s.isProfile && s.defaultFor.length > 0) report(['defaultFor'], 'only a profile (isProfile: true) can be the default for an organization role');
    if (s.defaultFor.includes('guest')) checkGuestProfile(s, report);
    for (const role of s.defaultFor) {
      const other = defaults.get(role);
      if (other) report(['defaultFor'], `organization role "${role}" already has the default profile "${other}"`);
      else defaults.set(role, s.name);
    }
    for (const [name, p] of Object.entries(s.objects)) {
      const at = ['objects', name];
      if (!objects.has(name)) report(['objects'], `unknown object "${name}"`, name);
      const needs = (flag: keyof typeof p, on: keyof typeof p) => {
        if (p[flag] && !p[on]) report([...at, flag], `${flag} needs ${on}`);
      };
      needs('allowCreate', 'allowRead');
      needs('allowEdit', 'allowRead');
      needs('allowDelete', 'allowEdit');
      needs('allowTransfer', 'allowEdit');
      needs('viewAllRecords', 'allowRead');
      needs('modifyAllRecords', 'viewAllRecords');
      needs('modifyAllRecords', 'allowEdit');
      needs('modifyAllRecords', 'allowDelete');
    }
    for (const [key, fp] of Object.entries(s.fields)) {
      const [objectName, fieldName, extra] = key.split('.');
      const object = objectName ? objects.get(objectName) : undefined;
      if (extra !== undefined || !fieldName) {
        report(['fields'], `field permission key "${key}" must be "object.field"`, key);
        continue;
      }
      if (!object) {
        report(['fields'], `unknown object "${objectName}"`, key);
        continue;
      }
      const field = object.fields[fieldName];
      if (!field) {
        report(['fields'], `object "${objectName}" has no field "${fieldName}"`, key);
        continue;
      }
      if (fp.editable && !fp.readable) report(['fields', key, 'editable'], 'a field cannot be editable without being readable');
      if (fp.editable && (field.readonly || field.type === 'autonumber')) report(['fields', key, 'editable'], `${key} is read-only in the object metadata; it cannot be made editable`);
    }
  }

  const sharingRules: SharingRuleModel[] = [];
  for (const { value: r, report } of e.sharingRules) {
    const object = objects.get(r.object);
    if (!object) {
      report(['object'], `unknown object "${r.object}"`);
      continue;
    }
    const owd = object.sharingModel;
    if (owd === 'controlled_by_parent') report(['object'], `${r.object} is controlled_by_parent: share its parent records instead`);
    if (owd === 'public_read_write') report(['object'], `${r.object} is public_read_write: a sharing rule cannot widen access to it`);
    if (owd === 'public_read' && r.accessLevel === 'read') report(['accessLevel'], `${r.object} is public_read: a read sharing rule cannot widen access to it`);
    if (r.accessLevel === 'full') report(['accessLevel'], 'accessLevel "full" is not supported: use read or edit');
    if (r.type === 'owner') {
      if (!r.ownedBy) report(['type'], 'an owner-based sharing rule needs ownedBy');
      if (r.condition !== undefined) report(['condition'], 'an owner-based sharing rule takes ownedBy, not condition');
      if (r.ownedBy) checkRecipient(r.ownedBy, ['ownedBy'], report, roles, groups);
    } else {
      if (r.condition === undefined) report(['type'], 'a criteria-based sharing rule needs a condition');
      if (r.ownedBy) report(['ownedBy'], 'a criteria-based sharing rule takes condition, not ownedBy');
    }
    if (r.sharedWith.type === 'guest') {
      if (!e.permissionSets.some(({ value }) => value.defaultFor.includes('guest'))) report(['sharedWith', 'type'], 'sharing with guest users needs a guest profile (a permission set with isProfile: true and defaultFor: [guest])');
      if (r.accessLevel !== 'read') report(['accessLevel'], 'guest users only read: a sharing rule with guest users must have accessLevel read');
      if (r.sharedWith.value) report(['sharedWith', 'value'], 'sharedWith guest takes no value');
    }
    else if (!r.sharedWith.value) report(['sharedWith'], `sharedWith ${r.sharedWith.type} needs a value`);
    else checkRecipient({ type: r.sharedWith.type, value: r.sharedWith.value }, ['sharedWith'], report, roles, groups);
    const condition = r.condition === undefined ? null : conditionOf(r.condition, object, ['condition'], report);
    sharingRules.push({ ...r, accessLevel: r.accessLevel === 'edit' ? 'edit' : 'read', condition });
  }

  const rlsPolicies: RlsPolicyModel[] = [];
  for (const { value: p, report } of e.rlsPolicies) {
    const object = objects.get(p.object);
    if (!object) {
      report(['object'], `unknown object "${p.object}"`);
      continue;
    }
    p.roles.forEach((r, i) => {
      if (!roles.has(r)) report(['roles', i], `unknown role "${r}"`);
    });
    if (p.using === undefined && p.check === undefined) report(['using'], 'an RLS policy needs using or check');
    if (p.operation === 'insert' && p.using !== undefined) report(['using'], 'an insert policy has no rows to filter: use check');
    if (p.operation === 'select' && p.check !== undefined) report(['check'], 'a select policy writes nothing: use using');
    if (p.operation === 'delete' && p.check !== undefined) report(['check'], 'a delete policy writes nothing: use using');
    const using = p.using === undefined ? null : conditionOf(p.using, object, ['using'], report);
    const check = p.check === undefined ? using : conditionOf(p.check, object, ['check'], report);
    const always: Condition = { op: 'const', value: true };
    rlsPolicies.push({ ...p, using: using ?? always, check: check ?? always });
  }

  unique(e.ssoMappings, 'SSO mapping');
  const sets = new Set(e.permissionSets.map((x) => x.value.name));
  const providers = new Set<string>();
  for (const { value: m, report } of e.ssoMappings) {
    if (providers.has(m.providerId)) report(['providerId'], `another SSO mapping already maps provider "${m.providerId}"`);
    providers.add(m.providerId);
    checkGrants(m, report);
  }
  unique(e.scimMappings, 'SCIM mapping');
  const organizations = new Set<string>();
  for (const { value: m, report } of e.scimMappings) {
    if (organizations.has(m.organization)) report(['organization'], `another SCIM mapping already maps organization "${m.organization}"`);
    organizations.add(m.organization);
    checkGrants(m, report);
  }

  /** Every role, permission set and group a mapping grants is declared. */
  function checkGrants(m: Pick<SsoMappingDefinition, 'mappings' | 'default'>, report: Report): void {
    const grants = [...m.mappings.map((g, i) => ({ g, at: ['mappings', i] as (string | number)[] })), ...(m.default ? [{ g: m.default, at: ['default'] as (string | number)[] }] : [])];
    for (const { g, at } of grants) {
      if (g.role !== undefined && !roles.has(g.role)) report([...at, 'role'], `unknown role "${g.role}"`);
      g.permissionSets.forEach((s, i) => sets.has(s) || report([...at, 'permissionSets', i], `unknown permission set "${s}"`));
      g.groups.forEach((x, i) => groups.has(x) || report([...at, 'groups', i], `unknown group "${x}"`));
    }
  }

  return {
    roles: e.roles.map((x) => x.value),
    groups: e.groups.map((x) => x.value),
    permissionSets: e.permissionSets.map((x) => x.value),
    sharingRules,
    rlsPolicies,
    ssoMappings: e.ssoMappings.map((x) => x.value),
    scimMappings: e.scimMappings.map((x) => x.value),
  };
}

/**
 * A guest profile serves anonymous requests: it may only read (objects, all of their records or those
 * shared with guests, and readable fields), and is for guests alone.
 */
function checkGuestProfile(s: PermissionSetDefinition, report: Report): void {
  if (s.defaultFor.some((a) => a !== 'guest')) report(['defaultFor'], 'a guest profile is for guests alone: it cannot also be the default for an organization role');
  for (const [name, p] of Object.entries(s.objects))
    for (const flag of ['allowCreate', 'allowEdit', 'allowDelete', 'allowTransfer', 'modifyAllRecords'] as const)
      if (p[flag]) report(['objects', name, flag], `guest users only read: ${flag} is not allowed in a guest profile`);
  for (const [name, f] of Object.entries(s.fields)) if (f.editable) report(['fields', name, 'editable'], 'guest users only read: a field cannot be editable in a guest profile');
  if (s.systemPermissions.length > 0) report(['systemPermissions'], 'a guest profile cannot hold system permissions');
}

function checkRecipient(
  r: { type: string; value: string },
  at: (string | number)[],
  report: Report,
  roles: ReadonlyMap<string, RoleDefinition>,
  groups: ReadonlyMap<string, GroupDefinition>,
): void {
  if ((r.type === 'role' || r.type === 'role_and_subordinates') && !roles.has(r.value)) report([...at, 'value'], `unknown role "${r.value}"`);
  if (r.type === 'group' && !groups.has(r.value)) report([...at, 'value'], `unknown group "${r.value}"`);
}

function conditionOf(input: string | Record<string, unknown>, object: ObjectDefinition, at: string[], report: Report): Condition | null {
  const fields = new Map<string, FieldDefinition>(Object.entries(object.fields));
  try {
    return typeof input === 'string' ? parseSqlCondition(input, { fields }) : parseFilterCondition(input, { fields });
  } catch (e) {
    if (e instanceof ConditionError) {
      report(at, `${object.name}: ${e.message}`);
      return null;
    }
    throw e;
  }
}
