import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, services, signIn, withHeaders, type FetchHandler } from '@objectos/testkit';
import { startRulesApp, until, type RulesApp, type RulesEngine } from './rules-app.ts';

const PASSWORD = 'Sup3r-secret-pass!';
/** A user of ANOTHER organization, created with a known id so that rule metadata can name it. */
const OUTSIDER = 'outsider_b';

interface Run { id: string; rule: string; action: string; actionType: string; status: string; attempts: number; error: string | null; result: Record<string, unknown> | null }

const rule = (name: string, object: string, trigger: string, criteria: string, actions: string, extra = '') =>
  `name: ${name}\nobjectName: ${object}\ntriggerType: ${trigger}\ncriteria: "${criteria}"\n${extra}actions:\n${actions}`;

/**
 * Rules for these tests, on top of the demo metadata. The ordering rules live in files whose names sort
 * neither by rule name nor by executionOrder, so neither file order nor name order passes for evaluation order.
 */
function extraMetadata(): Record<string, string> {
  const probe = (n: string, order: number | null, actions: string) =>
    rule(`test_order_${n}`, 'task', 'on_create', "subject = 'Order probe'", actions, order === null ? '' : `executionOrder: ${order}\n`);
  const set = (n: string, field: string, value: number) => `  - { name: ${n}, type: field_update, field: ${field}, value: ${value} }\n`;
  const mark = (n: string, hours: number) => set(n, 'estimated_hours', hours);
  const account = readFileSync('metadata/objects/account.object.yaml', 'utf8');
  return {
    'automation/order_3.rule.yaml': probe('alpha', 30, mark('mark', 3)),
    'automation/order_5.rule.yaml': probe('bravo', 10, mark('mark', 1)),
    'automation/order_1.rule.yaml': probe('charlie', null, mark('mark', 9)),
    // A tie (20): broken by name, delta before echo, though echo's file comes first. Delta's actions run in their declared order.
    'automation/order_4.rule.yaml': probe('delta', 20, mark('zulu_first', 2) + mark('alpha_second', 2)),
    'automation/order_2.rule.yaml': probe('echo', 20, mark('mark', 2)),
    'automation/sec_user.rule.yaml': rule('test_as_user', 'opportunity', 'on_update', "ISCHANGED(next_step) AND next_step = 'Ask the user'",
      set('set_probability', 'probability', 75), 'runAs: user\n'),
    'automation/sec_system.rule.yaml': rule('test_as_system', 'opportunity', 'on_update', "ISCHANGED(next_step) AND next_step = 'Ask the system'",
      set('set_probability', 'probability', 65), 'runAs: system\n'),
    'automation/sec_user_script.rule.yaml': rule('test_user_script', 'account', 'on_update', "ISCHANGED(industry) AND industry = 'retail'", script('peek'), 'runAs: user\n'),
    'automation/sec_system_script.rule.yaml': rule('test_system_script', 'account', 'on_update', "ISCHANGED(industry) AND industry = 'finance'", script('peek')),
    'automation/sec_stamp.rule.yaml': rule('test_html_stamp', 'account', 'on_update', "ISCHANGED(industry) AND industry = 'healthcare'",
      '  - { name: stamp, type: field_update, field: description, value: "<b>{{record.name}}</b>" }\n'),
    'automation/sec_link.rule.yaml': rule('test_link_account', 'case', 'on_update', "ISCHANGED(origin) AND origin = 'email'",
      '  - { name: link, type: field_update, field: account, value: "{{record.subject}}" }\n'),
    'automation/sec_outsider.rule.yaml': rule('test_outsider', 'account', 'on_update', "ISCHANGED(industry) AND industry = 'manufacturing'",
      `  - { name: hand_over, type: task_creation, subject: "Take over {{record.name}}", assignedTo: "user:${OUTSIDER}" }\n` +
      `  - { name: ping, type: push_notification, title: "Look at {{record.name}}", body: "now", recipients: ["user:${OUTSIDER}", owner] }\n`),
    // A metadata validation rule: an account's description is plain text.
    'objects/account.object.yaml': `${account.trimEnd()}\nvalidations:\n  - name: description_plain_text\n    type: format\n    field: description\n    regex: "^[^<>]*$"\n    message: Description must be plain text (no < or >)\n`,
  };
}

/** A custom script that shows what it read of the hidden field (in its log and in the description it writes). */
function script(name: string): string {
  return `  - name: ${name}
    type: custom_script
    code: |
      const seen = String(record.annual_revenue);
      ctx.log('revenue', seen, 'has', String(Object.keys(record).includes('annual_revenue')), 'employees', String(record.employees));
      ctx.update('description', 'revenue seen: ' + seen);
`;
}

