import { ConditionError, SYSTEM_CONDITION_FIELDS, type RuleCondition } from './condition.ts';
import type { ConnectorDefinition, ConnectorEndpoint } from './connector-schema.ts';
import type { FieldDefinition } from './field-schema.ts';
import type { PathKey } from './locate.ts';
import { isRelation, RESERVED_FIELD_NAMES } from './model.ts';
import type { ObjectDefinition } from './object-schema.ts';
import type { Report } from './parse-metadata.ts';
import { parseRuleCriteria } from './rule-criteria.ts';
import type { WorkflowAction, WorkflowRuleDefinition } from './rule-schema.ts';
import { actionTemplates, placeholderProblem, templatePlaceholders } from './rule-template.ts';

/** What rules may refer to besides their own object. */
export interface RuleContext {
  objects: ReadonlyMap<string, ObjectDefinition>;
  /** Role names of the security model (`role:<name>` recipients). */
  roles: ReadonlySet<string>;
  /** Names of the `*.template.yaml` templates (email alerts). */
  templates: ReadonlySet<string>;
  connectors: ReadonlyMap<string, ConnectorDefinition>;
}

interface Entry {
  value: WorkflowRuleDefinition;
  report: Report;
}

/** One rule being checked, with its object. */
interface Scope {
  rule: WorkflowRuleDefinition;
  object: ObjectDefinition;
  fields: ReadonlyMap<string, FieldDefinition>;
  /** Names a record of the object has: its fields and the system columns. */
  names: ReadonlySet<string>;
  report: Report;
  ctx: RuleContext;
}

const TEXT_TYPES: readonly FieldDefinition['type'][] = ['text', 'textarea', 'email', 'url', 'phone'];
const list = (names: Iterable<string>): string => [...names].sort().join(', ') || 'none';

/**
 * Checks workflow rules against the objects, roles, templates and connectors they name: every
 * problem is reported at its path; nothing is thrown. Returns each rule's parsed criteria.
 */
export function checkRules(entries: readonly Entry[], ctx: RuleContext): (RuleCondition | null)[] {
  return entries.map(({ value: rule, report }) => {
    const object = ctx.objects.get(rule.objectName);
    if (!object) {
      report(['objectName'], `unknown object "${rule.objectName}" (objects: ${list(ctx.objects.keys())})`);
      return null;
    }
    const fields = new Map(Object.entries(object.fields));
    const scope: Scope = { rule, object, fields, names: new Set([...fields.keys(), ...SYSTEM_CONDITION_FIELDS]), report, ctx };
    const condition = rule.criteria === undefined ? null : criteriaOf(rule.criteria, scope);
    rule.actions.forEach((a, i) => checkAction(a, ['actions', i], scope));
    rule.timeTriggers.forEach((t, i) => {
      const at = ['timeTriggers', i];
      if (t.dateField !== undefined) {
        const type = fields.get(t.dateField)?.type ?? (t.dateField === 'created_at' || t.dateField === 'updated_at' ? 'datetime' : undefined);
        if (type === undefined) report([...at, 'dateField'], `unknown field "${t.dateField}" on ${object.name} (fields: ${list(fields.keys())})`);
        else if (type !== 'date' && type !== 'datetime')
          report([...at, 'dateField'], `${object.name}.${t.dateField} is a ${type} field: a time trigger's dateField must be a date or datetime field`);
      }
      t.actions.forEach((a, j) => checkAction(a, [...at, 'actions', j], scope));
    });
    return condition;
  });
}

function criteriaOf(input: string | Record<string, unknown>, s: Scope): RuleCondition | null {
  let condition: RuleCondition;
  try {
    condition = parseRuleCriteria(input, { fields: s.fields });
  } catch (e) {
    if (e instanceof ConditionError) {
      s.report(['criteria'], `${s.object.name}: ${e.message}`);
      return null;
    }
    throw e;
  }
  const used = ruleFunctions(condition);
  const trigger = s.rule.triggerType;
  if (trigger === 'schedule' && used.size > 0)
    s.report(['criteria'], `${[...used].join(', ')}: a schedule rule has no change to look at (use them in on_update or on_create_or_update rules)`);
  else if (trigger === 'on_delete' && used.size > 0)
    s.report(['criteria'], `${[...used].join(', ')}: an on_delete rule sees the deleted record, not a change (compare its fields instead)`);
  else if (trigger === 'on_create' && (used.has('ISCHANGED') || used.has('PRIORVALUE')))
    s.report(['criteria'], 'ISCHANGED/PRIORVALUE: an on_create rule has no prior record (ISCHANGED is always false); use on_update or on_create_or_update');
  return condition;
}

/** The rule-only functions criteria use (ISCHANGED, PRIORVALUE, ISNEW): what they need depends on the event. */
export function ruleFunctions(c: RuleCondition): Set<string> {
  const out = new Set<string>();
  const walk = (x: RuleCondition): void => {
    switch (x.op) {
      case 'and': case 'or': x.args.forEach(walk); break;
      case 'not': walk(x.arg); break;
      case 'changed': out.add('ISCHANGED'); break;
      case 'isNew': out.add('ISNEW'); break;
      case 'const': break;
      case 'in': if ([x.left, ...x.values].some((o) => o.kind === 'prior')) out.add('PRIORVALUE'); break;
      case 'isNull': if (x.arg.kind === 'prior') out.add('PRIORVALUE'); break;
      default: if (x.left.kind === 'prior' || x.right.kind === 'prior') out.add('PRIORVALUE');
    }
  };
  walk(c);
  return out;
}

