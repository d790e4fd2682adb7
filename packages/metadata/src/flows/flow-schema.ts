import { z } from 'zod';
import { snakeName } from '../field-schema.ts';
import { cronExpression, timezone } from '../job-schema.ts';
import { BodySchema, HeadersSchema, HTTP_METHODS } from '../rule-schema.ts';
import { ConditionInputSchema } from '../security-schema.ts';

/**
 * Spec `Flow` node types (automation/flow.zod.ts, the 14-type set). Every one has an executor;
 * anything else is refused at load time (upstream accepted unknown types silently: objectstack#7516).
 */
export const FLOW_NODE_TYPES = [
  'start', 'end', 'decision', 'assignment', 'loop', 'create_record', 'update_record', 'delete_record', 'get_record',
  'http_request', 'script', 'wait', 'subflow', 'connector_action',
] as const;
export type FlowNodeType = (typeof FLOW_NODE_TYPES)[number];

/** How a flow starts: by the API or another flow, on a record change, or on a schedule. */
export const FLOW_TYPES = ['autolaunched', 'record_change', 'schedule'] as const;
export type FlowType = (typeof FLOW_TYPES)[number];

/**
 * A record_change flow is given the changed record in its input variable `record` and the record
 * before the change in `prior` (null on create), when it declares them (record variables of the
 * trigger's object, isInput).
 */
export const FLOW_TRIGGER_VARIABLES = ['record', 'prior'] as const;

export const FLOW_STATUSES = ['draft', 'active', 'obsolete', 'invalid'] as const;

/** Variable types; `record` holds one record of `object`, `list` any values, `json` anything. */
export const FLOW_VARIABLE_TYPES = ['text', 'number', 'boolean', 'date', 'datetime', 'record', 'list', 'json'] as const;
export type FlowVariableType = (typeof FLOW_VARIABLE_TYPES)[number];

export const FLOW_EDGE_TYPES = ['default', 'conditional', 'fault'] as const;
export type FlowEdgeType = (typeof FLOW_EDGE_TYPES)[number];

export const ASSIGNMENT_OPERATORS = ['set', 'add', 'subtract', 'append'] as const;
export type AssignmentOperator = (typeof ASSIGNMENT_OPERATORS)[number];

/** `{!name}` or `{!name.field}` inside a config string; the group is the expression, untrimmed. */
export const FLOW_PLACEHOLDER = /\{!([^{}]*)\}/g;
/** A well-formed placeholder expression: a variable, or one field (key) of a record (json) variable. */
export const FLOW_REFERENCE = /^([a-z][a-z0-9_]*)(?:\.([a-z][a-z0-9_]*))?$/;

const oneOf = (what: string, values: readonly string[]) => (i: { input: unknown }) => `unknown ${what} ${JSON.stringify(i.input)} (${values.join(', ')})`;

/** Node and edge ids: snake_case or kebab-ish (`send-mail`), as editors generate them. */
const elementId = z.string().regex(/^[a-z][a-z0-9_-]*$/, { error: (i) => `${JSON.stringify(i.input)} is not an id (lower-case letters, digits, _ and -, starting with a letter)` }).max(64);

/** `+30s`, `+30m`, `+2h`, `+3d`, `+1w`, or ISO-8601 `PT…`/`P…` without years and months (they have no fixed length). */
const RELATIVE = /^\+(\d{1,6})([smhdw])$/;
const ISO_DURATION = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** Milliseconds a timer waits (`+2h` → 7200000, `PT1H30M` → 5400000), or null when `text` is not a duration. */
export function flowDurationMs(text: string): number | null {
  const rel = RELATIVE.exec(text);
  if (rel) return Number(rel[1]) * UNIT_MS[rel[2] as keyof typeof UNIT_MS];
  const iso = ISO_DURATION.exec(text);
  if (!iso || text === 'P' || text.endsWith('T')) return null;
  const [w, d, h, m, s] = iso.slice(1).map((x) => Number(x ?? 0)) as [number, number, number, number, number];
  return Math.round(w * UNIT_MS.w + d * UNIT_MS.d + h * UNIT_MS.h + m * UNIT_MS.m + s * UNIT_MS.s);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);

/** Why `value` (as written in metadata or given by a caller) cannot be held by a variable of `type`, or null. Null fits every type. */
export function flowValueProblem(type: FlowVariableType, value: unknown): string | null {
  if (value === null) return null;
  const got = `got ${JSON.stringify(value) ?? String(value)}`;
  switch (type) {
    case 'text': return typeof value === 'string' ? null : `must be a string, ${got}`;
    case 'number': return typeof value === 'number' && Number.isFinite(value) ? null : `must be a number, ${got}`;
    case 'boolean': return typeof value === 'boolean' ? null : `must be true or false, ${got}`;
    case 'date': return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(value)) ? null : `must be a date (YYYY-MM-DD), ${got}`;
    case 'datetime': return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? null : `must be an ISO date-time, ${got}`;
    case 'record': return isPlainObject(value) ? null : `must be a record (a mapping of field values), ${got}`;
    case 'list': return Array.isArray(value) ? null : `must be a list, ${got}`;
    case 'json': return null;
  }
}

