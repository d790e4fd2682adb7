import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailCatcher, type MailCatcher } from '@objectos/testkit';
import { startRulesApp, until, type RulesApp } from './rules-app.ts';

const TOKEN = 'connector-secret-token-123';

interface Hit { method: string; url: string; headers: IncomingHttpHeaders; body: string }
interface Run { id: string; rule: string; action: string; actionType: string; status: string; attempts: number; depth: number; error: string | null; result: Record<string, unknown> | null; dueAt: string | null }

/** The demo metadata plus the rules, template and connector these tests exercise (the receiver's port written in). */
function extraMetadata(port: number): Record<string, string> {
  const hook = `http://127.0.0.1:${port}`;
  return {
    'automation/test_case_escalated.rule.yaml': `name: test_case_escalated
objectName: case
triggerType: on_create_or_update
criteria: "status = 'escalated' AND ISCHANGED(status)"
actions:
  - { name: notify_hook, type: http_call, url: "${hook}/hook/{{record.id}}", body: { subject: "{{record.subject}}", rule: "{{rule.name}}" }, headers: { x-case: "{{record.case_number}}" } }
  - { name: tell_owner, type: email_alert, template: case_escalated, recipients: [owner, admins] }
  - { name: push_owner, type: push_notification, title: "Escalated: {{record.subject}}", body: "{{record.subject}} needs you", recipients: [owner] }
  - { name: call_crm, type: connector_action, connectorId: test_crm, actionId: open_ticket, input: { title: "{{record.subject}}" } }
`,
    'automation/test_failures.rule.yaml': `name: test_failures
objectName: case
triggerType: on_update
criteria: "ISCHANGED(origin) AND origin = 'web'"
actions:
  - { name: missing, type: http_call, url: "${hook}/missing" }
  - { name: flaky, type: http_call, url: "${hook}/flaky/{{record.id}}" }
  - { name: metadata_service, type: http_call, url: "http://169.254.169.254/latest/meta-data" }
`,
    'automation/test_ping.rule.yaml': `name: test_ping
objectName: account
triggerType: on_update
criteria: "ISCHANGED(employees) AND employees = 1"
reevaluateOnChange: true
actions:
  - { name: to_two, type: field_update, field: employees, value: 2 }
`,
    'automation/test_pong.rule.yaml': `name: test_pong
objectName: account
triggerType: on_update
criteria: "ISCHANGED(employees) AND employees = 2"
reevaluateOnChange: true
actions:
  - { name: to_one, type: field_update, field: employees, value: 1 }
`,
    'automation/test_negotiation.rule.yaml': `name: test_negotiation
objectName: opportunity
triggerType: on_create_or_update
criteria: "stage = 'negotiation'"
actions: []
timeTriggers:
  - { timeLength: 1, timeUnit: days, offsetDirection: before, offsetFrom: date_field, dateField: close_date, actions: [ { name: remind_before_close, type: field_update, field: next_step, value: "Close it tomorrow" } ] }
  - { timeLength: 0, timeUnit: minutes, actions: [ { name: first_step, type: field_update, field: next_step, value: "Send the proposal" } ] }
`,
    'automation/test_stale_cases.rule.yaml': `name: test_stale_cases
objectName: case
triggerType: schedule
schedule: { expression: "0 0 1 1 *" }
criteria: "status = 'new' AND priority = 'low'"
actions:
  - { name: raise, type: field_update, field: priority, value: medium }
`,
    'automation/test_triage.rule.yaml': `name: test_triage
objectName: case
triggerType: on_create
criteria: "origin = 'phone'"
actions:
  - name: triage
    type: custom_script
    code: |
      const words = record.subject.toLowerCase().split(' ');
      ctx.log('triage', words.length, typeof process, typeof require, typeof fetch);
      ctx.update('priority', words.includes('urgent') ? 'high' : 'low');
  - name: spin
    type: custom_script
    timeout: 200
    code: "if (record.subject.includes('spin')) { for (;;) {} }"
`,
    'templates/case_escalated.template.yaml': `name: case_escalated
topic: crm.case_escalated
variables: [record, rule]
locales:
  en: { subject: "Case escalated: {{record.subject}}", text: "{{record.subject}} was escalated (rule {{rule.name}})." }
`,
    'connectors/test_crm.connector.yaml': `name: test_crm
baseUrl: ${hook}/crm
auth: { type: bearer, tokenEnv: TEST_CRM_TOKEN }
actions:
  open_ticket: { path: /tickets, body: { title: "{{input.title}}", source: objectos } }
`,
  };
}

