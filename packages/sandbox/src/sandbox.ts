import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import {
  DEFAULT_MEMORY_BYTES,
  formatBytes,
  MAX_MEMORY_BYTES,
  MAX_TIMEOUT_MS,
  MIN_MEMORY_BYTES,
  ScriptError,
  type RunReply,
  type RunRequest,
  type Sandbox,
  type SandboxOptions,
  type SandboxStats,
  type ScriptInput,
  type ScriptResult,
  type WorkerMessage,
} from './types.ts';

/**
 * The host side: a pool of worker threads (worker.ts), each running one script at a time in QuickJS (engine.ts).
 * Why threads: QuickJS only checks its deadline between bytecodes, so a script looping over a slow builtin
 * (`while (true) big.indexOf(x)`) would hold the caller's thread for many times its limit; here the caller's event
 * loop never runs user code, and a worker whose reply is GRACE_MS late is terminated (TIMEOUT) and replaced.
 * A worker also gets the deep native stack QuickJS needs (see engine.ts).
 */
const WORKER_URL = new URL('./worker-entry.mjs', import.meta.url);
/** After timeoutMs, how long to wait for the worker's own TIMEOUT before terminating it. */
const GRACE_MS = 250;
const WORKER_STACK_MB = 32;
/** The worker's JS heap (script memory is wasm memory, bounded per run; this holds copies crossing the boundary). */
const WORKER_HEAP_MB = 256;
const MAX_WORKERS = 64;
/** A worker that fails to start this many times in a row stays down until the next run() asks for it. */
const MAX_START_FAILURES = 3;

interface Job {
  request: RunRequest;
  resolve: (result: ScriptResult) => void;
  reject: (error: Error) => void;
  startedAt: number;
  timer: NodeJS.Timeout | undefined;
}

interface Slot {
  worker: Worker | undefined;
  ready: boolean;
  job: Job | undefined;
  startFailures: number;
  lastError: string;
}

class WorkerPool implements Sandbox {
  private readonly slots: Slot[];
  private readonly queue: Job[] = [];
  private readonly counters: SandboxStats = { runs: 0, hardKills: 0, restarts: 0, engineFaults: 0 };
  private closed = false;
  private nextId = 1;

  constructor(size: number) {
    this.slots = Array.from({ length: size }, () => ({ worker: undefined, ready: false, job: undefined, startFailures: 0, lastError: '' }));
  }

  async start(): Promise<void> {
    await Promise.all(this.slots.map((slot) => this.spawn(slot, false)));
  }

  async run(input: ScriptInput): Promise<ScriptResult> {
    if (this.closed) throw new Error('the sandbox is closed');
    const request = this.prepare(input);
    const chars = request.code.length + request.recordJson.length + (request.priorJson?.length ?? 0);
    if (chars * 4 > request.memoryBytes) {
      throw new ScriptError('MEMORY', `the script and its record (${formatBytes(chars * 2)}) do not fit its ${formatBytes(request.memoryBytes)} memory limit`);
    }
    return new Promise<ScriptResult>((resolve, reject) => {
      this.queue.push({ request, resolve, reject, startedAt: 0, timer: undefined });
      this.revive();
      this.pump();
    });
  }

  stats(): SandboxStats {
    return { ...this.counters };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const closedError = () => new Error('the sandbox is closed');
    for (const job of this.queue.splice(0)) job.reject(closedError());
    for (const slot of this.slots) {
      const { worker, job } = slot;
      Object.assign(slot, { worker: undefined, ready: false, job: undefined });
      if (job) {
        clearTimeout(job.timer);
        job.reject(closedError());
      }
      void worker?.terminate();
    }
  }

