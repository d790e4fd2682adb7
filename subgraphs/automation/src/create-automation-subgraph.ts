import { buildSubgraphSchema, type GraphQLResolverMap } from '@apollo/subgraph';
import { parse, type GraphQLSchema } from 'graphql';
import { createYoga, Repeater } from 'graphql-yoga';
import type { Database } from '@objectos/db';
import { auditEvent, recordAuditEvents } from '@objectos/events';
import type { JobRun, JobStatus } from '@objectos/jobs';
import {
  CHANNELS, getPreferences, listInbox, markRead, NotificationInputError, savePushSubscription, setPreference, type Channel, type InboxItem,
} from '@objectos/notifications';
import { createLogger, useCorrelatedErrors, type Logger } from '@objectos/observability';
import { audienceKey, createMemoryReplayStore, principalOf, usePrincipalGuard, type Principal, type ReplayStore } from '@objectos/principal';
import { AUTOMATION_SDL, automationEntitySdl, guardEntityTypes, renameSdl, scalarResolvers, type CompiledSchema } from '@objectos/schema';
import { automationError, jobScope, notificationOwner, requireOperator, visibleRun } from './job-access.ts';
import type { JobRuntime } from './runtime.ts';
import { ruleResolvers } from './rule-resolvers.ts';

export interface AutomationSubgraphOptions {
  /** OBJECTOS_SECRET: requests must carry a principal signed with the key derived from it. */
  secret: string;
  database: Database;
  /** The same compiled metadata as the data subgraph (system permissions, name prefix). */
  compiled: CompiledSchema;
  /** This process's queue and notifications (started by the caller). */
  runtime: JobRuntime;
  replay?: ReplayStore;
  logger?: Logger;
}

export interface AutomationSubgraph {
  name: 'automation';
  sdl: string;
  schema: GraphQLSchema;
  fetch: (request: Request) => Promise<Response>;
}

interface Ctx {
  principal: Principal;
}

const STATUS_OUT = (s: JobStatus) => s.toUpperCase();
const STATUS_IN = (s: string | null | undefined): JobStatus | undefined => (s ? (s.toLowerCase() as JobStatus) : undefined);
const channelIn = (c: string): Channel => {
  const v = c.toLowerCase() as Channel;
  if (!CHANNELS.includes(v)) throw automationError('BAD_USER_INPUT', `unknown channel ${c}`);
  return v;
};
const runOut = (r: JobRun) => ({ ...r, tenantId: r.tenant, status: STATUS_OUT(r.status), priority: r.priority.toUpperCase() });
const itemOut = (i: InboxItem) => ({ ...i, data: i.data ?? null });
const bounded = (n: number | null | undefined, max: number, what: string): number => {
  const v = n ?? 50;
  if (!Number.isInteger(v) || v < 1 || v > max) throw automationError('BAD_USER_INPUT', `${what}: must be from 1 to ${max}, got ${v}`);
  return v;
};

/** Notification store errors are the caller's mistakes: named, with their code. */
async function userInput<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof NotificationInputError) throw automationError('BAD_USER_INPUT', e.message);
    throw e;
  }
}

/**
 * The automation subgraph: the job monitor (queues, runs, dead letters, retry, replay, cancel, pause)
 * behind `viewJobs`/`manageJobs` and the tenant wall, and each user's notifications (inbox, read marks,
 * preferences, push subscriptions, the live `notificationReceived` stream).
 */
