import { z } from 'zod';
import { snakeName } from './field-schema.ts';

/** A BCP 47 tag of the common shapes: `en`, `pt-BR`, `zh-Hans-CN`, `es-419`. */
const LOCALE = /^[a-z]{2,3}(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|\d{3}))?$/;

/** A notification topic: snake_case segments joined by dots (`security.password_reset`). */
const TOPIC = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*(?:\.[a-z][a-z0-9]*(?:_[a-z0-9]+)*)*$/;

/** A template variable: a plain identifier (`resetUrl`, `user_name`). */
const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Names Handlebars gives a meaning of its own; a variable so named could never be read. */
const RESERVED_VARIABLES = ['if', 'unless', 'each', 'with', 'lookup', 'log', 'this', 'else', 'root'];

/** One language version of a template (Handlebars sources). */
export const TemplateLocaleSchema = z.strictObject({
  subject: z.string().min(1, { message: 'subject cannot be empty' }).max(998, { message: 'subject must be at most 998 characters (an email header line)' }),
  text: z.string().min(1, { message: 'text cannot be empty (every message has a plain-text part)' }),
  html: z.string().min(1).optional(),
});

/**
 * A notification template (`*.template.yaml`). Structural checks only: whether each source
 * compiles and uses only declared variables is checked by `checkTemplate` in
 * `@objectos/notifications`, where Handlebars lives.
 */
export const TemplateSchema = z
  .strictObject({
    name: snakeName,
    description: z.string().optional(),
    topic: z.string().regex(TOPIC, { message: 'topic must be snake_case segments joined by dots, e.g. security.password_reset' }),
    /** Security mail (password reset, sign-in alerts) is sent whatever the recipient's preferences say. */
    security: z.boolean().default(false),
    /** Every variable a render must be given; nothing else may be given. */
    variables: z.array(z.string().regex(VARIABLE, { message: 'variable names are identifiers: a letter or _, then letters, digits or _' })).default([]),
    /** Locale code (`en`, `de`, `pt-BR`) → that language's sources. */
    locales: z.record(z.string(), TemplateLocaleSchema),
    defaultLocale: z.string().default('en'),
  })
  .superRefine((t, ctx) => {
    const locales = Object.keys(t.locales);
    // Checked here, not in the record's key schema, so the message names the code.
    for (const code of locales)
      if (!LOCALE.test(code)) ctx.addIssue({ code: 'custom', path: ['locales', code], message: `"${code}" is not a locale code (en, de, pt-BR, zh-Hans-CN)` });
    if (locales.length === 0) ctx.addIssue({ code: 'custom', path: ['locales'], message: 'a template needs at least one locale (e.g. en: { subject, text })' });
    else if (!locales.includes(t.defaultLocale))
      ctx.addIssue({ code: 'custom', path: ['defaultLocale'], message: `defaultLocale "${t.defaultLocale}" has no entry in locales (${locales.join(', ')})` });
    const seen = new Set<string>();
    t.variables.forEach((v, i) => {
      if (seen.has(v)) ctx.addIssue({ code: 'custom', path: ['variables', i], message: `variable "${v}" is declared twice` });
      if (RESERVED_VARIABLES.includes(v)) ctx.addIssue({ code: 'custom', path: ['variables', i], message: `"${v}" is a Handlebars keyword and cannot be a variable name` });
      seen.add(v);
    });
  });

export type TemplateLocale = z.output<typeof TemplateLocaleSchema>;
export type TemplateDefinition = z.output<typeof TemplateSchema>;
