import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createTcpServer, connect, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadinessReport } from '@objectos/observability';
import { createTestDatabase, freePort, services, spawnTs, TEST_SECRET, type Spawned, type TestDatabase } from '@objectos/testkit';
import { readConfig } from '../src/index.ts';
import { startObjectOS } from '../src/start.ts';

/** The data subgraph's migration lock (subgraphs/data/src/db/migrate.ts): held here, startup waits on it. */
const MIGRATION_LOCK = 7_734_011;

const probe = async (url: string): Promise<{ status: number; body: ReadinessReport; ms: number }> => {
  const t0 = performance.now();
  const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: r.status, body: (await r.json()) as ReadinessReport, ms: performance.now() - t0 };
};
const checkOf = (report: ReadinessReport, name: string) => report.checks.find((c) => c.name === name);

/** Polls `/ready` until its status is `status`; fails with the last answer. */
async function readyBecomes(url: string, status: number, timeoutMs = 20_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    // Refused or cut (the process not listening yet): no answer, keep polling.
    const answer = await probe(url).catch((e: unknown) => ({ status: 0, body: { status: 'unhealthy', checks: [{ name: 'fetch', status: 'unhealthy', message: String(e) }] } satisfies ReadinessReport, ms: 0 }));
    if (answer.status === status) return answer;
    if (Date.now() > end) throw new Error(`/ready did not answer ${status} within ${timeoutMs} ms; last: ${JSON.stringify(answer)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A redis-server of this test alone on a free loopback port, killed and started again at will. */
class PrivateRedis {
  private child: ChildProcess | null = null;
  constructor(readonly port: number) {}
  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 20_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (/Ready to accept connections/.test(out)) (clearTimeout(timer), resolve());
      });
      child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`redis-server exited (${code}):\n${out}`))));
    });
  }
  async kill(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}

/**
 * A loopback TCP proxy to PostgreSQL that can hang: while hung it accepts and forwards nothing (both
 * ways, connections stay open), as a database that stopped answering; on resume what waited goes on.
 */
class HangingProxy {
  private hung = false;
  private readonly held: (() => void)[] = [];
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: TcpServer, readonly port: number) {}
  static async start(target: URL): Promise<HangingProxy> {
    let proxy: HangingProxy | null = null;
    const server = createTcpServer((client) => proxy!.pipe(client, connect(Number(target.port || 5432), target.hostname)));
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
    proxy = new HangingProxy(server, port);
    return proxy;
  }
  private pipe(client: Socket, upstream: Socket): void {
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      this.sockets.add(from);
      from.on('data', (d: Buffer) => (this.hung ? this.held.push(() => to.write(d)) : to.write(d)));
      from.on('error', () => to.destroy());
      from.on('close', () => (this.sockets.delete(from), to.destroy()));
    }
  }
  hang(): void {
    this.hung = true;
  }
  resume(): void {
    for (const send of this.held.splice(0)) send();
    this.hung = false;
  }
  /** The URL of `target` through this proxy. */
  urlOf(target: string): string {
    const u = new URL(target);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe.skipIf(!services.postgres)('a data subgraph process: /health and /ready on PostgreSQL and Redis', () => {
  let db: TestDatabase;
  let admin: pg.Client;
  let redis: PrivateRedis;
  let proxy: HangingProxy;
  let data: Spawned | null = null;
  let base: string;
  beforeAll(async () => {
    db = await createTestDatabase('objectos_ready');
    admin = new pg.Client({ connectionString: services.postgres! });
    await admin.connect();
    redis = new PrivateRedis(await freePort());
    await redis.start();
    proxy = await HangingProxy.start(new URL(db.url));
    base = `http://127.0.0.1:${await freePort()}`;
  });
  afterAll(async () => {
    await data?.kill('SIGKILL');
    await redis?.kill();
    await proxy?.close();
    await admin?.query(`alter database "${db.name}" with allow_connections true`).catch(() => {});
    await admin?.end();
    await db?.drop();
  });

  it('is alive but not ready while it migrates; ready once started; not ready while its database is unreachable, and ready again after', async () => {
    // Hold the migration lock: the process listens and waits on it, as a replica does behind another's migration.
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await holder.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    data = spawnTs('subgraphs/data/src/main.ts', { OBJECTOS_SECRET: TEST_SECRET, PORT: new URL(base).port, HOST: '127.0.0.1', DATABASE_URL: proxy.urlOf(db.url), REDIS_URL: redis.url, OBJECTOS_SEED: 'false' });
    try {
      const starting = await readyBecomes(`${base}/ready`, 503, 60_000);
      expect(checkOf(starting.body, 'lifecycle')).toEqual({ name: 'lifecycle', status: 'unhealthy', message: expect.stringMatching(/^starting/) });
      expect((await fetch(`${base}/health`)).status).toBe(200);
      // Its API is not served before it migrated.
      expect((await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' })).status).toBe(503);
    } finally {
      await holder.end();
    }
    await data.waitFor(/data subgraph listening on/, 60_000);
    const up = await probe(`${base}/ready`);
    expect(up.status).toBe(200);
    expect(up.body).toEqual({ status: 'healthy', checks: [{ name: 'lifecycle', status: 'healthy' }, { name: 'redis', status: 'healthy' }, { name: 'database', status: 'healthy' }, { name: 'plugins', status: 'healthy' }] });

    // The database stops taking connections, and the process's own are cut.
    await admin.query(`alter database "${db.name}" with allow_connections false`);
    await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [db.name]);
    const down = await readyBecomes(`${base}/ready`, 503, 10_000);
    expect(down.ms).toBeLessThan(2_000);
    expect(checkOf(down.body, 'database')).toMatchObject({ status: 'unhealthy', message: expect.stringMatching(/^database unreachable/) });
    expect(checkOf(down.body, 'redis')).toEqual({ name: 'redis', status: 'healthy' });
    expect(checkOf(down.body, 'lifecycle')?.status).toBe('healthy');
    // Nothing about where the database lives, or how to log in to it.
    expect(JSON.stringify(down.body)).not.toMatch(/postgres:\/\/|127\.0\.0\.1|5432/);
    expect((await fetch(`${base}/health`)).status).toBe(200);

    await admin.query(`alter database "${db.name}" with allow_connections true`);
    const back = await readyBecomes(`${base}/ready`, 200, 20_000);
    expect(checkOf(back.body, 'database')).toEqual({ name: 'database', status: 'healthy' });
  });

  it('answers 503 within 2 s when its database hangs (connections open, nothing answered), and ready again when it answers', async () => {
    expect((await probe(`${base}/ready`)).status).toBe(200);
    proxy.hang();
    try {
      for (let i = 0; i < 2; i++) {
        const hung = await probe(`${base}/ready`);
        expect(hung.status).toBe(503);
        expect(hung.ms).toBeLessThan(2_000);
        expect(checkOf(hung.body, 'database')).toEqual({ name: 'database', status: 'unhealthy', message: 'no answer within 1500 ms' });
        expect(checkOf(hung.body, 'redis')).toEqual({ name: 'redis', status: 'healthy' });
      }
      expect((await fetch(`${base}/health`)).status).toBe(200);
    } finally {
      proxy.resume();
    }
    const back = await readyBecomes(`${base}/ready`, 200, 20_000);
    expect(checkOf(back.body, 'database')).toEqual({ name: 'database', status: 'healthy' });
  });

  it('is not ready while Redis is down, and ready again when it is back', async () => {
    expect((await probe(`${base}/ready`)).status).toBe(200);
    await redis.kill();
    const down = await readyBecomes(`${base}/ready`, 503, 10_000);
    expect(down.ms).toBeLessThan(2_000);
    expect(checkOf(down.body, 'redis')).toMatchObject({ status: 'unhealthy', message: expect.stringMatching(/^Redis unreachable/) });
    expect(checkOf(down.body, 'database')).toEqual({ name: 'database', status: 'healthy' });
    expect(JSON.stringify(down.body)).not.toMatch(/redis:\/\/|127\.0\.0\.1/);
    expect((await fetch(`${base}/health`)).status).toBe(200);
    await redis.start();
    const back = await readyBecomes(`${base}/ready`, 200, 20_000);
    expect(checkOf(back.body, 'redis')).toEqual({ name: 'redis', status: 'healthy' });
  });
});

