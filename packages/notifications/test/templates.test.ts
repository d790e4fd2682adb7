import { describe, expect, it } from 'vitest';
// The schema is not exported from @objectos/metadata yet (its index is wired elsewhere).
import { TemplateSchema } from '../../metadata/src/template-schema.ts';
import { checkTemplate, createTemplates, NotificationInputError, type TemplateDefinition } from '../src/index.ts';

const reset: TemplateDefinition = TemplateSchema.parse({
  name: 'password_reset',
  topic: 'security.password_reset',
  security: true,
  variables: ['name', 'resetUrl'],
  locales: {
    en: { subject: 'Reset your password, {{name}}', text: 'Hi {{name}},\nopen {{resetUrl}} to reset.', html: '<p>Hi {{name}}, <a href="{{resetUrl}}">reset</a></p>' },
    pt: { subject: 'Redefina a senha, {{name}}', text: 'Olá {{name}}: {{resetUrl}}' },
    'pt-BR': { subject: 'Redefinir senha, {{name}}', text: 'Oi {{name}}: {{resetUrl}}' },
  },
});

const digest: TemplateDefinition = TemplateSchema.parse({
  name: 'weekly_digest',
  topic: 'digest.weekly',
  variables: ['user', 'items', 'footer'],
  defaultLocale: 'de',
  locales: {
    de: {
      subject: 'Wochenbericht {{#if user}}für {{user.first}}{{/if}}',
      text: '{{#each items as |item i|}}{{i}}. {{item.title}} von {{../user.first}} {{@root.footer}}\n{{/each}}{{#with user}}{{first}}{{/with}}',
    },
  },
});

const problem = (fn: () => unknown): NotificationInputError => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(NotificationInputError);
    return e as NotificationInputError;
  }
  throw new Error('expected a NotificationInputError');
};

describe('TemplateSchema (structure)', () => {
  it('fills defaults and accepts locale codes such as pt-BR', () => {
    expect(reset.defaultLocale).toBe('en');
    expect(digest.security).toBe(false);
    expect(Object.keys(reset.locales)).toEqual(['en', 'pt', 'pt-BR']);
  });

  it('refuses a default locale without an entry, bad names, duplicate or reserved variables, unknown keys', () => {
    const r = TemplateSchema.safeParse({
      name: 'Bad-Name',
      topic: 'Security..x',
      variables: ['a', 'a', 'each', '1x'],
      locales: { english: { subject: 's', text: 't' }, de: { subject: '', text: 't', extra: 1 } },
      defaultLocale: 'fr',
    });
    expect(r.success).toBe(false);
    const messages = r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(messages).toEqual(expect.arrayContaining([
      expect.stringMatching(/^name: must be snake_case/),
      expect.stringMatching(/^topic: topic must be snake_case segments/),
      expect.stringMatching(/^variables\.3: variable names are identifiers/),
      expect.stringMatching(/^locales\.de\.subject: subject cannot be empty/),
      expect.stringMatching(/^locales\.de: Unrecognized key: "extra"/),
    ]));
    // superRefine runs only once the structure parsed; check it on an otherwise valid template.
    const refined = TemplateSchema.safeParse({ name: 'x', topic: 'a.b', variables: ['a', 'a', 'each'], locales: { de: { subject: 's', text: 't' }, english: { subject: 's', text: 't' } }, defaultLocale: 'fr' });
    expect(refined.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'locales.english: "english" is not a locale code (en, de, pt-BR, zh-Hans-CN)',
      'defaultLocale: defaultLocale "fr" has no entry in locales (de, english)',
      'variables.1: variable "a" is declared twice',
      'variables.2: "each" is a Handlebars keyword and cannot be a variable name',
    ]);
  });
});

describe('checkTemplate (Handlebars)', () => {
  it('accepts declared variables, helpers, block params, ../ and @root paths', () => {
    expect(checkTemplate(reset)).toEqual([]);
    expect(checkTemplate(digest)).toEqual([]);
  });

  it('names each undeclared variable, unknown helper, partial and parse error with its locale and part', () => {
    const bad: TemplateDefinition = {
      ...reset,
      locales: {
        en: { subject: 'Hi {{nmae}}', text: '{{#if admin}}{{secret}}{{/if}} {{upper name}}', html: '{{> footer}}' },
        de: { subject: 'Hallo {{#each x}}', text: 'ok {{name}} {{@root.token}} {{lookup name other}}' },
      },
    };
    expect(checkTemplate(bad)).toEqual([
      'locales.en.subject: uses variable "nmae", which is not declared (declared: name, resetUrl)',
      'locales.en.text: unknown helper "upper" (templates may use if, unless, each, with, lookup, log)',
      'locales.en.text: uses variable "admin", which is not declared (declared: name, resetUrl)',
      'locales.en.text: uses variable "secret", which is not declared (declared: name, resetUrl)',
      'locales.en.html: partials ({{> name}}) are not supported in notification templates',
      expect.stringMatching(/^locales\.de\.subject: does not compile: Parse error on line 1/),
      'locales.de.text: uses variable "token", which is not declared (declared: name, resetUrl)',
      'locales.de.text: uses variable "other", which is not declared (declared: name, resetUrl)',
    ]);
  });
});

