import { Cron } from 'croner';
import { MetadataError, type JobModel, type JobSchedule } from '@objectos/metadata';
import type { JobQueue } from './types.ts';
import { createLogger } from '@objectos/observability/logger';

/** Errors of background work (no caller to throw to) go to the log. */
const log = createLogger('scheduler');

/** The tick after `from` (exclusive), or null when there is none (a `once` already past). */
export function nextTick(schedule: JobSchedule, from: Date): Date | null {
  switch (schedule.type) {
    case 'cron':
      return new Cron(schedule.expression, { timezone: schedule.timezone, paused: true }).nextRun(from);
    case 'interval':
      // Ticks sit on multiples of the interval since the epoch, so every replica computes the same ones.
      return new Date((Math.floor(from.getTime() / schedule.intervalMs) + 1) * schedule.intervalMs);
    case 'once': {
      const at = new Date(schedule.at);
      return at > from ? at : null;
    }
  }
}

/** The idempotency key of one tick: every replica enqueueing it adds one job between them. */
export const tickKey = (job: string, tick: Date) => `schedule:${job}:${tick.toISOString()}`;

export interface Scheduler {
  start(): void;
  stop(): void;
  /** The next tick of each enabled job, for the monitor. */
  next(): { job: string; at: Date | null }[];
}

/**
 * Fires metadata jobs (`*.job.yaml`) on their schedules. Each replica running a scheduler enqueues
 * each tick under the tick's key, so a tick becomes exactly one job however many replicas run.
 * A tick missed while no replica ran is not made up, except a `once` job up to a week late (its key
 * still tells whether it already ran). An unknown handler is a located metadata error, before anything starts.
 */
export function createScheduler(queue: JobQueue, jobs: readonly JobModel[], options: { onError?: (e: unknown) => void } = {}): Scheduler {
  const known = new Set(queue.queues());
  const unknown = jobs.filter((j) => !known.has(j.handler));
  if (unknown.length > 0)
    throw new MetadataError(unknown.map((j) => ({
      file: j.source, ...j.handlerAt, path: 'handler',
      message: `unknown job handler "${j.handler}" (registered: ${[...known].sort().join(', ') || 'none'})`,
    })));
  const onError = options.onError ?? ((e: unknown) => log.error({ err: e }, 'scheduler error'));
  const enabled = jobs.filter((j) => j.enabled);
  const upcoming = new Map<string, Date | null>();
  let timer: NodeJS.Timeout | undefined;

  async function fire(job: JobModel, tick: Date): Promise<void> {
    await queue.enqueue(job.handler, job.data, {
      key: tickKey(job.name, tick), runAt: tick, attempts: job.retryPolicy.maxRetries + 1,
      backoffMs: job.retryPolicy.backoffMs, timeoutMs: job.timeout,
    });
  }

  async function poll(): Promise<void> {
    const now = new Date();
    for (const job of enabled) {
      let tick = upcoming.get(job.name);
      // Enqueued up to a second early with runAt = the tick, so a job starts on its tick, not a poll later.
      while (tick && tick.getTime() - 1_000 <= now.getTime()) {
        await fire(job, tick).catch(onError);
        tick = nextTick(job.schedule, tick);
      }
      upcoming.set(job.name, tick ?? null);
    }
  }

  return {
    start() {
      const now = new Date();
      for (const job of enabled) {
        const s = job.schedule;
        // A `once` missed while nothing ran fires late, within the week its key is remembered (queues keep jobs 7 days).
        const late = s.type === 'once' && new Date(s.at) <= now && now.getTime() - new Date(s.at).getTime() < 7 * 86_400_000;
        upcoming.set(job.name, late ? new Date(s.at) : nextTick(s, now));
      }
      const loop = () => {
        void poll().finally(() => {
          if (timer !== undefined) timer = setTimeout(loop, 250);
        });
      };
      timer = setTimeout(loop, 0);
    },
    stop() {
      clearTimeout(timer);
      timer = undefined;
    },
    next: () => enabled.map((j) => ({ job: j.name, at: upcoming.get(j.name) ?? null })),
  };
}
