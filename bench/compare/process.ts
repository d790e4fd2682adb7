import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT } from '@objectos/testkit';

/** One server under test, in its own Node process (so its RSS is its own). */
export interface ServerProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  /** What it printed so far (stdout and stderr, first 256 KiB). */
  output(): string;
  /** Resolves with the first match in the output; rejects on exit or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGTERM, then SIGKILL after 10 s. */
  stop(): Promise<void>;
}

const KEEP = 256 * 1024;

/**
 * Starts `node <args>` in the repository root. Both pipes are always drained (a server that logs
 * each request would otherwise block once the pipe is full); only the start of the output is kept.
 */
export function spawnNode(name: string, args: string[], env: Record<string, string>): ServerProcess {
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`${name}: could not start node ${args.join(' ')}`);
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    if (out.length < KEEP) out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    name,
    child,
    pid: child.pid,
    output: () => out,
    waitFor(pattern, timeoutMs = 120_000) {
      return new Promise((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        const check = () => {
          const m = out.match(pattern);
          if (m) {
            done();
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${name}: no ${pattern} within ${timeoutMs / 1000} s; output:\n${out}`));
        }, timeoutMs);
        listeners.add(check);
        void exited.then(() => {
          if (!listeners.has(check)) return;
          done();
          reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before ${pattern}; output:\n${out}`));
        });
        check();
      });
    },
    async stop() {
      if (!running()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (running()) child.kill('SIGKILL');
      }, 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resident set size of a process in MiB (`ps -o rss=`), or 0 once it is gone. */
export function rssMiB(pid: number): Promise<number> {
  return new Promise((resolve) => {
    execFile('ps', ['-o', 'rss=', '-p', String(pid)], (err, stdout) => resolve(err ? 0 : Number(stdout.trim()) / 1024 || 0));
  });
}

/** Samples a process's RSS every `everyMs` until stopped; `stop()` returns the largest sample (MiB). */
export function sampleRss(pid: number, everyMs = 200): { stop(): Promise<number> } {
  let max = 0;
  let pending: Promise<void> = Promise.resolve();
  const take = () => {
    pending = rssMiB(pid).then((v) => {
      max = Math.max(max, v);
    });
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await pending;
      take();
      await pending;
      return max;
    },
  };
}
