import { connectDatabase, pingDatabase, type Database } from '@objectos/db';
import { definePlugin, OBJECTOS_VERSION, type Plugin } from '@objectos/kernel';
import { createChangeFeed } from '@objectos/events';
import type { JobQueue } from '@objectos/jobs';
import { loadMetadata, type MetadataModel } from '@objectos/metadata';
import { createJobRuntime, deliveryConfigFromEnv, type JobRuntime } from './runtime.ts';

export interface RuntimeFromEnvOptions {
  /**
   * Handlers this process works although it is not the worker (the workflow subgraph's flow queues),
   * added with the database and metadata the runtime opened, before the queue starts.
   */
  register?: (queue: JobQueue, opened: { database: Database; model: MetadataModel }) => void;
}

/**
 * The job runtime of a services-mode process, from its environment: DATABASE_URL, REDIS_URL (BullMQ;
 * without it pg-boss on PostgreSQL), OBJECTOS_SECRET, OBJECTOS_METADATA, OBJECTOS_JOBS_PREFIX, and the
 * delivery settings (SMTP_URL, OBJECTOS_MAIL_FROM, OBJECTOS_WEBHOOK_*, OBJECTOS_VAPID_*, OBJECTOS_SMS_*), and for a worker
 * running workflow rules DATA_URL (the data subgraph) and connector secrets.
 */
export async function runtimeFromEnv(work: boolean, env: NodeJS.ProcessEnv = process.env, options: RuntimeFromEnvOptions = {}): Promise<{ runtime: JobRuntime; database: Database; model: MetadataModel; close(): Promise<void> }> {
  const secret = env['OBJECTOS_SECRET'];
  if (!secret) throw new Error('OBJECTOS_SECRET is required: the gateway signs every request with a key derived from it');
  const databaseUrl = env['DATABASE_URL'];
  if (!databaseUrl) throw new Error('DATABASE_URL is required: jobs, notifications and their effects live in PostgreSQL');
  const model = await loadMetadata(env['OBJECTOS_METADATA'] ?? 'metadata');
  const database = await connectDatabase({ databaseUrl, poolSize: 4 });
  // A worker runs workflow rules: their writes go to the data subgraph (DATA_URL), woken by committed changes.
  const dataUrl = env['DATA_URL'];
  const changeFeed = work && env['REDIS_URL'] ? createChangeFeed(env['REDIS_URL']) : undefined;
  try {
    await changeFeed?.ready;
    const runtime = await createJobRuntime({
      model, database, databaseUrl, secret, work, delivery: deliveryConfigFromEnv(env), env,
      ...(options.register ? { register: (queue: JobQueue) => options.register!(queue, { database, model }) } : {}),
      ...(dataUrl ? { data: { fetch: (r: Request) => fetch(r), url: dataUrl } } : {}), ...(changeFeed ? { changeFeed } : {}),
      ...(env['REDIS_URL'] ? { redisUrl: env['REDIS_URL'] } : {}),
      ...(env['OBJECTOS_JOBS_PREFIX'] ? { prefix: env['OBJECTOS_JOBS_PREFIX'] } : {}),
      ...(env['OBJECTOS_JOBS_LOCK_MS'] ? { lockMs: Number(env['OBJECTOS_JOBS_LOCK_MS']) } : {}),
    });
    return { runtime, database, model, close: async () => { await runtime.stop(); await changeFeed?.close(); await database.close(); } };
  } catch (e) {
    await changeFeed?.close();
    await database.close();
    throw e;
  }
}

/**
 * `jobs` of a services-mode process: the runtime of {@link runtimeFromEnv} as a plugin, registering
 * `jobs` (the runtime), `database` and `model`. Destroyed, it stops its workers after their current
 * job, then closes its connection.
 */
export function jobsFromEnvPlugin(work: boolean, readiness: { register(name: string, check: () => Promise<void>): unknown }, options: RuntimeFromEnvOptions = {}): Plugin {
  let opened: Awaited<ReturnType<typeof runtimeFromEnv>> | null = null;
  return definePlugin({
    name: 'jobs', version: OBJECTOS_VERSION,
    provides: [{ id: 'com.objectos.service.jobs', name: 'jobs', methods: ['send', 'schedule', 'retry', 'replay', 'cancel'] }],
    async start(ctx) {
      opened = await runtimeFromEnv(work, process.env, options);
      const { database } = opened;
      readiness.register('database', () => pingDatabase(database));
      ctx.registerService('jobs', opened.runtime);
      ctx.registerService('database', database);
      ctx.registerService('model', opened.model);
    },
    async healthCheck() {
      const counts = await opened!.runtime.queue.counts({});
      return { checks: [{ name: 'workers', status: 'passed', message: work ? `working ${counts.length} queues (${opened!.runtime.queue.backend})` : 'sends and monitors only' }] };
    },
    destroy: () => opened?.close(),
  });
}
