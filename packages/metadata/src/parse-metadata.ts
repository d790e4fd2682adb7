import { createHash } from 'node:crypto';
import pluralize from 'pluralize';
import { LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { MetadataError, type MetadataIssue } from './errors.ts';
import { humanize } from './humanize.ts';
import { locate, type PathKey } from './locate.ts';
import type { FieldModel, MetadataModel, ObjectModel } from './model.ts';
import type { SecurityModel } from './check-security.ts';
import { ObjectSchema, type ObjectDefinition } from './object-schema.ts';
import { DEFAULT_POLICY, PolicySchema, type PolicyDefinition } from './policy-schema.ts';
import { AuditConfigSchema, DEFAULT_AUDIT_CONFIG, type AuditConfig } from './audit-schema.ts';
import { checkModel } from './check-model.ts';
import type { ValidationModel } from './check-validations.ts';
import type { ComputedModel } from './check-computed.ts';
import { checkSecurity, type SecurityEntries } from './check-security.ts';
import { JobSchema, type JobDefinition } from './job-schema.ts';
import { TemplateSchema, type TemplateDefinition } from './template-schema.ts';
import { WorkflowActionSchema, WorkflowRuleSchema, type WorkflowAction, type WorkflowRuleDefinition } from './rule-schema.ts';
import { ConnectorSchema, type ConnectorDefinition } from './connector-schema.ts';
import { checkRules } from './check-rules.ts';
import { FlowSchema, type FlowDefinition } from './flows/flow-schema.ts';
import { checkFlows } from './flows/check-flows.ts';
import { StateMachineSchema, type StateMachineDefinition } from './workflow/state-machine-schema.ts';
import { checkStateMachines } from './workflow/check-state-machines.ts';
import { ApprovalSchema, type ApprovalDefinition } from './workflow/approval-schema.ts';
import { checkApprovals } from './workflow/check-approvals.ts';
import { GroupSchema, PermissionSetSchema, RlsPolicySchema, RoleSchema, ScimMappingSchema, SharingRuleSchema, SsoMappingSchema } from './security-schema.ts';

export interface MetadataSource {
  /** Name used in error messages (a path relative to the metadata root). */
  file: string;
  text: string;
}

interface Parsed<T> {
  source: MetadataSource;
  doc: Document;
  lc: LineCounter;
  value: T;
}
type ParsedFile = Parsed<ObjectDefinition>;

export const OBJECT_FILE = /\.object\.ya?ml$/;
export const POLICY_FILE = /\.policy\.ya?ml$/;
/** The audit configuration (spec AuditConfig), at most one file. */
export const AUDIT_FILE = /\.audit\.ya?ml$/;
/** Spec `Job` definitions: scheduled handlers. */
export const JOB_FILE = /\.job\.ya?ml$/;
/** Notification templates (handlebars, per locale). */
export const TEMPLATE_FILE = /\.template\.ya?ml$/;
/** Spec `WorkflowRule` definitions: actions run when records change (or on a schedule). */
export const RULE_FILE = /\.rule\.ya?ml$/;
/** HTTP connectors that `connector_action` rule actions call. */
export const CONNECTOR_FILE = /\.connector\.ya?ml$/;
/** Spec `Flow` definitions: nodes and edges run on variables (through the API, on record changes, on a schedule). */
export const FLOW_FILE = /\.flow\.ya?ml$/;
/** Record state machines (the spec's legacy FSM YAML) bound to a select field. */
export const STATE_MACHINE_FILE = /\.statemachine\.ya?ml$/;
/** Named workflow actions (`notify_manager.action.yaml`), which state machines refer to by name. */
export const ACTION_FILE = /\.action\.ya?ml$/;
/** Spec `Approval` processes. */
export const APPROVAL_FILE = /\.approval\.ya?ml$/;

/** Security metadata files, one definition each (spec Role, group, PermissionSet, SharingRule, RLS policy). */
const SECURITY_FILES = {
  roles: { pattern: /\.role\.ya?ml$/, schema: RoleSchema, shape: 'a role file must be a YAML mapping with name (and parent)' },
  groups: { pattern: /\.group\.ya?ml$/, schema: GroupSchema, shape: 'a group file must be a YAML mapping with name' },
  permissionSets: { pattern: /\.permission\.ya?ml$/, schema: PermissionSetSchema, shape: 'a permission set file must be a YAML mapping with name, objects and fields' },
  sharingRules: { pattern: /\.sharing\.ya?ml$/, schema: SharingRuleSchema, shape: 'a sharing rule file must be a YAML mapping with name, object, type, accessLevel and sharedWith' },
  rlsPolicies: { pattern: /\.rls\.ya?ml$/, schema: RlsPolicySchema, shape: 'an RLS policy file must be a YAML mapping with name, object and using/check' },
  ssoMappings: { pattern: /\.sso\.ya?ml$/, schema: SsoMappingSchema, shape: 'an SSO mapping file must be a YAML mapping with name, providerId, claim and mappings' },
  scimMappings: { pattern: /\.scim\.ya?ml$/, schema: ScimMappingSchema, shape: 'a SCIM mapping file must be a YAML mapping with name, organization and mappings' },
} as const;
type SecurityKind = keyof typeof SECURITY_FILES;
const securityKindOf = (file: string): SecurityKind | undefined =>
  (Object.keys(SECURITY_FILES) as SecurityKind[]).find((k) => SECURITY_FILES[k].pattern.test(file));

/** Every file name the loader reads. */
export const METADATA_FILE = new RegExp([OBJECT_FILE, POLICY_FILE, AUDIT_FILE, JOB_FILE, TEMPLATE_FILE, RULE_FILE, CONNECTOR_FILE, FLOW_FILE, STATE_MACHINE_FILE, APPROVAL_FILE, ACTION_FILE, ...Object.values(SECURITY_FILES).map((f) => f.pattern)].map((r) => r.source).join('|'));

/** Reports a problem at a path inside one parsed file. */
export type Report = (path: readonly PathKey[], message: string, key?: string) => void;

/**
 * Parses and validates object metadata from in-memory sources: pure, no I/O.
 * Throws {@link MetadataError} listing every problem (file, line, path, message).
 */
export function parseMetadata(sources: readonly MetadataSource[]): MetadataModel {
  const issues: MetadataIssue[] = [];
  const parsed: ParsedFile[] = [];
  const policies: Parsed<PolicyDefinition>[] = [];
  const audits: Parsed<AuditConfig>[] = [];
  const jobs: Parsed<JobDefinition>[] = [];
  const templates: Parsed<TemplateDefinition>[] = [];
  const rules: Parsed<WorkflowRuleDefinition>[] = [];
  const connectors: Parsed<ConnectorDefinition>[] = [];
  const flows: Parsed<FlowDefinition>[] = [];
  const machines: Parsed<StateMachineDefinition>[] = [];
  const approvals: Parsed<ApprovalDefinition>[] = [];
  const namedActions: Parsed<WorkflowAction>[] = [];
  const security: { [K in SecurityKind]: Parsed<z.output<(typeof SECURITY_FILES)[K]['schema']>>[] } = {
    roles: [], groups: [], permissionSets: [], sharingRules: [], rlsPolicies: [], ssoMappings: [], scimMappings: [],
  };
  for (const source of [...sources].sort((a, b) => a.file.localeCompare(b.file))) {
    const kind = securityKindOf(source.file);
    if (kind) {
      const spec = SECURITY_FILES[kind];
      const file = parseFile(source, spec.schema as z.ZodType<unknown>, spec.shape, issues);
      if (file) (security[kind] as Parsed<unknown>[]).push(file);
    } else if (AUDIT_FILE.test(source.file)) {
      const file = parseFile(source, AuditConfigSchema, 'an audit file must be a YAML mapping with name (and eventTypes, retentionPolicy…)', issues);
      if (file) audits.push(file);
    } else if (JOB_FILE.test(source.file)) {
      const file = parseFile(source, JobSchema, 'a job file must be a YAML mapping with name, schedule and handler', issues);
      if (file) jobs.push(file);
    } else if (TEMPLATE_FILE.test(source.file)) {
      const file = parseFile(source, TemplateSchema, 'a template file must be a YAML mapping with name, topic and locales', issues);
      if (file) templates.push(file);
    } else if (RULE_FILE.test(source.file)) {
      const file = parseFile(source, WorkflowRuleSchema, 'a rule file must be a YAML mapping with name, objectName, triggerType and actions', issues);
      if (file) rules.push(file);
    } else if (ACTION_FILE.test(source.file)) {
      const file = parseFile(source, WorkflowActionSchema, 'an action file must be a YAML mapping with name and type (a workflow rule action)', issues);
      if (file) namedActions.push(file);
    } else if (APPROVAL_FILE.test(source.file)) {
      const file = parseFile(source, ApprovalSchema, 'an approval file must be a YAML mapping with name, object and steps', issues);
      if (file) approvals.push(file);
    } else if (STATE_MACHINE_FILE.test(source.file)) {
      const file = parseFile(source, StateMachineSchema, 'a state machine file must be a YAML mapping with name, object and states', issues);
      if (file) machines.push(file);
    } else if (FLOW_FILE.test(source.file)) {
      const file = parseFile(source, FlowSchema, 'a flow file must be a YAML mapping with name, type, nodes and edges', issues);
      if (file) flows.push(file);
    } else if (CONNECTOR_FILE.test(source.file)) {
      const file = parseFile(source, ConnectorSchema, 'a connector file must be a YAML mapping with name, baseUrl, auth and actions', issues);
      if (file) connectors.push(file);
    } else if (POLICY_FILE.test(source.file)) {
      const file = parseFile(source, PolicySchema, 'a policy file must be a YAML mapping with name, password and session', issues);
      if (file) policies.push(file);
    } else {
      const file = parseFile(source, ObjectSchema, 'an object file must be a YAML mapping with name and fields', issues);
      if (file) parsed.push(file);
    }
  }
  let securityModel: SecurityModel | null = null;
  let validations = new Map<string, ValidationModel[]>();
  let computed = new Map<string, Map<string, ComputedModel>>();
  if (issues.length === 0) {
    ({ validations, computed } = checkModel(parsed.map((p) => ({ object: p.value, report: reporterFor(p, issues) }))));
    checkPolicies(policies, issues);
    checkUniqueNames(jobs, 'job', issues);
    checkUniqueNames(templates, 'template', issues);
    checkUniqueNames(rules, 'rule', issues);
    checkUniqueNames(connectors, 'connector', issues);
    checkUniqueNames(flows, 'flow', issues);
    checkUniqueNames(machines, 'state machine', issues);
    checkUniqueNames(approvals, 'approval process', issues);
    checkUniqueNames(namedActions, 'action', issues);
    for (const extra of audits.slice(1)) reporterFor(extra, issues)(['name'], `only one audit configuration is allowed; ${audits[0]!.source.file} already declares one`);
    const entries = Object.fromEntries(
      Object.entries(security).map(([k, list]) => [k, (list as Parsed<unknown>[]).map((p) => ({ value: p.value, report: reporterFor(p, issues) }))]),
    ) as unknown as SecurityEntries;
    securityModel = checkSecurity(entries, new Map(parsed.map((p) => [p.value.name, p.value])));
  }
  // Rules point at objects, roles, templates and connectors: checked once those are known to be sound.
  const conditions = issues.length > 0 || !securityModel ? [] : checkRules(rules.map((r) => ({ value: r.value, report: reporterFor(r, issues) })), {
    objects: new Map(parsed.map((p) => [p.value.name, p.value])),
    roles: new Set(securityModel.roles.map((r) => r.name)),
    templates: new Set(templates.map((t) => t.value.name)),
    connectors: new Map(connectors.map((c) => [c.value.name, c.value])),
  });
  // Flows point at objects, connectors, permission sets and each other: checked with the rules, once those are sound.
  const compiledFlows = issues.length > 0 || !securityModel ? [] : checkFlows(flows.map((f) => ({ value: f.value, report: reporterFor(f, issues) })), {
    objects: new Map(parsed.map((p) => [p.value.name, p.value])),
    connectors: new Map(connectors.map((c) => [c.value.name, c.value])),
    permissionSets: new Set(securityModel.permissionSets.map((p) => p.name)),
  });
  const stateMachines = issues.length > 0 || !securityModel ? [] : checkStateMachines(machines.map((m) => ({ value: m.value, report: reporterFor(m, issues), source: m.source.file })), {
    objects: new Map(parsed.map((p) => [p.value.name, p.value])),
    roles: new Set(securityModel.roles.map((r) => r.name)),
    templates: new Set(templates.map((t) => t.value.name)),
    connectors: new Map(connectors.map((c) => [c.value.name, c.value])),
    permissionSets: new Set(securityModel.permissionSets.map((p) => p.name)),
    rules: rules.map((r) => ({ value: r.value, report: reporterFor(r, issues) })),
    actions: new Map(namedActions.map((a) => [a.value.name, a.value])),
  });
  const checkedMachines = stateMachines.filter((m): m is NonNullable<typeof m> => m !== null);
  const approvalModels = issues.length > 0 || !securityModel ? [] : checkApprovals(approvals.map((a) => ({ value: a.value, report: reporterFor(a, issues), source: a.source.file })), {
    objects: new Map(parsed.map((p) => [p.value.name, p.value])),
    roles: new Set(securityModel.roles.map((r) => r.name)),
    groups: new Set(securityModel.groups.map((g) => g.name)),
    templates: new Set(templates.map((t) => t.value.name)),
    connectors: new Map(connectors.map((c) => [c.value.name, c.value])),
    stateMachines: checkedMachines,
  });
  if (issues.length > 0 || !securityModel) throw new MetadataError(issues);
  const model = buildModel(parsed, validations, computed);
  const policyList = policies.map((p) => p.value);
  return { ...model, security: securityModel, policies: policyList, defaultPolicy: policyList.find((p) => p.isDefault) ?? DEFAULT_POLICY, audit: audits[0]?.value ?? DEFAULT_AUDIT_CONFIG,
    jobs: jobs.map((j) => ({ ...j.value, source: j.source.file, handlerAt: locate(j.doc, j.lc, ['handler']) })),
    templates: templates.map((t) => ({ ...t.value, source: t.source.file })),
    rules: rules.map((r, i) => ({ ...r.value, source: r.source.file, condition: conditions[i] ?? null }))
      .sort((a, b) => a.objectName.localeCompare(b.objectName) || a.executionOrder - b.executionOrder || a.name.localeCompare(b.name)),
    connectors: connectors.map((c) => ({ ...c.value, source: c.source.file })),
    flows: flows.map((f, i) => ({ ...f.value, source: f.source.file, ...compiledFlows[i]! })).sort((a, b) => a.name.localeCompare(b.name)),
    stateMachines: checkedMachines.sort((a, b) => a.name.localeCompare(b.name)),
    approvals: approvalModels.filter((a): a is NonNullable<typeof a> => a !== null).sort((a, b) => a.name.localeCompare(b.name)) };
}

function checkPolicies(policies: Parsed<PolicyDefinition>[], issues: MetadataIssue[]): void {
  const seen = new Map<string, string>();
  let defaultIn: string | null = null;
  for (const p of policies) {
    const report = reporterFor(p, issues);
    const other = seen.get(p.value.name);
    if (other) report(['name'], `policy "${p.value.name}" is already declared in ${other}`);
    seen.set(p.value.name, p.source.file);
    if (p.value.isDefault) {
      if (defaultIn) report(['isDefault'], `only one policy can be the default; ${defaultIn} already is`);
      defaultIn ??= p.source.file;
    }
  }
}

function checkUniqueNames(files: Parsed<{ name: string }>[], what: string, issues: MetadataIssue[]): void {
  const seen = new Map<string, string>();
  for (const f of files) {
    const other = seen.get(f.value.name);
    if (other) reporterFor(f, issues)(['name'], `${what} "${f.value.name}" is already declared in ${other}`);
    else seen.set(f.value.name, f.source.file);
  }
}

function parseFile<T>(source: MetadataSource, schema: z.ZodType<T>, shape: string, issues: MetadataIssue[]): Parsed<T> | null {
  const lc = new LineCounter();
  const doc = parseDocument(source.text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const pos = lc.linePos(e.pos[0]);
      issues.push({ file: source.file, line: pos.line, column: pos.col, path: '', message: `YAML syntax error: ${e.message.split('\n')[0]}` });
    }
    return null;
  }
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    issues.push({ file: source.file, line: 1, column: 1, path: '', message: shape });
    return null;
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) issues.push(toIssue(source.file, doc, lc, issue, raw));
    return null;
  }
  return { source, doc, lc, value: result.data };
}

