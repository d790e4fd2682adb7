import type { Database } from '@objectos/db';
import { createChannel, ensureEventTables, type Channel, type ChangeFeed } from '@objectos/events';
import { createJobQueue, createScheduler, type JobQueue, type Scheduler } from '@objectos/jobs';
import { MetadataError, type JobModel, type MetadataModel } from '@objectos/metadata';
import {
  checkTemplate, createEmailChannel, createHttpSmsProvider, createNotifier, createPushChannel, createTemplates, declareNotifyQueues, ensureNotificationTables,
  registerNotificationHandlers, withDefaultTemplates, type Channel as NotifyChannel, type EmailChannel, type InboxItem, type Notifier, type TargetAllowance,
} from '@objectos/notifications';
import { deriveKey } from '@objectos/principal';
import { ensureEffectTable, ensureStateHistoryTable } from '@objectos/db';
import { changeFlows, compile } from '@objectos/schema';
import type { Sandbox } from '@objectos/sandbox';
import { createDataClient } from './rules/data-client.ts';
import { ACTION_JOBS, ACTION_QUEUE, createRuleEngine, SCHEDULE_JOBS, SCHEDULE_QUEUE, type RuleEngine } from './rules/engine.ts';
import { ensureAutomationTables } from './rules/store.ts';
import { FLOW_START_JOBS, FLOW_START_QUEUE, type FlowScheduleStart } from './rules/flow-hand-over.ts';
import type { ActionDeps } from './rules/actions.ts';
import { registerStateActions, STATE_ACTION_QUEUE, sweepStateActions } from './rules/state-actions.ts';
import { createLogger } from '@objectos/observability';

/** Errors of background work (no caller to throw to) go to the log. */
const log = createLogger('jobs');

/** Delivery settings, from the environment (`mailConfigFromEnv`) or a test. */
export interface DeliveryConfig {
  /** SMTP_URL; absent: mail is printed to the log (development). */
  smtpUrl?: string;
  /** OBJECTOS_MAIL_FROM. @default 'ObjectOS <no-reply@objectos.local>' */
  mailFrom?: string;
  /** OBJECTOS_WEBHOOK_SECRET: what receivers verify signatures with. @default derived from OBJECTOS_SECRET */
  webhookSecret?: string;
  /** OBJECTOS_WEBHOOK_ALLOW: internal targets allowed (`loopback`, `private`, or host names), none by default. */
  allow?: TargetAllowance;
  vapid?: { subject: string; publicKey: string; privateKey: string };
  sms?: { url: string; token: string };
  /** Where development mail is printed. @default console.log */
  log?: (line: string) => void;
}

