import {
  newQuickJSWASMModule,
  newVariant,
  RELEASE_SYNC,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSWASMModule,
} from 'quickjs-emscripten';
import { BODY_LINE_OFFSET, PRELUDE } from './prelude.ts';
import { formatBytes, MAX_LOG_LINE_CHARS, MAX_LOG_LINES, MAX_UPDATES_BYTES, MiB, type RunReply, type RunRequest, type ScriptErrorCode } from './types.ts';

/**
 * Runs scripts in QuickJS (quickjs-emscripten RELEASE_SYNC), inside a worker thread (worker.ts). One wasm module is
 * loaded per memory size; each run gets a fresh runtime and context, disposed after it.
 *
 * Memory: quickjs-emscripten 0.32's prebuilt wasm has no malloc_usable_size, so QuickJS's own malloc limit bounds
 * single allocations only, not the total (justjake/quickjs-emscripten#255, #271). The real bound is the wasm memory:
 * we pass the module an imported WebAssembly.Memory whose maximum is the run's memoryBytes plus the build's fixed
 * region (static data and its 5 MiB C stack below the heap, 16 MiB minimum). When the heap cannot grow, malloc fails
 * and QuickJS throws InternalError "out of memory" → MEMORY. (The 16 MiB minimum leaves ~10 MiB of heap: below that
 * memoryBytes is not enforced exactly.) The runtime's memory limit is still set (it stops a single huge allocation).
 * Runs are sequential per module and every runtime is freed, so each run has the whole heap; after a MEMORY result
 * the module is replaced anyway (a fresh heap, the grown memory given back; ~5 ms, V8 caches the compiled wasm).
 *
 * Time: the interrupt handler stops bytecode at the deadline (uncatchable "interrupted" → TIMEOUT) and the pending-job
 * loop checks it too. QuickJS does not poll it inside a builtin (one Array.prototype.indexOf over a million items, a
 * sort without a comparator): the host (sandbox.ts) terminates the worker when the reply is late.
 *
 * Stack: QuickJS's limit is 512 KiB; its wasm frames take far more native stack than that (measured: the parser
 * 16–32×), so the worker runs with a 32 MiB native stack (Node's default ~1 MB overflows first even at 256 KiB). A host-level error out of the engine anyway (native stack overflow,
 * a wasm trap, a QuickJS abort such as a leaked-handle assertion on dispose) discards the module: the next run
 * loads a fresh one.
 */
const PAGE_BYTES = 65_536;
const MIN_PAGES = 256; // the module's declared minimum
const RESERVED_BYTES = 6 * MiB; // static data + C stack of the build, below the heap
const STACK_BYTES = 512 * 1024;
const JOB_BATCH = 256;
/** After a timeout, time allowed to read the script's logs back. */
const COLLECT_MS = 25;

interface LoadedModule {
  qjs: QuickJSWASMModule;
  memoryBytes: number;
  /** Failed attempts to grow the wasm memory (the heap at its cap): an allocation may have failed for lack of memory. */
  growFailures: () => number;
}

interface Outcome {
  updates: Record<string, unknown>;
  logs: string[];
  bad: string | null;
  error: { name: string; message: string; stack: string } | null;
}

type Reply = { ok: true; updates: Record<string, unknown>; logs: string[] } | { ok: false; code: ScriptErrorCode; message: string; logs: string[] };

export interface Engine {
  /** Loads the module for this memory size ahead of the first run. */
  warm(memoryBytes: number): Promise<void>;
  run(request: RunRequest): Promise<RunReply>;
}

export function createEngine(): Engine {
  let loaded: LoadedModule | undefined;

  async function moduleFor(memoryBytes: number): Promise<LoadedModule> {
    if (loaded?.memoryBytes === memoryBytes) return loaded;
    loaded = undefined; // at most one module kept: a different size replaces it
    const pages = Math.max(MIN_PAGES, Math.ceil((RESERVED_BYTES + memoryBytes) / PAGE_BYTES));
    const memory = new WebAssembly.Memory({ initial: MIN_PAGES, maximum: pages });
    // The emscripten glue grows the heap through this object's grow(): count the refusals. (When QuickJS cannot even
    // allocate its "out of memory" error it throws null; a refusal during the run tells that apart from `throw null`.)
    let growFailures = 0;
    const grow = memory.grow.bind(memory);
    memory.grow = (delta: number): number => {
      try {
        return grow(delta);
      } catch (error) {
        growFailures++;
        throw error;
      }
    };
    const qjs = await newQuickJSWASMModule(newVariant(RELEASE_SYNC, { wasmMemory: memory }));
    loaded = { qjs, memoryBytes, growFailures: () => growFailures };
    return loaded;
  }

  return {
    async warm(memoryBytes) {
      await moduleFor(memoryBytes);
    },
    async run(request) {
      let module: LoadedModule;
      try {
        module = await moduleFor(request.memoryBytes);
      } catch (error) {
        loaded = undefined;
        const text = errorText(error);
        return { id: request.id, ok: false, code: 'SCRIPT_ERROR', message: `the sandbox engine could not load (${text})`, logs: [], fault: text };
      }
      const { reply, fault } = execute(module, request);
      // Never reuse a module after a host-level failure; after running out of memory start from a fresh heap too
      // (QuickJS's out-of-memory paths are its least exercised, and the grown memory is given back).
      if (fault !== undefined || (!reply.ok && reply.code === 'MEMORY')) loaded = undefined;
      return fault === undefined ? { id: request.id, ...reply } : { id: request.id, ...reply, fault };
    },
  };
}

