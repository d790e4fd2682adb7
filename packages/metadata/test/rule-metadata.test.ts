import { describe, expect, it } from 'vitest';
import { METADATA_FILE, type MetadataIssue } from '../src/index.ts';
import { action, issuesOf, parse, rule } from './rule-fixture.ts';

/** Workflow rules (`*.rule.yaml`) and connectors (`*.connector.yaml`): a valid set loads; each mistake is located. */

const WON = `name: opportunity_won
label: Opportunity won
objectName: opportunity
triggerType: on_update
criteria: ISCHANGED(stage) AND stage = 'closed_won'
executionOrder: 10
actions:
  - type: field_update
    name: certain
    field: probability
    value: 100
  - type: email_alert
    name: tell_team
    template: opportunity_won
    recipients: [owner, "role:sales_manager", admins]
  - type: http_call
    name: notify_erp
    url: "https://erp.example.com/won/{{record.id}}?by={{rule.name}}"
    headers: { x-event: "{{event.id}}" }
    body: { name: "{{record.name}}", was: "{{prior.stage}}" }
    attempts: 5
  - type: connector_action
    name: push_deal
    connectorId: crm
    actionId: create_deal
    input: { title: "{{record.name}}" }
  - type: task_creation
    name: send_contract
    subject: "Send the contract for {{record.name}}"
    dueDate: +3d
    priority: high
    assignedTo: actor
  - type: push_notification
    name: cheer
    title: "Won: {{record.name}}"
    body: "{{record.amount}} closed"
    recipients: [owner]
    data: { id: "{{record.id}}" }
    badge: 1
  - type: custom_script
    name: score
    language: javascript
    code: "return { ok: record.amount > 0 };"
    timeout: 500
timeTriggers:
  - timeLength: 7
    timeUnit: days
    actions:
      - type: task_creation
        name: check_in
        subject: "Check in with {{record.name}}"
  - timeLength: 3
    timeUnit: days
    offsetDirection: before
    offsetFrom: date_field
    dateField: close_date
    actions:
      - type: push_notification
        name: closing_soon
        title: Closing soon
        body: "{{record.name}} closes on {{record.close_date}}"
        recipients: [owner]
`;

const STALE = `name: stale_proposals
objectName: opportunity
triggerType: schedule
schedule: { expression: "0 6 * * 1" }
criteria: { stage: proposal, amount: { $gte: 1000 } }
actions:
  - { type: email_alert, name: nudge, template: opportunity_won, recipients: [owner] }
`;

const LEAD = `name: new_lead
objectName: lead
triggerType: on_create
criteria: ISNEW() AND email IS NOT NULL
actions:
  - { type: email_alert, name: welcome, template: opportunity_won, recipients: ["field:email"] }
`;

describe('a valid rule set', () => {
  const model = parse({ 'rules/won.rule.yaml': WON, 'rules/stale.rule.yaml': STALE, 'rules/lead.rule.yaml': LEAD });

  it('loads every action type, time triggers, a schedule rule and a connector, defaults filled in', () => {
    expect(model.rules.map((r) => r.name)).toEqual(['new_lead', 'opportunity_won', 'stale_proposals']);
    const won = model.rules.find((r) => r.name === 'opportunity_won')!;
    expect(won).toMatchObject({ source: 'rules/won.rule.yaml', active: true, executionOrder: 10, reevaluateOnChange: false, runAs: 'system' });
    expect(won.actions.map((a) => a.type)).toEqual(['field_update', 'email_alert', 'http_call', 'connector_action', 'task_creation', 'push_notification', 'custom_script']);
    expect(won.actions[2]).toMatchObject({ method: 'POST', timeoutMs: 10_000, attempts: 5 });
    expect(won.actions[4]).toMatchObject({ taskObject: 'task', assignedTo: 'actor', dueDate: '+3d' });
    expect(won.timeTriggers[0]).toMatchObject({ offsetDirection: 'after', offsetFrom: 'trigger_date', actions: [{ assignedTo: 'owner' }] });
    expect(won.condition).toEqual({ op: 'and', args: [{ op: 'changed', field: 'stage' }, { op: 'eq', left: { kind: 'field', name: 'stage' }, right: { kind: 'value', value: 'closed_won' } }] });
    const stale = model.rules.find((r) => r.name === 'stale_proposals')!;
    expect(stale.schedule).toEqual({ expression: '0 6 * * 1', timezone: 'UTC' });
    expect(stale.timeTriggers).toEqual([]);
    expect(model.connectors).toMatchObject([{ name: 'crm', source: 'connectors/crm.connector.yaml', timeoutMs: 10_000, headers: {}, auth: { type: 'bearer', tokenEnv: 'CRM_API_TOKEN' }, actions: { create_deal: { method: 'POST' }, ping: { method: 'GET' } } }]);
  });

  it('is read by the loader (rule and connector files match METADATA_FILE)', () => {
    expect(['a.rule.yaml', 'b/c.rule.yml', 'crm.connector.yaml'].every((f) => METADATA_FILE.test(f))).toBe(true);
  });
});

