import { evaluateRuleCondition, type FieldDefinition, type NestedRuleModel, type ValidationEvent, type ValidationModel, type ValidationSeverity } from '@objectos/metadata';
import type { ObjectPlan } from '@objectos/schema';
import type { DataSource, Row } from './data-source.ts';
import { OWNER } from './db/tables.ts';
import { badInput, type InputIssue } from './errors.ts';
import { matchesFormat } from './validate-input.ts';

/** A rule of severity warning or info that a write did not meet: reported, never blocking. */
export interface ValidationWarning {
  object: string;
  rule: string;
  message: string;
  severity: Exclude<ValidationSeverity, 'error'>;
  event: ValidationEvent;
  /** The record updated or deleted; null on insert (the mutation's own result carries the new id). */
  recordId: string | null;
}

/** Warnings per request (each request works on its own DataSource copy), read once by useValidationWarnings. */
const warningsOf = new WeakMap<DataSource, ValidationWarning[]>();
/** Copies made for one transaction (bulk, nested, atomic writes) report to the request's own DataSource. */
const requestOf = (ds: DataSource): DataSource => ds.root ?? ds;

/** The warnings the request's writes raised so far, handed over once. */
export function takeValidationWarnings(ds: DataSource): ValidationWarning[] {
  const warnings = warningsOf.get(requestOf(ds)) ?? [];
  warningsOf.delete(requestOf(ds));
  return warnings;
}

interface Judged {
  rule: NestedRuleModel;
  severity: ValidationSeverity;
  /** What the rule's own message leaves out (a state_machine's refused transition). */
  detail?: string;
}

interface Subject {
  event: ValidationEvent;
  /** The record as it will be stored (null on delete). */
  record: Record<string, unknown> | null;
  /** The record as it is (null on insert). */
  previous: Record<string, unknown> | null;
  fields: ReadonlyMap<string, FieldDefinition>;
}

const SEVERITY_ORDER: readonly ValidationSeverity[] = ['error', 'warning', 'info'];
/** A conditional's severity caps its nested rule's: a warning conditional never blocks. */
const milder = (a: ValidationSeverity, b: ValidationSeverity): ValidationSeverity => (SEVERITY_ORDER.indexOf(a) >= SEVERITY_ORDER.indexOf(b) ? a : b);

/**
 * Enforces the object's validation rules on one write, inside its transaction and before its
 * statement: `insert` judges the new record (metadata defaults, then the given values), `update` the
 * locked record merged with the new values (PRIORVALUE and ISCHANGED read `before`), `delete` the
 * record being deleted. Rules run by priority (lower first); every failing error-severity rule is
 * reported at once (BAD_USER_INPUT); warnings and infos are kept for the response. Top-level format
 * rules of severity error were already checked on the input (validateInput).
 */
export function enforceValidationRules(ds: DataSource, p: ObjectPlan, event: ValidationEvent, before: Row | null, values: Record<string, unknown>, newOwner?: string): void {
  const { rules, fields } = prepared(p);
  const due = rules[event];
  if (due.length === 0) return;
  const subject = subjectOf(ds, p, event, before, values, fields, newOwner);
  const failed: Judged[] = [];
  for (const rule of due) {
    const judged = judge(rule, subject, rule.severity);
    if (judged) failed.push(judged);
  }
  const errors = failed.filter((f) => f.severity === 'error');
  if (errors.length > 0) throw badInput(p.typeName, errors.map((f) => issueOf(p, f)));
  if (failed.length === 0) return;
  const warnings = warningsOf.get(requestOf(ds)) ?? [];
  for (const { rule, severity } of failed)
    if (severity !== 'error') warnings.push({ object: p.object.name, rule: rule.name, message: rule.message, severity, event, recordId: before?.id ?? null });
  warningsOf.set(requestOf(ds), warnings);
}

interface Prepared {
  /** The rules each event runs, by priority (stable: equal priorities keep their declaration order). */
  rules: Record<ValidationEvent, ValidationModel[]>;
  fields: ReadonlyMap<string, FieldDefinition>;
}
const preparedOf = new WeakMap<ObjectPlan, Prepared>();

