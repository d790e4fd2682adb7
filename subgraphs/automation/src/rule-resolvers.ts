import { sql, type SQL } from 'drizzle-orm';
import { queryRows, type Database } from '@objectos/db';
import { auditEvent, recordAuditEvents } from '@objectos/events';
import type { JobQueue } from '@objectos/jobs';
import type { RuleModel } from '@objectos/metadata';
import type { Principal } from '@objectos/principal';
import { accessFor, ruleObjects, type CompiledSchema } from '@objectos/schema';
import { automationError } from './job-access.ts';
import { ACTION_QUEUE, actionOf, attemptsOf, type ActionJob } from './rules/engine.ts';
import { getRun, ruleSwitches, setRuleSwitch, type RunRow, type RunStatus } from './rules/store.ts';

interface Ctx {
  principal: Principal;
}

/** Rules and their runs are an organization's: `manageAutomation` in it, whoever asks. */
function automationOrg(compiled: CompiledSchema, principal: Principal): string {
  if (principal.organizationId === null || (principal.kind !== 'user' && principal.kind !== 'api_key'))
    throw automationError('FORBIDDEN', 'Automation rules need the manageAutomation system permission in an organization');
  if (!accessFor(compiled.plan, compiled.security, principal).systemPermissions.includes('manageAutomation'))
    throw automationError('FORBIDDEN', 'Automation rules need the manageAutomation system permission (none of your permission sets grants it)');
  return principal.organizationId;
}

const ruleOut = (r: RuleModel, active: boolean) => ({
  name: r.name, label: r.label ?? null, description: r.description ?? null, objectName: r.objectName, triggerType: r.triggerType,
  criteria: r.criteria === undefined ? null : typeof r.criteria === 'string' ? r.criteria : JSON.stringify(r.criteria),
  active, executionOrder: r.executionOrder, reevaluateOnChange: r.reevaluateOnChange, runAs: r.runAs,
  actions: r.actions.map((a) => ({ name: a.name, type: a.type })),
  timeTriggerActions: r.timeTriggers.flatMap((t) => t.actions.map((a) => ({ name: a.name, type: a.type }))),
  schedule: r.schedule?.expression ?? null,
});

const date = (v: Date | string | null) => (v === null ? null : new Date(v));
const runOut = (r: RunRow) => ({
  id: r.id, rule: r.rule, action: r.action, actionType: r.action_type, object: r.object, recordId: r.record_id, eventId: r.event_id,
  trigger: r.trigger, depth: r.depth, status: r.status.toUpperCase(), attempts: r.attempts, error: r.error, result: r.result ?? null,
  dueAt: date(r.due_at), createdAt: date(r.created_at), startedAt: date(r.started_at), finishedAt: date(r.finished_at),
});

export interface RuleResolverOptions {
  compiled: CompiledSchema;
  database: Database;
  queue: JobQueue;
  F: (name: string) => string;
}

