import { z } from 'zod';

/** snake_case identifier: lower-case letter first, then lower-case letters, digits, single underscores. */
export const SNAKE_CASE = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;
export const snakeName = z
  .string()
  .regex(SNAKE_CASE, { message: 'must be snake_case (lower-case letters, digits and single underscores, starting with a letter)' })
  .max(48, { message: 'must be at most 48 characters' });

/** Select option values become GraphQL enum values, so they must be names GraphQL accepts. */
const optionValue = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, { message: 'option value must be lower-case, start with a letter and use only letters, digits and _' })
  .refine((v) => !['true', 'false', 'null'].includes(v), { message: 'option value cannot be true, false or null' });

export const SelectOption = z.strictObject({
  label: z.string().min(1),
  value: optionValue,
  color: z.string().optional(),
  default: z.boolean().optional(),
});

/** Properties every field type accepts (spec FieldSchema names). */
const base = {
  label: z.string().min(1).optional(),
  description: z.string().optional(),
  required: z.boolean().default(false),
  unique: z.boolean().default(false),
  index: z.boolean().default(false),
  searchable: z.boolean().default(false),
  hidden: z.boolean().default(false),
  readonly: z.boolean().default(false),
  externalId: z.boolean().default(false),
  /** Spec field history: changes to this field are kept (the object needs `enable.trackHistory`). */
  trackHistory: z.boolean().default(false),
};
const textLimits = {
  minLength: z.number().int().nonnegative().optional(),
  maxLength: z.number().int().positive().optional(),
  defaultValue: z.string().optional(),
};
const numberLimits = {
  min: z.number().optional(),
  max: z.number().optional(),
  precision: z.number().int().min(1).max(38).optional(),
  scale: z.number().int().min(0).max(38).optional(),
  defaultValue: z.number().optional(),
};
const relation = {
  reference: snakeName,
  deleteBehavior: z.enum(['set_null', 'cascade', 'restrict']).optional(),
  /** Name of the reverse relationship on the referenced object (default: plural of this object). */
  relationshipName: snakeName.optional(),
};

/** The types a formula may yield (spec field type names). */
export const FORMULA_RETURN_TYPES = ['text', 'number', 'currency', 'percent', 'boolean', 'date', 'datetime'] as const;
export type FormulaReturnType = (typeof FORMULA_RETURN_TYPES)[number];

const text = (type: 'text' | 'textarea' | 'email' | 'url' | 'phone') =>
  z.strictObject({ type: z.literal(type), ...base, ...textLimits });
const num = (type: 'number' | 'currency' | 'percent') => z.strictObject({ type: z.literal(type), ...base, ...numberLimits });
const temporal = (type: 'date' | 'datetime' | 'time') =>
  z.strictObject({ type: z.literal(type), ...base, defaultValue: z.string().optional() });

export const FieldSchema = z.discriminatedUnion('type', [
  text('text'),
  text('textarea'),
  text('email'),
  text('url'),
  text('phone'),
  num('number'),
  num('currency'),
  num('percent'),
  z.strictObject({ type: z.literal('boolean'), ...base, defaultValue: z.boolean().optional() }),
  temporal('date'),
  temporal('datetime'),
  temporal('time'),
  z.strictObject({ type: z.literal('select'), ...base, options: z.array(SelectOption).min(1), defaultValue: z.string().optional() }),
  z.strictObject({
    type: z.literal('multiselect'),
    ...base,
    options: z.array(SelectOption).min(1),
    defaultValue: z.array(z.string()).optional(),
  }),
  z.strictObject({ type: z.literal('lookup'), ...base, ...relation }),
  z.strictObject({ type: z.literal('master_detail'), ...base, ...relation }),
  z.strictObject({ type: z.literal('json'), ...base, defaultValue: z.unknown().optional() }),
  // Computed fields: never stored, computed in SQL when read (see check-computed.ts).
  z.strictObject({
    type: z.literal('formula'),
    ...base,
    /** An expression over the record's fields and its lookups' (`amount * probability / 100`, `account.industry`). */
    expression: z.string().min(1),
    /** What it yields; inferred from the expression when absent (and checked against it when given). */
    returnType: z.enum(FORMULA_RETURN_TYPES).optional(),
  }),
  z.strictObject({
    type: z.literal('summary'),
    ...base,
    /** Spec roll-up: a function over the child records of `object` (those whose lookup points at this record). */
    summaryOperations: z.strictObject({
      object: snakeName,
      /** The child field aggregated (count may leave it out: every child counts). */
      field: snakeName.optional(),
      function: z.enum(['count', 'sum', 'min', 'max', 'avg']),
      /** The child's lookup to this object, when it has several. */
      relationship: snakeName.optional(),
      /** Only children matching this condition (the formula language, over the child's fields). */
      filter: z.string().min(1).optional(),
    }),
  }),
  z.strictObject({
    type: z.literal('autonumber'),
    ...base,
    autonumberFormat: z
      .string()
      .regex(/\{0+\}/, { message: 'autonumberFormat must contain a {0…} placeholder, e.g. CASE-{0000}' })
      .default('{0}'),
  }),
]);

export type FieldInput = z.input<typeof FieldSchema>;
export type FieldDefinition = z.output<typeof FieldSchema>;
export type FieldType = FieldDefinition['type'];
export const FIELD_TYPES: readonly FieldType[] = FieldSchema.options.map((o) => o.shape.type.value);