export function deliveryConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DeliveryConfig {
  const allowList = (env['OBJECTOS_WEBHOOK_ALLOW'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const hosts = allowList.filter((h) => h !== 'loopback' && h !== 'private');
  const c: DeliveryConfig = {};
  if (env['SMTP_URL']) c.smtpUrl = env['SMTP_URL'];
  if (env['OBJECTOS_MAIL_FROM']) c.mailFrom = env['OBJECTOS_MAIL_FROM'];
  if (env['OBJECTOS_WEBHOOK_SECRET']) c.webhookSecret = env['OBJECTOS_WEBHOOK_SECRET'];
  if (allowList.length) c.allow = { loopback: allowList.includes('loopback'), privateNetworks: allowList.includes('private'), hosts };
  if (env['OBJECTOS_VAPID_PUBLIC_KEY'] && env['OBJECTOS_VAPID_PRIVATE_KEY'])
    c.vapid = { subject: env['OBJECTOS_VAPID_SUBJECT'] ?? 'mailto:admin@objectos.local', publicKey: env['OBJECTOS_VAPID_PUBLIC_KEY'], privateKey: env['OBJECTOS_VAPID_PRIVATE_KEY'] };
  if (env['OBJECTOS_SMS_URL'] && env['OBJECTOS_SMS_TOKEN']) c.sms = { url: env['OBJECTOS_SMS_URL'], token: env['OBJECTOS_SMS_TOKEN'] };
  return c;
}

export interface JobRuntimeOptions {
  model: MetadataModel;
  database: Database;
  /** PostgreSQL URL (pg-boss's own pool when there is no Redis). */
  databaseUrl?: string;
  /** Set: BullMQ on Redis, and in-app notifications reach every replica. */
  redisUrl?: string;
  secret: string;
  delivery?: DeliveryConfig;
  /** BullMQ key prefix (OBJECTOS_JOBS_PREFIX), so deployments sharing a Redis keep their queues apart. @default objectos */
  prefix?: string;
  /**
   * Deliver notifications and fire schedules here (embedded, or the worker process); otherwise only
   * send and monitor (the identity and automation API processes).
   */
  work: boolean;
  /** BullMQ hold / pg-boss poll, for tests. */
  lockMs?: number;
  pollMs?: number;
  onError?: (e: unknown) => void;
  /**
   * The data subgraph, where workflow rules' record writes and reads go (signed as the runtime): its
   * in-process fetch (embedded) or DATA_URL. Needed by a process that works when the metadata has rules.
   */
  data?: { fetch: (request: Request) => Promise<Response>; url: string };
  /** Committed changes: each wakes the rule engine (otherwise it finds them at its next sweep). */
  changeFeed?: ChangeFeed;
  /** Where connector secrets are read. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** The rule engine's sweep of handed-over changes. @default 1000 */
  rulesSweepMs?: number;
  /**
   * Handlers another module adds to this process's queue before it starts (the workflow subgraph's flow
   * runner). They are worked here even when `work` is false: only they, the rest is declared.
   */
  register?: (queue: JobQueue, notifier: Notifier) => void;
  /**
   * The clock rules read: time triggers' due times, tasks' relative due dates (tests inject one to
   * make a trigger days away fall due in seconds). Queues keep real time. @default Date.now
   */
  now?: () => number;
}

export interface JobRuntime {
  queue: JobQueue;
  notifier: Notifier;
  /** New in-app notifications, as stored (Redis between processes in services mode). */
  inApp: Channel<InboxItem>;
  email: EmailChannel;
  scheduler: Scheduler | null;
  /** Workflow rules (a working process whose metadata has rules), else null. */
  rules: RuleEngine | null;
  stop(): Promise<void>;
}

/** A schedule rule's cron, as a scheduled job of its own (`rule_<name>`) whose ticks run the rule (only where the engine runs). */
function scheduleRuleJobs(model: MetadataModel): JobModel[] {
  if (!model.rules.length) return [];
  return model.rules.filter((r) => r.triggerType === 'schedule').map((r) => ({
    name: `rule_${r.name}`, label: r.label ?? r.name, handler: SCHEDULE_QUEUE, data: { rule: r.name },
    schedule: { type: 'cron' as const, expression: r.schedule!.expression, timezone: r.schedule!.timezone },
    retryPolicy: { maxRetries: 2, backoffMs: 5_000, backoffMultiplier: 2 as const }, timeout: 600_000, enabled: true, source: r.source, handlerAt: { line: 0, column: 0 },
  }));
}

/**
 * A schedule flow's cron, as a scheduled job of its own (`flow_<name>`) on the flow start queue: each tick
 * starts one run per organization, worked where the workflow subgraph runs.
 */
function scheduleFlowJobs(model: MetadataModel): JobModel[] {
  return model.flows.filter((f) => f.status === 'active' && f.type === 'schedule' && f.schedule).map((f) => ({
    name: `flow_${f.name}`, label: f.label ?? f.name, handler: FLOW_START_QUEUE, data: { kind: 'schedule', flow: f.name } satisfies FlowScheduleStart,
    schedule: { type: 'cron' as const, expression: f.schedule!.expression, timezone: f.schedule!.timezone },
    retryPolicy: { maxRetries: FLOW_START_JOBS.attempts - 1, backoffMs: FLOW_START_JOBS.backoffMs, backoffMultiplier: 2 as const }, timeout: FLOW_START_JOBS.timeoutMs,
    enabled: true, source: f.source, handlerAt: { line: 0, column: 0 },
  }));
}

/** Template problems found by handlebars, as located metadata errors (bad templates never start a server). */
function checkTemplates(model: MetadataModel): void {
  const issues = model.templates.flatMap((t) => checkTemplate(t).map((p) => {
    const at = p.indexOf(': ');
    return { file: t.source, line: 0, column: 0, path: at > 0 ? p.slice(0, at) : '', message: at > 0 ? p.slice(at + 2) : p };
  }));
  if (issues.length > 0) throw new MetadataError(issues);
}

/**
 * The queue, notifications and schedules of one process, started: every process that sends mail or
 * shows the job monitor makes one; only one made with `work: true` delivers and fires schedules.
 */
export async function createJobRuntime(o: JobRuntimeOptions): Promise<JobRuntime> {
  checkTemplates(o.model);
  const d = o.delivery ?? {};
  const onError = o.onError ?? ((e: unknown) => log.error({ err: e }, 'job runtime error'));
  await ensureNotificationTables(o.database);
  // Replays of dead letters are audit events (events.audit_outbox).
  await ensureEventTables(o.database.db);
  const queue = await createJobQueue({
    database: o.database, ...(o.databaseUrl ? { databaseUrl: o.databaseUrl } : {}), ...(o.redisUrl ? { redisUrl: o.redisUrl } : {}),
    ...(o.prefix ? { prefix: o.prefix } : {}), ...(o.lockMs ? { lockMs: o.lockMs } : {}), ...(o.pollMs ? { pollMs: o.pollMs } : {}), onError,
  });
  const inApp = createChannel<InboxItem>('objectos:notifications', o.redisUrl);
  const email = createEmailChannel({ smtpUrl: d.smtpUrl, from: d.mailFrom ?? 'ObjectOS <no-reply@objectos.local>', ...(d.log ? { log: d.log } : {}) });
  const available: NotifyChannel[] = ['email', 'in_app', 'webhook', ...(d.vapid ? ['push' as const] : []), ...(d.sms ? ['sms' as const] : [])];
  const notifier = createNotifier({ queue, templates: createTemplates(withDefaultTemplates(o.model.templates)), store: o.database, available, ...(d.allow ? { allow: d.allow } : {}) });
  let scheduler: Scheduler | null = null;
  let rules: RuleEngine | null = null;
  let stopKicks: (() => void) | null = null;
  let sandbox: Promise<Sandbox> | null = null;
  // State machines' and approval processes' actions run here (workflow.state_action).
  const machines = o.model.stateMachines.length > 0 || o.model.approvals.length > 0;
  // Record changes reach flows through the rule engine (it exists for them even without rules).
  const startedFlows = changeFlows(o.model);
  const watching = o.model.rules.length > 0 || startedFlows.length > 0;
  const flowTicks = scheduleFlowJobs(o.model);
  if (watching) {
    await ensureAutomationTables(o.database.db);
    await ensureEffectTable(o.database.db);
  }
  if (machines) {
    await ensureStateHistoryTable(o.database.db);
    await ensureEffectTable(o.database.db);
  }
  let stopSweep: (() => void) | null = null;
  if (o.work && (watching || machines)) {
    if (!o.data) throw new Error('the metadata has workflow rules, record_change flows or state machines: this worker needs the data subgraph (DATA_URL) to run their actions');
    const compiled = compile(o.model);
    const plan = compiled.plan;
    const deps: ActionDeps = {
      model: o.model, plan, store: o.database, notifier, queue, db: o.database.db, allow: d.allow ?? {}, env: o.env ?? process.env, now: o.now ?? Date.now, push: Boolean(d.vapid),
      data: createDataClient({ plan, security: compiled.security, fetch: o.data.fetch, url: o.data.url, secret: o.secret, db: o.database.db }),
      // QuickJS (WebAssembly) is loaded when a custom_script first runs.
      sandbox: () => (sandbox ??= import('@objectos/sandbox').then((m) => m.createSandbox())),
    };
    // Sent here, worked where the workflow subgraph runs (this process too, when it registers them).
    if (startedFlows.length > 0) queue.declare(FLOW_START_QUEUE, FLOW_START_JOBS);
    if (watching) {
      rules = createRuleEngine({ rules: o.model.rules, flows: startedFlows, plan, db: o.database.db, queue, onError, ...(o.rulesSweepMs ? { sweepMs: o.rulesSweepMs } : {}), deps });
      // A change is published inside the relay's transaction: look a moment later, once it has committed.
      const engine = rules;
      if (o.changeFeed) stopKicks = o.changeFeed.subscribe(() => void setTimeout(() => engine.kick(), 20).unref());
    }
    if (machines) {
      registerStateActions(queue, o.model, deps);
      // Transitions whose actions a crashed API process never queued.
      const timer = setInterval(() => void sweepStateActions(o.database.db, queue, o.model).catch(onError), 5_000);
      timer.unref();
      stopSweep = () => clearInterval(timer);
    }
  }
  if (!o.work && o.model.rules.length > 0) {
    queue.declare(ACTION_QUEUE, ACTION_JOBS);
    queue.declare(SCHEDULE_QUEUE, SCHEDULE_JOBS);
  }
  if (!o.work && machines) queue.declare(STATE_ACTION_QUEUE, ACTION_JOBS);
  if (o.work) {
    registerNotificationHandlers(queue, {
      store: o.database, email,
      webhookSecret: d.webhookSecret ?? deriveKey(o.secret, 'webhooks'),
      ...(d.vapid ? { push: createPushChannel({ vapid: d.vapid, ...(d.allow ? { allow: d.allow } : {}) }) } : {}),
      ...(d.sms ? { sms: createHttpSmsProvider({ ...d.sms, ...(d.allow ? { allow: d.allow } : {}) }) } : {}),
      ...(d.allow ? { allow: d.allow } : {}),
      onInApp: (item) => void inApp.publish(item).catch(onError),
    });
    // Built-in handlers that `*.job.yaml` schedules can name.
    queue.register<{ days?: number }>('notifications.purge_read', async (data) => {
      const days = Number.isInteger(data?.days) && data.days! > 0 ? data.days! : 90;
      await o.database.run(`delete from notifications.inbox where read_at < now() - make_interval(days => $1)`, [days]);
    }, { attempts: 3, timeoutMs: 300_000 });
    if (flowTicks.length > 0) queue.declare(FLOW_START_QUEUE, FLOW_START_JOBS);
    scheduler = createScheduler(queue, [...o.model.jobs, ...scheduleRuleJobs(o.model), ...flowTicks], { onError });
  } else declareNotifyQueues(queue);
  o.register?.(queue, notifier);
  await inApp.ready;
  // Started before anything can send (identity's demo seed mails its admin). Without `work`, only what
  // `register` added is worked here (every other queue is declared, not registered).
  await queue.start({ work: o.work || Boolean(o.register) });
  scheduler?.start();
  return {
    queue, notifier, inApp, email, scheduler,
    rules,
    async stop() {
      stopKicks?.();
      stopSweep?.();
      await rules?.close();
      (await sandbox?.catch(() => null))?.close();
      scheduler?.stop();
      await queue.stop(5_000);
      await inApp.close();
      email.close();
    },
  };
}
