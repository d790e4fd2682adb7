import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { MetadataError, parseMetadata, type MetadataIssue, type MetadataModel, type MetadataSource } from '../src/index.ts';

/** The demo objects and roles (opportunity, task, account, contact, case; ceo, sales_manager…), read from disk. */
const demo = fileURLToPath(new URL('../../../metadata', import.meta.url));
const read = (dir: string, pattern: RegExp): Record<string, string> =>
  Object.fromEntries(readdirSync(join(demo, dir)).filter((f) => pattern.test(f)).map((f) => [`${dir}/${f}`, readFileSync(join(demo, dir, f), 'utf8')]));

/** What the demo lacks: an object with a readonly field and an email, one with two lookups to account, a template, a connector. */
export const EXTRAS: Record<string, string> = {
  'objects/lead.object.yaml': `name: lead
fields:
  name: { type: text, required: true }
  email: { type: email }
  phone: { type: phone }
  score: { type: number, readonly: true }
  tags:
    type: multiselect
    options:
      - { label: Hot, value: hot }
      - { label: Cold, value: cold }
  follow_up_on: { type: date }
`,
  'objects/call_log.object.yaml': `name: call_log
fields:
  subject: { type: text, required: true }
  account: { type: lookup, reference: account }
  billed_account: { type: lookup, reference: account, relationshipName: billed_call_logs }
`,
  'templates/opportunity_won.template.yaml': `name: opportunity_won
topic: crm.opportunity_won
variables: [name]
locales:
  en: { subject: "Won: {{name}}", text: "{{name}} was won." }
`,
  'connectors/crm.connector.yaml': `name: crm
baseUrl: https://crm.example.com/api
auth: { type: bearer, tokenEnv: CRM_API_TOKEN }
actions:
  create_deal:
    path: /deals
    body: { title: "{{input.title}}", amount: "{{record.amount}}" }
  ping:
    method: GET
    path: /ping
`,
};

export const FIXTURE: Record<string, string> = { ...read('objects', /\.object\.yaml$/), ...read('security', /\.role\.yaml$/), ...EXTRAS };

export const sources = (files: Record<string, string>): MetadataSource[] =>
  Object.entries({ ...FIXTURE, ...files }).map(([file, text]) => ({ file, text }));

export const parse = (files: Record<string, string>): MetadataModel => parseMetadata(sources(files));

export function issuesOf(files: Record<string, string>): MetadataIssue[] {
  try {
    parseMetadata(sources(files));
  } catch (e) {
    expect(e).toBeInstanceOf(MetadataError);
    return (e as MetadataError).issues;
  }
  throw new Error('expected the metadata to be rejected');
}

/** A rule on opportunity (lines 1–3: name, objectName, triggerType); `body` starts on line 4. */
export const rule = (body: string, head: { object?: string; trigger?: string } = {}): string =>
  `name: r\nobjectName: ${head.object ?? 'opportunity'}\ntriggerType: ${head.trigger ?? 'on_update'}\n${body}`;

/** A rule with one action (line 5: `- type: …`, line 6: `name: a`, its properties from line 7). */
export const action = (type: string, props: string, head: { object?: string; trigger?: string } = {}): string =>
  rule(`actions:\n  - type: ${type}\n    name: a\n${props.split('\n').filter(Boolean).map((l) => `    ${l}`).join('\n')}\n`, head);
