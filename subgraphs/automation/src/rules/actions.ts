import { loadOrganizationRoles, type SqlRunner } from '@objectos/db';
import type { JobQueue } from '@objectos/jobs';
import { relativeOffsetMs, renderTemplate, type MetadataModel, type RuleModel, type WorkflowAction } from '@objectos/metadata';
import { isAllowed, NOTIFY_QUEUES, NotificationInputError, type InAppJob, type Notifier, type PushJob, type SqlClient, type TargetAllowance } from '@objectos/notifications';
import type { Sandbox } from '@objectos/sandbox';
import type { DataPlan } from '@objectos/schema';
import { DataRefusal, type DataClient, type RunAs } from './data-client.ts';
import { ActionFailure, connectorRequest, renderBody, sendOutbound } from './outbound.ts';
import { resolveRecipients } from './recipients.ts';

export { ActionFailure } from './outbound.ts';

/** One action to run, with the record as the rule saw it (metadata field names). */
export interface ActionRun {
  org: string;
  rule: RuleModel;
  action: WorkflowAction;
  object: string;
  recordId: string;
  record: Readonly<Record<string, unknown>> | null;
  prior: Readonly<Record<string, unknown>> | null;
  eventId: string | null;
  actorId: string | null;
  depth: number;
  /** The job's idempotency key: every effect carries it (or a key derived from it). */
  key: string;
}

export interface ActionDeps {
  model: MetadataModel;
  plan: DataPlan;
  /** Where notification preferences are read. */
  store: SqlClient;
  data: DataClient;
  notifier: Notifier;
  queue: JobQueue;
  db: SqlRunner;
  sandbox: () => Promise<Sandbox>;
  /** Internal targets http calls and connectors may reach (none by default). */
  allow: TargetAllowance;
  env: NodeJS.ProcessEnv;
  now: () => number;
  /** Web push is configured (VAPID keys): push notifications go to devices as well as the in-app inbox. */
  push: boolean;
}

