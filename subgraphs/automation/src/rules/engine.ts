import { sql } from 'drizzle-orm';
import { groupCalls, queryRows, type Db } from '@objectos/db';
import { auditEvent, createSweeper, nameUuid, recordAuditEvents, watchOutboxLag, type ChangeContext, type DataChangeEvent as ChangeEvent, type Sweeper } from '@objectos/events';
import { contextOfTraceparent, inSpan, metrics, SpanKind, createLogger } from '@objectos/observability';
import { jobIdOf, JobInputError, type JobContext, type JobQueue } from '@objectos/jobs';
import { actionTemplates, evaluateRuleCondition, templatePlaceholders, type FieldDefinition, type FlowModel, type MetadataModel, type RuleModel, type TimeTriggerDefinition, type WorkflowAction } from '@objectos/metadata';
import { metadataRecord, ruleFires, ruleMatches, type DataPlan } from '@objectos/schema';
import { ActionFailure, runAction, type ActionDeps } from './actions.ts';
import { queueFlowStarts } from './flow-hand-over.ts';
import { cancelRuns, finishRuns, insertRuns, pendingTimeTriggers, ruleSwitches, startAttempts, type NewRun, type RunOutcome, type RunRow } from './store.ts';

/** Errors of background work (no caller to throw to) go to the log. */
const log = createLogger('automation');

/** The queue every rule action runs on: one job per (event, rule, action), or per time trigger. */
export const ACTION_QUEUE = 'automation.action';
/** The queue a schedule rule's ticks run on: one job per tick, which acts on each matching record. */
export const SCHEDULE_QUEUE = 'automation.schedule';
const PAGE = 200;
/** Evaluations of one change that fail before it is set aside (kept in events.automation_outbox with its last error). */
const EVALUATION_ATTEMPTS = 5;
/** Rules whose field updates run rules again stop at this depth (a loop never runs forever). */
export const MAX_DEPTH = 5;
const ACTION_ATTEMPTS = 5;
/**
 * The action queue's settings, for every process that queues actions (the API process reruns them):
 * an action's own `attempts` is given with each job.
 */
export const ACTION_JOBS = { attempts: ACTION_ATTEMPTS, backoffMs: 1_000, timeoutMs: 60_000 } as const;
/** Attempts of an action's job: its own `attempts`, or the queue's. */
export const attemptsOf = (a: WorkflowAction | undefined): number => a?.attempts ?? ACTION_ATTEMPTS;
/** The schedule queue's settings: one job per tick, which pages through the records. */
export const SCHEDULE_JOBS = { attempts: 3, backoffMs: 5_000, timeoutMs: 600_000 } as const;
/** Actions one worker runs at once: most wait on the network or the data subgraph, not on this process. */
const ACTION_CONCURRENCY = 32;
const BATCH = 100;

/** What an action job carries: enough to run without the event (it may be gone from the outbox). */
export interface ActionJob {
  runId: string;
  org: string;
  rule: string;
  action: string;
  object: string;
  recordId: string;
  eventId: string | null;
  actorId: string | null;
  depth: number;
  record: Record<string, unknown> | null;
  prior: Record<string, unknown> | null;
  /** Time triggers act on the record as it is when they fire, read again. */
  reread: boolean;
  /** The key the run's effects carry (a retried run's new job keeps its first key). @default the job's key */
  effectKey?: string | null;
}

export interface RuleEngine {
  /** A change was handed over: evaluate now rather than at the next sweep. */
  kick(): void;
  /** Resolves when every handed-over change committed before the call is evaluated (tests). */
  drain(): Promise<void>;
  close(): Promise<void>;
}

export interface RuleEngineOptions {
  rules: readonly RuleModel[];
  /** Active record_change flows: a change their trigger fires on queues a start (`workflow.flow_start`). @default none */
  flows?: readonly FlowModel[];
  plan: DataPlan;
  db: Db;
  queue: JobQueue;
  deps: ActionDeps;
  /** How often the hand-over table is swept (changes left by a crash, or by another process's relay). @default 1000 */
  sweepMs?: number;
  onError?: (e: unknown) => void;
}