  private prepare(input: ScriptInput): RunRequest {
    if (typeof input.code !== 'string') throw new TypeError('code must be a string');
    const timeoutMs = input.timeoutMs;
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0 && timeoutMs <= MAX_TIMEOUT_MS)) throw new RangeError(`timeoutMs must be a number in (0, ${MAX_TIMEOUT_MS}]`);
    const memoryBytes = input.memoryBytes ?? DEFAULT_MEMORY_BYTES;
    if (!Number.isInteger(memoryBytes) || memoryBytes < MIN_MEMORY_BYTES || memoryBytes > MAX_MEMORY_BYTES) {
      throw new RangeError(`memoryBytes must be an integer from ${formatBytes(MIN_MEMORY_BYTES)} to ${formatBytes(MAX_MEMORY_BYTES)}`);
    }
    const priorJson = input.prior === undefined || input.prior === null ? null : toJson(input.prior, 'prior');
    return { id: this.nextId++, code: input.code, recordJson: toJson(input.record, 'record'), priorJson, timeoutMs, memoryBytes };
  }

  private spawn(slot: Slot, restart: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const worker = new Worker(WORKER_URL, { resourceLimits: { stackSizeMb: WORKER_STACK_MB, maxOldGenerationSizeMb: WORKER_HEAP_MB } });
      Object.assign(slot, { worker, ready: false });
      if (restart) this.counters.restarts++;
      this.updateRefs();
      let failure = '';
      let outOfMemory = false;
      worker.on('message', (message: WorkerMessage) => {
        if (slot.worker !== worker) return; // a late message from a worker already replaced
        if (message.type === 'reply') return this.answer(slot, message.reply);
        Object.assign(slot, { ready: true, startFailures: 0 });
        resolve();
        this.pump(); // also unrefs the idle worker
      });
      worker.on('error', (error: Error) => {
        failure = `${error.name}: ${error.message}`;
        outOfMemory ||= 'code' in error && error.code === 'ERR_WORKER_OUT_OF_MEMORY';
      });
      worker.on('exit', (exitCode: number) => {
        if (slot.worker !== worker) return; // terminated on purpose (hard kill, close): already handled
        const { ready, job } = slot;
        Object.assign(slot, { worker: undefined, ready: false, job: undefined });
        if (job) {
          clearTimeout(job.timer);
          this.counters.runs++;
          job.reject(outOfMemory
            ? new ScriptError('MEMORY', `the script exceeded its ${formatBytes(job.request.memoryBytes)} memory limit (the sandbox worker ran out of heap)`)
            : new ScriptError('SCRIPT_ERROR', `the sandbox worker stopped while running the script (${failure || `exit code ${exitCode}`})`));
        }
        if (!ready) {
          slot.startFailures++;
          slot.lastError = failure || `exit code ${exitCode}`;
          reject(new Error(`the sandbox worker did not start: ${slot.lastError}`));
        }
        if (this.closed) return;
        if (slot.startFailures < MAX_START_FAILURES) this.spawn(slot, true).catch(() => {});
        else this.failIfAllDown();
      });
    });
  }

  /** The reply is late: the script is stuck in a builtin that never polls for interrupts. */
  private overrun(slot: Slot, job: Job): void {
    if (slot.job !== job) return;
    const worker = slot.worker;
    Object.assign(slot, { worker: undefined, ready: false, job: undefined });
    this.counters.hardKills++;
    this.counters.runs++;
    job.reject(new ScriptError('TIMEOUT', `the script ran past its ${job.request.timeoutMs} ms limit (stopped by terminating its worker)`));
    void worker?.terminate();
    if (!this.closed) this.spawn(slot, true).catch(() => {});
  }

  private answer(slot: Slot, reply: RunReply): void {
    const job = slot.job;
    if (job === undefined || job.request.id !== reply.id) return;
    clearTimeout(job.timer);
    slot.job = undefined;
    this.counters.runs++;
    if (reply.fault !== undefined) this.counters.engineFaults++;
    if (reply.ok) job.resolve({ updates: reply.updates, logs: reply.logs, durationMs: performance.now() - job.startedAt });
    else job.reject(new ScriptError(reply.code, reply.message, reply.logs));
    this.pump();
  }

  private pump(): void {
    for (;;) {
      const slot = this.slots.find((s) => s.ready && s.worker !== undefined && s.job === undefined);
      const job = slot === undefined ? undefined : this.queue.shift();
      if (slot === undefined || job === undefined) break;
      slot.job = job;
      job.startedAt = performance.now();
      job.timer = setTimeout(() => this.overrun(slot, job), job.request.timeoutMs + GRACE_MS);
      slot.worker!.postMessage(job.request);
    }
    this.updateRefs();
  }

  /** Slots that gave up starting get another chance when work arrives. */
  private revive(): void {
    for (const slot of this.slots) {
      if (slot.worker !== undefined || slot.startFailures < MAX_START_FAILURES) continue;
      slot.startFailures = 0;
      this.spawn(slot, true).catch(() => {});
    }
  }

  private failIfAllDown(): void {
    if (this.slots.some((s) => s.worker !== undefined)) return;
    const error = new Error(`the sandbox workers cannot start: ${this.slots[0]?.lastError ?? 'unknown error'}`);
    for (const job of this.queue.splice(0)) job.reject(error);
  }

  /** Workers keep the process alive only while starting or working (a forgotten sandbox does not hold it open). */
  private updateRefs(): void {
    const busy = this.queue.length > 0;
    for (const slot of this.slots) {
      if (busy || !slot.ready || slot.job !== undefined) slot.worker?.ref();
      else slot.worker?.unref();
    }
  }
}

function toJson(value: unknown, what: string): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError(`${what} must be a plain object`);
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw new TypeError(`${what} must be JSON-serialisable (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** Starts the worker(s) and loads QuickJS in each (once per worker); resolves when all are ready. */
export async function createSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const size = options.workers ?? 1;
  if (!Number.isInteger(size) || size < 1 || size > MAX_WORKERS) throw new RangeError(`workers must be an integer from 1 to ${MAX_WORKERS}`);
  const pool = new WorkerPool(size);
  try {
    await pool.start();
  } catch (error) {
    pool.close();
    throw error;
  }
  return pool;
}
