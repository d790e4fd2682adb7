import { createHash } from 'node:crypto';
import { JOB_PRIORITIES, JobInputError, JobTimeoutError, type EnqueueOptions, type HandlerOptions, type JobContext, type JobHandler, type JobPriority } from './types.ts';

/** What a job stores: the payload with its key and tenant beside it. */
export interface StoredJob {
  k: string;
  t: string | null;
  p: unknown;
}

export const DEFAULTS = { attempts: 3, backoffMs: 1_000, timeoutMs: 30_000, concurrency: 4 } as const;
/** A job's payload is bounded: queues hold work, not documents. */
export const MAX_PAYLOAD_BYTES = 256 * 1024;
const QUEUE_NAME = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;

/** The job id of (queue, key): a name-based UUID, so the same key always names the same job. */
export function jobIdOf(queue: string, key: string): string {
  const h = createHash('sha1').update(`objectos.job\0${queue}\0${key}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export interface QueueSettings {
  attempts: number;
  backoffMs: number;
  timeoutMs: number;
  concurrency: number;
}

export function settingsOf(options: HandlerOptions = {}): QueueSettings {
  const s = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as QueueSettings;
  checkLimits(s.attempts, s.backoffMs, s.timeoutMs, 'queue');
  if (!Number.isInteger(s.concurrency) || s.concurrency < 1 || s.concurrency > 256) throw new JobInputError('BAD_OPTIONS', `concurrency must be an integer from 1 to 256, got ${s.concurrency}`);
  return s;
}

function checkLimits(attempts: number, backoffMs: number, timeoutMs: number, what: string): void {
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 100) throw new JobInputError('BAD_OPTIONS', `${what} attempts must be an integer from 1 to 100, got ${attempts}`);
  if (!Number.isFinite(backoffMs) || backoffMs < 0 || backoffMs > 86_400_000) throw new JobInputError('BAD_OPTIONS', `${what} backoffMs must be from 0 to 86400000, got ${backoffMs}`);
  if (!Number.isFinite(timeoutMs) || timeoutMs < 10 || timeoutMs > 86_400_000) throw new JobInputError('BAD_OPTIONS', `${what} timeoutMs must be from 10 to 86400000, got ${timeoutMs}`);
}

/** A checked enqueue: the queue is known, the options are in range, the payload fits. */
export interface PreparedJob {
  id: string;
  stored: StoredJob;
  runAt: Date | null;
  priority: JobPriority;
  attempts: number;
  backoffMs: number;
  timeoutMs: number;
}

export function prepare(queue: string, data: unknown, options: EnqueueOptions, known: ReadonlyMap<string, QueueSettings>): PreparedJob {
  const settings = known.get(queue);
  if (!settings)
    throw new JobInputError('UNKNOWN_QUEUE', `no handler is registered for queue "${queue}" (known: ${[...known.keys()].sort().join(', ') || 'none'})`);
  if (typeof options.key !== 'string' || options.key.length === 0 || options.key.length > 512)
    throw new JobInputError('BAD_OPTIONS', `a job needs an idempotency key of 1 to 512 characters (queue "${queue}")`);
  const priority = options.priority ?? 'normal';
  if (!JOB_PRIORITIES.includes(priority)) throw new JobInputError('BAD_OPTIONS', `unknown priority "${String(priority)}" (${JOB_PRIORITIES.join(', ')})`);
  const attempts = options.attempts ?? settings.attempts;
  const backoffMs = options.backoffMs ?? settings.backoffMs;
  const timeoutMs = options.timeoutMs ?? settings.timeoutMs;
  checkLimits(attempts, backoffMs, timeoutMs, 'job');
  if (options.delayMs !== undefined && (!Number.isFinite(options.delayMs) || options.delayMs < 0))
    throw new JobInputError('BAD_OPTIONS', `delayMs must be a non-negative number, got ${options.delayMs}`);
  if (options.runAt !== undefined && !(options.runAt instanceof Date && Number.isFinite(options.runAt.getTime())))
    throw new JobInputError('BAD_OPTIONS', 'runAt must be a valid Date');
  const stored: StoredJob = { k: options.key, t: options.tenant ?? null, p: data ?? null };
  let size: number;
  try {
    size = Buffer.byteLength(JSON.stringify(stored));
  } catch (e) {
    throw new JobInputError('BAD_OPTIONS', `the payload of a "${queue}" job is not JSON: ${(e as Error).message}`);
  }
  if (size > MAX_PAYLOAD_BYTES)
    throw new JobInputError('PAYLOAD_TOO_LARGE', `the payload of a "${queue}" job is ${size} bytes, over the ${MAX_PAYLOAD_BYTES}-byte cap`);
  const runAt = options.runAt ?? (options.delayMs ? new Date(Date.now() + options.delayMs) : null);
  return { id: jobIdOf(queue, options.key), stored, runAt, priority, attempts, backoffMs, timeoutMs };
}

/** The queues one instance knows: declared (sends only) or registered with their handler. */
export interface Registry {
  known: Map<string, QueueSettings>;
  handlers: Map<string, { handler: JobHandler; settings: QueueSettings }>;
  declare(queue: string, options?: HandlerOptions): void;
  register<T>(queue: string, handler: JobHandler<T>, options?: HandlerOptions): void;
}

export function createRegistry(): Registry {
  const known = new Map<string, QueueSettings>();
  const handlers = new Map<string, { handler: JobHandler; settings: QueueSettings }>();
  const declare = (queue: string, options: HandlerOptions = {}) => {
    checkQueueName(queue);
    known.set(queue, settingsOf(options));
  };
  return {
    known, handlers, declare,
    register(queue, handler, options = {}) {
      declare(queue, options);
      handlers.set(queue, { handler: handler as JobHandler, settings: known.get(queue)! });
    },
  };
}

export function checkQueueName(queue: string): void {
  if (!QUEUE_NAME.test(queue) || queue.length > 100)
    throw new JobInputError('BAD_OPTIONS', `queue name "${queue}" must be lower-case words joined by dots or underscores (e.g. notify.email)`);
}

/** The attempts running in one queue instance: each gets its own signal, all aborted when the worker stops. */
export interface Attempts {
  /**
   * Runs one attempt: the handler gets a signal that aborts at the timeout or at `abortAll`, and the
   * attempt fails with {@link JobTimeoutError} at the timeout even if the handler ignores it.
   */
  run(handler: JobHandler, stored: StoredJob, ctx: Omit<JobContext, 'signal' | 'key' | 'tenant'>, timeoutMs: number): Promise<unknown>;
  abortAll(reason: Error): void;
}

export function createAttempts(): Attempts {
  // Attempts in flight, each with its abort; a set rather than a listener per attempt on one shared signal.
  const running = new Set<(reason: Error) => void>();
  return {
    run(handler, stored, ctx, timeoutMs) {
      // The controller is made only when the handler reads its signal (most never do: an AbortController per
      // job is a measurable share of a no-op job's cost); an abort before that is remembered and replayed.
      let controller: AbortController | undefined;
      let reason: Error | undefined;
      const abort = (e: Error) => {
        reason ??= e;
        controller?.abort(e);
      };
      const context: JobContext = {
        ...ctx, key: stored.k, tenant: stored.t,
        get signal() {
          if (!controller) {
            controller = new AbortController();
            if (reason) controller.abort(reason);
          }
          return controller.signal;
        },
      };
      running.add(abort);
      return new Promise<unknown>((resolve, reject) => {
        const timer = setTimeout(() => {
          // Rejected before the abort, so a handler that settles on its signal cannot win the race.
          const e = new JobTimeoutError(timeoutMs);
          settle();
          reject(e);
          abort(e);
        }, timeoutMs);
        const settle = () => {
          clearTimeout(timer);
          running.delete(abort);
        };
        let result: Promise<unknown>;
        try {
          result = handler(stored.p, context);
        } catch (e) {
          result = Promise.reject(e);
        }
        Promise.resolve(result).then((v) => (settle(), resolve(v)), (e: unknown) => (settle(), reject(e)));
      });
    },
    abortAll(reason) {
      for (const abort of running) abort(reason);
    },
  };
}

/** A failure's message as stored: one line, bounded. */
export function errorText(e: unknown): string {
  const text = e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
  return text.replace(/\s+/g, ' ').slice(0, 1_000);
}
