import { z } from 'zod';
import { FieldSchema, snakeName } from './field-schema.ts';
import { ConditionInputSchema } from './security-schema.ts';

/** `restore` and `purge` (spec) exist only on objects with `enable.trash`; elsewhere they are left out. */
export const API_METHODS = ['get', 'list', 'create', 'update', 'delete', 'restore', 'purge'] as const;
export type ApiMethod = (typeof API_METHODS)[number];

/** Spec `enable` flags. Only those this runtime honours are accepted, so none is silently ignored. */
export const EnableSchema = z.strictObject({
  apiEnabled: z.boolean().default(true),
  apiMethods: z.array(z.enum(API_METHODS)).min(1).default([...API_METHODS]),
  trackHistory: z.boolean().default(false),
  searchable: z.boolean().default(true),
  /**
   * Spec `trash` (default true there; false here, so a delete stays a delete unless asked): a delete
   * moves the record to the trash, from where it is restored or purged.
   */
  trash: z.boolean().default(false),
});

export const IndexSchema = z.strictObject({
  name: snakeName,
  fields: z.array(snakeName).min(1),
  type: z.enum(['btree', 'hash', 'gin']).default('btree'),
  unique: z.boolean().default(false),
});

export const VALIDATION_EVENTS = ['insert', 'update', 'delete'] as const;
export const VALIDATION_SEVERITIES = ['error', 'warning', 'info'] as const;

/** Spec validation base: what every rule type shares. */
const validationBase = {
  name: snakeName,
  label: z.string().optional(),
  description: z.string().optional(),
  active: z.boolean().default(true),
  /** Writes the rule judges: `insert` the new record, `update` the merged record, `delete` the record deleted. */
  events: z.array(z.enum(VALIDATION_EVENTS)).min(1, { error: 'events needs at least one of insert, update, delete' }).default(['insert', 'update']),
  /** Lower runs first (and is reported first). */
  priority: z.int().min(0).max(9999).default(100),
  /** Only `error` blocks the write; `warning` and `info` are reported beside the result. */
  severity: z.enum(VALIDATION_SEVERITIES).default('error'),
  message: z.string().min(1),
};

const FormatValidationSchema = z.strictObject({
  type: z.literal('format'),
  ...validationBase,
  field: snakeName,
  regex: z.string().optional(),
  format: z.enum(['email', 'url', 'phone']).optional(),
});

/** TRUE = invalid: `condition` describes the records the rule refuses (spec: "If TRUE, validation fails"). */
const ScriptValidationSchema = z.strictObject({
  type: z.literal('script'),
  ...validationBase,
  condition: ConditionInputSchema,
});

/** Like script; `fields[0]` is the field the failure is reported on. */
const CrossFieldValidationSchema = z.strictObject({
  type: z.literal('cross_field'),
  ...validationBase,
  condition: ConditionInputSchema,
  fields: z.array(snakeName).min(1, { error: 'a cross_field rule names at least one field (the first is the one its failure is reported on)' }),
});

/** Allowed changes of a select field: `{ from: [to, …] }`; a state with no entry cannot be left. */
const StateMachineValidationSchema = z.strictObject({
  type: z.literal('state_machine'),
  ...validationBase,
  field: snakeName,
  transitions: z.record(z.string(), z.array(z.string())),
  /** States a record may be created in (absent: any option). */
  initialStates: z.array(z.string()).min(1).optional(),
});

/** Applies `then` to the records `when` matches, `otherwise` (when given) to the others. */
const ConditionalValidationSchema = z.strictObject({
  type: z.literal('conditional'),
  ...validationBase,
  when: ConditionInputSchema,
  // Getters typed by hand: the rule types refer to each other.
  get then(): z.ZodType<NestedOutput, NestedInput> {
    return NestedValidationSchema;
  },
  get otherwise(): z.ZodOptional<z.ZodType<NestedOutput, NestedInput>> {
    return NestedValidationSchema.optional();
  },
});

/** The rule types a conditional may apply (a unique rule is a database index: it cannot be conditional). */
const NestedValidationSchema = z.discriminatedUnion('type', [
  ScriptValidationSchema,
  CrossFieldValidationSchema,
  StateMachineValidationSchema,
  FormatValidationSchema,
  ConditionalValidationSchema,
]);

type Leaf = typeof ScriptValidationSchema | typeof CrossFieldValidationSchema | typeof StateMachineValidationSchema | typeof FormatValidationSchema;
type BaseOutput = Omit<z.output<typeof ScriptValidationSchema>, 'type' | 'condition'>;
type BaseInput = Omit<z.input<typeof ScriptValidationSchema>, 'type' | 'condition'>;
interface ConditionalOutput extends BaseOutput {
  type: 'conditional';
  when: z.output<typeof ConditionInputSchema>;
  then: NestedOutput;
  otherwise?: NestedOutput | undefined;
}
interface ConditionalInput extends BaseInput {
  type: 'conditional';
  when: z.input<typeof ConditionInputSchema>;
  then: NestedInput;
  otherwise?: NestedInput | undefined;
}
type NestedOutput = z.output<Leaf> | ConditionalOutput;
type NestedInput = z.input<Leaf> | ConditionalInput;

/** Spec validation rules this runtime enforces; other spec types are refused, never silently ignored. */
export const ValidationSchema = z.discriminatedUnion('type', [
  FormatValidationSchema,
  z.strictObject({
    type: z.literal('unique'),
    ...validationBase,
    fields: z.array(snakeName).min(1),
  }),
  ScriptValidationSchema,
  CrossFieldValidationSchema,
  StateMachineValidationSchema,
  ConditionalValidationSchema,
]);

export const SHARING_MODELS = ['private', 'public_read', 'public_read_write', 'controlled_by_parent'] as const;

export const ObjectSchema = z.strictObject({
  name: snakeName,
  label: z.string().min(1).optional(),
  pluralLabel: z.string().min(1).optional(),
  description: z.string().optional(),
  icon: z.string().optional(),
  fields: z.record(snakeName, FieldSchema).refine((f) => Object.keys(f).length > 0, { message: 'an object needs at least one field' }),
  indexes: z.array(IndexSchema).default([]),
  enable: EnableSchema.default(EnableSchema.parse({})),
  validations: z.array(ValidationSchema).default([]),
  sharingModel: z.enum(SHARING_MODELS).default('private'),
  displayNameField: snakeName.optional(),
});

export type ObjectInput = z.input<typeof ObjectSchema>;
export type ObjectDefinition = z.output<typeof ObjectSchema>;
export type IndexDefinition = z.output<typeof IndexSchema>;
export type ValidationDefinition = z.output<typeof ValidationSchema>;
/** A rule a conditional applies (any type but unique). */
export type NestedValidationDefinition = NestedOutput;
export type ValidationEvent = (typeof VALIDATION_EVENTS)[number];
export type ValidationSeverity = (typeof VALIDATION_SEVERITIES)[number];
