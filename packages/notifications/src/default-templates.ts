import type { TemplateDefinition } from './check-template.ts';

const plain = (name: string, topic: string, security: boolean, variables: string[], subject: string, text: string): TemplateDefinition => ({
  name, topic, security, variables, defaultLocale: 'en', locales: { en: { subject, text } },
});

/**
 * The mail identity sends, built in so every deployment has it; a `*.template.yaml` of the same name
 * (another wording, more locales, html) replaces one.
 */
export const DEFAULT_TEMPLATES: readonly TemplateDefinition[] = [
  plain('verify_email', 'security.verify_email', true, ['name', 'url'], 'Verify your email address',
    'Hello {{name}},\n\nconfirm this address for your ObjectOS account by opening:\n{{url}}\n\nIf you did not sign up, ignore this message.'),
  plain('password_reset', 'security.password_reset', true, ['name', 'url'], 'Reset your password',
    'Hello {{name}},\n\nsomeone asked to reset the password of your ObjectOS account. To choose a new one, open:\n{{url}}\n\nIf it was not you, ignore this message: your password stays as it is.'),
  plain('invitation', 'organization.invitation', false, ['inviterName', 'organizationName', 'role', 'url', 'invitationId'], '{{inviterName}} invited you to {{organizationName}}',
    '{{inviterName}} invited you to join {{organizationName}} on ObjectOS as {{role}}.\n\nAccept the invitation: {{url}}\n(invitation {{invitationId}}; sign in or sign up with this address first)'),
  plain('email_otp', 'security.email_otp', true, ['otp', 'purpose'], 'Your ObjectOS code: {{otp}}',
    'Your one-time code for {{purpose}} is {{otp}}. It expires in 5 minutes. If you did not ask for it, ignore this message.'),
];

/** Built-in templates with the metadata's own in place of any of the same name. */
export function withDefaultTemplates(own: readonly TemplateDefinition[]): TemplateDefinition[] {
  const names = new Set(own.map((t) => t.name));
  return [...DEFAULT_TEMPLATES.filter((t) => !names.has(t.name)), ...own];
}