const UNIT_MS = { minutes: 60_000, hours: 3_600_000, days: 86_400_000 } as const;

const ID_ONLY = new Set(['record.id', 'rule.name', 'event.id']);
/**
 * Whether an action reads the record beyond its id (its templates, recipients, assignee, template or
 * script): a due time trigger reads the record again only then, since the read is most of its cost.
 */
export function readsRecord(a: WorkflowAction, connectors: MetadataModel['connectors']): boolean {
  if (a.type === 'email_alert' || a.type === 'custom_script') return true;
  if (a.type === 'task_creation' && a.assignedTo === 'owner') return true;
  if (a.type === 'push_notification' && a.recipients.some((r) => r === 'owner' || r.startsWith('field:'))) return true;
  const texts = actionTemplates(a).map((t) => t.text);
  if (a.type === 'connector_action') {
    const endpoint = connectors.find((c) => c.name === a.connectorId)?.actions[a.actionId];
    texts.push(endpoint?.path ?? '', typeof endpoint?.body === 'string' ? endpoint.body : JSON.stringify(endpoint?.body ?? ''));
  }
  return texts.some((t) => templatePlaceholders(t).some((p) => !ID_ONLY.has(p) && !p.startsWith('input.')));
}

/** A rule's action by name: one of its actions or of its time triggers'. */
export const actionOf = (rule: RuleModel, name: string): WorkflowAction | undefined =>
  rule.actions.find((a) => a.name === name) ?? rule.timeTriggers.flatMap((t) => t.actions).find((a) => a.name === name);

/** When a time trigger is due, from the trigger date (the change's commit time) or a date field; null when that field is empty. */
export function dueAt(t: TimeTriggerDefinition, triggeredAt: string, record: Readonly<Record<string, unknown>> | null): Date | null {
  const from = t.offsetFrom === 'trigger_date' ? triggeredAt : record?.[t.dateField!];
  if (from === null || from === undefined || from === '') return null;
  const base = new Date(typeof from === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(from) ? `${from}T00:00:00Z` : String(from)).getTime();
  if (!Number.isFinite(base)) return null;
  const offset = t.timeLength * UNIT_MS[t.timeUnit];
  return new Date(t.offsetDirection === 'before' ? base - offset : base + offset);
}

/**
 * Runs workflow rules on committed changes. The data subgraph's relay hands each change to an object
 * with rules over to `events.automation_outbox` in the transaction that publishes it; this engine
 * evaluates the object's active rules in `executionOrder`, records a run and queues a job per action
 * (keyed by event, rule and action: a change evaluated twice queues nothing twice), schedules, moves
 * and withdraws time triggers, and only then deletes the change. Action jobs run in the worker.
 */
