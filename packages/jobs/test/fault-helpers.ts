import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, spawnTs, type Spawned } from '@objectos/testkit';
import { WORKER } from './fixtures/worker-options.ts';

const run = promisify(execFile);

/** Processes and folders a test made; `release()` ends and removes them all (for `finally`). */
export class Resources {
  private readonly steps: (() => Promise<unknown>)[] = [];
  add(step: () => Promise<unknown>): void {
    this.steps.push(step);
  }
  /** A fixture worker; `JOBS_*` variables not given are blank, so nothing leaks in from the environment. */
  worker(env: Record<string, string>): Spawned {
    const blank = { JOBS_DATABASE_URL: '', JOBS_REDIS_URL: '', JOBS_PREFIX: '', JOBS_PGLITE_DIR: '', JOBS_RECEIVER_URL: '', JOBS_ENQUEUE: '', JOBS_EXPECT: '', JOBS_JOBS_YAML: '', JOBS_LOCK_MS: '' };
    const p = spawnTs(WORKER, { ...blank, ...env });
    this.add(() => p.kill('SIGKILL'));
    return p;
  }
  async tempDir(name: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), `objectos-${name}-`));
    this.add(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }
  /** Runs every cleanup step, latest first; a failing step does not stop the others. */
  async release(): Promise<void> {
    const errors: unknown[] = [];
    for (const step of this.steps.splice(0).reverse()) await step().catch((e: unknown) => errors.push(e));
    if (errors.length) throw new AggregateError(errors, 'cleanup failed');
  }
}

/** Lines of a process's output matching `pattern` (which must have the `g` and `m` flags). */
export const countLines = (p: Spawned, pattern: RegExp): number => p.output().match(pattern)?.length ?? 0;

/**
 * Waits until at least `min` attempts of `queue` started in `p` and one of them is still running
 * (started, not done), so that what happens next happens in the middle of a job.
 */
export async function midJob(p: Spawned, queue: string, min: number, timeoutMs = 60_000): Promise<void> {
  const q = queue.replace('.', '\\.');
  const started = new RegExp(`^attempt ${q} `, 'gm');
  const done = new RegExp(`^done ${q} `, 'gm');
  const end = Date.now() + timeoutMs;
  for (;;) {
    const [a, d] = [countLines(p, started), countLines(p, done)];
    if (a >= min && a > d) return;
    if (p.child.exitCode !== null) throw new Error(`the worker exited before ${min} ${queue} attempts; output:\n${p.output()}`);
    if (Date.now() > end) throw new Error(`no ${queue} job in flight after ${min} attempts within ${timeoutMs} ms; output:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Polls until `check` holds; fails with the last value read. */
export async function poll<T>(what: string, read: () => Promise<T>, check: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (check(v)) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface ReceivedRequest {
  idempotencyKey: string | null;
  bodyKey: string | null;
}

/** An HTTP receiver of external effects: it records every request and answers 200. */
export async function startReceiver(resources: Resources): Promise<{ url: string; requests: ReceivedRequest[] }> {
  const requests: ReceivedRequest[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      let bodyKey: string | null = null;
      try {
        bodyKey = (JSON.parse(body) as { key?: string }).key ?? null;
      } catch {
        bodyKey = null;
      }
      const h = req.headers['idempotency-key'];
      requests.push({ idempotencyKey: typeof h === 'string' ? h : null, bodyKey });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  resources.add(() => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve(undefined));
  }));
  return { url: `http://127.0.0.1:${port}/effects`, requests };
}

/** A private redis-server with an fsynced append-only file, that a test may kill and start again. */
export class PrivateRedis {
  private child: ChildProcess | null = null;
  private constructor(readonly port: number, readonly dir: string) {}

  static async start(resources: Resources): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort(), await resources.tempDir('redis-aof'));
    resources.add(() => r.kill());
    await r.launch();
    return r;
  }
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  get pid(): number | undefined {
    return this.child?.pid;
  }
  /** Starts redis-server on this port and folder (again, after a kill) and waits until it takes connections. */
  async launch(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start; output:\n${out}`)), 20_000);
      const onData = (d: Buffer) => {
        out += d.toString();
        if (/Ready to accept connections/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('error', (e) => (clearTimeout(timer), reject(e)));
      child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`redis-server exited (${code}); output:\n${out}`))));
    });
  }
  /** SIGKILL: no shutdown, no last write; what survives is what the append-only file had. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}

/** A private PostgreSQL cluster (initdb in a temporary folder), so restarting it disturbs no other test. */
export class PrivateCluster {
  private constructor(readonly port: number, readonly dir: string, private readonly bin: string) {}

  static async start(resources: Resources): Promise<PrivateCluster> {
    const versions = (await readdir('/usr/lib/postgresql')).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    if (!versions[0]) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
    const dir = await resources.tempDir('pg-cluster');
    const c = new PrivateCluster(await freePort(), dir, `/usr/lib/postgresql/${versions[0]}/bin`);
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      await chown(dir, Number(stdout.trim()), -1);
    }
    await c.as('initdb', ['-D', c.data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    resources.add(() => c.as('pg_ctl', ['-D', c.data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined));
    await c.as('pg_ctl', ['-D', c.data, '-o', c.options, '-l', c.log, '-w', 'start']);
    return c;
  }
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }
  /** An immediate restart: the server stops as if it crashed (no checkpoint, connections cut) and recovers. */
  async restart(): Promise<void> {
    await this.as('pg_ctl', ['-D', this.data, '-o', this.options, '-l', this.log, '-m', 'immediate', '-w', 'restart']);
  }
  private get data(): string {
    return join(this.dir, 'data');
  }
  private get log(): string {
    return join(this.dir, 'log');
  }
  private get options(): string {
    return `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`;
  }
  /** Runs a server binary as the postgres user (the server refuses to run as root). */
  private async as(tool: string, args: string[]): Promise<void> {
    const path = join(this.bin, tool);
    const [cmd, argv] = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
    await run(cmd, argv, { timeout: 60_000 });
  }
}