/** A flow variable; inputs are given when the flow starts, outputs returned when it ends. */
export const FlowVariableSchema = z
  .strictObject({
    name: snakeName,
    type: z.enum(FLOW_VARIABLE_TYPES, { error: oneOf('variable type', FLOW_VARIABLE_TYPES) }),
    /** type record only: the object of the record it holds. */
    object: snakeName.optional(),
    label: z.string().optional(),
    description: z.string().optional(),
    isInput: z.boolean().default(false),
    isOutput: z.boolean().default(false),
    /** The value before anything assigns one (null when absent). */
    default: z.unknown().optional(),
  })
  .superRefine((v, ctx) => {
    if (v.type === 'record' && v.object === undefined)
      ctx.addIssue({ code: 'custom', path: ['type'], message: 'a record variable needs object: <object name> (what its fields are)' });
    if (v.type !== 'record' && v.object !== undefined)
      ctx.addIssue({ code: 'custom', path: ['object'], message: `object is only for record variables (this one is ${v.type})` });
    const problem = v.default === undefined ? null : flowValueProblem(v.type, v.default);
    if (problem) ctx.addIssue({ code: 'custom', path: ['default'], message: `${v.name} is a ${v.type} variable: default ${problem}` });
  });

/** An http(s) URL; placeholders may fill its path and query, never its scheme or host (a value must not decide where the call goes). */
const templatedUrl = z.string().superRefine((url, ctx) => {
  let parsed: URL | null = null;
  try {
    parsed = new URL(url.replace(FLOW_PLACEHOLDER, 'x'));
  } catch {
    // reported below
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))
    ctx.addIssue({ code: 'custom', message: `url must be an http or https URL, got "${url}"` });
  else if (/^[a-z]+:\/\/[^/?#]*\{!/i.test(url))
    ctx.addIssue({ code: 'custom', message: 'placeholders cannot choose the scheme or host of url (a variable must not decide where the call goes); use them in the path or query' });
});

const base = {
  id: elementId,
  label: z.string().optional(),
  /** Where an editor drew the node; ignored. */
  position: z.strictObject({ x: z.number(), y: z.number() }).optional(),
  /** Milliseconds the node may run before it fails (its fault edge, or the flow's errorHandling). */
  timeoutMs: z.int().min(1).max(86_400_000).optional(),
};
const noConfig = z.strictObject({}).optional();
const object = snakeName;
const recordId = z.string().min(1, { error: 'recordId is the id of the record, usually a placeholder: "{!request_id}"' });
/** Field values of a record node, by field name; strings may hold placeholders. */
const fieldValues = z.record(snakeName, z.unknown());
/** The variable the node's result is stored in. */
const outputVariable = snakeName.optional();

const AssignmentSchema = z
  .strictObject({ variable: snakeName, operator: z.enum(ASSIGNMENT_OPERATORS, { error: oneOf('operator', ASSIGNMENT_OPERATORS) }).default('set'), value: z.unknown().optional() })
  .superRefine((a, ctx) => {
    if (a.value === undefined) ctx.addIssue({ code: 'custom', message: 'an assignment needs value (null clears the variable)' });
  });

const WAIT_EVENTS = ['timer', 'signal', 'manual', 'webhook', 'condition'] as const;
/** A wait ends after a timer or when its signal is sent (`manual`: by a person, through the API). */
const WaitEventSchema = z
  .strictObject({
    eventType: z.enum(WAIT_EVENTS, { error: oneOf('eventType', WAIT_EVENTS) }),
    timerDuration: z.string().optional(),
    signal: snakeName.optional(),
  })
  .superRefine((w, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (w.eventType === 'webhook' || w.eventType === 'condition') {
      issue('eventType', `eventType ${w.eventType} is not supported: use signal (the flow resumes when the signal is sent to it)`);
      return;
    }
    if (w.eventType === 'timer') {
      if (w.timerDuration === undefined) issue('eventType', 'a timer wait needs timerDuration, e.g. +2h or PT2H');
      else if (flowDurationMs(w.timerDuration) === null)
        issue('timerDuration', `timerDuration "${w.timerDuration}" must be +30s, +30m, +2h, +3d, +1w or an ISO-8601 duration such as PT2H or P1DT12H (weeks, days, hours, minutes, seconds)`);
      if (w.signal !== undefined) issue('signal', 'signal is for signal and manual waits (a timer wait ends by itself)');
    } else {
      if (w.signal === undefined) issue('eventType', `a ${w.eventType} wait needs signal: <name> (snake_case), the signal that resumes it`);
      if (w.timerDuration !== undefined) issue('timerDuration', `timerDuration is for timer waits (this one is ${w.eventType})`);
    }
  });

export const FlowNodeSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('start'), ...base, config: noConfig }),
  z.strictObject({ type: z.literal('end'), ...base, config: noConfig }),
  /** Its outgoing conditional edges are tried in order; the default edge is taken when none matches. */
  z.strictObject({ type: z.literal('decision'), ...base, config: noConfig }),
  z.strictObject({ type: z.literal('assignment'), ...base, config: z.strictObject({ assignments: z.array(AssignmentSchema).min(1, { error: 'an assignment node needs at least one assignment' }) }) }),
  /** Runs its body edge once per item of `collection` (the item in `itemVariable`), then its default edge. */
  z.strictObject({ type: z.literal('loop'), ...base, config: z.strictObject({ collection: snakeName, itemVariable: snakeName }) }),
  /** `outputVariable` (text) receives the new record's id. */
  z.strictObject({ type: z.literal('create_record'), ...base, config: z.strictObject({ object, values: fieldValues.default({}), outputVariable }) }),
  z.strictObject({ type: z.literal('update_record'), ...base, config: z.strictObject({ object, recordId, values: fieldValues.refine((v) => Object.keys(v).length > 0, { error: 'an update needs at least one field value' }) }) }),
  z.strictObject({ type: z.literal('delete_record'), ...base, config: z.strictObject({ object, recordId }) }),
  /** `outputVariable` (a record variable of the same object) receives the record, null when there is none. */
  z.strictObject({ type: z.literal('get_record'), ...base, config: z.strictObject({ object, recordId, outputVariable: snakeName }) }),
  z.strictObject({
    type: z.literal('http_request'), ...base,
    config: z.strictObject({
      url: templatedUrl,
      method: z.enum(HTTP_METHODS, { error: oneOf('method', HTTP_METHODS) }).default('POST'),
      headers: HeadersSchema,
      body: BodySchema.optional(),
      timeoutMs: z.int().min(100).max(60_000).default(10_000),
      /** json: `{ status, headers, body }` of the response. */
      outputVariable,
    }),
  }),
  /** Sandboxed JavaScript (QuickJS): `input` holds the flow's variables; what it returns goes to `outputVariable` (json). */
  z.strictObject({
    type: z.literal('script'), ...base,
    config: z.strictObject({
      code: z.string().refine((c) => c.trim() !== '', { error: 'code cannot be empty' }),
      /** Milliseconds the script may run. */
      timeout: z.int().min(10).max(30_000).default(30_000),
      outputVariable,
    }),
  }),
  z.strictObject({ type: z.literal('wait'), ...base, config: noConfig, waitEventConfig: WaitEventSchema }),
  /** Runs another flow: `inputs` by its input variable names; `outputs` maps a variable here to one of its output variables. */
  z.strictObject({
    type: z.literal('subflow'), ...base,
    config: z.strictObject({ flow: snakeName, inputs: z.record(snakeName, z.unknown()).default({}), outputs: z.record(snakeName, snakeName).default({}) }),
  }),
  /** Calls an action of a `*.connector.yaml` connector with `input`; the response (json) goes to `config.outputVariable`. */
  z.strictObject({
    type: z.literal('connector_action'), ...base,
    connectorConfig: z.strictObject({ connectorId: snakeName, actionId: snakeName, input: z.record(z.string(), z.unknown()).default({}) }),
    config: z.strictObject({ outputVariable }).default({}),
  }),
]);