/**
 * Every rule action type end to end through one embedded ObjectOS (PGlite), from a GraphQL mutation:
 * http calls and connector actions reach a loopback receiver (templated, keyed, secrets from the
 * environment), email alerts a real SMTP server, push notifications the in-app inbox; failures are
 * final on 4xx and guarded targets, retried on 5xx, shown in the run log and the audit trail, and can
 * be run again; rules that update each other stop at the depth limit; time triggers are scheduled,
 * moved, withdrawn and fired; a schedule rule's tick acts on the matching records.
 */
describe('workflow rule actions (pglite)', () => {
  let rig: RulesApp;
  let mail: MailCatcher;
  let receiver: Server;
  let accountId: string;
  const hits: Hit[] = [];
  let flaky = 0;
  /** The rules' clock runs this far ahead of real time (the injected clock of time-trigger tests). */
  let clockAhead = 0;
  const q = <T = Record<string, unknown>>(query: string, variables: Record<string, unknown> = {}) => rig.q<T>(query, variables);
  const runsOf = async (recordId: string, rule?: string) =>
    (await q<{ automationRuns: Run[] }>('query($w: AutomationRunWhere) { automationRuns(where: $w) { id rule action actionType status attempts depth error result dueAt } }', { w: { recordId, ...(rule ? { rule } : {}) } })).automationRuns;
  const auditOf = async (type: string) =>
    (await q<{ auditEvents: { edges: { node: { description: string } }[] } }>('query($t: [String!]) { auditEvents(where: { eventType: $t }) { edges { node { description } } } }', { t: [type] })).auditEvents.edges.map((e) => e.node.description);
  const settle = () => rig.settle();
  const newCase = async (subject: string, extra: Record<string, unknown> = {}) =>
    (await q<{ createCase: { id: string } }>('mutation($i: CaseCreateInput!) { createCase(input: $i) { id } }', { i: { subject, accountId, ...extra } })).createCase.id;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        hits.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        const status = req.url!.startsWith('/missing') ? 404 : req.url!.startsWith('/flaky') && flaky++ === 0 ? 503 : 200;
        res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as { port: number }).port;
    mail = await startMailCatcher();
    process.env['TEST_CRM_TOKEN'] = TOKEN;
    rig = await startRulesApp({ engine: 'pglite', slug: 'actions', extra: extraMetadata(port), env: { SMTP_URL: mail.url, OBJECTOS_WEBHOOK_ALLOW: 'loopback' }, now: () => Date.now() + clockAhead });
    accountId = (await q<{ createAccount: { id: string } }>('mutation { createAccount(input: { name: "Acme", employees: 10 }) { id } }')).createAccount.id;
  }, 120_000);
  afterAll(async () => {
    await rig?.close();
    await mail?.close();
    await new Promise((r) => receiver?.close(r));
    delete process.env['TEST_CRM_TOKEN'];
  });

  it('an escalation calls the hook and the connector, mails the owner and admins, and notifies the owner in app', async () => {
    const id = await newCase('Printer on fire');
    await q('mutation($id: ID!) { updateCase(id: $id, input: { status: escalated }) { id } }', { id });
    const runs = await until(() => runsOf(id, 'test_case_escalated'), (r) => r.length === 4 && r.every((x) => x.status === 'SUCCEEDED'));
    expect(runs.map((r) => [r.action, r.status, r.error])).toEqual(expect.arrayContaining([['notify_hook', 'SUCCEEDED', null], ['tell_owner', 'SUCCEEDED', null], ['push_owner', 'SUCCEEDED', null], ['call_crm', 'SUCCEEDED', null]]));
    const hook = hits.find((h) => h.url === `/hook/${id}`)!;
    expect(hook.method).toBe('POST');
    expect(JSON.parse(hook.body)).toEqual({ subject: 'Printer on fire', rule: 'test_case_escalated' });
    expect(hook.headers['x-case']).toMatch(/^CASE-\d{4}$/);
    expect(hook.headers['x-objectos-idempotency-key']).toMatch(new RegExp(`:test_case_escalated:notify_hook$`));
    const crm = hits.find((h) => h.url === '/crm/tickets')!;
    expect(crm.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(JSON.parse(crm.body)).toEqual({ title: 'Printer on fire', source: 'objectos' });
    // The connector's secret is used, never stored: not in the run log.
    expect(JSON.stringify(await runsOf(id))).not.toContain(TOKEN);
    const mailed = await mail.waitFor('owner@actions.test', /Case escalated: Printer on fire/);
    expect(mailed.text).toContain('was escalated (rule test_case_escalated)');
    const inbox = await until(() => q<{ myNotifications: { nodes: { title: string; topic: string }[] } }>('{ myNotifications { nodes { title topic } } }'), (r) => r.myNotifications.nodes.length > 0);
    expect(inbox.myNotifications.nodes[0]).toEqual({ title: 'Escalated: Printer on fire', topic: 'automation.test_case_escalated' });
  });

  it('a push notification respects the recipient\'s opt-out of automation topics', async () => {
    await q('mutation { setNotificationPreference(channel: IN_APP, topic: "automation.*", enabled: false) { enabled } }');
    try {
      const id = await newCase('Quiet escalation');
      await q('mutation($id: ID!) { updateCase(id: $id, input: { status: escalated }) { id } }', { id });
      const runs = await until(() => runsOf(id, 'test_case_escalated'), (r) => r.length === 4 && r.every((x) => x.status === 'SUCCEEDED'));
      expect(runs.find((r) => r.action === 'push_owner')!.result).toEqual({ recipients: 0 });
      const inbox = await q<{ myNotifications: { nodes: { title: string }[] } }>('{ myNotifications { nodes { title } } }');
      expect(inbox.myNotifications.nodes.map((n) => n.title)).not.toContain('Escalated: Quiet escalation');
    } finally {
      await q('mutation { setNotificationPreference(channel: IN_APP, topic: "automation.*", enabled: true) { enabled } }');
    }
  });

  it('a 4xx answer and a guarded target fail at once, a 5xx is retried; failures are in the runs and the audit trail, and can be run again', async () => {
    const id = await newCase('Web form broken');
    await q('mutation($id: ID!) { updateCase(id: $id, input: { origin: web }) { id } }', { id });
    const runs = await until(() => runsOf(id, 'test_failures'), (r) => r.length === 3 && r.every((x) => x.status === 'SUCCEEDED' || x.status === 'FAILED'), 30_000);
    const by = Object.fromEntries(runs.map((r) => [r.action, r]));
    expect(by['missing']).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(by['missing']!.error).toMatch(/answered 404/);
    expect(by['metadata_service']).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(by['metadata_service']!.error).toMatch(/link.local|not allowed|forbidden/i);
    expect(hits.some((h) => h.url.includes('meta-data'))).toBe(false);
    expect(by['flaky']).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
    // The user's change stands: a failed action never undoes it.
    expect((await q<{ case: { origin: string } }>('query($id: ID!) { case(id: $id) { origin } }', { id })).case.origin).toBe('web');
    const trail = await until(() => auditOf('automation.action_failed'), (r) => r.length >= 2);
    expect(trail.join('\n')).toMatch(/action missing \(http_call\) failed: .*404/);
    const before = hits.filter((h) => h.url === '/missing').length;
    const again = await q<{ retryAutomationRun: Run }>('mutation($id: ID!) { retryAutomationRun(id: $id) { status } }', { id: by['missing']!.id });
    // Queued again (a fast worker may already hold it, or have failed it once more).
    expect(['QUEUED', 'RUNNING', 'FAILED']).toContain(again.retryAutomationRun.status);
    const retried = await until(() => runsOf(id, 'test_failures'), (r) => r.find((x) => x.action === 'missing')!.attempts === 2 && r.find((x) => x.action === 'missing')!.status === 'FAILED');
    expect(retried.find((x) => x.action === 'missing')!.attempts).toBe(2);
    expect(hits.filter((h) => h.url === '/missing').length).toBe(before + 1);
  });

  it('rules that update each other stop at the depth limit, with the stop in the runs and the audit trail', async () => {
    await q('mutation($id: ID!) { updateAccount(id: $id, input: { employees: 1 }) { id } }', { id: accountId });
    const runs = await until(() => runsOf(accountId), (r) => r.some((x) => x.status === 'STOPPED') && r.filter((x) => x.status === 'SUCCEEDED').length === 5, 30_000);
    expect(runs.filter((r) => r.status === 'SUCCEEDED').map((r) => r.depth).sort()).toEqual([1, 2, 3, 4, 5]);
    const stopped = runs.find((r) => r.status === 'STOPPED')!;
    expect(stopped).toMatchObject({ depth: 6, attempts: 0 });
    expect(stopped.error).toMatch(/stopped: rules updated this account 5 times in a chain/);
    await settle();
    expect((await runsOf(accountId)).length).toBe(6);
    const trail = await until(() => auditOf('automation.loop_stopped'), (r) => r.length === 1);
    expect(trail[0]).toMatch(/depth 6 is over the limit of 5/);
  });

  it('time triggers: scheduled when the record comes to meet the criteria, moved with their date field, withdrawn when it stops or is deleted', async () => {
    const create = async (name: string, closeDate: string) =>
      (await q<{ createOpportunity: { id: string } }>('mutation($i: OpportunityCreateInput!) { createOpportunity(input: $i) { id } }', { i: { name, accountId, stage: 'negotiation', closeDate } })).createOpportunity.id;
    const pending = async (id: string) => (await q<{ pendingTimeTriggers: Run[] }>('query($id: ID!) { pendingTimeTriggers(object: "opportunity", id: $id) { id action dueAt status } }', { id })).pendingTimeTriggers;
    const id = await create('Timed Deal', '2030-01-10');
    // The zero-length trigger fires at once, on the record as it is then.
    const fired = await until(() => runsOf(id, 'test_negotiation'), (r) => r.some((x) => x.action === 'first_step' && x.status === 'SUCCEEDED'));
    expect(fired.find((x) => x.action === 'first_step')).toMatchObject({ status: 'SUCCEEDED' });
    expect((await pending(id)).map((r) => [r.action, r.dueAt])).toEqual([['remind_before_close', '2030-01-09T00:00:00.000Z']]);
    expect((await q<{ opportunity: { nextStep: string } }>('query($id: ID!) { opportunity(id: $id) { nextStep } }', { id })).opportunity.nextStep).toBe('Send the proposal');
    // Moved with its date field: the old one withdrawn, a new one due.
    await q('mutation($id: ID!) { updateOpportunity(id: $id, input: { closeDate: "2030-02-20" }) { id } }', { id });
    await settle();
    expect((await pending(id)).map((r) => [r.action, r.dueAt])).toEqual([['remind_before_close', '2030-02-19T00:00:00.000Z']]);
    // Another change that keeps the criteria met keeps it as it is.
    await q('mutation($id: ID!) { updateOpportunity(id: $id, input: { amount: 5000 }) { id } }', { id });
    await settle();
    expect((await pending(id)).map((r) => r.dueAt)).toEqual(['2030-02-19T00:00:00.000Z']);
    const statuses = (await runsOf(id, 'test_negotiation')).filter((r) => r.action === 'remind_before_close').map((r) => r.status).sort();
    expect(statuses).toEqual(['CANCELLED', 'QUEUED']);
    // No longer meeting the criteria withdraws it.
    await q('mutation($id: ID!) { updateOpportunity(id: $id, input: { stage: proposal }) { id } }', { id });
    await settle();
    expect(await pending(id)).toEqual([]);
    // Deleting the record withdraws it too.
    const other = await create('Doomed Deal', '2031-05-05');
    await until(() => runsOf(other, 'test_negotiation'), (r) => r.some((x) => x.action === 'first_step' && x.status === 'SUCCEEDED'));
    expect(await pending(other)).toHaveLength(1);
    await q('mutation($id: ID!) { deleteOpportunity(id: $id) { id } }', { id: other });
    await settle();
    expect(await pending(other)).toEqual([]);
    expect((await runsOf(other, 'test_negotiation')).find((r) => r.action === 'remind_before_close')).toMatchObject({ status: 'CANCELLED', error: 'the record was deleted' });
  });

  it('on an injected clock, a trigger a day before the close date fires when that day comes, on the record as it is then; one moved away does not', async () => {
    // The clock shows 2 s before 2030-03-09T00:00Z: a deal closing 2030-03-10 is reminded in 2 s of real time.
    clockAhead = Date.parse('2030-03-09T00:00:00Z') - 2_000 - Date.now();
    try {
      const create = async (name: string) =>
        (await q<{ createOpportunity: { id: string } }>('mutation($i: OpportunityCreateInput!) { createOpportunity(input: $i) { id } }', { i: { name, accountId, stage: 'negotiation', closeDate: '2030-03-10' } })).createOpportunity.id;
      const [due, moved] = [await create('Closing Deal'), await create('Slipping Deal')];
      // The other moves its close date a week on before its day: its reminder is withdrawn and due a week later.
      await q('mutation($id: ID!) { updateOpportunity(id: $id, input: { closeDate: "2030-03-17", amount: 900 }) { id } }', { id: moved });
      await q('mutation($id: ID!) { updateOpportunity(id: $id, input: { amount: 700 }) { id } }', { id: due });
      const runs = await until(() => runsOf(due, 'test_negotiation'), (r) => r.some((x) => x.action === 'remind_before_close' && x.status === 'SUCCEEDED'), 20_000);
      expect(runs.find((x) => x.action === 'remind_before_close')).toMatchObject({ status: 'SUCCEEDED', dueAt: '2030-03-09T00:00:00.000Z' });
      const nextStep = async (id: string) => (await q<{ opportunity: { nextStep: string; amount: number } }>('query($id: ID!) { opportunity(id: $id) { nextStep amount } }', { id })).opportunity;
      expect(await nextStep(due)).toEqual({ nextStep: 'Close it tomorrow', amount: 700 });
      const slipped = (await runsOf(moved, 'test_negotiation')).filter((r) => r.action === 'remind_before_close').map((r) => [r.status, r.dueAt]).sort();
      expect(slipped).toEqual([['CANCELLED', '2030-03-09T00:00:00.000Z'], ['QUEUED', '2030-03-16T00:00:00.000Z']]);
      // Its first due time has passed on the clock (the other fired): the withdrawn job never ran.
      expect((await nextStep(moved)).nextStep).toBe('Send the proposal');
    } finally {
      clockAhead = 0;
    }
  });

  it('a custom script reads the record in a sandbox and updates it through the write path; an endless loop stops at its timeout', async () => {
    const urgent = await newCase('Urgent outage', { origin: 'phone' });
    const runs = await until(() => runsOf(urgent, 'test_triage'), (r) => r.length === 2 && r.every((x) => x.status === 'SUCCEEDED'), 30_000);
    const triage = runs.find((r) => r.action === 'triage')!;
    expect(triage.result).toEqual({ updates: { priority: 'high' }, logs: ['triage 2 undefined undefined undefined'] });
    expect((await q<{ case: { priority: string } }>('query($id: ID!) { case(id: $id) { priority } }', { id: urgent })).case.priority).toBe('high');
    const spinning = await newCase('Please spin forever', { origin: 'phone' });
    const spun = await until(() => runsOf(spinning, 'test_triage'), (r) => r.length === 2 && r.every((x) => x.status === 'SUCCEEDED' || x.status === 'FAILED'), 30_000);
    const spin = spun.find((r) => r.action === 'spin')!;
    expect(spin).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(spin.error).toMatch(/200 ms/);
    // The worker is fine afterwards: the other script of the same change ran.
    expect(spun.find((r) => r.action === 'triage')).toMatchObject({ status: 'SUCCEEDED', result: { updates: { priority: 'low' } } });
  });

  it('an action whose job the queue refuses (a record over the payload cap) fails its run, and later changes still run', async () => {
    const big = await newCase('Huge details', { details: { blob: 'x'.repeat(300 * 1024) } });
    await q('mutation($id: ID!) { updateCase(id: $id, input: { status: escalated }) { id } }', { id: big });
    const refused = await until(() => runsOf(big, 'test_case_escalated'), (r) => r.length === 4 && r.every((x) => x.status === 'FAILED'));
    expect(refused.map((r) => r.status)).toEqual(['FAILED', 'FAILED', 'FAILED', 'FAILED']);
    expect(refused[0]!.error).toMatch(/^not queued: .*over the \d+-byte cap/);
    const next = await newCase('Small one after');
    await q('mutation($id: ID!) { updateCase(id: $id, input: { status: escalated }) { id } }', { id: next });
    expect((await until(() => runsOf(next, 'test_case_escalated'), (r) => r.length === 4 && r.every((x) => x.status === 'SUCCEEDED'))).map((r) => r.status))
      .toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
  });

  it('a schedule rule tick acts on each matching record once, however often the tick runs', async () => {
    const low = await newCase('Old low case', { priority: 'low' });
    const high = await newCase('Old high case', { priority: 'high' });
    for (const key of ['schedule:rule_test_stale_cases:2031-01-01T00:00:00.000Z', 'schedule:rule_test_stale_cases:2031-01-01T00:00:00.000Z'])
      await rig.app.jobs!.queue.enqueue('automation.schedule', { rule: 'test_stale_cases' }, { key });
    const runs = await until(() => runsOf(low, 'test_stale_cases'), (r) => r.length === 1 && r[0]!.status === 'SUCCEEDED');
    expect(runs[0]).toMatchObject({ action: 'raise', actionType: 'field_update' });
    expect((await q<{ case: { priority: string } }>('query($id: ID!) { case(id: $id) { priority } }', { id: low })).case.priority).toBe('medium');
    expect(await runsOf(high, 'test_stale_cases')).toEqual([]);
  });
});
