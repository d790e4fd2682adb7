import { z } from 'zod';
import { snakeName } from './field-schema.ts';
import { cronExpression, timezone } from './job-schema.ts';
import { ConditionInputSchema } from './security-schema.ts';
import { PLACEHOLDER } from './rule-template.ts';

/** Spec `WorkflowRule` action types (automation/workflow.zod.ts). */
export const ACTION_TYPES = [
  'field_update', 'email_alert', 'http_call', 'connector_action', 'task_creation', 'push_notification', 'custom_script',
] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

export const TRIGGER_TYPES = ['on_create', 'on_update', 'on_create_or_update', 'on_delete', 'schedule'] as const;
export type TriggerType = (typeof TRIGGER_TYPES)[number];

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** `+3d`, `+2h`, `+30m`, `+1w`: a time after the moment the action runs. */
const RELATIVE_OFFSET = /^\+(\d{1,6})([mhdw])$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** Milliseconds of a relative offset (`+3d` → 259200000), or null when `text` is not one. */
export function relativeOffsetMs(text: string): number | null {
  const m = RELATIVE_OFFSET.exec(text);
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : null;
}

/**
 * Who receives an email alert or a push notification: the record's `owner`, the owner's `manager` (the
 * members holding the parent of the owner's role), the organization's
 * `admins`, one `user:<id>`, every member of `role:<role>`, or (email only) the address in `field:<email field>`.
 */
export const RECIPIENT = /^(?:owner|manager|admins|user:[A-Za-z0-9][A-Za-z0-9_-]*|role:[a-z][a-z0-9_]*|field:[a-z][a-z0-9_]*)$/;
const recipient = z.string().regex(RECIPIENT, {
  error: (i) => `unknown recipient ${JSON.stringify(i.input)} (owner, manager, admins, user:<id>, role:<role name>, field:<email field>)`,
});

/** Who a created task is assigned to: the record's `owner`, the `actor` who made the change, or `user:<id>`. */
const ASSIGNEE = /^(?:owner|actor|user:[A-Za-z0-9][A-Za-z0-9_-]*)$/;

/** An HTTP header name (RFC 9110 token). */
const headerName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, { error: (i) => `${JSON.stringify(i.input)} is not an HTTP header name` });
export const HeadersSchema = z.record(headerName, z.string()).default({});
export const BodySchema = z.union([z.string(), z.record(z.string(), z.unknown())], { error: 'body is a string or a mapping (sent as JSON)' });