describe('embedded ObjectOS (PGlite, one process) through the start/stop API', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'objectos-ready-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('is ready once started (database and subgraphs), and not ready from the first moment of stop', async () => {
    const app = await startObjectOS(readConfig({
      OBJECTOS_SECRET: TEST_SECRET, HOST: '127.0.0.1', PORT: '0', OBJECTOS_DATA_DIR: dir, OBJECTOS_RATE_LIMIT: '0', NODE_ENV: 'development',
    }, ['--empty']));
    let stopped = false;
    try {
      const origin = new URL(app.url).origin.replace('localhost', '127.0.0.1');
      const ready = await probe(`${origin}/ready`);
      expect(ready.status).toBe(200);
      expect(ready.body).toEqual({ status: 'healthy', checks: [{ name: 'lifecycle', status: 'healthy' }, { name: 'database', status: 'healthy' }, { name: 'subgraphs', status: 'healthy' }, { name: 'plugins', status: 'healthy' }] });
      expect((await fetch(`${origin}/health`)).status).toBe(200);
      const stopping = app.stop();
      // Shutdown has begun (nothing closed yet): readiness says so at once.
      const during = await app.gateway.fetch(new Request(`${origin}/ready`));
      expect(during.status).toBe(503);
      expect(await during.json()).toEqual({ status: 'unhealthy', checks: [{ name: 'lifecycle', status: 'unhealthy', message: 'shutting down' }] });
      await stopping;
      stopped = true;
      expect(app.gateway.readiness.lifecycle).toBe('stopping');
    } finally {
      if (!stopped) await app.stop();
    }
  });
});