export function createRuleEngine(o: RuleEngineOptions): RuleEngine {
  const onError = o.onError ?? ((e: unknown) => log.error({ err: e }, 'rule engine error'));
  const byName = new Map(o.rules.map((r) => [r.name, r]));
  const fieldMaps = new Map<string, ReadonlyMap<string, FieldDefinition>>();
  const fieldsOf = (object: string): ReadonlyMap<string, FieldDefinition> => {
    let m = fieldMaps.get(object);
    if (!m) fieldMaps.set(object, (m = new Map(o.plan.objects[object]!.object.fields.map((f) => [f.name, f]))));
    return m;
  };
  // The run log's writes of actions running at once go out grouped (those that come while one statement
  // runs go in the next): on PGlite a statement per action was most of the cost of 1,000 time triggers
  // falling due together.
  const startAttempt = groupCalls((ids: string[]) => startAttempts(o.db, ids));
  const finishBatch = groupCalls(async (outcomes: RunOutcome[]) => (await finishRuns(o.db, outcomes), outcomes.map(() => undefined)), { gatherMs: 5 });
  const finishRun = (id: string, status: RunOutcome['status'], outcome: Omit<RunOutcome, 'id' | 'status'>) => finishBatch({ id, status, ...outcome });
  // Due times are on the rules' clock (deps.now, injected in tests), the queue's delays in real time:
  // the instant the clock shows `at` is `at - skew()` in real time.
  const skew = () => o.deps.now() - Date.now();

  o.queue.register<ActionJob>(ACTION_QUEUE, (job, ctx) => runJob(job, ctx), { ...ACTION_JOBS, concurrency: ACTION_CONCURRENCY });
  o.queue.register<{ rule: string }>(SCHEDULE_QUEUE, (d, ctx) => scheduled(d.rule, ctx.key), { ...SCHEDULE_JOBS, concurrency: 1 });

  /**
   * One tick of a schedule rule: in each organization where it is on, the object's records are read in
   * pages (as the system), and each that meets the criteria gets the rule's actions, keyed by tick,
   * record and action (a tick run again queues nothing twice).
   */
  async function scheduled(ruleName: string, tick: string): Promise<{ records: number; matched: number }> {
    const rule = byName.get(ruleName);
    if (!rule || rule.triggerType !== 'schedule') return { records: 0, matched: 0 };
    const p = o.plan.objects[rule.objectName]!;
    const fields = fieldsOf(rule.objectName);
    const orgs = await queryRows<{ organization_id: string }>(o.db, sql`select distinct organization_id from ${sql.identifier(p.table)}`);
    let records = 0;
    let matched = 0;
    for (const { organization_id: org } of orgs) {
      if (!((await ruleSwitches(o.db, org)).get(rule.name) ?? rule.active)) continue;
      for (let offset = 0; ; offset += PAGE) {
        const page = await o.deps.data.list(org, rule.objectName, offset, PAGE, { kind: 'system' });
        records += page.length;
        for (const record of page) {
          if (rule.condition && !evaluateRuleCondition(rule.condition, { record, previous: null, fields })) continue;
          matched++;
          const recordId = String(record['id']);
          for (const a of rule.actions) {
            const key = `${tick}:${rule.name}:${recordId}:${a.name}`;
            await queueRun({ id: nameUuid(`automation:${key}`), organizationId: org, rule: rule.name, object: rule.objectName, recordId, eventId: null, actorId: null, depth: 1, action: a.name, actionType: a.type, trigger: 'schedule', status: 'queued', dueAt: null },
              { org, rule: rule.name, action: a.name, object: rule.objectName, recordId, eventId: null, actorId: null, depth: 1, record, prior: null, reread: false }, key, null);
          }
        }
        if (page.length < PAGE) break;
      }
    }
    return { records, matched };
  }

  // Field updates of one change to one field by several actions: the last in executionOrder wins.
  // Actions run at once, so one that comes earlier in the order steps aside for a later one.
  const rank = (r: RuleModel, a: string): [number, string, number] => [r.executionOrder, r.name, r.actions.findIndex((x) => x.name === a)];
  const before = (x: [number, string, number], y: [number, string, number]) => x[0] - y[0] || x[1].localeCompare(y[1]) || x[2] - y[2];
  const writers = new Map<string, number>();
  for (const r of o.rules) for (const a of r.actions) if (a.type === 'field_update' && r.triggerType !== 'schedule') writers.set(`${r.objectName}.${a.field}`, (writers.get(`${r.objectName}.${a.field}`) ?? 0) + 1);
  /** The later action of the same change that writes this field (queued, running or done), if any (the record's runs: index runs_record). */
  async function supersededBy(run: RunRow, rule: RuleModel, action: WorkflowAction): Promise<string | null> {
    if (action.type !== 'field_update' || run.trigger !== 'event' || run.event_id === null || (writers.get(`${rule.objectName}.${action.field}`) ?? 0) < 2) return null;
    const siblings = await queryRows<{ rule: string; action: string }>(o.db, sql`select rule, action from automation.runs where organization_id = ${run.organization_id}
      and object = ${run.object} and record_id = ${run.record_id}::uuid and event_id = ${run.event_id}::bigint and trigger = 'event' and action_type = 'field_update' and id <> ${run.id}::uuid and status not in ('failed', 'cancelled', 'stopped')`);
    const mine = rank(rule, action.name);
    for (const s of siblings) {
      const r = byName.get(s.rule);
      const a = r?.actions.find((x) => x.name === s.action);
      if (r && a?.type === 'field_update' && a.field === action.field && before(mine, rank(r, a.name)) < 0) return `${r.name}.${a.name}`;
    }
    return null;
  }

  async function runJob(job: ActionJob, ctx: JobContext): Promise<unknown> {
    const rule = byName.get(job.rule);
    const action = rule && actionOf(rule, job.action);
    const run = await startAttempt(job.runId);
    if (!run) return { skipped: 'cancelled' };
    if (!rule || !action) {
      await finishRun(job.runId, 'failed', { error: `rule ${job.rule} or its action ${job.action} is no longer in the metadata` });
      return null;
    }
    try {
      let record = job.record;
      if (job.reread) {
        record = await o.deps.data.get(job.org, job.object, job.recordId, { kind: 'system' });
        if (!record) {
          await finishRun(job.runId, 'failed', { error: `the ${job.object} no longer exists` });
          return null;
        }
      }
      const later = await supersededBy(run, rule, action);
      if (later) {
        const result = { superseded: later };
        await finishRun(job.runId, 'succeeded', { result });
        return result;
      }
      const result = await runAction({ org: job.org, rule, action, object: job.object, recordId: job.recordId, record, prior: job.prior, eventId: job.eventId, actorId: job.actorId, depth: job.depth, key: job.effectKey ?? ctx.key }, o.deps);
      await finishRun(job.runId, 'succeeded', { result });
      return result;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      const final = e instanceof ActionFailure || ctx.attempt >= attemptsOf(action);
      await finishRun(job.runId, final ? 'failed' : 'retrying', { error: message });
      if (!final) throw e;
      // A failed action never undoes the change that ran it; it is in the run log and the audit trail.
      await recordAuditEvents(o.db, [auditEvent({
        eventType: 'automation.action_failed', severity: 'warning', result: 'failure',
        actor: { type: 'system', id: null }, target: { type: job.object, id: job.recordId }, tenantId: job.org,
        description: `rule ${job.rule}, action ${job.action} (${action.type}) failed: ${message}`.slice(0, 1_000),
        details: { rule: job.rule, action: job.action, run: job.runId, attempts: run.attempts },
      })]);
      return { failed: message };
    }
  }

  interface ToQueue { run: Omit<NewRun, 'jobId' | 'effectKey'>; job: Omit<ActionJob, 'runId'>; key: string; runAt: Date | null }
  /**
   * Records the runs (one statement), then queues their jobs: every run of a change is in the log before
   * any of its jobs can start (an action looks for the later ones of the same change: see supersededBy).
   */
  async function queueRuns(items: readonly ToQueue[]): Promise<void> {
    // The runs first, naming their jobs: a crash before the jobs evaluates the change again, which adds them.
    await insertRuns(o.db, items.map((x) => ({ ...x.run, jobId: jobIdOf(ACTION_QUEUE, x.key), effectKey: x.key })));
    for (const { run, job, key, runAt } of items)
      try {
        await o.queue.enqueue(ACTION_QUEUE, { ...job, runId: run.id } satisfies ActionJob, { key, tenant: run.organizationId, attempts: attemptsOf(actionOf(byName.get(job.rule)!, job.action)), ...(runAt ? { runAt: new Date(runAt.getTime() - skew()) } : {}) });
      } catch (e) {
        // A job the queue refuses (a record over the payload cap) fails its run; it must not hold up the changes behind it.
        if (!(e instanceof JobInputError)) throw e;
        await finishRun(run.id, 'failed', { error: `not queued: ${e.message}` });
      }
  }
  const queueRun = (run: ToQueue['run'], job: ToQueue['job'], key: string, runAt: Date | null) => queueRuns([{ run, job, key, runAt }]);

  async function withdraw(pending: readonly RunRow[], why: string): Promise<void> {
    for (const r of pending) if (r.job_id) await o.queue.cancel(r.job_id).catch(onError);
    await cancelRuns(o.db, pending.map((r) => r.id), why);
  }

  async function evaluate(e: ChangeEvent, context: ChangeContext | null, switches: Map<string, boolean>): Promise<void> {
    const p = o.plan.objects[e.object];
    if (!p) return;
    const record = metadataRecord(p, e.record);
    const prior = metadataRecord(p, e.previous);
    const fields = fieldsOf(e.object);
    const cause = context?.automation ?? null;
    // Flows start on any change (a person's, a rule's, a flow's), down to MAX_DEPTH; their criteria are the starter's.
    if (o.flows?.length) await queueFlowStarts(o.queue, o.flows, e, e.op === 'delete' ? null : record, prior, cause, MAX_DEPTH, onError);
    // A change a rule made runs rules again only if that rule asks for it (reevaluateOnChange).
    if (cause && !byName.get(cause.rule)?.reevaluateOnChange) return;
    const depth = cause ? cause.depth + 1 : 1;
    if (e.op === 'delete') {
      const pending = await pendingTimeTriggers(o.db, e.organizationId, e.recordId);
      if (pending.length > 0) await withdraw(pending, 'the record was deleted');
    }
    const rules = o.rules
      .filter((r) => r.objectName === e.object && ruleFires(r.triggerType, e.op) && (switches.get(r.name) ?? r.active))
      .sort((a, b) => a.executionOrder - b.executionOrder || a.name.localeCompare(b.name));
    /** The change's actions, in executionOrder: recorded together, then queued. */
    const now: ToQueue[] = [];
    for (const rule of rules) {
      const matches = ruleMatches(rule, e.op, record, prior, fields);
      const base = { organizationId: e.organizationId, rule: rule.name, object: e.object, recordId: e.recordId, eventId: e.id, actorId: e.actorId, depth };
      const job = { org: e.organizationId, rule: rule.name, object: e.object, recordId: e.recordId, eventId: e.id, actorId: e.actorId, depth, prior };
      if (matches) {
        for (const a of rule.actions) {
          const key = `${e.id}:${rule.name}:${a.name}`;
          const id = nameUuid(`automation:${key}`);
          if (depth > MAX_DEPTH) {
            await insertRuns(o.db, [{ ...base, id, action: a.name, actionType: a.type, trigger: 'event', status: 'stopped', jobId: null, effectKey: key, dueAt: null,
              error: `stopped: rules updated this ${e.object} ${MAX_DEPTH} times in a chain (rule ${cause?.rule} → ${rule.name}); a loop of rules that update each other?` }]);
            await recordAuditEvents(o.db, [auditEvent({
              eventType: 'automation.loop_stopped', severity: 'warning', result: 'failure', actor: { type: 'system', id: null },
              target: { type: e.object, id: e.recordId }, tenantId: e.organizationId,
              description: `rule ${rule.name} not run: depth ${depth} is over the limit of ${MAX_DEPTH} (a loop of rules that update each other?)`,
              details: { rule: rule.name, action: a.name, cause: cause?.rule ?? null, depth },
            })]);
            continue;
          }
          now.push({ run: { ...base, id, action: a.name, actionType: a.type, trigger: 'event', status: 'queued', dueAt: null }, job: { ...job, action: a.name, record, reread: false }, key, runAt: null });
        }
      }
      if (rule.timeTriggers.length > 0 && e.op !== 'delete') await timeTriggers(rule, e, record, prior, fields, matches, base, job);
    }
    if (now.length > 0) await queueRuns(now);
  }

  /** Salesforce's semantics: scheduled when the record comes to meet the criteria, moved when its date field moves, withdrawn when it stops meeting them. */
  async function timeTriggers(rule: RuleModel, e: ChangeEvent, record: Record<string, unknown> | null, prior: Record<string, unknown> | null, fields: ReadonlyMap<string, FieldDefinition>,
    matches: boolean, base: Omit<NewRun, 'id' | 'action' | 'actionType' | 'trigger' | 'status' | 'jobId' | 'effectKey' | 'dueAt'>, job: Omit<ActionJob, 'runId' | 'action' | 'record' | 'reread'>): Promise<void> {
    const pending = await pendingTimeTriggers(o.db, e.organizationId, e.recordId, rule.name);
    if (!matches) {
      if (pending.length > 0) await withdraw(pending, 'the record no longer meets the rule criteria');
      return;
    }
    const wasMatching = e.op === 'update' && (!rule.condition || evaluateRuleCondition(rule.condition, { record: prior, previous: prior, fields }));
    for (const [i, t] of rule.timeTriggers.entries()) {
      // The trigger date is the change's commit, read on the rules' clock.
      const due = dueAt(t, new Date(Date.parse(e.at) + skew()).toISOString(), record);
      const moved = t.offsetFrom === 'date_field' && e.changedFields.length > 0 && JSON.stringify(record?.[t.dateField!]) !== JSON.stringify(prior?.[t.dateField!]);
      for (const a of t.actions) {
        const existing = pending.find((r) => r.action === a.name);
        if (existing && !moved) continue;
        if (existing) await withdraw([existing], 'its date field changed: rescheduled');
        else if (wasMatching && !moved) continue;
        if (!due) continue;
        const key = `tt:${rule.name}:${e.recordId}:${i}:${a.name}:${due.toISOString()}`;
        const id = nameUuid(`automation:${key}`);
        const reread = readsRecord(a, o.deps.model.connectors);
        await queueRun({ ...base, id, action: a.name, actionType: a.type, trigger: 'time_trigger', status: 'queued', dueAt: due },
          { ...job, action: a.name, record: reread ? null : { id: e.recordId }, reread }, key, due);
      }
    }
  }

  async function sweep(): Promise<void> {
    for (;;) {
      const rows = await queryRows<{ event_id: string; event: ChangeEvent | string; context: ChangeContext | string | null; trace: string | null }>(o.db,
        sql`select event_id, event, context, trace from events.automation_outbox where attempts < ${EVALUATION_ATTEMPTS} order by event_id limit ${BATCH}`);
      const switches = new Map<string, Map<string, boolean>>();
      const done: string[] = [];
      for (const row of rows) {
        const e = typeof row.event === 'string' ? (JSON.parse(row.event) as ChangeEvent) : row.event;
        const context = typeof row.context === 'string' ? (JSON.parse(row.context) as ChangeContext) : row.context;
        let s = switches.get(e.organizationId);
        if (!s) switches.set(e.organizationId, (s = await ruleSwitches(o.db, e.organizationId)));
        try {
          // In the trace of the request that made the change (through the relay's publish): the jobs it
          // queues carry this span's context, so their runs are part of that trace too.
          await inSpan('automation evaluate', { 'objectos.outbox': 'automation_outbox', 'objectos.object': e.object, 'objectos.operation': e.op },
            () => evaluate(e, context, s), SpanKind.CONSUMER, contextOfTraceparent(row.trace));
          if (metrics.metricsEnabled()) metrics.eventDeliveries.inc({ kind: 'evaluated' });
        } catch (err) {
          // Counted and kept; the changes behind it go on. A database that is down fails the next statement too (the sweep retries).
          await o.db.execute(sql`update events.automation_outbox set attempts = attempts + 1, last_error = ${String((err as Error).message ?? err).slice(0, 1_000)} where event_id = ${row.event_id}::bigint`);
          onError(err);
          continue;
        }
        done.push(String(row.event_id));
      }
      // Only once their actions are queued (one statement for the batch): a crash before this evaluates the
      // changes again, which queues nothing twice.
      if (done.length > 0) await o.db.execute(sql`delete from events.automation_outbox where event_id = any(${sql.param(done)}::bigint[])`);
      if (rows.length < BATCH) return;
    }
  }

  const sweeper: Sweeper = createSweeper(sweep, o.sweepMs ?? 1_000, (e) => onError(e));
  // Changes set aside (too many failed evaluations) are kept but no longer pending: not lag.
  const unwatch = watchOutboxLag(o.db, 'automation_outbox', sql`select created_at from events.automation_outbox where attempts < ${EVALUATION_ATTEMPTS} order by event_id limit 1`);
  return {
    kick: sweeper.kick,
    drain: sweeper.drain,
    async close() {
      unwatch();
      await sweeper.close();
    },
  };
}