function toIssue(file: string, doc: Document, lc: LineCounter, issue: z.core.$ZodIssue, raw: unknown): MetadataIssue {
  const path = issue.path.filter((k): k is PathKey => typeof k !== 'symbol');
  let message = issue.message;
  let key: string | undefined;
  if (issue.code === 'unrecognized_keys') {
    key = issue.keys[0];
    message = `unknown propert${issue.keys.length > 1 ? 'ies' : 'y'} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  } else if (issue.code === 'invalid_key') {
    // A bad key inside `fields`: point at the key itself.
    key = String(path.at(-1));
    path.splice(-1, 1);
    message = issue.issues[0]?.message ?? issue.message;
  } else if (issue.code === 'invalid_union' && 'discriminator' in issue && issue.discriminator) {
    const value = valueAt(raw, path);
    const options = 'options' in issue && Array.isArray(issue.options) ? issue.options.join(', ') : '';
    message = value === undefined ? `missing "${issue.discriminator}" (one of ${options})` : `unknown ${unionNoun(path)} ${issue.discriminator} "${String(value)}" (expected one of ${options})`;
  }
  const pos = locate(doc, lc, path, key);
  return { file, ...pos, path: [...path, ...(key ? [key] : [])].join('.'), message };
}

/** What a discriminated union at `path` chooses between, for messages. */
function unionNoun(path: readonly PathKey[]): string {
  if (path[0] === 'nodes') return 'node';
  if (path.includes('fields')) return 'field';
  if (path.includes('schedule')) return 'schedule';
  if (path.includes('actions')) return 'action';
  if (path.includes('auth')) return 'auth';
  return 'validation';
}

function valueAt(raw: unknown, path: readonly PathKey[]): unknown {
  let v: unknown = raw;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PathKey, unknown>)[k] : undefined;
  return v;
}

function reporterFor(p: Parsed<unknown>, issues: MetadataIssue[]): Report {
  return (path, message, key) => {
    const pos = locate(p.doc, p.lc, path, key);
    issues.push({ file: p.source.file, ...pos, path: [...path, ...(key ? [key] : [])].join('.'), message });
  };
}

function buildModel(
  parsed: ParsedFile[], validations: ReadonlyMap<string, ValidationModel[]>, computed: ReadonlyMap<string, ReadonlyMap<string, ComputedModel>>,
): Pick<MetadataModel, 'objects' | 'hash'> {
  const objects: ObjectModel[] = parsed
    .map(({ value: o, source }) => {
      const fields: FieldModel[] = Object.entries(o.fields).map(([name, f]) => ({
        ...f,
        name,
        label: f.label ?? humanize(name),
        // A master-detail child cannot exist without its parent.
        ...(f.type === 'master_detail' ? { required: true, deleteBehavior: f.deleteBehavior ?? 'cascade' } : {}),
        ...(f.type === 'lookup' ? { deleteBehavior: f.deleteBehavior ?? 'set_null' } : {}),
        // Computed when read: never written, whatever the metadata says.
        ...(f.type === 'formula' || f.type === 'summary' ? { readonly: true, computed: computed.get(o.name)!.get(name)! } : {}),
      }));
      const label = o.label ?? humanize(o.name);
      const model: ObjectModel = {
        name: o.name,
        label,
        pluralLabel: o.pluralLabel ?? pluralize(label),
        sharingModel: o.sharingModel,
        enable: o.enable,
        displayNameField: o.displayNameField ?? (o.fields['name'] ? 'name' : fields[0]!.name),
        fields,
        indexes: o.indexes,
        validations: validations.get(o.name) ?? [],
        source: source.file,
        ...(o.description !== undefined ? { description: o.description } : {}),
        ...(o.icon !== undefined ? { icon: o.icon } : {}),
      };
      return model;
    })
    .sort((a, b) => a.name.localeCompare(b.name));
  // Where an object was declared and its icon change no schema, table or plan: not hashed.
  const hash = createHash('sha256')
    .update(stableStringify(objects.map(({ source: _source, icon: _icon, ...rest }) => rest)))
    .digest('hex');
  return { objects, hash };
}

/** JSON with sorted object keys, so the hash depends on content only. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