/** What every write of an object needs, worked out once per plan. */
function prepared(p: ObjectPlan): Prepared {
  let out = preparedOf.get(p);
  if (out) return out;
  const sorted = [...p.object.validations].sort((a, b) => a.priority - b.priority);
  const due = (event: ValidationEvent) => sorted.filter((r) => r.active && r.events.includes(event) && r.type !== 'unique' && !(r.type === 'format' && r.severity === 'error'));
  out = { rules: { insert: due('insert'), update: due('update'), delete: due('delete') }, fields: new Map(p.object.fields.map((f) => [f.name, f])) };
  preparedOf.set(p, out);
  return out;
}

/** The failing rule (the nested one, for a conditional) with its effective severity, or null when the record meets it. */
function judge(rule: ValidationModel, s: Subject, severity: ValidationSeverity): Judged | null {
  const record = s.record ?? s.previous ?? {};
  switch (rule.type) {
    case 'unique':
      return null; // a database index: a duplicate fails the statement itself (never prepared: see prepared)
    case 'script':
    case 'cross_field':
      return evaluateRuleCondition(rule.compiled, s) ? { rule, severity } : null;
    case 'format': {
      const value = record[rule.field];
      return typeof value === 'string' && !matchesFormat(rule, value) ? { rule, severity } : null;
    }
    case 'state_machine':
      return stateProblem(rule, s, severity);
    case 'conditional': {
      const next = evaluateRuleCondition(rule.compiled, s) ? rule.then : rule.otherwise;
      if (!next || !next.active || !next.events.includes(s.event)) return null;
      return judge(next, s, milder(severity, next.severity));
    }
  }
}

/**
 * A change of the field must be one of `transitions[from]` (a state without an entry cannot be left;
 * leaving no state, from null, is free). A new record may start in any option, or only in
 * `initialStates` when the rule lists them.
 */
function stateProblem(rule: Extract<NestedRuleModel, { type: 'state_machine' }>, s: Subject, severity: ValidationSeverity): Judged | null {
  const to = s.record?.[rule.field] ?? null;
  if (s.event === 'insert') {
    if (rule.initialStates === undefined || to === null || rule.initialStates.includes(String(to))) return null;
    return { rule, severity, detail: `${rule.field} cannot start as ${String(to)}; allowed: ${rule.initialStates.join(', ')}` };
  }
  const from = s.previous?.[rule.field] ?? null;
  if (s.event !== 'update' || from === null || from === to) return null;
  const allowed = rule.transitions[String(from)] ?? [];
  if (to !== null && allowed.includes(String(to))) return null;
  return { rule, severity, detail: `${rule.field} cannot change from ${String(from)} to ${String(to)}; allowed from ${String(from)}: ${allowed.join(', ') || 'none'}` };
}

/** `field`: the rule's first field (as the input names it), else the rule's name; the message names the rule. */
function issueOf(p: ObjectPlan, f: Judged): InputIssue {
  const r = f.rule;
  const first = r.type === 'cross_field' ? r.fields[0] : r.type === 'format' || r.type === 'state_machine' ? r.field : undefined;
  const field = (first && p.columns.find((c) => c.name === first)?.graphqlName) ?? r.name;
  return { field, constraint: r.name, message: `${r.message} (rule ${r.name}${f.detail ? `: ${f.detail}` : ''})` };
}

/**
 * The write's record(s) under metadata names, as criteria read them. A new record has no id or
 * timestamps yet (null); its owner is the writer.
 */
/** `newOwner`: an owner transfer (an update of `owner_id` alone). */
function subjectOf(ds: DataSource, p: ObjectPlan, event: ValidationEvent, before: Row | null, values: Record<string, unknown>, fields: ReadonlyMap<string, FieldDefinition>, newOwner?: string): Subject {
  const previous = before ? { ...byMetadataName(p, before), owner_id: before[OWNER.key] ?? null } : null;
  if (event === 'delete') return { event, record: null, previous, fields };
  const base = previous ?? { ...defaultsOf(p), owner_id: ds.actor };
  return { event, record: { ...base, ...byMetadataName(p, values), ...(newOwner !== undefined ? { owner_id: newOwner } : {}) }, previous, fields };
}

function byMetadataName(p: ObjectPlan, row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of p.columns) if (c.graphqlName in row) out[c.name] = row[c.graphqlName];
  return out;
}

/** The values the database fills in on insert (the columns' defaults, migrate.ts): what the stored row will hold. */
function defaultsOf(p: ObjectPlan): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of p.object.fields) {
    if (!('defaultValue' in f) || f.defaultValue === undefined) continue;
    out[f.name] = f.type === 'datetime' && f.defaultValue === 'now' ? new Date() : f.defaultValue;
  }
  return out;
}
