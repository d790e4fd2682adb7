import type { Database } from '@objectos/db';
import { createBullQueue } from './bullmq-queue.ts';
import { createPgQueue } from './pg-queue.ts';
import type { JobQueue } from './types.ts';

export interface JobQueueConfig {
  /** Set: BullMQ on this Redis (services mode). */
  redisUrl?: string;
  /** The process's database: pg-boss on it when there is no Redis (PGlite when embedded). */
  database: Database;
  /** PostgreSQL connection string, for pg-boss's own pool when the database is PostgreSQL. */
  databaseUrl?: string;
  /** BullMQ key prefix. @default objectos */
  prefix?: string;
  /** Worker hold on a job (BullMQ) / poll interval (pg-boss), for tests that kill workers. */
  lockMs?: number;
  pollMs?: number;
  onError?: (e: unknown) => void;
}

/** The queue a process uses: BullMQ when Redis is configured, else pg-boss on the process's database. */
export async function createJobQueue(config: JobQueueConfig): Promise<JobQueue> {
  const common = config.onError ? { onError: config.onError } : {};
  if (config.redisUrl) return createBullQueue({ redisUrl: config.redisUrl, ...(config.prefix ? { prefix: config.prefix } : {}), ...(config.lockMs ? { lockMs: config.lockMs } : {}), ...common });
  if (config.database.engine === 'pglite') return createPgQueue({ pglite: config.database.pglite!, ...(config.pollMs ? { pollMs: config.pollMs } : {}), ...common });
  if (!config.databaseUrl) throw new Error('a PostgreSQL job queue needs the database URL');
  return createPgQueue({ databaseUrl: config.databaseUrl, ...(config.pollMs ? { pollMs: config.pollMs } : {}), ...common });
}
