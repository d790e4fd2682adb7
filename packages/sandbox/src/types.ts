export const MiB = 1024 * 1024;
/** Memory a run may use when `memoryBytes` is not given. */
export const DEFAULT_MEMORY_BYTES = 32 * MiB;
/** Bounds on `memoryBytes`. Below ~10 MiB the engine's fixed 16 MiB wasm minimum is the real bound (see engine.ts). */
export const MIN_MEMORY_BYTES = 1 * MiB;
export const MAX_MEMORY_BYTES = 1024 * MiB;
export const MAX_TIMEOUT_MS = 2_000_000_000;
/** Caps on what a script hands back. */
export const MAX_LOG_LINES = 100;
export const MAX_LOG_LINE_CHARS = 1000;
export const MAX_UPDATES_BYTES = 256 * 1024;

export interface ScriptInput {
  /**
   * The script body (strict mode, inside an async function: top-level `return` and `await` work; the return value
   * is ignored). It sees `record` and `prior` (deep-frozen copies, or `prior` null) and `ctx` (`update`, `log`).
   */
  code: string;
  /** The readable fields; must be JSON-serialisable. */
  record: Record<string, unknown>;
  prior?: Record<string, unknown> | null;
  /** Wall-clock limit from the moment a sandbox worker takes the run (queueing for a busy worker not counted). */
  timeoutMs: number;
  /** @default 32 MiB */
  memoryBytes?: number;
}

export interface ScriptResult {
  /** What `ctx.update(field, value)` / `ctx.update({ field: value })` asked for; later calls win. JSON values only. */
  updates: Record<string, unknown>;
  /** `ctx.log(...)` lines: at most 100, each at most 1000 characters. */
  logs: string[];
  /** From handing the run to a worker to its result, as the caller sees it. */
  durationMs: number;
}

export type ScriptErrorCode = 'TIMEOUT' | 'MEMORY' | 'SCRIPT_ERROR' | 'BAD_RESULT';

/** The script failed; `message` says how. Input the caller got wrong (not JSON, bad limits) is a TypeError/RangeError instead. */
export class ScriptError extends Error {
  constructor(
    readonly code: ScriptErrorCode,
    message: string,
    /** The lines the script logged before it failed, when they could still be read. */
    readonly logs: string[] = [],
  ) {
    super(message);
    this.name = 'ScriptError';
  }
}

export interface SandboxOptions {
  /** Worker threads, each running one script at a time. @default 1 */
  workers?: number;
}

export interface SandboxStats {
  /** Runs answered (any outcome). */
  runs: number;
  /** Workers terminated because a script overran its limit inside a builtin that never polls for interrupts. */
  hardKills: number;
  /** Workers started after the first ones (after hard kills or crashes). */
  restarts: number;
  /**
   * Host-level failures inside the engine (a QuickJS abort such as a leaked-handle assertion, a wasm trap, a host
   * stack overflow). The worker then discards its QuickJS module and loads a fresh one. Expected to stay 0.
   */
  engineFaults: number;
}

export interface Sandbox {
  run(input: ScriptInput): Promise<ScriptResult>;
  stats(): SandboxStats;
  /** Stops the workers; queued and running scripts are rejected. */
  close(): void;
}

/** Messages between the host (sandbox.ts) and a worker (worker.ts). */
export interface RunRequest {
  id: number;
  code: string;
  recordJson: string;
  priorJson: string | null;
  timeoutMs: number;
  memoryBytes: number;
}

export type RunReply =
  | { id: number; ok: true; updates: Record<string, unknown>; logs: string[]; fault?: string }
  | { id: number; ok: false; code: ScriptErrorCode; message: string; logs: string[]; fault?: string };

export type WorkerMessage = { type: 'ready' } | { type: 'reply'; reply: RunReply };

export const formatBytes = (bytes: number): string =>
  bytes % MiB === 0 ? `${bytes / MiB} MiB` : bytes >= MiB ? `${(bytes / MiB).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
