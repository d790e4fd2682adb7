/** Spec EventBus priorities, most urgent first. */
export const JOB_PRIORITIES = ['critical', 'high', 'normal', 'low', 'background'] as const;
export type JobPriority = (typeof JOB_PRIORITIES)[number];

/** Where a job is in its life. `dead` is the dead letter: its last attempt failed. */
export const JOB_STATUSES = ['waiting', 'delayed', 'active', 'retrying', 'completed', 'dead', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export interface EnqueueOptions {
  /**
   * Idempotency key (for example an outbox event id plus the action). A second enqueue with the
   * same queue and key, while the first job is kept (completed jobs are kept 7 days), adds nothing.
   */
  key: string;
  /** Run no earlier than this many milliseconds from now. */
  delayMs?: number;
  /** Run no earlier than this time (wins over `delayMs`). */
  runAt?: Date;
  /** @default 'normal' */
  priority?: JobPriority;
  /** Attempts in all, the first included. @default the queue's, else 3 */
  attempts?: number;
  /** First retry delay; each next one doubles, with jitter. @default the queue's, else 1000 */
  backoffMs?: number;
  /** An attempt running longer fails with a timeout. @default the queue's, else 30000 */
  timeoutMs?: number;
  /** The organization the job belongs to (`null`: a system job). Scopes the job monitor. */
  tenant?: string | null;
}

/** What a handler learns of the job it runs. */
export interface JobContext {
  id: string;
  queue: string;
  key: string;
  tenant: string | null;
  /** 1 on the first attempt. */
  attempt: number;
  /** Aborted when the attempt times out or the worker stops. */
  signal: AbortSignal;
}

export type JobHandler<T = unknown> = (data: T, ctx: JobContext) => Promise<unknown>;

export interface HandlerOptions {
  /** Jobs of this queue run at once in one process. @default 4 */
  concurrency?: number;
  /** Defaults for jobs of this queue. */
  attempts?: number;
  backoffMs?: number;
  timeoutMs?: number;
}

/** One job as the monitor shows it. */
export interface JobRun {
  id: string;
  queue: string;
  key: string;
  tenant: string | null;
  status: JobStatus;
  priority: JobPriority;
  /** Attempts started so far. */
  attempts: number;
  maxAttempts: number;
  error: string | null;
  data: unknown;
  createdAt: Date;
  runAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** finishedAt − startedAt of the last attempt, when it finished. */
  durationMs: number | null;
}

export interface QueueCounts {
  queue: string;
  paused: boolean;
  waiting: number;
  active: number;
  delayed: number;
  retrying: number;
  failed: number;
  completed: number;
  cancelled: number;
}

export interface ListOptions {
  queue?: string;
  status?: JobStatus;
  /** `undefined`: every tenant (operators); a string: only that organization's jobs. */
  tenant?: string;
  /** @default 50, at most 500 */
  limit?: number;
}

/** The one queue interface; BullMQ (services mode) and pg-boss (PostgreSQL or PGlite) implement it. */
export interface JobQueue {
  readonly backend: 'bullmq' | 'pg-boss';
  /** Registers the handler of a queue (one per name). Call before `start`; jobs are only accepted for registered queues. */
  register<T>(queue: string, handler: JobHandler<T>, options?: HandlerOptions): void;
  /** Declares a queue this process sends to but does not work (another process has the handler). */
  declare(queue: string, options?: Omit<HandlerOptions, 'concurrency'>): void;
  /** Adds a job; `created: false` when a job with this key already exists. */
  enqueue(queue: string, data: unknown, options: EnqueueOptions): Promise<{ id: string; created: boolean }>;
  /** Starts the workers of the registered queues (`work: false` sends only). */
  start(options?: { work?: boolean }): Promise<void>;
  /** Stops taking jobs and waits up to `graceMs` for running ones. */
  stop(graceMs?: number): Promise<void>;
  getJob(id: string): Promise<JobRun | null>;
  list(options?: ListOptions): Promise<JobRun[]>;
  counts(options?: { tenant?: string }): Promise<QueueCounts[]>;
  /** Runs a job waiting for its next retry now. False when it is not retrying. */
  retry(id: string): Promise<boolean>;
  /** Gives a dead job one more attempt. False when it is not dead. */
  replay(id: string): Promise<boolean>;
  /** Cancels a job that has not started (waiting, delayed or retrying). False otherwise. */
  cancel(id: string): Promise<boolean>;
  pause(queue: string): Promise<void>;
  resume(queue: string): Promise<void>;
  queues(): string[];
}

/** Input the queue refuses; nothing was enqueued. */
export class JobInputError extends Error {
  constructor(
    readonly code: 'UNKNOWN_QUEUE' | 'PAYLOAD_TOO_LARGE' | 'BAD_OPTIONS',
    message: string,
  ) {
    super(message);
    this.name = 'JobInputError';
  }
}

/** An attempt that ran past its timeout. */
export class JobTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`job timed out after ${timeoutMs} ms`);
    this.name = 'JobTimeoutError';
  }
}