function execute(module: LoadedModule, request: RunRequest): { reply: Reply; fault?: string } {
  const growFailures = module.growFailures();
  let deadline = Date.now() + request.timeoutMs;
  const timeUp = (): boolean => Date.now() > deadline;
  let timedOut = false;
  const owned: QuickJSHandle[] = [];
  const own = (h: QuickJSHandle): QuickJSHandle => (owned.push(h), h);
  let rt: QuickJSRuntime | undefined;
  let vm: QuickJSContext | undefined;
  let reply: Reply | undefined;
  let fault: string | undefined;
  try {
    rt = module.qjs.newRuntime();
    rt.setMemoryLimit(request.memoryBytes);
    rt.setMaxStackSize(STACK_BYTES);
    rt.setInterruptHandler(() => {
      if (!timeUp()) return false;
      timedOut = true;
      return true;
    });
    vm = rt.newContext();
    reply = runIn(vm, rt, request, own, {
      timedOut: () => timedOut || timeUp(),
      extend: () => {
        timedOut = true;
        deadline = Date.now() + COLLECT_MS;
      },
      capHit: () => module.growFailures() > growFailures,
    });
  } catch (error) {
    fault = errorText(error);
    reply = /call stack/i.test(fault)
      ? { ok: false, code: 'SCRIPT_ERROR', message: 'InternalError: stack overflow (the script nests too deeply)', logs: [] }
      : { ok: false, code: 'SCRIPT_ERROR', message: `the sandbox engine failed while running the script (${fault})`, logs: [] };
  }
  if (fault === undefined) {
    // Dispose in reverse order of creation; a failure here (QuickJS asserts no object is left when the runtime is
    // freed) is an engine fault: the result stands, the module is replaced.
    try {
      for (const h of owned.reverse()) if (h.alive) h.dispose();
      vm?.dispose();
      rt?.dispose();
    } catch (error) {
      fault = errorText(error);
    }
  }
  return fault === undefined ? { reply: reply! } : { reply: reply!, fault };
}

interface Clock {
  timedOut(): boolean;
  /** Marks the run timed out and allows COLLECT_MS more for reading its logs. */
  extend(): void;
  /** The heap hit its cap during this run. */
  capHit(): boolean;
}