export function createAutomationSubgraph(o: AutomationSubgraphOptions): AutomationSubgraph {
  const { queue, inApp } = o.runtime;
  const compiled = o.compiled;
  const logger = o.logger ?? createLogger('automation');
  const key = audienceKey(o.secret, 'automation');
  const names = compiled.inflection;
  const F = (n: string) => names.sharedField(n);
  const sdl = (compiled.namePrefix ? renameSdl(AUTOMATION_SDL, names) : AUTOMATION_SDL) + automationEntitySdl(compiled.plan, compiled.model, names);
  const queueOut = async (name: string, tenant?: string) => {
    const c = (await queue.counts(tenant === undefined ? {} : { tenant })).find((q) => q.queue === name);
    if (!c) throw automationError('NOT_FOUND', `No job queue "${name}" (queues: ${queue.queues().join(', ')})`);
    const { queue: n, ...counts } = c;
    return { name: n, ...counts };
  };

  const rules = ruleResolvers({ compiled, database: o.database, queue, F });
  const resolvers = {
    ...scalarResolvers,
    ...rules.entities,
    Query: {
      ...rules.Query,
      [F('jobQueues')]: async (_: unknown, __: unknown, ctx: Ctx) => {
        const scope = jobScope(compiled, ctx.principal, 'viewJobs');
        return (await queue.counts(scope.all ? {} : { tenant: scope.tenant })).map(({ queue: name, ...c }) => ({ name, ...c }));
      },
      [F('jobRuns')]: async (_: unknown, a: { queue?: string | null; status?: string | null; first?: number | null }, ctx: Ctx) => {
        const scope = jobScope(compiled, ctx.principal, 'viewJobs');
        const status = STATUS_IN(a.status);
        const runs = await queue.list({ ...(a.queue ? { queue: a.queue } : {}), ...(status ? { status } : {}), ...(scope.all ? {} : { tenant: scope.tenant }), limit: bounded(a.first, 500, 'first') });
        return runs.map(runOut);
      },
      [F('jobRun')]: async (_: unknown, a: { id: string }, ctx: Ctx) => {
        const scope = jobScope(compiled, ctx.principal, 'viewJobs');
        const run = await queue.getJob(a.id);
        return run && (scope.all || run.tenant === scope.tenant) ? runOut(run) : null;
      },
      [F('deadLetters')]: async (_: unknown, a: { queue?: string | null; first?: number | null }, ctx: Ctx) => {
        const scope = jobScope(compiled, ctx.principal, 'viewJobs');
        return (await queue.list({ ...(a.queue ? { queue: a.queue } : {}), status: 'dead', ...(scope.all ? {} : { tenant: scope.tenant }), limit: bounded(a.first, 500, 'first') })).map(runOut);
      },
      [F('jobSchedules')]: (_: unknown, __: unknown, ctx: Ctx) => {
        jobScope(compiled, ctx.principal, 'viewJobs');
        const next = new Map((o.runtime.scheduler?.next() ?? []).map((n) => [n.job, n.at]));
        return compiled.model.jobs.map((j) => ({
          name: j.name, handler: j.handler, type: j.schedule.type, enabled: j.enabled, nextRunAt: next.get(j.name) ?? null,
          expression: j.schedule.type === 'cron' ? j.schedule.expression : null, timezone: j.schedule.type === 'cron' ? j.schedule.timezone : null,
          intervalMs: j.schedule.type === 'interval' ? j.schedule.intervalMs : null, at: j.schedule.type === 'once' ? new Date(j.schedule.at) : null,
        }));
      },
      [F('myNotifications')]: async (_: unknown, a: { unreadOnly?: boolean | null; first?: number | null; after?: string | null }, ctx: Ctx) => {
        const owner = notificationOwner(ctx.principal);
        const page = await userInput(() => listInbox(o.database, { ...owner, unreadOnly: Boolean(a.unreadOnly), first: bounded(a.first ?? 20, 100, 'first'), ...(a.after ? { after: a.after } : {}) }));
        return { nodes: page.items.map(itemOut), endCursor: page.endCursor, hasNextPage: page.hasNextPage };
      },
      [F('notificationPreferences')]: async (_: unknown, __: unknown, ctx: Ctx) =>
        (await getPreferences(o.database, notificationOwner(ctx.principal))).map((p) => ({ ...p, channel: p.channel.toUpperCase() })),
    },
    Mutation: {
      ...rules.Mutation,
      [F('retryJob')]: async (_: unknown, a: { id: string }, ctx: Ctx) => {
        const scope = jobScope(compiled, ctx.principal, 'manageJobs');
        const run = visibleRun(scope, await queue.getJob(a.id), a.id);
        if (!(await queue.retry(a.id))) throw automationError('BAD_USER_INPUT', `Job ${a.id} is ${run.status}, not waiting for a retry`);
        return runOut((await queue.getJob(a.id))!);
      },
      [F('replayDeadLetter')]: async (_: unknown, a: { id: string }, ctx: Ctx) => {
        const scope = jobScope(compiled, ctx.principal, 'manageJobs');
        const run = visibleRun(scope, await queue.getJob(a.id), a.id);
        if (!(await queue.replay(a.id))) throw automationError('BAD_USER_INPUT', `Job ${a.id} is ${run.status}, not a dead letter`);
        // In the trail: who ran a failed job again (its effects happen once more).
        await recordAuditEvents(o.database.db, [auditEvent({
          eventType: 'job.replayed', actor: { type: ctx.principal.kind === 'api_key' ? 'api_client' : 'user', id: ctx.principal.userId },
          target: { type: 'job_run', id: a.id }, tenantId: run.tenant ?? ctx.principal.organizationId, description: `dead letter replayed (${run.queue})`,
          details: { queue: run.queue, key: run.key, attempts: run.attempts },
        })]);
        logger.info({ job: a.id, queue: run.queue, by: ctx.principal.userId }, 'dead letter replayed');
        return runOut((await queue.getJob(a.id))!);
      },
      [F('cancelJob')]: async (_: unknown, a: { id: string }, ctx: Ctx) => {
        const scope = jobScope(compiled, ctx.principal, 'manageJobs');
        const run = visibleRun(scope, await queue.getJob(a.id), a.id);
        if (!(await queue.cancel(a.id))) throw automationError('BAD_USER_INPUT', `Job ${a.id} is ${run.status}: only a job that has not started can be cancelled`);
        return runOut((await queue.getJob(a.id))!);
      },
      [F('pauseQueue')]: async (_: unknown, a: { queue: string }, ctx: Ctx) => {
        requireOperator(ctx.principal, 'Pausing a queue');
        if (!queue.queues().includes(a.queue)) throw automationError('NOT_FOUND', `No job queue "${a.queue}"`);
        await queue.pause(a.queue);
        return queueOut(a.queue);
      },
      [F('resumeQueue')]: async (_: unknown, a: { queue: string }, ctx: Ctx) => {
        requireOperator(ctx.principal, 'Resuming a queue');
        if (!queue.queues().includes(a.queue)) throw automationError('NOT_FOUND', `No job queue "${a.queue}"`);
        await queue.resume(a.queue);
        return queueOut(a.queue);
      },
      [F('markNotificationRead')]: (_: unknown, a: { id: string }, ctx: Ctx) =>
        userInput(() => markRead(o.database, { ...notificationOwner(ctx.principal), id: a.id })),
      [F('setNotificationPreference')]: async (_: unknown, a: { channel: string; topic: string; enabled: boolean }, ctx: Ctx) => {
        const channel = channelIn(a.channel);
        await userInput(() => setPreference(o.database, { ...notificationOwner(ctx.principal), channel, topic: a.topic, enabled: a.enabled }));
        return { channel: channel.toUpperCase(), topic: a.topic, enabled: a.enabled };
      },
      [F('registerPushSubscription')]: async (_: unknown, a: { input: { endpoint: string; p256dh: string; auth: string } }, ctx: Ctx) => {
        const owner = notificationOwner(ctx.principal);
        await userInput(() => savePushSubscription(o.database, { ...owner, subscription: { endpoint: a.input.endpoint, keys: { p256dh: a.input.p256dh, auth: a.input.auth } } }));
        return true;
      },
    },
    Subscription: {
      [F('notificationReceived')]: {
        subscribe: (_: unknown, __: unknown, ctx: Ctx) => {
          const owner = notificationOwner(ctx.principal);
          return new Repeater<{ [k: string]: unknown }>(async (push, stop) => {
            const off = inApp.subscribe((item) => {
              if (item.userId === owner.userId && (item.tenant ?? null) === owner.tenant)
                void push({ [F('notificationReceived')]: itemOut({ ...item, createdAt: new Date(item.createdAt), readAt: item.readAt && new Date(item.readAt) }) });
            });
            await stop;
            off();
          });
        },
      },
    },
  } as unknown as GraphQLResolverMap<Ctx>;

  const schema = guardEntityTypes(buildSubgraphSchema([{ typeDefs: parse(sdl), resolvers }]));
  const yoga = createYoga<Record<string, unknown>, Ctx>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: false,
    landingPage: false,
    maskedErrors: false,
    maxRequestBodySize: false,
    plugins: [usePrincipalGuard({ key, audience: 'automation', replay: o.replay ?? createMemoryReplayStore() }), useCorrelatedErrors({ logger })],
    context: ({ request }) => ({ principal: principalOf(request) }),
  });
  return {
    name: 'automation',
    sdl,
    schema,
    async fetch(request) {
      const url = new URL(request.url);
      if (url.pathname === '/graphql') return yoga.fetch(request);
      if (url.pathname === '/health' && request.method === 'GET') return new Response(null, { status: 200 });
      return Response.json({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${url.pathname}` } }, { status: 404 });
    },
  };
}
