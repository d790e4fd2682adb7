import { z } from 'zod';
import { snakeName } from '../field-schema.ts';
import { WorkflowActionSchema } from '../rule-schema.ts';
import { ConditionInputSchema } from '../security-schema.ts';

/**
 * What must hold for a transition to be taken; a transition's guards must all pass:
 * - `condition`: the record condition language of rule criteria, over the record as it is;
 * - `roles`: the user holds one of these roles (a metadata role, or the organization role owner/admin/member);
 * - `permissions`: the user holds one of these permission sets or system permissions.
 */
export const TransitionGuardSchema = z.union([
  z.strictObject({ condition: ConditionInputSchema }),
  z.strictObject({ roles: z.array(snakeName).min(1) }),
  z.strictObject({ permissions: z.array(z.string().min(1)).min(1) }),
], { error: 'a guard is { condition: "<criteria>" }, { roles: [<role>] } or { permissions: [<permission set or system permission>] }' });

/**
 * An action a state or a transition runs: a rule action written inline (`{ type: email_alert, … }`), or
 * `{ action: <name> }` naming one of the machine's `actions`.
 */
export const StateActionSchema = z.union([
  z.strictObject({ action: snakeName }),
  WorkflowActionSchema,
], { error: 'an action is { action: <name of one of the machine\'s actions> } or a rule action with type and name' });

/** `submit: pending_approval`, or the long form with guards and actions. */
export const TransitionSchema = z.union([
  snakeName.transform((target) => ({ target, guards: [], actions: [] })),
  z.strictObject({
    target: snakeName,
    label: z.string().optional(),
    guards: z.array(TransitionGuardSchema).default([]),
    actions: z.array(StateActionSchema).default([]),
  }),
], { error: 'a transition is a target state name, or { target, guards, actions }' });

export const StateSchema = z.strictObject({
  initial: z.boolean().default(false),
  final: z.boolean().default(false),
  label: z.string().optional(),
  transitions: z.record(snakeName, TransitionSchema).default({}),
  on_enter: z.array(StateActionSchema).default([]),
  on_exit: z.array(StateActionSchema).default([]),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Named actions are written without `name`: the key is their name. */
const named = (v: unknown): unknown =>
  isMapping(v) ? Object.fromEntries(Object.entries(v).map(([k, a]) => [k, isMapping(a) ? { name: k, ...a } : a])) : v;

/**
 * A record state machine (`*.statemachine.yaml`, the legacy FSM YAML of the spec): the value of one
 * select field of `object` changes only through these transitions. A state is an option of the field;
 * an option reached by a transition but not listed under `states` is a state with no way out.
 */
export const StateMachineSchema = z.strictObject({
  name: snakeName,
  label: z.string().optional(),
  description: z.string().optional(),
  object: snakeName,
  /** The select field holding the state. @default status */
  field: snakeName.default('status'),
  /** Legacy FSM kinds; every kind runs the same way (the kind is a label). */
  type: z.enum(['approval', 'sequential', 'parallel', 'conditional']).optional(),
  version: z.union([z.string(), z.number()]).optional(),
  states: z.record(snakeName, StateSchema).refine((s) => Object.keys(s).length > 0, { error: 'a state machine needs at least one state' }),
  /** Named actions that states and transitions refer to with `{ action: <name> }`. */
  actions: z.preprocess(named, z.record(snakeName, WorkflowActionSchema)).default({}),
  /** Who may transition when a transition has no role or permission guard: `edit` (who can edit the record) or `read`. @default edit */
  defaultAccess: z.enum(['edit', 'read']).default('edit'),
});

export type TransitionGuard = z.output<typeof TransitionGuardSchema>;
export type StateAction = z.output<typeof StateActionSchema>;
export type StateMachineDefinition = z.output<typeof StateMachineSchema>;
