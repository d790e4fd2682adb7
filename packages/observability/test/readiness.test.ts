import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createReadiness, probeListener, type ReadinessReport } from '../src/index.ts';

const probe = (path: string) => new Request(`http://probe.test${path}`);
const ready = async (r: ReturnType<typeof createReadiness>) => {
  const response = (await r.respond(probe('/ready')))!;
  return { status: response.status, body: (await response.json()) as ReadinessReport };
};

describe('readiness', () => {
  it('is not ready while starting, ready once started with every check healthy, and not ready from the moment shutdown begins', async () => {
    const r = createReadiness();
    r.register('database', () => {});
    const starting = await ready(r);
    expect(starting.status).toBe(503);
    expect(starting.body.checks[0]).toEqual({ name: 'lifecycle', status: 'unhealthy', message: expect.stringMatching(/starting/) });
    r.started();
    expect(await ready(r)).toEqual({ status: 200, body: { status: 'healthy', checks: [{ name: 'lifecycle', status: 'healthy' }, { name: 'database', status: 'healthy' }] } });
    r.stopping();
    r.started(); // a late `started` does not undo shutdown
    const stopping = await ready(r);
    expect(stopping.status).toBe(503);
    expect(stopping.body).toEqual({ status: 'unhealthy', checks: [{ name: 'lifecycle', status: 'unhealthy', message: 'shutting down' }] });
    // Liveness stays: the process is alive while it stops.
    expect((await r.respond(probe('/health')))!.status).toBe(200);
  });

  it('answers 503 within the timeout when a check hangs, naming it, while the other checks still report', async () => {
    const r = createReadiness({ timeoutMs: 300 });
    let aborted = false;
    r.register('database', (signal) => new Promise<void>(() => signal.addEventListener('abort', () => (aborted = true))));
    r.register('redis', async () => {});
    r.started();
    const t0 = performance.now();
    const { status, body } = await ready(r);
    const took = performance.now() - t0;
    expect(status).toBe(503);
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(1_000);
    expect(body.checks).toEqual([
      { name: 'lifecycle', status: 'healthy' },
      { name: 'database', status: 'unhealthy', message: 'no answer within 300 ms' },
      { name: 'redis', status: 'healthy' },
    ]);
    expect(aborted).toBe(true);
  });

  it('waits on a check still hung from the last probe instead of starting it again, and starts afresh once it settled', async () => {
    const r = createReadiness({ timeoutMs: 100 });
    let calls = 0;
    let release: (() => void) | null = null;
    r.register('database', () => {
      calls++;
      return new Promise<void>((resolve) => (release = resolve));
    });
    r.started();
    expect((await ready(r)).status).toBe(503);
    expect((await ready(r)).body.checks[1]).toEqual({ name: 'database', status: 'unhealthy', message: 'no answer within 100 ms' });
    expect(calls).toBe(1);
    release!();
    await new Promise((resolve) => setTimeout(resolve, 10));
    let failures = 0;
    r.register('sync-failure', () => {
      failures++;
      throw new Error('refused');
    });
    const after = await ready(r);
    expect([calls, failures]).toEqual([2, 1]);
    expect(after.body.checks.slice(1)).toEqual([{ name: 'database', status: 'unhealthy', message: 'no answer within 100 ms' }, { name: 'sync-failure', status: 'unhealthy', message: 'refused' }]);
    release!();
    await new Promise((resolve) => setTimeout(resolve, 10));
    // Both run again on the next probe: nothing settled is kept.
    const again = await ready(r);
    expect([calls, failures]).toEqual([3, 2]);
    expect(again.body.checks[2]).toEqual({ name: 'sync-failure', status: 'unhealthy', message: 'refused' });
  });

  it('answers 503 naming a failing check, without the addresses or URLs its error carried; degraded still serves', async () => {
    const r = createReadiness();
    r.register('database', async () => {
      throw new Error('connect ECONNREFUSED 10.1.2.3:5432 (postgres://app:hunter2@db.internal:5432/app)');
    });
    r.register('subgraphs', () => ({ status: 'degraded', message: 'subgraphs down: billing' }));
    r.started();
    const failing = await ready(r);
    expect(failing.status).toBe(503);
    expect(failing.body.status).toBe('unhealthy');
    expect(failing.body.checks).toContainEqual({ name: 'database', status: 'unhealthy', message: 'connect ECONNREFUSED <address> (<url>)' });
    expect(JSON.stringify(failing.body)).not.toMatch(/hunter2|10\.1\.2\.3|db\.internal/);
    const degraded = createReadiness();
    degraded.register('subgraphs', () => ({ status: 'degraded', message: 'subgraphs down: billing' }));
    degraded.started();
    expect(await ready(degraded)).toEqual({
      status: 200,
      body: { status: 'degraded', checks: [{ name: 'lifecycle', status: 'healthy' }, { name: 'subgraphs', status: 'degraded', message: 'subgraphs down: billing' }] },
    });
  });

  it('runs checks concurrently, shares one run among probes arriving together, and refuses a name twice', async () => {
    const r = createReadiness({ timeoutMs: 1_000 });
    let runs = 0;
    const slow = () => new Promise<void>((resolve) => setTimeout(() => (runs++, resolve()), 200));
    r.register('a', slow);
    r.register('b', slow);
    expect(() => r.register('a', slow)).toThrow(/already registered/);
    r.started();
    const t0 = performance.now();
    const answers = await Promise.all([ready(r), ready(r), ready(r)]);
    expect(performance.now() - t0).toBeLessThan(380);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(runs).toBe(2);
    expect(r.respond(probe('/graphql'))).toBeNull();
  });
});

describe('probeListener over node:http', () => {
  let server: Server | null = null;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  it('answers /health and /ready while starting, 503 for the application until it is given, then hands requests to it', async () => {
    const r = createReadiness();
    const probes = probeListener(r);
    server = createServer(probes.listener);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect((await fetch(`${base}/ready`)).status).toBe(503);
    expect((await fetch(`${base}/graphql`)).status).toBe(503);
    probes.serve((_req, res) => {
      res.statusCode = 204;
      res.end();
    });
    r.started();
    expect((await fetch(`${base}/graphql`)).status).toBe(204);
    const answer = await fetch(`${base}/ready?verbose=1`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(await answer.json()).toEqual({ status: 'healthy', checks: [{ name: 'lifecycle', status: 'healthy' }] });
  });
});
