import Handlebars from 'handlebars';
import { checkTemplate, TEMPLATE_HELPERS, type TemplateDefinition } from './check-template.ts';
import { NotificationInputError } from './errors.ts';

/** A rendered notification, ready for a channel. */
export interface RenderedMessage {
  /** One line: newlines from the source or the variables become spaces. */
  subject: string;
  /** Plain text, not escaped. */
  text: string;
  /** HTML with every variable escaped; absent when the locale has no html. */
  html?: string;
  topic: string;
  /** Security messages are sent whatever the recipient's preferences say. */
  security: boolean;
  /** The locale actually used, after fallback. */
  locale: string;
}

/** Compiled templates, rendered by name. */
export interface Templates {
  /**
   * Renders `name` in `locale` (falling back `pt-BR` → `pt` → the template's default locale).
   * `variables` must hold exactly the declared variables.
   * @example templates.render('password_reset', 'de-AT', { name: 'Ana', resetUrl })
   */
  render(name: string, locale: string, variables: Readonly<Record<string, unknown>>): RenderedMessage;
  /** The template names, sorted. */
  names(): string[];
}

type Compiled = (context: unknown) => string;
interface CompiledLocale {
  subject: Compiled;
  text: Compiled;
  html?: Compiled;
}
interface CompiledTemplate {
  def: TemplateDefinition;
  locales: Map<string, CompiledLocale>;
}

const knownHelpers = Object.fromEntries(TEMPLATE_HELPERS.map((h) => [h, true]));

/**
 * Checks and compiles every template once (an `INVALID_TEMPLATE` error lists all problems), and
 * returns a renderer over the compiled functions.
 */
export function createTemplates(defs: readonly TemplateDefinition[]): Templates {
  // An own environment: helpers or partials registered elsewhere never reach these templates.
  const hbs = Handlebars.create();
  const compile = (source: string, noEscape: boolean): Compiled =>
    hbs.compile(source, { noEscape, knownHelpers, knownHelpersOnly: true, preventIndent: true });

  const problems: string[] = [];
  const byName = new Map<string, CompiledTemplate>();
  for (const def of defs) {
    if (byName.has(def.name)) problems.push(`${def.name}: defined twice`);
    if (!(def.defaultLocale in def.locales)) problems.push(`${def.name}: defaultLocale "${def.defaultLocale}" has no entry in locales`);
    problems.push(...checkTemplate(def).map((p) => `${def.name}: ${p}`));
    const locales = new Map<string, CompiledLocale>();
    for (const [code, src] of Object.entries(def.locales))
      locales.set(code, {
        subject: compile(src.subject, true),
        text: compile(src.text, true),
        ...(src.html === undefined ? {} : { html: compile(src.html, false) }),
      });
    byName.set(def.name, { def, locales });
  }
  if (problems.length) throw new NotificationInputError('INVALID_TEMPLATE', `invalid notification templates:\n  ${problems.join('\n  ')}`);
  // Compilation is lazy in Handlebars; run each once so a broken source fails here, not in a job.
  for (const { def, locales } of byName.values()) {
    const sample = Object.fromEntries(def.variables.map((v) => [v, '']));
    for (const [code, l] of locales)
      for (const [part, fn] of Object.entries(l))
        try {
          (fn as Compiled)(sample);
        } catch (e) {
          problems.push(`${def.name}: locales.${code}.${part}: ${(e as Error).message.split('\n')[0]}`);
        }
  }
  if (problems.length) throw new NotificationInputError('INVALID_TEMPLATE', `invalid notification templates:\n  ${problems.join('\n  ')}`);

  return {
    names: () => [...byName.keys()].sort(),
    render(name, locale, variables) {
      const t = byName.get(name);
      if (!t) throw new NotificationInputError('UNKNOWN_TEMPLATE', `unknown notification template "${name}" (known: ${[...byName.keys()].sort().join(', ') || 'none'})`);
      const declared = t.def.variables;
      for (const v of Object.keys(variables))
        if (!declared.includes(v))
          throw new NotificationInputError('UNKNOWN_VARIABLE', `template "${name}" has no variable "${v}" (declared: ${declared.join(', ') || 'none'})`);
      for (const v of declared)
        if (variables[v] === undefined) throw new NotificationInputError('MISSING_VARIABLE', `template "${name}" needs variable "${v}"`);
      const code = pickLocale(t, locale);
      const l = t.locales.get(code)!;
      const html = l.html?.(variables);
      return {
        subject: l.subject(variables).replace(/\s*[\r\n\u2028\u2029]+\s*/g, ' ').trim(),
        text: l.text(variables),
        ...(html === undefined ? {} : { html }),
        topic: t.def.topic,
        security: t.def.security,
        locale: code,
      };
    },
  };
}

/** `pt-BR` → `pt-BR`, else `pt`, else any `pt-*`, else the default locale (matched case-insensitively). */
function pickLocale(t: CompiledTemplate, wanted: string): string {
  const codes = [...t.locales.keys()];
  const find = (c: string) => codes.find((k) => k.toLowerCase() === c.toLowerCase());
  const language = wanted.split(/[-_]/)[0] ?? '';
  return (
    find(wanted.replace(/_/g, '-')) ??
    find(language) ??
    codes.find((k) => k.toLowerCase().startsWith(`${language.toLowerCase()}-`)) ??
    t.def.defaultLocale
  );
}