const variants: RulesEngine[] = [...(services.postgres && services.redis ? ['postgres+redis' as const] : []), 'pglite'];
for (const engine of variants) {
  describe(`workflow rule security (${engine})`, () => {
    let rig: RulesApp;
    let orgA: string;
    let orgB: string;
    let member: FetchHandler;
    let memberId: string;
    let ownerB: FetchHandler;
    let bigAccount: string;
    const q = <T = Record<string, unknown>>(query: string, variables: Record<string, unknown> = {}) => rig.q<T>(query, variables);
    /** A query as another signed-in user; GraphQL errors throw. */
    const as = async <T = Record<string, unknown>>(who: FetchHandler, query: string, variables: Record<string, unknown> = {}): Promise<T> => {
      const r = await gql<T>(who, query, variables);
      if (r.errors?.length) throw new Error(JSON.stringify(r.errors));
      return r.data!;
    };
    const RUNS = 'query($w: AutomationRunWhere) { automationRuns(where: $w, first: 100) { id rule action actionType status attempts error result } }';
    /** As `who`, or as A's owner when null. */
    const by = <T = Record<string, unknown>>(who: FetchHandler | null, query: string, variables: Record<string, unknown> = {}) => (who ? as<T>(who, query, variables) : q<T>(query, variables));
    const runsOf = async (recordId: string, rule?: string, who: FetchHandler | null = null) =>
      (await by<{ automationRuns: Run[] }>(who, RUNS, { w: { recordId, ...(rule ? { rule } : {}) } })).automationRuns;
    const finished = (n: number) => (r: Run[]) => r.length === n && r.every((x) => x.status === 'SUCCEEDED' || x.status === 'FAILED');
    const db = () => rig.app.data!.database;
    const auth = (path: string, body: unknown, token?: string) =>
      fetch(`${rig.base}/api/auth${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
    /** Signs a new user up; returns its id. */
    const signUp = async (email: string, name: string) => {
      const r = await auth('/sign-up/email', { email, password: PASSWORD, name });
      if (r.status !== 200) throw new Error(`sign-up failed: ${r.status} ${await r.text()}`);
      return ((await r.json()) as { user: { id: string } }).user.id;
    };
    /** Signs in and acts in `org`. */
    const session = async (email: string, org: string) => {
      const token = await signIn(rig.base, email, PASSWORD);
      const active = await auth('/organization/set-active', { organizationId: org }, token);
      if (active.status !== 200) throw new Error(`set-active failed: ${active.status}`);
      return withHeaders(`${rig.base}/graphql`, { authorization: `Bearer ${token}` });
    };
    const createAccount = async (who: FetchHandler | null, input: Record<string, unknown>) =>
      (await by<{ createAccount: { id: string } }>(who, 'mutation($i: AccountCreateInput!) { createAccount(input: $i) { id } }', { i: input })).createAccount.id;

    beforeAll(async () => {
      rig = await startRulesApp({ engine, slug: `sec-${engine.replace('+', '-')}`, extra: extraMetadata() });
      orgA = (await q<{ activeOrganization: { id: string } }>('{ activeOrganization { id } }')).activeOrganization.id;
      // A plain member of A (the standard_user profile: cannot edit opportunity.probability, cannot read account.annual_revenue),
      // in the key account team, so large accounts are shared with it for editing.
      const slug = engine.replace('+', '-');
      memberId = await signUp(`member@${slug}.test`, 'Mo Member');
      await rig.app.identity!.auth.api.addMember({ body: { userId: memberId, organizationId: orgA, role: 'member' } });
      await q('mutation($i: SetMemberAccessInput!) { setMemberAccess(input: $i) { userId } }', { i: { userId: memberId, role: 'sales_rep', permissionSets: ['standard_user'], groups: ['key_account_team'] } });
      member = await session(`member@${slug}.test`, orgA);
      bigAccount = await createAccount(null, { name: 'Big Co', employees: 5000, annualRevenue: 5_000_000 });
      // Organization B, with an owner who signs in, and a member with a known id (OUTSIDER) the rules of A name.
      await signUp(`owner-b@${slug}.test`, 'Bea Other');
      const tokenB = await signIn(rig.base, `owner-b@${slug}.test`, PASSWORD);
      orgB = ((await (await auth('/organization/create', { name: `B ${slug}`, slug: `b-${slug}` }, tokenB)).json()) as { id: string }).id;
      ownerB = await session(`owner-b@${slug}.test`, orgB);
      await db().run(`insert into auth."user" (id, name, email, email_verified, created_at, updated_at) values ($1, 'Otto Outsider', $2, true, now(), now())`, [OUTSIDER, `outsider@${slug}.test`]);
      await db().run(`insert into auth.member (id, organization_id, user_id, role, created_at) values ($1, $2, $3, 'member', now())`, [randomUUID(), orgB, OUTSIDER]);
    }, 120_000);
    afterAll(() => rig?.close());

    it('executionOrder: rules on the same object and trigger are evaluated in executionOrder, ties by name, each rule\'s actions in their order; of updates to one field, the last in that order wins', async () => {
      const id = (await q<{ createTask: { id: string } }>('mutation { createTask(input: { subject: "Order probe" }) { id } }')).createTask.id;
      // What executionOrder orders is the evaluation: the engine records the matching actions' runs in that order
      // (the run log lists them so), then queues their jobs, which run concurrently.
      const runs = await until(() => runsOf(id), finished(6));
      expect(runs.every((r) => r.status === 'SUCCEEDED')).toBe(true);
      // The run log lists newest first (created_at desc): reversed, the order the engine recorded them in.
      const recorded = [...runs].reverse();
      expect(recorded.map((r) => `${r.rule}.${r.action}`)).toEqual([
        'test_order_bravo.mark', // 10
        'test_order_delta.zulu_first', 'test_order_delta.alpha_second', // 20, delta < echo; actions in declared order
        'test_order_echo.mark', // 20
        'test_order_alpha.mark', // 30
        'test_order_charlie.mark', // no executionOrder: the default, 100
      ]);
      // The order comes from the run log's record order (seq), not from the id tie-break.
      const seqs = await db().run<{ id: string; seq: string }>('select id::text, seq::text from automation.runs where record_id = $1', [id]);
      const at = new Map(seqs.map((s) => [s.id, BigInt(s.seq)]));
      for (let i = 1; i < recorded.length; i++) expect(at.get(recorded[i]!.id)! > at.get(recorded[i - 1]!.id)!).toBe(true);
      // All six write estimated_hours and run at once: the last in the order (charlie, 9) wins whichever job ran
      // first, and the five before it step aside for a later one, saying which.
      const task = (await q<{ task: { estimatedHours: number } }>('query($id: ID!) { task(id: $id) { estimatedHours } }', { id })).task;
      expect(task.estimatedHours).toBe(9);
      expect(recorded.at(-1)!.result).toEqual({ field: 'estimated_hours', value: 9 });
      for (const r of recorded.slice(0, -1)) expect(r.result).toHaveProperty('superseded', expect.stringMatching(/^test_order_\w+\.\w+$/));
    });

    it('runAs user: a field update the acting user may not make fails the run; the same update as the system, or by a user who may, succeeds', async () => {
      const opp = async (who: FetchHandler | null, name: string) => (await by<{ createOpportunity: { id: string } }>(who,
        'mutation($i: OpportunityCreateInput!) { createOpportunity(input: $i) { id } }', { i: { name, accountId: bigAccount, stage: 'prospecting' } })).createOpportunity.id;
      const nextStep = (who: FetchHandler | null, id: string, s: string) => by(who, 'mutation($id: ID!, $s: String) { updateOpportunity(id: $id, input: { nextStep: $s }) { id } }', { id, s });
      const read = async (id: string) => (await q<{ opportunity: { probability: number | null; nextStep: string } }>('query($id: ID!) { opportunity(id: $id) { probability nextStep } }', { id })).opportunity;
      // The member's own change: the rule acts as the member, who cannot edit probability.
      const mine = await opp(member, 'Member deal');
      await nextStep(member, mine, 'Ask the user');
      const [failed] = await until(() => runsOf(mine, 'test_as_user'), finished(1));
      expect(failed).toMatchObject({ action: 'set_probability', status: 'FAILED', attempts: 1 });
      expect(failed!.error).toMatch(/Not allowed to edit Opportunity\.probability/);
      expect(await read(mine)).toEqual({ probability: null, nextStep: 'Ask the user' });
      // The same rule on the owner's change acts as the owner, who may: it succeeds.
      const owners = await opp(null, 'Owner deal');
      await nextStep(null, owners, 'Ask the user');
      expect((await until(() => runsOf(owners, 'test_as_user'), finished(1)))[0]).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
      expect((await read(owners)).probability).toBe(75);
      // The same update in system context, on the member's change, succeeds.
      const other = await opp(member, 'Member deal 2');
      await nextStep(member, other, 'Ask the system');
      expect((await until(() => runsOf(other, 'test_as_system'), finished(1)))[0]).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
      expect((await read(other)).probability).toBe(65);
    });

    it('runAs user: a failed run that an admin runs again still acts as the user whose change ran it', async () => {
      const mine = (await as<{ createOpportunity: { id: string } }>(member, 'mutation($i: OpportunityCreateInput!) { createOpportunity(input: $i) { id } }',
        { i: { name: 'Retried deal', accountId: bigAccount, stage: 'prospecting' } })).createOpportunity.id;
      await as(member, 'mutation($id: ID!) { updateOpportunity(id: $id, input: { nextStep: "Ask the user" }) { id } }', { id: mine });
      const [failed] = await until(() => runsOf(mine, 'test_as_user'), finished(1));
      expect(failed).toMatchObject({ status: 'FAILED', attempts: 1 });
      await q('mutation($id: ID!) { retryAutomationRun(id: $id) { id } }', { id: failed!.id });
      const [again] = await until(() => runsOf(mine, 'test_as_user'), (r) => r[0]!.attempts === 2 && finished(1)(r));
      // Run again, the run is still the member's: refused again, and the probability the member may not set is untouched.
      expect(again).toMatchObject({ status: 'FAILED', attempts: 2 });
      expect(again!.error).toMatch(/Not allowed to edit Opportunity\.probability/);
      expect((await q<{ opportunity: { probability: number | null } }>('query($id: ID!) { opportunity(id: $id) { probability } }', { id: mine })).opportunity.probability).toBeNull();
    });

    it('runAs user: a custom script sees only the fields the user can read; in system context it sees them all', async () => {
      const setIndustry = (industry: string) => as(member, 'mutation($id: ID!, $v: AccountIndustry) { updateAccount(id: $id, input: { industry: $v }) { id } }', { id: bigAccount, v: industry });
      // The member can read and edit this account (shared with the key account team), but not its annual revenue.
      expect((await as<{ account: { employees: number } }>(member, 'query($id: ID!) { account(id: $id) { employees } }', { id: bigAccount })).account).toEqual({ employees: 5000 });
      const hidden = await gql(member, 'query($id: ID!) { account(id: $id) { annualRevenue } }', { id: bigAccount });
      expect(hidden.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
      const description = async () => (await q<{ account: { description: string | null } }>('query($id: ID!) { account(id: $id) { description } }', { id: bigAccount })).account.description;
      // In system context (on the member's change) the script sees the revenue.
      await setIndustry('finance');
      const [system] = await until(() => runsOf(bigAccount, 'test_system_script'), finished(1));
      expect(system).toMatchObject({ status: 'SUCCEEDED' });
      expect((system!.result as { logs: string[] }).logs).toEqual(['revenue 5000000 has true employees 5000']);
      expect(await description()).toBe('revenue seen: 5000000');
      // Run as the member, the same script does not.
      await setIndustry('retail');
      const [user] = await until(() => runsOf(bigAccount, 'test_user_script'), finished(1));
      expect(user).toMatchObject({ status: 'SUCCEEDED' });
      const logs = (user!.result as { logs: string[] }).logs;
      expect(logs).toHaveLength(1);
      expect(logs[0]).not.toContain('5000000');
      // The hidden field is not in the script's record at all (not a null it cannot tell from an empty field); a readable one is.
      expect(logs[0]).toBe('revenue undefined has false employees 5000');
      expect(await description()).toBe('revenue seen: undefined');
    });

    it('a rule write that breaks a validation rule fails its run with the rule\'s message, in the audit trail; the user\'s write stays, nothing of the rule\'s', async () => {
      const id = await createAccount(null, { name: 'Clinic', description: 'Small' });
      const written = (await q<{ updateAccount: { updatedAt: string } }>('mutation($id: ID!) { updateAccount(id: $id, input: { industry: healthcare, description: "Hospitals" }) { updatedAt } }', { id })).updateAccount;
      const [run] = await until(() => runsOf(id, 'test_html_stamp'), finished(1));
      expect(run).toMatchObject({ action: 'stamp', actionType: 'field_update', status: 'FAILED', attempts: 1 });
      expect(run!.error).toMatch(/Description must be plain text \(no < or >\)/);
      await rig.settle();
      const now = (await q<{ account: { industry: string; description: string; updatedAt: string } }>('query($id: ID!) { account(id: $id) { industry description updatedAt } }', { id })).account;
      expect(now).toEqual({ industry: 'healthcare', description: 'Hospitals', updatedAt: written.updatedAt });
      const trail = await until(async () => (await q<{ auditEvents: { edges: { node: { description: string; tenantId: string; severity: string } }[] } }>(
        'query($t: ID!) { auditEvents(where: { eventType: ["automation.action_failed"], target: { type: "account", id: $t } }) { edges { node { description tenantId severity } } } }', { t: id })).auditEvents.edges, (e) => e.length > 0);
      expect(trail).toHaveLength(1);
      expect(trail[0]!.node).toMatchObject({ tenantId: orgA, severity: 'warning' });
      expect(trail[0]!.node.description).toMatch(/^rule test_html_stamp, action stamp \(field_update\) failed: .*Description must be plain text/);
    });

    it('tenant wall: a rule of organization A cannot point A\'s record at B\'s, assign B\'s member a task or notify them, or be run again from B', async () => {
      const accountB = await createAccount(ownerB, { name: 'B secret' });
      const beforeB = (await as<{ account: { updatedAt: string } }>(ownerB, 'query($id: ID!) { account(id: $id) { updatedAt } }', { id: accountB })).account.updatedAt;
      const accountA = await createAccount(null, { name: 'A own' });
      const linkVia = async (subject: string) => {
        const id = (await q<{ createCase: { id: string } }>('mutation($s: String!) { createCase(input: { subject: $s }) { id } }', { s: subject })).createCase.id;
        await q('mutation($id: ID!) { updateCase(id: $id, input: { origin: email }) { id } }', { id });
        const [run] = await until(() => runsOf(id, 'test_link_account'), finished(1));
        const linked = (await q<{ case: { accountId: string | null } }>('query($id: ID!) { case(id: $id) { accountId } }', { id })).case.accountId;
        return { run: run!, linked };
      };
      // The rule does link A's records: the control.
      expect(await linkVia(accountA)).toMatchObject({ run: { status: 'SUCCEEDED' }, linked: accountA });
      // B's account id, from a field the rule copies (in system context): refused in the same words as an id that exists nowhere.
      const intoB = await linkVia(accountB);
      expect(intoB).toMatchObject({ run: { status: 'FAILED', attempts: 1 }, linked: null });
      const missing = randomUUID();
      const nowhere = await linkVia(missing);
      expect(nowhere).toMatchObject({ run: { status: 'FAILED', attempts: 1 }, linked: null });
      expect(intoB.run.error!.replace(accountB, '<id>')).toBe(nowhere.run.error!.replace(missing, '<id>'));
      // B's account is untouched and no case of A points at it.
      expect((await as<{ account: { updatedAt: string } }>(ownerB, 'query($id: ID!) { account(id: $id) { updatedAt } }', { id: accountB })).account.updatedAt).toBe(beforeB);
      const [pointing] = await db().run<{ n: number }>('select count(*)::int as n from "case" where account_id = $1', [accountB]);
      expect(pointing!.n).toBe(0);

      // A task for, and a notification to, B's member (named user:<id> in A's rule): neither reaches them; A's owner is notified.
      const acct = await createAccount(null, { name: 'Factory' });
      await q('mutation($id: ID!) { updateAccount(id: $id, input: { industry: manufacturing }) { id } }', { id: acct });
      const runs = await until(() => runsOf(acct, 'test_outsider'), finished(2));
      const byAction = Object.fromEntries(runs.map((r) => [r.action, r]));
      expect(byAction['hand_over']).toMatchObject({ status: 'FAILED', attempts: 1 });
      expect(byAction['hand_over']!.error).toMatch(new RegExp(`${OUTSIDER} is not a member of this organization`));
      expect(byAction['ping']).toMatchObject({ status: 'SUCCEEDED', result: { recipients: 1 } });
      await rig.settle();
      await until(() => q<{ myNotifications: { nodes: { title: string }[] } }>('{ myNotifications { nodes { title } } }'), (r) => r.myNotifications.nodes.some((n) => n.title === 'Look at Factory'));
      const [tasks] = await db().run<{ n: number }>('select count(*)::int as n from task where owner_id = $1 or subject = $2', [OUTSIDER, 'Take over Factory']);
      expect(tasks!.n).toBe(0);
      const [inbox] = await db().run<{ n: number }>('select count(*)::int as n from notifications.inbox where user_id = $1', [OUTSIDER]);
      expect(inbox!.n).toBe(0);

      // B sees none of A's runs and cannot run A's failed run again.
      expect(await runsOf(acct, undefined, ownerB)).toEqual([]);
      const retry = await gql(ownerB, 'mutation($id: ID!) { retryAutomationRun(id: $id) { id } }', { id: byAction['hand_over']!.id });
      expect(retry.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
      expect((await runsOf(acct, 'test_outsider')).find((r) => r.action === 'hand_over')).toMatchObject({ status: 'FAILED', attempts: 1 });
    });
  });
}