describe('createTemplates / render', () => {
  const templates = createTemplates([reset, digest]);

  it('renders subject, text and html with topic and security, escaping only the html', () => {
    const m = templates.render('password_reset', 'en', { name: '<Ana & "Bo">', resetUrl: 'https://app.example/reset?t=a&b=1' });
    expect(m).toEqual({
      subject: 'Reset your password, <Ana & "Bo">',
      text: 'Hi <Ana & "Bo">,\nopen https://app.example/reset?t=a&b=1 to reset.',
      html: '<p>Hi &lt;Ana &amp; &quot;Bo&quot;&gt;, <a href="https://app.example/reset?t&#x3D;a&amp;b&#x3D;1">reset</a></p>',
      topic: 'security.password_reset',
      security: true,
      locale: 'en',
    });
  });

  it('keeps the subject on one line whatever the variables hold', () => {
    const m = templates.render('password_reset', 'en', { name: 'Ana\r\nBcc: victim@example.com', resetUrl: 'x' });
    expect(m.subject).toBe('Reset your password, Ana Bcc: victim@example.com');
    expect(m.subject).not.toMatch(/[\r\n]/);
  });

  it('falls back pt-BR → pt → default locale, and finds the region when only the language is asked', () => {
    const vars = { name: 'Ana', resetUrl: 'u' };
    expect(templates.render('password_reset', 'pt-BR', vars).text).toBe('Oi Ana: u');
    expect(templates.render('password_reset', 'pt-PT', vars).text).toBe('Olá Ana: u');
    expect(templates.render('password_reset', 'pt_br', vars).locale).toBe('pt-BR');
    expect(templates.render('password_reset', 'fr-CA', vars).locale).toBe('en');
    expect(templates.render('weekly_digest', 'en', { user: { first: 'Jo' }, items: [], footer: 'f' }).locale).toBe('de');
  });

  it('renders loops with the item, ../ and @root, and no html part when the locale has none', () => {
    const m = templates.render('weekly_digest', 'de', { user: { first: 'Jo' }, items: [{ title: 'A' }, { title: 'B' }], footer: '—' });
    expect(m.subject).toBe('Wochenbericht für Jo');
    expect(m.text).toBe('0. A von Jo —\n1. B von Jo —\nJo');
    expect('html' in m).toBe(false);
  });

  it('refuses unknown templates, unknown and missing variables, naming them', () => {
    const unknown = problem(() => templates.render('nope', 'en', {}));
    expect(unknown.code).toBe('UNKNOWN_TEMPLATE');
    expect(unknown.message).toBe('unknown notification template "nope" (known: password_reset, weekly_digest)');
    const extra = problem(() => templates.render('password_reset', 'en', { name: 'a', resetUrl: 'b', token: 'c' }));
    expect(extra.code).toBe('UNKNOWN_VARIABLE');
    expect(extra.message).toContain('"token"');
    const missing = problem(() => templates.render('password_reset', 'en', { name: 'a' }));
    expect(missing.code).toBe('MISSING_VARIABLE');
    expect(missing.message).toBe('template "password_reset" needs variable "resetUrl"');
    expect(missing.retryable).toBe(false);
  });

  it('does not reach prototype properties through variables', () => {
    const t = createTemplates([{ ...reset, locales: { en: { subject: '[{{name.constructor}}]', text: '[{{name.__proto__}}]' } } }]);
    expect(t.render('password_reset', 'en', { name: 'a', resetUrl: 'b' })).toMatchObject({ subject: '[]', text: '[]' });
  });

  it('refuses a broken or duplicate template set up front, listing every problem', () => {
    const e = problem(() => createTemplates([reset, reset, { ...digest, defaultLocale: 'xx', locales: { de: { subject: '{{who}}', text: 't' } } }]));
    expect(e.code).toBe('INVALID_TEMPLATE');
    expect(e.message).toContain('password_reset: defined twice');
    expect(e.message).toContain('weekly_digest: defaultLocale "xx" has no entry in locales');
    expect(e.message).toContain('weekly_digest: locales.de.subject: uses variable "who"');
    expect(templates.names()).toEqual(['password_reset', 'weekly_digest']);
  });
});
