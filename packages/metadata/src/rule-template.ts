import type { PathKey } from './locate.ts';
import type { WorkflowAction } from './rule-schema.ts';

/** A `{{ … }}` placeholder in an action string (handlebars-style, without handlebars). */
export const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** What placeholders can name: `{{record.<field>}}`, `{{prior.<field>}}`, `{{rule.name}}`, `{{event.id}}`. */
export interface TemplateScope {
  /** The record after the change (metadata field names, plus id, owner_id, created_at, updated_at). */
  record?: Readonly<Record<string, unknown>> | null;
  /** The record before the change (null on create). */
  prior?: Readonly<Record<string, unknown>> | null;
  rule?: { name: string };
  event?: { id: string };
}

/** The expressions of every placeholder in `text`, trimmed (`{{ record.name }}` → `record.name`). */
export function templatePlaceholders(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1]!);
}

/**
 * Replaces every placeholder with its value from `scope`. An unknown or missing value renders as
 * the empty string. `encode` is applied to each rendered value (missing ones too), e.g.
 * `JSON.stringify` for a JSON body or `encodeURIComponent` for a URL.
 */
export function renderTemplate(text: string, scope: TemplateScope, encode: (v: string) => string = (v) => v): string {
  return text.replace(PLACEHOLDER, (_, path: string) => encode(stringify(lookup(scope, path))));
}

/** The value at a dotted path, own properties only (templates and flow placeholders share it). */
export function lookup(scope: object, path: string): unknown {
  let value: unknown = scope;
  for (const key of path.split('.')) {
    // Own properties only: `{{record.constructor}}` must not reach the prototype.
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** A value as text in a template: empty for null, ISO for dates, JSON for structures. */
export function stringify(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value) ?? '';
}

/**
 * Why a placeholder cannot be rendered for a rule, or null when it can. `fields` are the names a
 * record has (the object's fields and system columns); `prior` is false when there is no record
 * before the change (on create, on a schedule).
 */
export function placeholderProblem(expr: string, object: string, fields: ReadonlySet<string>, prior: boolean): string | null {
  if (expr === 'rule.name' || expr === 'event.id') return null;
  const m = /^(record|prior)\.([a-z][a-z0-9_]*)$/.exec(expr);
  if (!m) return `unknown placeholder {{${expr}}} (use {{record.<field>}}, {{prior.<field>}}, {{rule.name}} or {{event.id}})`;
  if (!fields.has(m[2]!)) return `unknown placeholder {{${expr}}}: ${object} has no field "${m[2]}"`;
  if (m[1] === 'prior' && !prior) return `{{${expr}}} is always empty here: this rule has no prior record (use {{record.${m[2]}}})`;
  return null;
}

/** The strings of an action that are rendered as templates, with their paths inside the action. */
export function actionTemplates(action: WorkflowAction): { path: PathKey[]; text: string }[] {
  const out: { path: PathKey[]; text: string }[] = [];
  const add = (path: PathKey[], v: unknown): void => {
    if (typeof v === 'string') out.push({ path, text: v });
    else if (Array.isArray(v)) v.forEach((x, i) => add([...path, i], x));
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) add([...path, k], x);
  };
  switch (action.type) {
    case 'field_update': add(['value'], action.value); break;
    case 'http_call': add(['url'], action.url); add(['headers'], action.headers); add(['body'], action.body); break;
    case 'connector_action': add(['input'], action.input); break;
    case 'task_creation': add(['subject'], action.subject); add(['description'], action.description); break;
    case 'push_notification': add(['title'], action.title); add(['body'], action.body); add(['data'], action.data); break;
    case 'email_alert': case 'custom_script': break;
  }
  return out;
}