/**
 * An edge after `isDefault: true` is folded into `type: default`. Its type decides when it is taken:
 * `conditional` (decision only) when its condition holds; `default` when no conditional edge of the
 * decision matched, or after a loop's last item; `fault` when its source failed (after its retries);
 * none: next (a loop's body).
 */
export interface FlowEdge {
  id: string;
  source: string;
  target: string;
  type?: FlowEdgeType;
  /** Rule criteria language over the flow's variables (SQL-ish text or filter object form). */
  condition?: string | Record<string, unknown>;
  label?: string;
}

export const FlowEdgeSchema = z
  .strictObject({
    id: elementId,
    source: z.string().min(1),
    target: z.string().min(1),
    type: z.enum(FLOW_EDGE_TYPES, { error: oneOf('edge type', FLOW_EDGE_TYPES) }).optional(),
    /** Spec alias of `type: default`. */
    isDefault: z.boolean().optional(),
    condition: ConditionInputSchema.optional(),
    label: z.string().optional(),
  })
  .superRefine((e, ctx) => {
    if (e.isDefault !== undefined && e.type !== undefined && e.isDefault !== (e.type === 'default'))
      ctx.addIssue({ code: 'custom', path: ['isDefault'], message: `isDefault: ${e.isDefault} contradicts type: ${e.type} (isDefault: true is type: default)` });
  })
  .transform(({ isDefault, type, ...e }): FlowEdge => {
    const resolved = type ?? (isDefault ? 'default' : e.condition !== undefined ? 'conditional' : undefined);
    return resolved === undefined ? e : { ...e, type: resolved };
  });

