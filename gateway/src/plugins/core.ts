import type { Database } from '@objectos/db';
import type { ChangeFeed } from '@objectos/events';
import { OBJECTOS_VERSION, pluginManifest, type Plugin } from '@objectos/kernel';
import { createJobRuntime, type JobRuntime, type JobRuntimeOptions } from '@objectos/automation-subgraph';
import type { JobQueue } from '@objectos/jobs';

export { OBJECTOS_VERSION };

/** What another plugin adds to the queue before it starts (its handlers), at its `init`. */
export type QueueRegistrar = (queue: JobQueue) => void;

/**
 * `jobs`: the queue (pg-boss on PostgreSQL/PGlite, BullMQ with Redis), schedules, workflow rules' workers.
 * Plugins that work jobs of their own (workflow: flows, escalations) add a registrar at their `init`:
 * handlers are known before the queue starts.
 */
export function jobsPlugin(options: Omit<JobRuntimeOptions, 'database' | 'changeFeed' | 'register'>): Plugin {
  let jobs: JobRuntime | null = null;
  const registrars: QueueRegistrar[] = [];
  return {
    name: 'jobs',
    version: OBJECTOS_VERSION,
    manifest: pluginManifest({
      name: 'jobs', version: OBJECTOS_VERSION, requires: ['database', 'realtime'],
      provides: [{ id: 'com.objectos.service.jobs', name: 'jobs', methods: ['send', 'schedule', 'retry', 'replay', 'cancel'] }],
    }),
    init(ctx) {
      ctx.registerService('jobs.registrars', registrars);
    },
    async start(ctx) {
      jobs = await createJobRuntime({
        ...options,
        database: ctx.getService<Database>('database'),
        changeFeed: ctx.getService<ChangeFeed>('changeFeed'),
        ...(registrars.length ? { register: (queue: JobQueue) => registrars.forEach((r) => r(queue)) } : {}),
      });
      ctx.registerService('jobs', jobs);
    },
    async healthCheck() {
      const counts = await jobs!.queue.counts({});
      const dead = counts.reduce((n, c) => n + c.failed, 0);
      const retrying = counts.reduce((n, c) => n + c.retrying, 0);
      return {
        checks: [
          // Configuration and normal operation are reported, not warned about: a warning makes the process degraded.
          { name: 'workers', status: 'passed', message: options.work ? `working ${counts.length} queues` : 'OBJECTOS_JOBS=off: jobs are only sent from this process' },
          { name: 'queues', status: 'passed', message: `${dead} dead letters, ${retrying} jobs waiting for a retry` },
        ],
      };
    },
    destroy: () => jobs?.stop(),
  };
}

/** `notifications`: mail, push, SMS and in-app delivery (worked by the jobs plugin's queue). */
export function notificationsPlugin(delivery: JobRuntimeOptions['delivery']): Plugin {
  return {
    name: 'notifications',
    version: OBJECTOS_VERSION,
    manifest: pluginManifest({
      name: 'notifications', version: OBJECTOS_VERSION, requires: ['jobs'],
      provides: [{ id: 'com.objectos.service.notifier', name: 'notifier', methods: ['notify'], events: ['notification.sent'] }],
      security: {
        trustLevel: 'verified',
        permissions: {
          permissions: [
            { resource: 'network.smtp', actions: ['send'], scope: 'SMTP_URL', description: 'mail (verification, reset, alerts)' },
            { resource: 'network.http', actions: ['send'], scope: 'push services and OBJECTOS_SMS_URL', description: 'web push and SMS' },
          ],
          defaultGrant: 'deny',
        },
        sandbox: { enabled: false, level: 'none', description: 'runs no user code' },
      },
    }),
    start(ctx) {
      ctx.registerService('notifier', ctx.getService<JobRuntime>('jobs').notifier);
    },
    healthCheck: () => ({
      checks: [
        { name: 'email', status: 'passed', message: delivery?.smtpUrl ? 'SMTP' : 'no SMTP_URL: mail is written to the log (development)' },
        { name: 'push', status: 'passed', message: delivery?.vapid ? 'web push configured' : 'in-app only' },
        { name: 'sms', status: 'passed', message: delivery?.sms ? 'configured' : 'not configured' },
      ],
    }),
  };
}