interface Mistake {
  name: string;
  files: Record<string, string>;
  want: Partial<Omit<MetadataIssue, 'message'>> & { message: RegExp | string };
}

const f = (text: string): Record<string, string> => ({ 'r.rule.yaml': text });
const connector = (body: string) => ({ 'x.connector.yaml': `name: x\nbaseUrl: https://x.example.com\n${body}` });

const MISTAKES: Mistake[] = [
  { name: 'unknown action type', files: f(action('sms', 'to: owner')),
    want: { line: 5, path: 'actions.0.type', message: /unknown action type "sms" \(expected one of field_update, email_alert, http_call, connector_action, task_creation, push_notification, custom_script\)/ } },
  { name: 'field_update on an unknown field', files: f(action('field_update', 'field: stag\nvalue: proposal')),
    want: { line: 7, path: 'actions.0.field', message: /unknown field "stag" on opportunity \(fields: account, amount,/ } },
  { name: 'field_update on a readonly field', files: f(action('field_update', 'field: score\nvalue: 3', { object: 'lead' })),
    want: { line: 7, path: 'actions.0.field', message: 'lead.score is readonly: a field_update cannot set it' } },
  { name: 'field_update on an autonumber', files: f(action('field_update', 'field: account_number\nvalue: "A-1"', { object: 'account' })),
    want: { line: 7, path: 'actions.0.field', message: /account.account_number is an autonumber/ } },
  { name: 'field_update on a system field', files: f(action('field_update', 'field: owner_id\nvalue: "u1"')),
    want: { line: 7, path: 'actions.0.field', message: /"owner_id" is a system field/ } },
  { name: 'field_update with a value that is not an option', files: f(action('field_update', 'field: stage\nvalue: won')),
    want: { line: 8, path: 'actions.0.value', message: /"won" is not an option of opportunity.stage \(prospecting, qualification,/ } },
  { name: 'field_update with a string for a number', files: f(action('field_update', 'field: amount\nvalue: "lots"')),
    want: { line: 8, path: 'actions.0.value', message: /opportunity.amount is a currency field: value must be a number, got "lots"/ } },
  { name: 'field_update clearing a required field', files: f(action('field_update', 'field: stage\nvalue: null')),
    want: { line: 8, path: 'actions.0.value', message: /opportunity.stage is required: it cannot be set to null/ } },
  { name: 'criteria type mismatch', files: f(rule("criteria: amount = 'big'\nactions: []\ntimeTriggers: [{ timeLength: 1, timeUnit: days, actions: [{ type: custom_script, name: s, language: javascript, code: x }] }]\n")),
    want: { line: 4, path: 'criteria', message: /criteria type mismatch: a comparison compares a number with a string/ } },
  { name: 'criteria select value that is not an option', files: f(rule("criteria: PRIORVALUE(stage) = 'won'\nactions: [{ type: custom_script, name: s, language: javascript, code: x }]\n")),
    want: { line: 4, path: 'criteria', message: /"won" is not an option of stage/ } },
  { name: 'current_user in criteria', files: f(rule('criteria: owner_id = $user.id\nactions: [{ type: custom_script, name: s, language: javascript, code: x }]\n')),
    want: { line: 4, path: 'criteria', message: /current_user.id cannot be used in rule criteria: rules run on committed changes/ } },
  { name: 'current_user in filter criteria', files: f(rule('criteria: { owner_id: "{{ userId }}" }\nactions: [{ type: custom_script, name: s, language: javascript, code: x }]\n')),
    want: { line: 4, path: 'criteria', message: /current_user.userId cannot be used in rule criteria/ } },
  { name: 'comparing a multiselect in criteria', files: f(rule("criteria: tags = 'hot'\nactions: [{ type: custom_script, name: s, language: javascript, code: x }]\n", { object: 'lead' })),
    want: { line: 4, path: 'criteria', message: /tags is a multiselect field: rule criteria can only test it with IS NULL or ISCHANGED\(tags\)/ } },
  { name: 'ISCHANGED in an on_create rule', files: f(rule('criteria: ISCHANGED(stage)\nactions: [{ type: custom_script, name: s, language: javascript, code: x }]\n', { trigger: 'on_create' })),
    want: { line: 4, path: 'criteria', message: /an on_create rule has no prior record/ } },
  { name: 'unknown function in criteria', files: f(rule('criteria: ISBLANK(stage)\nactions: [{ type: custom_script, name: s, language: javascript, code: x }]\n')),
    want: { line: 4, path: 'criteria', message: /unknown function ISBLANK\(\) \(rule criteria know ISCHANGED\(field\), PRIORVALUE\(field\) and ISNEW\(\)\)/ } },
  { name: 'unknown template', files: f(action('email_alert', 'template: opportunity_lost\nrecipients: [owner]')),
    want: { line: 7, path: 'actions.0.template', message: 'unknown template "opportunity_lost" (declared: opportunity_won)' } },
  { name: 'unknown role recipient', files: f(action('email_alert', 'template: opportunity_won\nrecipients: [owner, "role:sales_boss"]')),
    want: { line: 8, path: 'actions.0.recipients.1', message: /unknown role "sales_boss" \(roles: ceo, sales_manager,/ } },
  { name: 'field: recipient that is not an email field', files: f(action('email_alert', 'template: opportunity_won\nrecipients: ["field:phone"]', { object: 'lead' })),
    want: { line: 8, path: 'actions.0.recipients.0', message: 'lead.phone is a phone field: a field: recipient must name an email field' } },
  { name: 'field: recipient of a push notification', files: f(action('push_notification', 'title: t\nbody: b\nrecipients: ["field:email"]', { object: 'lead' })),
    want: { line: 9, path: 'actions.0.recipients.0', message: /a push notification goes to users/ } },
  { name: 'malformed recipient', files: f(action('push_notification', 'title: t\nbody: b\nrecipients: ["group:x"]')),
    want: { line: 9, path: 'actions.0.recipients.0', message: /unknown recipient "group:x" \(owner, manager, admins, user:<id>, role:<role name>, field:<email field>\)/ } },
  { name: 'unknown connector', files: f(action('connector_action', 'connectorId: erp\nactionId: create_deal')),
    want: { line: 7, path: 'actions.0.connectorId', message: 'unknown connector "erp" (declared: crm)' } },
  { name: 'unknown connector action', files: f(action('connector_action', 'connectorId: crm\nactionId: delete_deal')),
    want: { line: 8, path: 'actions.0.actionId', message: 'connector "crm" has no action "delete_deal" (actions: create_deal, ping)' } },
  { name: 'connector input missing what the endpoint renders', files: f(action('connector_action', 'connectorId: crm\nactionId: create_deal\ninput: { name: x }')),
    want: { line: 9, path: 'actions.0.input', message: /uses \{\{input.title\}\}: input has no "title"/ } },
  { name: 'task relatedTo ambiguity', files: f(action('task_creation', 'taskObject: call_log\nsubject: Call them', { object: 'account' })),
    want: { line: 5, path: 'actions.0.relatedTo', message: 'call_log has several lookups to account (account, billed_account): set relatedTo to one of them' } },
  { name: 'task relatedTo that is not a lookup to the object', files: f(action('task_creation', 'subject: Call\nrelatedTo: contact')),
    want: { line: 8, path: 'actions.0.relatedTo', message: 'task.contact is not a lookup to opportunity (lookups to it: opportunity)' } },
  { name: 'task priority that is not an option', files: f(action('task_creation', 'subject: Call\npriority: urgent')),
    want: { line: 8, path: 'actions.0.priority', message: '"urgent" is not an option of task.priority (low, normal, high)' } },
  { name: 'task dueDate format', files: f(action('task_creation', 'subject: Call\ndueDate: tomorrow')),
    want: { line: 8, path: 'actions.0.dueDate', message: /dueDate "tomorrow" must be relative to when the action runs: \+30m, \+2h, \+3d or \+1w/ } },
  { name: 'task assignedTo', files: f(action('task_creation', 'subject: Call\nassignedTo: "field:owner"')),
    want: { line: 8, path: 'actions.0.assignedTo', message: /assignedTo "field:owner" must be owner, actor or user:<id>/ } },
  { name: 'time trigger dateField that is not a date', files: f(rule('actions: []\ntimeTriggers:\n  - timeLength: 1\n    timeUnit: days\n    offsetFrom: date_field\n    dateField: amount\n    actions: [{ type: custom_script, name: s, language: javascript, code: x }]\n')),
    want: { line: 9, path: 'timeTriggers.0.dateField', message: 'opportunity.amount is a currency field: a time trigger\'s dateField must be a date or datetime field' } },
  { name: 'time trigger from a date field without dateField', files: f(rule('actions: []\ntimeTriggers:\n  - timeLength: 1\n    timeUnit: days\n    offsetFrom: date_field\n    actions: [{ type: custom_script, name: s, language: javascript, code: x }]\n')),
    want: { line: 8, path: 'timeTriggers.0.offsetFrom', message: /offsetFrom date_field needs dateField/ } },
  { name: 'time trigger on an on_delete rule', files: f(rule('actions: []\ntimeTriggers: [{ timeLength: 1, timeUnit: days, actions: [{ type: custom_script, name: s, language: javascript, code: x }] }]\n', { trigger: 'on_delete' })),
    want: { line: 5, path: 'timeTriggers', message: 'time triggers wait on a live record: an on_delete rule cannot have them' } },
  { name: 'schedule rule without schedule', files: f(rule('actions: [{ type: custom_script, name: s, language: javascript, code: x }]\n', { trigger: 'schedule' })),
    want: { line: 3, path: 'triggerType', message: /triggerType schedule needs schedule: \{ expression: '<cron>' \}/ } },
  { name: 'schedule with an invalid cron', files: f(rule('schedule: { expression: "every monday" }\nactions: [{ type: custom_script, name: s, language: javascript, code: x }]\n', { trigger: 'schedule' })),
    want: { line: 4, path: 'schedule.expression', message: /invalid cron expression "every monday"/ } },
  { name: 'schedule on a change rule', files: f(rule('schedule: { expression: "0 6 * * *" }\nactions: [{ type: custom_script, name: s, language: javascript, code: x }]\n')),
    want: { line: 4, path: 'schedule', message: 'schedule is only for triggerType schedule (this rule runs on_update)' } },
  { name: 'python script', files: f(action('custom_script', 'language: python\ncode: "print(1)"')),
    want: { line: 7, path: 'actions.0.language', message: 'only javascript runs (a sandboxed QuickJS); typescript/python are not supported' } },
  { name: 'duplicate action names across time triggers', files: f(rule('actions: [{ type: custom_script, name: s, language: javascript, code: x }]\ntimeTriggers: [{ timeLength: 1, timeUnit: days, actions: [{ type: custom_script, name: s, language: javascript, code: y }] }]\n')),
    want: { line: 5, path: 'timeTriggers.0.actions.0.name', message: 'action name "s" is already used in this rule' } },
  { name: 'placeholder naming an unknown field', files: f(action('task_creation', 'subject: "Call {{record.nmae}}"')),
    want: { line: 7, path: 'actions.0.subject', message: 'unknown placeholder {{record.nmae}}: opportunity has no field "nmae"' } },
  { name: 'placeholder of an unknown kind', files: f(action('http_call', 'url: "https://x.example.com/{{user.id}}"')),
    want: { line: 7, path: 'actions.0.url', message: /unknown placeholder \{\{user.id\}\} \(use \{\{record.<field>\}\}/ } },
  { name: 'placeholder choosing the host of an http call', files: f(action('http_call', 'url: "https://{{record.name}}.example.com/"')),
    want: { line: 7, path: 'actions.0.url', message: /placeholders cannot choose the scheme or host of url/ } },
  { name: 'credentials in an http call', files: f(action('http_call', 'url: https://x.example.com\nheaders: { Authorization: "Bearer abc" }')),
    want: { line: 8, path: 'actions.0.headers.Authorization', message: /carries credentials: call a connector/ } },
  { name: 'unknown object', files: f(action('custom_script', 'language: javascript\ncode: x', { object: 'opportunty' })),
    want: { line: 2, path: 'objectName', message: /unknown object "opportunty" \(objects: account, call_log, case,/ } },
  { name: 'duplicate rule names', files: { ...f(action('custom_script', 'language: javascript\ncode: x')), 's.rule.yaml': action('custom_script', 'language: javascript\ncode: x') },
    want: { file: 's.rule.yaml', line: 1, path: 'name', message: 'rule "r" is already declared in r.rule.yaml' } },
  { name: 'connector secret env name', files: connector('auth: { type: bearer, tokenEnv: sk_live_123 }\nactions: { a: { path: /a } }\n'),
    want: { file: 'x.connector.yaml', line: 3, path: 'auth.tokenEnv', message: /"sk_live_123" is not an environment variable name/ } },
  { name: 'connector credentials in headers', files: connector('auth: { type: api_key, keyEnv: X_KEY }\nheaders: { X-Api-Key: abc }\nactions: { a: { path: /a } }\n'),
    want: { file: 'x.connector.yaml', line: 4, path: 'headers.X-Api-Key', message: /carries credentials: declare them in auth/ } },
  { name: 'connector unknown auth type', files: connector('auth: { type: oauth2 }\nactions: { a: { path: /a } }\n'),
    want: { file: 'x.connector.yaml', line: 3, path: 'auth.type', message: /unknown auth type "oauth2" \(expected one of none, bearer, basic, api_key\)/ } },
  { name: 'connector path without slash', files: connector('auth: { type: none }\nactions: { a: { path: deals } }\n'),
    want: { file: 'x.connector.yaml', line: 4, path: 'actions.a.path', message: /path starts with '\/'/ } },
];

describe('rule and connector mistakes', () => {
  it.each(MISTAKES)('$name', ({ files, want }) => {
    const issues = issuesOf(files);
    const found = issues.find((i) => i.path === want.path && (typeof want.message === 'string' ? i.message === want.message : want.message.test(i.message)));
    expect(found, JSON.stringify(issues, null, 1)).toBeDefined();
    expect(found).toMatchObject({ file: want.file ?? 'r.rule.yaml', ...(want.line === undefined ? {} : { line: want.line }) });
  });
});
