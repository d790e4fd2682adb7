import type { ColumnPlan, ObjectPlan } from '@objectos/schema';
import { badInput, type InputIssue } from './errors.ts';
import { isUuid } from './sql/where.ts';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE = /^\+?[0-9 ().\-/]{3,40}(?:\s*(?:x|ext\.?)\s*\d{1,6})?$/i;
const isUrl = (s: string): boolean => {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
};
const FORMATS: Record<'email' | 'url' | 'phone', (s: string) => boolean> = {
  email: (s) => EMAIL.test(s),
  url: isUrl,
  phone: (s) => PHONE.test(s),
};

/** Whether a value meets a format validation rule (its regex, or its named format). */
export const matchesFormat = (rule: { regex?: string | undefined; format?: keyof typeof FORMATS | undefined }, value: string): boolean =>
  rule.regex !== undefined ? new RegExp(rule.regex, 'u').test(value) : rule.format !== undefined && FORMATS[rule.format](value);

/** Field-type checks, one row per type that needs one. */
const TYPE_CHECKS: Partial<Record<ColumnPlan['type'], (v: unknown) => string | null>> = {
  email: (v) => (FORMATS.email(String(v)) ? null : 'is not a valid email address'),
  url: (v) => (FORMATS.url(String(v)) ? null : 'is not a valid http(s) URL'),
  phone: (v) => (FORMATS.phone(String(v)) ? null : 'is not a valid phone number'),
  lookup: (v) => (isUuid(v) ? null : 'is not a valid id'),
  master_detail: (v) => (isUuid(v) ? null : 'is not a valid id'),
};

/**
 * Checks a create/update input against the metadata: required, lengths, ranges, precision, formats and
 * the object's format validations. Every problem is reported at once; nothing is written on failure.
 */
export function validateInput(p: ObjectPlan, input: Record<string, unknown>, mode: 'create' | 'update'): Record<string, unknown> {
  const issues: InputIssue[] = [];
  const out: Record<string, unknown> = {};
  const issue = (c: ColumnPlan, constraint: string, message: string) =>
    issues.push({ field: c.graphqlName, constraint, message: `${c.graphqlName} ${message}` });
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    const c = p.columns.find((x) => x.graphqlName === key && x.field !== null && x.type !== 'autonumber' && !x.field.readonly);
    if (!c) {
      issues.push({ field: key, constraint: 'unknownField', message: `${key} is not a writable field of ${p.typeName}` });
      continue;
    }
    const f = c.field!;
    if (value === null) {
      if (f.required) issue(c, 'required', 'is required and cannot be null');
      else out[key] = null;
      continue;
    }
    if (typeof value === 'string') {
      const length = [...value].length;
      if ('maxLength' in f && f.maxLength !== undefined && length > f.maxLength) issue(c, 'maxLength', `is ${length} characters long; the maximum is ${f.maxLength}`);
      if ('minLength' in f && f.minLength !== undefined && length < f.minLength) issue(c, 'minLength', `is ${length} characters long; the minimum is ${f.minLength}`);
      if (f.required && value.trim() === '' && c.type !== 'json') issue(c, 'required', 'is required and cannot be empty');
    }
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) issue(c, 'number', 'must be a finite number');
      if ('min' in f && f.min !== undefined && value < f.min) issue(c, 'min', `is ${value}; the minimum is ${f.min}`);
      if ('max' in f && f.max !== undefined && value > f.max) issue(c, 'max', `is ${value}; the maximum is ${f.max}`);
      const precision = 'precision' in f ? f.precision : undefined;
      if (precision !== undefined || c.type !== 'number') {
        const p0 = precision ?? 18;
        const s0 = ('scale' in f ? f.scale : undefined) ?? (c.type === 'number' ? 0 : 2);
        if (Math.abs(value) >= 10 ** (p0 - s0)) issue(c, 'precision', `is too large: at most ${p0 - s0} digits before the decimal point`);
      }
    }
    if (c.type === 'multiselect' && Array.isArray(value) && new Set(value).size !== value.length) issue(c, 'unique', 'lists the same option twice');
    const typeProblem = TYPE_CHECKS[c.type]?.(value);
    if (typeProblem) issue(c, c.type === 'lookup' || c.type === 'master_detail' ? 'reference' : 'format', typeProblem);
    out[key] = value;
  }
  const event = mode === 'create' ? 'insert' : 'update';
  for (const rule of p.object.validations) {
    // Warnings and infos never refuse input: validation-rules.ts reports them.
    if (rule.type !== 'format' || !rule.active || rule.severity !== 'error' || !rule.events.includes(event)) continue;
    const c = p.columns.find((x) => x.name === rule.field)!;
    const v = out[c.graphqlName];
    if (typeof v !== 'string') continue;
    const ok = matchesFormat(rule, v);
    if (!ok && !issues.some((i) => i.field === c.graphqlName)) issues.push({ field: c.graphqlName, constraint: rule.name, message: rule.message });
  }
  if (mode === 'create') {
    for (const c of p.columns) {
      const f = c.field;
      if (!f || !f.required || f.readonly || c.type === 'autonumber' || c.graphqlName in out) continue;
      if ('defaultValue' in f && f.defaultValue !== undefined) continue;
      issue(c, 'required', 'is required');
    }
  }
  if (issues.length > 0) throw badInput(p.typeName, issues);
  return out;
}