/** Runs one action; resolves to what the run log records as its result. */
export async function runAction(run: ActionRun, deps: ActionDeps): Promise<unknown> {
  const a = run.action;
  const scope = { record: run.record, prior: run.prior, rule: { name: run.rule.name }, event: { id: run.eventId ?? '' } };
  const as: RunAs = run.rule.runAs === 'user' && run.actorId ? { kind: 'user', userId: run.actorId } : { kind: 'system' };
  const effect = { key: run.key, automation: { rule: run.rule.name, action: a.name, depth: run.depth } };
  try {
    switch (a.type) {
      case 'field_update': {
        const value = typeof a.value === 'string' ? renderTemplate(a.value, scope) : a.value;
        await deps.data.update(run.org, run.object, run.recordId, { [a.field]: value }, as, effect);
        return { field: a.field, value };
      }
      case 'task_creation': {
        const task = deps.plan.objects[a.taskObject]!;
        const relatedTo = a.relatedTo ?? task.relations.find((r) => r.target === run.object)!.field.name;
        const assignee = a.assignedTo === 'owner' ? run.record?.['owner_id'] : a.assignedTo === 'actor' ? run.actorId : a.assignedTo.slice('user:'.length);
        const values: Record<string, unknown> = { subject: renderTemplate(a.subject, scope), [relatedTo]: run.recordId };
        // The metadata check made sure the task object has these fields when they are given.
        if (a.description !== undefined) values['description'] = renderTemplate(a.description, scope);
        if (a.priority !== undefined) values['priority'] = a.priority;
        if (a.dueDate !== undefined) values['due_date'] = new Date(deps.now() + relativeOffsetMs(a.dueDate)!).toISOString().slice(0, 10);
        // The task belongs to its assignee, a member of this organization (in system context; as the rule's user otherwise).
        if (typeof assignee !== 'string' || !assignee) throw new ActionFailure(`task_creation ${a.name}: the record has no ${a.assignedTo} to assign the task to`);
        if ((await loadOrganizationRoles(deps.db, run.org, assignee)) === null) throw new ActionFailure(`task_creation ${a.name}: ${assignee} is not a member of this organization`);
        const created = await deps.data.create(run.org, a.taskObject, values, as.kind === 'system' ? { kind: 'system', owner: assignee } : as, effect);
        return { taskId: created.id, assignedTo: assignee ?? null };
      }
      case 'email_alert': {
        const to = await resolveRecipients(deps.db, run.org, a.recipients, run.record, (r) => deps.model.security.roles.find((x) => x.name === r)?.parent);
        // The template names what it reads (record, prior, rule, event): it gets those.
        const declared = deps.model.templates.find((t) => t.name === a.template)?.variables ?? [];
        const variables = Object.fromEntries(Object.entries(scope).filter(([k]) => declared.includes(k)));
        // Counted: the recipients a mail was queued for (one who opted out of email is not).
        let sent = 0;
        for (const r of to) {
          if (!r.email) continue;
          const queued = await deps.notifier.notify({
            template: a.template, variables, to: { email: r.email, ...(r.userId ? { userId: r.userId } : {}) }, channels: ['email'],
            key: `${run.key}:${r.userId ?? r.email}`, tenant: run.org, data: { object: run.object, id: run.recordId },
          });
          if (queued.channels.length > 0) sent++;
        }
        return { recipients: sent };
      }
      case 'push_notification': {
        const to = await resolveRecipients(deps.db, run.org, a.recipients, run.record, (r) => deps.model.security.roles.find((x) => x.name === r)?.parent);
        const title = renderTemplate(a.title, scope);
        const body = renderTemplate(a.body, scope);
        const data = { ...a.data, object: run.object, id: run.recordId, ...(a.clickAction ? { clickAction: a.clickAction } : {}) };
        const topic = `automation.${run.rule.name}`;
        // Each recipient's preferences decide, per channel, as for any notification (`automation.*` turns them all off).
        const allowed = (userId: string, channel: 'in_app' | 'push') => isAllowed(deps.store, { userId, tenant: run.org, channel, topic, security: false });
        // Counted: the recipients reached on either channel (in the inbox, or on their devices).
        let sent = 0;
        for (const r of to) {
          if (!r.userId) continue;
          let reached = false;
          if (await allowed(r.userId, 'in_app')) {
            const inApp: InAppJob = { userId: r.userId, tenant: run.org, topic, title, body, data };
            await deps.queue.enqueue(NOTIFY_QUEUES.in_app, inApp, { key: `${run.key}:${r.userId}:in_app`, tenant: run.org });
            reached = true;
          }
          if (deps.push && (await allowed(r.userId, 'push'))) {
            const push: PushJob = { userId: r.userId, tenant: run.org, title, body, data };
            await deps.queue.enqueue(NOTIFY_QUEUES.push, push, { key: `${run.key}:${r.userId}:push`, tenant: run.org });
            reached = true;
          }
          if (reached) sent++;
        }
        return { recipients: sent };
      }
      case 'http_call': {
        const body = a.body === undefined ? '' : renderBody(a.body, scope);
        const url = renderTemplate(a.url, scope, encodeURIComponent);
        const headers = Object.fromEntries(Object.entries(a.headers).map(([k, v]) => [k, renderTemplate(v, scope)]));
        return { status: (await sendOutbound({ url, method: a.method, headers, body, timeoutMs: a.timeoutMs }, run.key, deps.allow)).status };
      }
      case 'connector_action': {
        const connector = deps.model.connectors.find((c) => c.name === a.connectorId)!;
        const values = Object.fromEntries(Object.entries(a.input).map(([k, v]) => [k, typeof v === 'string' ? renderTemplate(v, scope) : v]));
        return { status: (await sendOutbound(connectorRequest(connector, a.actionId, values, scope, deps.env), run.key, deps.allow)).status };
      }
      case 'custom_script': {
        const sandbox = await deps.sandbox();
        // The script sees what the rule's user may read (system: the whole record).
        const record = as.kind === 'user' ? await deps.data.get(run.org, run.object, run.recordId, as) : run.record;
        const result = await sandbox.run({ code: a.code, record: record ?? {}, prior: run.prior, timeoutMs: a.timeout });
        if (Object.keys(result.updates).length > 0) await deps.data.update(run.org, run.object, run.recordId, result.updates, as, effect);
        return { updates: result.updates, logs: result.logs };
      }
    }
  } catch (e) {
    if (e instanceof DataRefusal || e instanceof NotificationInputError) throw new ActionFailure(e.message);
    if (e instanceof Error && e.name === 'ScriptError') throw new ActionFailure(e.message);
    throw e;
  }
}