function checkAction(a: WorkflowAction, at: PathKey[], s: Scope): void {
  const { report, ctx } = s;
  switch (a.type) {
    case 'field_update':
      checkFieldUpdate(a, at, s);
      break;
    case 'email_alert':
      if (!ctx.templates.has(a.template)) report([...at, 'template'], `unknown template "${a.template}" (declared: ${list(ctx.templates)})`);
      checkRecipients(a.recipients, [...at, 'recipients'], 'email', s);
      break;
    case 'http_call':
      for (const name of Object.keys(a.headers))
        if (['authorization', 'proxy-authorization', 'cookie'].includes(name.toLowerCase()))
          report([...at, 'headers', name], `header "${name}" carries credentials: call a connector (its auth reads the secret from the environment) instead of putting it in metadata`);
      break;
    case 'connector_action': {
      const connector = ctx.connectors.get(a.connectorId);
      if (!connector) report([...at, 'connectorId'], `unknown connector "${a.connectorId}" (declared: ${list(ctx.connectors.keys())})`);
      else if (!Object.hasOwn(connector.actions, a.actionId))
        report([...at, 'actionId'], `connector "${connector.name}" has no action "${a.actionId}" (actions: ${list(Object.keys(connector.actions))})`);
      else checkEndpointPlaceholders(a, connector.actions[a.actionId]!, at, s);
      break;
    }
    case 'task_creation':
      checkTask(a, at, s);
      break;
    case 'push_notification':
      checkRecipients(a.recipients, [...at, 'recipients'], 'push', s);
      break;
    case 'custom_script':
      break;
  }
  const prior = s.rule.triggerType === 'on_update' || s.rule.triggerType === 'on_create_or_update';
  for (const t of actionTemplates(a))
    for (const expr of templatePlaceholders(t.text)) {
      const problem = placeholderProblem(expr, s.object.name, s.names, prior);
      if (problem) report([...at, ...t.path], problem);
    }
}

/** The endpoint's path and body are rendered with the rule's scope plus `input`: what they name must exist. */
function checkEndpointPlaceholders(a: Extract<WorkflowAction, { type: 'connector_action' }>, endpoint: ConnectorEndpoint, at: PathKey[], s: Scope): void {
  const texts = [endpoint.path, ...(typeof endpoint.body === 'string' ? [endpoint.body] : endpoint.body ? [JSON.stringify(endpoint.body)] : [])];
  const prior = s.rule.triggerType === 'on_update' || s.rule.triggerType === 'on_create_or_update';
  for (const expr of new Set(texts.flatMap(templatePlaceholders))) {
    const input = /^input\.(.+)$/.exec(expr);
    if (input) {
      if (!Object.hasOwn(a.input, input[1]!)) s.report([...at, 'input'], `connector action ${a.connectorId}.${a.actionId} uses {{${expr}}}: input has no "${input[1]}"`);
      continue;
    }
    const problem = placeholderProblem(expr, s.object.name, s.names, prior);
    if (problem) s.report([...at, 'actionId'], `connector action ${a.connectorId}.${a.actionId}: ${problem}`);
  }
}

function checkFieldUpdate(a: Extract<WorkflowAction, { type: 'field_update' }>, at: PathKey[], s: Scope): void {
  const { report, object } = s;
  if (s.rule.triggerType === 'on_delete') report([...at, 'type'], 'field_update cannot run in an on_delete rule: the record is deleted');
  if (RESERVED_FIELD_NAMES.includes(a.field)) {
    report([...at, 'field'], `"${a.field}" is a system field (the runtime maintains it): a field_update cannot set it`);
    return;
  }
  const field = s.fields.get(a.field);
  if (!field) {
    report([...at, 'field'], `unknown field "${a.field}" on ${object.name} (fields: ${list(s.fields.keys())})`);
    return;
  }
  const name = `${object.name}.${a.field}`;
  if (field.type === 'autonumber') report([...at, 'field'], `${name} is an autonumber (the runtime numbers it): a field_update cannot set it`);
  else if (field.readonly) report([...at, 'field'], `${name} is readonly: a field_update cannot set it`);
  else {
    const problem = valueProblem(field, name, a.value);
    if (problem) report([...at, 'value'], problem);
  }
}