/** `automationRules`, `automationRuns`, `pendingTimeTriggers`, `setAutomationRuleActive`, `retryAutomationRun`. */
export function ruleResolvers(o: RuleResolverOptions) {
  const rules = o.compiled.model.rules;
  const db = o.database.db;
  const ruleNamed = (name: string): RuleModel => {
    const r = rules.find((x) => x.name === name);
    if (!r) throw automationError('NOT_FOUND', `No automation rule "${name}" (rules: ${rules.map((x) => x.name).join(', ') || 'none'})`);
    return r;
  };
  const runsWhere = async (org: string, filters: SQL[], first: number, order: SQL): Promise<RunRow[]> =>
    queryRows<RunRow>(db, sql`select * from automation.runs where organization_id = ${org} ${sql.join(filters.map((f) => sql` and ${f}`))} order by ${order} limit ${first}`);

  /** `automationRuns` on each record type rules act on (the entity extension). */
  const entities = Object.fromEntries(ruleObjects(o.compiled.plan, o.compiled.model).map((p) => [p.typeName, {
    __resolveReference: (ref: { id: string }) => ({ __typename: p.typeName, id: ref.id }),
    automationRuns: async (parent: { id: string }, a: { first?: number | null }, ctx: Ctx) => {
      const org = automationOrg(o.compiled, ctx.principal);
      const first = a.first ?? 20;
      if (!Number.isInteger(first) || first < 1 || first > 500) throw automationError('BAD_USER_INPUT', `first: must be from 1 to 500, got ${first}`);
      return (await runsWhere(org, [sql`object = ${p.object.name}`, sql`record_id = ${parent.id}::uuid`], first, sql`created_at desc, seq desc`)).map(runOut);
    },
  }]));

  return {
    entities,
    Query: {
      [o.F('automationRules')]: async (_: unknown, __: unknown, ctx: Ctx) => {
        const org = automationOrg(o.compiled, ctx.principal);
        const switches = rules.length > 0 ? await ruleSwitches(db, org) : new Map<string, boolean>();
        return rules.map((r) => ruleOut(r, switches.get(r.name) ?? r.active));
      },
      [o.F('automationRuns')]: async (_: unknown, a: { where?: { rule?: string | null; object?: string | null; recordId?: string | null; status?: string | null } | null; first?: number | null }, ctx: Ctx) => {
        const org = automationOrg(o.compiled, ctx.principal);
        const first = a.first ?? 50;
        if (!Number.isInteger(first) || first < 1 || first > 500) throw automationError('BAD_USER_INPUT', `first: must be from 1 to 500, got ${first}`);
        const w = a.where ?? {};
        if (w.recordId && !/^[0-9a-f-]{36}$/i.test(w.recordId)) throw automationError('BAD_USER_INPUT', `where.recordId: "${w.recordId}" is not a record id`);
        const filters: SQL[] = [];
        if (w.rule) filters.push(sql`rule = ${w.rule}`);
        if (w.object) filters.push(sql`object = ${w.object}`);
        if (w.recordId) filters.push(sql`record_id = ${w.recordId}::uuid`);
        if (w.status) filters.push(sql`status = ${w.status.toLowerCase() as RunStatus}`);
        return (await runsWhere(org, filters, first, sql`created_at desc, seq desc`)).map(runOut);
      },
      [o.F('pendingTimeTriggers')]: async (_: unknown, a: { object: string; id: string }, ctx: Ctx) => {
        const org = automationOrg(o.compiled, ctx.principal);
        if (!/^[0-9a-f-]{36}$/i.test(a.id)) throw automationError('BAD_USER_INPUT', `id: "${a.id}" is not a record id`);
        return (await runsWhere(org, [sql`object = ${a.object}`, sql`record_id = ${a.id}::uuid`, sql`status = 'queued'`, sql`trigger = 'time_trigger'`], 500, sql`due_at, id`)).map(runOut);
      },
    },
    Mutation: {
      [o.F('setAutomationRuleActive')]: async (_: unknown, a: { name: string; active: boolean }, ctx: Ctx) => {
        const org = automationOrg(o.compiled, ctx.principal);
        const rule = ruleNamed(a.name);
        await setRuleSwitch(db, org, rule.name, a.active, ctx.principal.userId);
        await recordAuditEvents(db, [auditEvent({
          eventType: 'automation.rule_toggled', actor: { type: ctx.principal.kind === 'api_key' ? 'api_client' : 'user', id: ctx.principal.userId },
          target: { type: 'automation_rule', id: rule.name }, tenantId: org, description: `rule ${rule.name} turned ${a.active ? 'on' : 'off'}`,
          details: { rule: rule.name, active: a.active },
        })]);
        return ruleOut(rule, a.active);
      },
      [o.F('retryAutomationRun')]: async (_: unknown, a: { id: string }, ctx: Ctx) => {
        const org = automationOrg(o.compiled, ctx.principal);
        const run = /^[0-9a-f-]{36}$/i.test(a.id) ? await getRun(db, a.id) : null;
        if (!run || run.organization_id !== org) throw automationError('NOT_FOUND', `No automation run ${a.id} that you can see`);
        if (run.status !== 'failed') throw automationError('BAD_USER_INPUT', `Run ${a.id} is ${run.status}: only a failed run can be run again`);
        const rule = ruleNamed(run.rule);
        const attempt = run.attempts + 1;
        await db.execute(sql`update automation.runs set status = 'queued', error = null, finished_at = null where id = ${run.id}::uuid and status = 'failed'`);
        // A new job (the old one finished), carrying the run's first key: its effects stay once-only.
        const job: ActionJob = {
          runId: run.id, org, rule: rule.name, action: run.action, object: run.object, recordId: run.record_id, eventId: run.event_id,
          actorId: run.actor_id, depth: run.depth, record: null, prior: null, reread: true, effectKey: run.effect_key,
        };
        await o.queue.enqueue(ACTION_QUEUE, job, { key: `${run.effect_key}:retry:${attempt}`, tenant: org, attempts: attemptsOf(actionOf(rule, run.action)) });
        await recordAuditEvents(db, [auditEvent({
          eventType: 'job.replayed', actor: { type: ctx.principal.kind === 'api_key' ? 'api_client' : 'user', id: ctx.principal.userId },
          target: { type: 'automation_run', id: run.id }, tenantId: org, description: `rule ${rule.name}, action ${run.action} run again`,
          details: { rule: rule.name, action: run.action, attempts: run.attempts },
        })]);
        return runOut((await getRun(db, run.id))!);
      },
    },
  };
}