const RECORD_EVENTS = ['create', 'update', 'create_or_update', 'delete'] as const;

/** What a record_change flow listens to; `criteria` (over the object's fields, ISCHANGED allowed) filters the events. */
export const FlowTriggerSchema = z.strictObject({
  object: snakeName,
  on: z.enum(RECORD_EVENTS, { error: oneOf('event', RECORD_EVENTS) }),
  criteria: ConditionInputSchema.optional(),
});

/**
 * What a node failure does when the node has no fault edge: `fail` the run, `retry` the node
 * (maxRetries times, retryDelayMs × backoffMultiplier^n apart) before failing, or `continue` along
 * its normal edge. With `fallbackNodeId`, a failure goes there instead of failing the run.
 */
export const FlowErrorHandlingSchema = z.strictObject({
  strategy: z.enum(['fail', 'retry', 'continue'], { error: oneOf('strategy', ['fail', 'retry', 'continue']) }).default('fail'),
  maxRetries: z.int().min(0).max(20).default(3),
  retryDelayMs: z.int().min(0).max(3_600_000).default(1_000),
  backoffMultiplier: z.number().min(1).max(10).default(2),
  fallbackNodeId: z.string().min(1).optional(),
});

const flowType = z.enum(FLOW_TYPES, {
  error: (i) =>
    i.input === 'screen' ? 'screen flows need a UI: not supported'
    : i.input === 'api' ? 'type api is not supported: use autolaunched (started through the API or by another flow)'
    : `unknown flow type ${JSON.stringify(i.input)} (${FLOW_TYPES.join(', ')})`,
});

/** Spec `Flow` (`*.flow.yaml`): nodes joined by edges, run on variables. Only active flows run; all are checked. */
export const FlowSchema = z
  .strictObject({
    name: snakeName,
    label: z.string().optional(),
    description: z.string().optional(),
    version: z.int().min(1).default(1),
    status: z.enum(FLOW_STATUSES, { error: oneOf('status', FLOW_STATUSES) }).default('active'),
    type: flowType,
    runAs: z.enum(['system', 'user']).default('system'),
    /** autolaunched only: permission sets whose members may start it through the API (admins always may). */
    permissionSets: z.array(snakeName).optional(),
    /** record_change only. */
    trigger: FlowTriggerSchema.optional(),
    /** schedule only. */
    schedule: z.strictObject({ expression: cronExpression, timezone: timezone.default('UTC') }).optional(),
    variables: z.array(FlowVariableSchema).default([]),
    errorHandling: FlowErrorHandlingSchema.prefault({}),
    nodes: z.array(FlowNodeSchema),
    edges: z.array(FlowEdgeSchema).default([]),
  })
  .superRefine((f, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (f.type === 'record_change' && f.trigger === undefined) issue('type', 'a record_change flow needs trigger: { object, on } (the records whose changes start it)');
    if (f.type !== 'record_change' && f.trigger !== undefined) issue('trigger', `trigger is only for record_change flows (this flow is ${f.type})`);
    if (f.type === 'schedule' && f.schedule === undefined) issue('type', "a schedule flow needs schedule: { expression: '<cron>' } (e.g. '0 6 * * *')");
    if (f.type !== 'schedule' && f.schedule !== undefined) issue('schedule', `schedule is only for schedule flows (this flow is ${f.type})`);
    if (f.type !== 'autolaunched' && f.permissionSets !== undefined)
      issue('permissionSets', `permissionSets is only for autolaunched flows (a ${f.type} flow is not started through the API)`);
    if (f.type === 'schedule' && f.runAs === 'user') issue('runAs', 'a schedule flow has no user to run as: use runAs: system');
  });

export type FlowVariable = z.output<typeof FlowVariableSchema>;
export type FlowNode = z.output<typeof FlowNodeSchema>;
export type FlowTrigger = z.output<typeof FlowTriggerSchema>;
export type FlowErrorHandling = z.output<typeof FlowErrorHandlingSchema>;
export type FlowDefinition = z.output<typeof FlowSchema>;
export type FlowAssignment = z.output<typeof AssignmentSchema>;