function runIn(vm: QuickJSContext, rt: QuickJSRuntime, request: RunRequest, own: (h: QuickJSHandle) => QuickJSHandle, clock: Clock): Reply {
  const { memoryBytes, timeoutMs } = request;
  const timeout = (logs: string[]): Reply => ({ ok: false, code: 'TIMEOUT', message: `the script ran past its ${timeoutMs} ms limit`, logs });
  const memory = (logs: string[], detail = ''): Reply => ({ ok: false, code: 'MEMORY', message: `the script exceeded its ${formatBytes(memoryBytes)} memory limit${detail}`, logs });

  const api = vm.evalCode(PRELUDE, 'sandbox-prelude.js');
  if (api.error) {
    const text = hostErrorText(vm, own(api.error));
    if (clock.timedOut()) return timeout([]);
    if (/out of memory/.test(text) || clock.capHit()) return memory([], ' before the script started');
    throw new Error(`the sandbox prelude failed: ${text}`); // an engine fault, not the script's
  }
  const apiHandle = own(api.value);
  const start = own(vm.getProp(apiHandle, 'start'));
  const finish = own(vm.getProp(apiHandle, 'finish'));
  const args = [own(vm.newString(request.code)), own(vm.newString(request.recordJson)), request.priorJson === null ? vm.null : own(vm.newString(request.priorJson))];

  let failure: QuickJSHandle | undefined; // what the script threw or rejected with
  let neverSettles = false;
  const call = vm.callFunction(start, vm.undefined, args);
  if (call.error) failure = own(call.error);
  else {
    const promise = own(call.value);
    for (;;) {
      const state = vm.getPromiseState(promise);
      if (state.type === 'fulfilled') {
        if (!state.notAPromise) state.value.dispose();
        break;
      }
      if (state.type === 'rejected') {
        failure = own(state.error);
        break;
      }
      if (clock.timedOut()) break;
      const jobs = rt.executePendingJobs(JOB_BATCH);
      if (jobs.error) {
        failure = own(jobs.error);
        break;
      }
      if (jobs.value === 0) {
        neverSettles = true;
        break;
      }
    }
  }

  const collect = (): Outcome | undefined => {
    const res = vm.callFunction(finish, vm.undefined, failure ? vm.true : vm.false, failure ?? vm.undefined);
    if (res.error) {
      own(res.error);
      return undefined;
    }
    const text = own(res.value);
    return vm.typeof(text) === 'string' ? readOutcome(vm.getString(text)) : undefined;
  };

  if (clock.timedOut()) {
    clock.extend();
    return timeout(collect()?.logs ?? []);
  }
  const outcome = collect();
  const logs = outcome?.logs ?? [];
  const thrown = outcome?.error ? `${outcome.error.name}: ${outcome.error.message}` : failure ? hostErrorText(vm, failure) : '';
  const unreadable = outcome === undefined || outcome.error?.message === 'the script threw null';
  if (/^InternalError: out of memory/.test(thrown) || (failure !== undefined && unreadable && clock.capHit())) return memory(logs);
  if (/^InternalError: string too long/.test(thrown)) return memory(logs, ' (a string grew past the engine\'s maximum length)');
  if (neverSettles) return { ok: false, code: 'SCRIPT_ERROR', message: 'the script awaits a promise that never settles (the sandbox has no timers or I/O)', logs };
  if (outcome === undefined) return { ok: false, code: 'BAD_RESULT', message: 'the sandbox could not read the script\'s result back', logs };
  if (outcome.bad !== null) return { ok: false, code: 'BAD_RESULT', message: outcome.bad, logs };
  if (outcome.error !== null) return { ok: false, code: 'SCRIPT_ERROR', message: errorMessage(outcome.error), logs };
  const bytes = Buffer.byteLength(JSON.stringify(outcome.updates));
  if (bytes > MAX_UPDATES_BYTES) return { ok: false, code: 'BAD_RESULT', message: `the updates are ${bytes} bytes of JSON, over the ${MAX_UPDATES_BYTES / 1024} KiB limit`, logs };
  return { ok: true, updates: outcome.updates, logs };
}

/** "ReferenceError: 'foo' is not defined at line 3" (line of the script body, from the first frame in it). */
function errorMessage(error: { name: string; message: string; stack: string }): string {
  const text = error.name ? `${error.name}: ${error.message}` : error.message;
  const line = /<input>:(\d+)/.exec(error.stack)?.[1];
  const n = line === undefined ? 0 : Number(line) - BODY_LINE_OFFSET;
  return n >= 1 ? `${text} at line ${n}` : text;
}

/** Parses and checks what finish() returned (the script may have tampered with the intrinsics finish uses). */
function readOutcome(text: string): Outcome | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(value)) return undefined;
  const { updates, logs, bad, error } = value;
  if (!isObject(updates) || Object.hasOwn(updates, '__proto__')) return undefined;
  if (!Array.isArray(logs) || !logs.every((l): l is string => typeof l === 'string')) return undefined;
  if (bad !== null && typeof bad !== 'string') return undefined;
  let described: Outcome['error'] = null;
  if (error !== null) {
    if (!isObject(error)) return undefined;
    const { name, message, stack } = error;
    if (typeof name !== 'string' || typeof message !== 'string' || typeof stack !== 'string') return undefined;
    described = { name, message, stack };
  }
  return { updates, logs: logs.slice(0, MAX_LOG_LINES).map((l) => l.slice(0, MAX_LOG_LINE_CHARS)), bad, error: described };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Best-effort text of a thrown value, read from the host side (when finish() itself could not run). */
function hostErrorText(vm: QuickJSContext, h: QuickJSHandle): string {
  try {
    const dumped: unknown = vm.dump(h);
    if (isObject(dumped)) return `${String(dumped['name'] ?? '')}: ${String(dumped['message'] ?? '')}`;
    return String(dumped);
  } catch {
    return '';
  }
}

const errorText = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 500);