/** An http(s) URL; placeholders may fill its path and query, never its scheme or host. */
const templatedUrl = z.string().superRefine((url, ctx) => {
  const probe = url.replace(PLACEHOLDER, 'x');
  let parsed: URL | null = null;
  try {
    parsed = new URL(probe);
  } catch {
    // reported below
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))
    ctx.addIssue({ code: 'custom', message: `url must be an http or https URL, got "${url}"` });
  else if (/^[a-z]+:\/\/[^/?#]*\{\{/i.test(url))
    ctx.addIssue({ code: 'custom', message: 'placeholders cannot choose the scheme or host of url (a record value must not decide where the call goes); use them in the path or query' });
});

const base = {
  /** Unique within the rule (its actions and all its time triggers' actions). */
  name: snakeName,
  /** Attempts before the action is given up (the runtime's default when absent). */
  attempts: z.int().min(1).max(20).optional(),
};

export const FieldUpdateActionSchema = z.strictObject({
  type: z.literal('field_update'),
  ...base,
  field: snakeName,
  value: z.union([z.string(), z.number(), z.boolean(), z.null()], { error: 'value must be a string, number, boolean or null' }),
});

export const EmailAlertActionSchema = z.strictObject({
  type: z.literal('email_alert'),
  ...base,
  /** Name of a `*.template.yaml` template. */
  template: snakeName,
  recipients: z.array(recipient).min(1, { error: 'an email alert needs at least one recipient' }),
});

export const HttpCallActionSchema = z.strictObject({
  type: z.literal('http_call'),
  ...base,
  url: templatedUrl,
  method: z.enum(HTTP_METHODS, { error: (i) => `unknown method ${JSON.stringify(i.input)} (${HTTP_METHODS.join(', ')})` }).default('POST'),
  headers: HeadersSchema,
  body: BodySchema.optional(),
  timeoutMs: z.int().min(100).max(60_000).default(10_000),
});

export const ConnectorActionSchema = z.strictObject({
  type: z.literal('connector_action'),
  ...base,
  /** Name of a `*.connector.yaml` connector. */
  connectorId: snakeName,
  /** One of that connector's actions. */
  actionId: snakeName,
  input: z.record(z.string(), z.unknown()).default({}),
});

export const TaskCreationActionSchema = z.strictObject({
  type: z.literal('task_creation'),
  ...base,
  taskObject: snakeName.default('task'),
  subject: z.string().min(1),
  description: z.string().optional(),
  assignedTo: z.string().regex(ASSIGNEE, { error: (i) => `assignedTo ${JSON.stringify(i.input)} must be owner, actor or user:<id>` }).default('owner'),
  /** Relative to when the action runs: `+30m`, `+2h`, `+3d`, `+1w`. */
  dueDate: z.string().regex(RELATIVE_OFFSET, { error: (i) => `dueDate ${JSON.stringify(i.input)} must be relative to when the action runs: +30m, +2h, +3d or +1w` }).optional(),
  /** An option of the task object's `priority` select. */
  priority: z.string().min(1).optional(),
  /** A lookup of the task object to the rule's object; when absent, the single such lookup. */
  relatedTo: snakeName.optional(),
});

export const PushNotificationActionSchema = z.strictObject({
  type: z.literal('push_notification'),
  ...base,
  title: z.string().min(1),
  body: z.string().min(1),
  recipients: z.array(recipient).min(1, { error: 'a push notification needs at least one recipient' }),
  data: z.record(z.string(), z.string()).default({}),
  badge: z.int().min(0).optional(),
  sound: z.string().min(1).optional(),
  clickAction: z.string().min(1).optional(),
});

const LANGUAGES = ['javascript', 'typescript', 'python'] as const;
export const CustomScriptActionSchema = z.strictObject({
  type: z.literal('custom_script'),
  ...base,
  language: z
    .enum(LANGUAGES, { error: (i) => `unknown language ${JSON.stringify(i.input)} (${LANGUAGES.join(', ')})` })
    .default('javascript')
    .pipe(z.literal('javascript', { error: 'only javascript runs (a sandboxed QuickJS); typescript/python are not supported' })),
  code: z.string().min(1, { error: 'code cannot be empty' }),
  /** Milliseconds the script may run. */
  timeout: z.int().min(10).max(30_000).default(30_000),
});

/** One action of a rule or of a time trigger. */
export const WorkflowActionSchema = z.discriminatedUnion('type', [
  FieldUpdateActionSchema,
  EmailAlertActionSchema,
  HttpCallActionSchema,
  ConnectorActionSchema,
  TaskCreationActionSchema,
  PushNotificationActionSchema,
  CustomScriptActionSchema,
]);

/** Spec `TimeTrigger`: actions run some time before or after the trigger date or a date field. */
export const TimeTriggerSchema = z
  .strictObject({
    timeLength: z.int().min(0),
    timeUnit: z.enum(['minutes', 'hours', 'days']),
    offsetDirection: z.enum(['before', 'after']).default('after'),
    offsetFrom: z.enum(['trigger_date', 'date_field']).default('trigger_date'),
    dateField: snakeName.optional(),
    actions: z.array(WorkflowActionSchema).min(1, { error: 'a time trigger needs at least one action' }),
  })
  .superRefine((t, ctx) => {
    if (t.offsetFrom === 'date_field' && t.dateField === undefined)
      ctx.addIssue({ code: 'custom', path: ['offsetFrom'], message: 'offsetFrom date_field needs dateField (a date or datetime field of the object)' });
    if (t.offsetFrom === 'trigger_date' && t.dateField !== undefined)
      ctx.addIssue({ code: 'custom', path: ['dateField'], message: 'dateField is only used with offsetFrom: date_field' });
    if (t.offsetFrom === 'trigger_date' && t.offsetDirection === 'before' && t.timeLength > 0)
      ctx.addIssue({ code: 'custom', path: ['offsetDirection'], message: 'before the trigger date is already past: use after, or offsetFrom: date_field' });
  });

/** Spec `WorkflowRule` (`*.rule.yaml`): when a record of `objectName` changes (or on a schedule), run actions. */
export const WorkflowRuleSchema = z
  .strictObject({
    name: snakeName,
    label: z.string().optional(),
    description: z.string().optional(),
    objectName: snakeName,
    triggerType: z.enum(TRIGGER_TYPES, { error: (i) => `unknown triggerType ${JSON.stringify(i.input)} (${TRIGGER_TYPES.join(', ')})` }),
    /** SQL-ish (`stage = 'closed_won' AND ISCHANGED(stage)`) or filter object form; absent: every event. */
    criteria: ConditionInputSchema.optional(),
    /** triggerType schedule only: when the rule runs. */
    schedule: z.strictObject({ expression: cronExpression, timezone: timezone.default('UTC') }).optional(),
    actions: z.array(WorkflowActionSchema),
    timeTriggers: z.array(TimeTriggerSchema).default([]),
    active: z.boolean().default(true),
    executionOrder: z.int().default(100),
    /** Field updates of this rule may trigger the rules of the object again. */
    reevaluateOnChange: z.boolean().default(false),
    runAs: z.enum(['system', 'user']).default('system'),
  })
  .superRefine((r, ctx) => {
    if (r.triggerType === 'schedule' && r.schedule === undefined)
      ctx.addIssue({ code: 'custom', path: ['triggerType'], message: "triggerType schedule needs schedule: { expression: '<cron>' } (e.g. '0 6 * * *')" });
    if (r.triggerType !== 'schedule' && r.schedule !== undefined)
      ctx.addIssue({ code: 'custom', path: ['schedule'], message: `schedule is only for triggerType schedule (this rule runs ${r.triggerType})` });
    if ((r.triggerType === 'on_delete' || r.triggerType === 'schedule') && r.timeTriggers.length > 0)
      ctx.addIssue({ code: 'custom', path: ['timeTriggers'], message: `time triggers wait on a live record: ${r.triggerType === 'on_delete' ? 'an on_delete' : 'a schedule'} rule cannot have them` });
    if (r.actions.length === 0 && r.timeTriggers.length === 0)
      ctx.addIssue({ code: 'custom', path: ['actions'], message: 'a rule needs at least one action (in actions or a time trigger)' });
    const seen = new Set<string>();
    const unique = (a: { name: string }, path: (string | number)[]) => {
      if (seen.has(a.name)) ctx.addIssue({ code: 'custom', path: [...path, 'name'], message: `action name "${a.name}" is already used in this rule` });
      seen.add(a.name);
    };
    r.actions.forEach((a, i) => unique(a, ['actions', i]));
    r.timeTriggers.forEach((t, i) => t.actions.forEach((a, j) => unique(a, ['timeTriggers', i, 'actions', j])));
  });

export type WorkflowAction = z.output<typeof WorkflowActionSchema>;
export type TimeTriggerDefinition = z.output<typeof TimeTriggerSchema>;
export type WorkflowRuleDefinition = z.output<typeof WorkflowRuleSchema>;
