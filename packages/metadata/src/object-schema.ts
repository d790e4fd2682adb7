import { z } from 'zod';
import { FieldSchema, snakeName } from './field-schema.ts';

export const API_METHODS = ['get', 'list', 'create', 'update', 'delete'] as const;
export type ApiMethod = (typeof API_METHODS)[number];

/** Spec `enable` flags. Only those this runtime honours are accepted, so none is silently ignored. */
export const EnableSchema = z.strictObject({
  apiEnabled: z.boolean().default(true),
  apiMethods: z.array(z.enum(API_METHODS)).min(1).default([...API_METHODS]),
  trackHistory: z.boolean().default(false),
  searchable: z.boolean().default(true),
});

export const IndexSchema = z.strictObject({
  name: snakeName,
  fields: z.array(snakeName).min(1),
  type: z.enum(['btree', 'hash', 'gin']).default('btree'),
  unique: z.boolean().default(false),
});

const validationBase = {
  name: snakeName,
  label: z.string().optional(),
  active: z.boolean().default(true),
  message: z.string().min(1),
};
/** Spec validation rules this runtime enforces; other spec types are refused, never silently ignored. */
export const ValidationSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('format'),
    ...validationBase,
    field: snakeName,
    regex: z.string().optional(),
    format: z.enum(['email', 'url', 'phone']).optional(),
  }),
  z.strictObject({
    type: z.literal('unique'),
    ...validationBase,
    fields: z.array(snakeName).min(1),
  }),
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
