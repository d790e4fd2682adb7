import { readdirSync, readFileSync } from 'node:fs';
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

/**
 * CPU time a process has used so far (user + system, all its threads), in ms, from /proc/<pid>/stat;
 * null where there is no /proc or the process is gone.
 */
export function cpuMs(pid: number): number | null {
  try {
    // Fields after the command name (which may hold spaces), from field 3 on: utime and stime are 14 and 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
/**
 * CPU time (ms) used so far by each PostgreSQL server process on this machine (the bench's pool
 * connections among them), by pid: what a target costs the database. Null where there is no /proc.
 */
export function postgresCpuMs(): Map<number, number> | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  const byPid = new Map<number, number>();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      byPid.set(Number(pid), ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS);
    } catch {
      // Gone between the listing and the read.
    }
  }
  return byPid;
}

/** CPU ms PostgreSQL used between two {@link postgresCpuMs} readings (a process that ended meanwhile is not counted). */
export function postgresCpuBetween(before: Map<number, number> | null, after: Map<number, number> | null): number | null {
  if (!before || !after) return null;
  let ms = 0;
  for (const [pid, t] of after) ms += t - (before.get(pid) ?? 0);
  return ms;
}

/** USER_HZ: 100 on every Linux this runs on (sysconf(_SC_CLK_TCK) is not reachable from Node). */
const CLOCK_TICKS = 100;