/** Why `value` cannot be stored in `field`, or null. Placeholders are only rendered into text fields. */
function valueProblem(field: FieldDefinition, name: string, value: string | number | boolean | null): string | null {
  if (value === null) return field.required ? `${name} is required: it cannot be set to null` : null;
  const expected = (what: string) => `${name} is a ${field.type} field: value must be ${what}, got ${JSON.stringify(value)}`;
  switch (field.type) {
    case 'number': case 'currency': case 'percent':
      if (typeof value !== 'number') return expected('a number');
      if (field.min !== undefined && value < field.min) return `${value} is below the minimum of ${name} (${field.min})`;
      if (field.max !== undefined && value > field.max) return `${value} is above the maximum of ${name} (${field.max})`;
      return null;
    case 'boolean':
      return typeof value === 'boolean' ? null : expected('true or false');
    case 'select':
      return typeof value === 'string' && field.options.some((o) => o.value === value)
        ? null
        : `${JSON.stringify(value)} is not an option of ${name} (${field.options.map((o) => o.value).join(', ')})`;
    case 'date':
      return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value) ? null : expected('a date (YYYY-MM-DD)');
    case 'datetime':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? null : expected('an ISO date-time');
    case 'time':
      return typeof value === 'string' && /^\d{2}:\d{2}(?::\d{2})?$/.test(value) ? null : expected('a time (HH:MM or HH:MM:SS)');
    case 'multiselect': case 'json':
      return `${name} is a ${field.type} field: a field_update can only clear it (value: null)`;
    case 'lookup': case 'master_detail':
      return typeof value === 'string' ? null : expected(`the id of a ${field.reference} record`);
    case 'autonumber':
      return null;
    case 'formula': case 'summary':
      return `${name} is a ${field.type} field, computed when read: a field_update cannot set it`;
    default:
      if (typeof value !== 'string') return expected('a string');
      if (!TEXT_TYPES.includes(field.type)) return null;
      if (field.maxLength !== undefined && value.length > field.maxLength && templatePlaceholders(value).length === 0)
        return `value is longer than the maxLength of ${name} (${field.maxLength})`;
      return null;
  }
}

function checkTask(a: Extract<WorkflowAction, { type: 'task_creation' }>, at: PathKey[], s: Scope): void {
  const { report, rule } = s;
  const task = s.ctx.objects.get(a.taskObject);
  if (!task) {
    report([...at, 'taskObject'], `unknown object "${a.taskObject}" (objects: ${list(s.ctx.objects.keys())})`);
    return;
  }
  if (rule.triggerType === 'on_delete') report([...at, 'type'], 'task_creation cannot run in an on_delete rule: the task could not point at the deleted record');
  const f = task.fields;
  const needs = (key: 'subject' | 'description' | 'dueDate', field: string, types: readonly FieldDefinition['type'][], what: string) => {
    const type = f[field]?.type;
    if (type === undefined || !types.includes(type))
      report([...at, key === 'subject' ? 'taskObject' : key], `${a.taskObject} has no ${what} field "${field}" to hold the task's ${key}`);
  };
  needs('subject', 'subject', TEXT_TYPES, 'text');
  if (a.description !== undefined) needs('description', 'description', TEXT_TYPES, 'text');
  if (a.dueDate !== undefined) needs('dueDate', 'due_date', ['date', 'datetime'], 'date');
  if (a.priority !== undefined) {
    const priority = f['priority'];
    if (priority?.type !== 'select') report([...at, 'priority'], `${a.taskObject} has no priority select field`);
    else if (!priority.options.some((o) => o.value === a.priority))
      report([...at, 'priority'], `"${a.priority}" is not an option of ${a.taskObject}.priority (${priority.options.map((o) => o.value).join(', ')})`);
  }
  const candidates = Object.entries(f).filter(([, x]) => isRelation(x) && x.reference === rule.objectName).map(([n]) => n);
  if (a.relatedTo !== undefined) {
    const related = f[a.relatedTo];
    if (!related || !isRelation(related) || related.reference !== rule.objectName)
      report([...at, 'relatedTo'], `${a.taskObject}.${a.relatedTo} is not a lookup to ${rule.objectName} (lookups to it: ${list(candidates)})`);
  } else if (candidates.length === 0)
    report([...at, 'taskObject'], `${a.taskObject} has no lookup to ${rule.objectName}: the task could not point at the record`);
  else if (candidates.length > 1)
    report([...at, 'relatedTo'], `${a.taskObject} has several lookups to ${rule.objectName} (${candidates.join(', ')}): set relatedTo to one of them`);
}

function checkRecipients(recipients: readonly string[], at: PathKey[], kind: 'email' | 'push', s: Scope): void {
  recipients.forEach((r, i) => {
    const colon = r.indexOf(':');
    const [type, value] = colon < 0 ? [r, ''] : [r.slice(0, colon), r.slice(colon + 1)];
    if (type === 'role' && !s.ctx.roles.has(value)) s.report([...at, i], `unknown role "${value}" (roles: ${list(s.ctx.roles)})`);
    if (type !== 'field') return;
    if (kind === 'push') {
      s.report([...at, i], `"${r}": a push notification goes to users (owner, admins, user:<id>, role:<role>); field: recipients are for email alerts`);
      return;
    }
    const field = s.fields.get(value);
    if (!field) s.report([...at, i], `unknown field "${value}" on ${s.object.name} (fields: ${list(s.fields.keys())})`);
    else if (field.type !== 'email') s.report([...at, i], `${s.object.name}.${value} is a ${field.type} field: a field: recipient must name an email field`);
  });
}
