import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, createReadiness } from '@objectos/observability';
import { createKernel, dependencyOrder, KernelStartupError, type Plugin } from '../src/index.ts';

const lines: string[] = [];
const logger = createLogger('kernel-test', new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) }));

/** A plugin recording its lifecycle into `log`. */
function plugin(name: string, requires: Array<string | [string, 'optional']>, log: string[], over: Partial<Plugin> = {}): Plugin {
  return {
    name,
    version: '1.2.3',
    manifest: {
      capabilities: {
        implements: [],
        provides: [{ id: `com.objectos.test.${name}`, name, version: { major: 1, minor: 2, patch: 3 }, stability: 'stable' }],
        requires: requires.map((r) => (Array.isArray(r) ? { pluginId: r[0], version: '*', optional: true } : { pluginId: r, version: '*', optional: false })),
      },
    },
    init: (ctx) => {
      log.push(`init ${name}`);
      ctx.registerService(name, { name });
    },
    start: () => void log.push(`start ${name}`),
    destroy: () => void log.push(`destroy ${name}`),
    ...over,
  };
}

describe('plugin kernel', () => {
  it('inits, then starts, every plugin in dependency order, and destroys them in reverse once', async () => {
    const log: string[] = [];
    const k = createKernel({ logger });
    k.use(plugin('gateway', ['data', 'identity'], log)).use(plugin('data', ['database'], log)).use(plugin('identity', ['database'], log)).use(plugin('database', [], log));
    const report = await k.bootstrap();
    expect(log).toEqual(['init database', 'init data', 'init identity', 'init gateway', 'start database', 'start data', 'start identity', 'start gateway']);
    expect(report.map((r) => [r.plugin.name, r.plugin.version, r.success])).toEqual([['database', '1.2.3', true], ['data', '1.2.3', true], ['identity', '1.2.3', true], ['gateway', '1.2.3', true]]);
    expect(report.every((r) => r.duration >= 0 && r.health?.healthy === true)).toBe(true);
    expect(k.getService<{ name: string }>('data')?.name).toBe('data');
    // The startup report is printed: one line per plugin with its duration.
    for (const name of ['database', 'data', 'identity', 'gateway']) expect(lines.some((l) => l.includes(`"plugin":"${name}"`) && l.includes('"durationMs"'))).toBe(true);
    log.length = 0;
    await Promise.all([k.shutdown(), k.shutdown()]);
    expect(log).toEqual(['destroy gateway', 'destroy identity', 'destroy data', 'destroy database']);
  });

  it('refuses a missing required plugin and a cycle, naming them', () => {
    const log: string[] = [];
    expect(() => dependencyOrder([plugin('data', ['database'], log)])).toThrow('plugin "data" requires "database", which is not installed');
    expect(() => dependencyOrder([plugin('a', ['b'], log), plugin('b', ['a'], log)])).toThrow('plugins require each other in a cycle: a → b → a');
    expect(dependencyOrder([plugin('data', [['metrics', 'optional']], log)]).map((p) => p.name)).toEqual(['data']);
  });

  it('a required plugin failing at start stops startup with a report naming it, and what started is destroyed', async () => {
    const log: string[] = [];
    const k = createKernel({ logger });
    k.use(plugin('database', [], log)).use(plugin('data', ['database'], log, { start: () => Promise.reject(new Error('migration 12 failed')) })).use(plugin('gateway', ['data'], log));
    const e = await k.bootstrap().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KernelStartupError);
    const err = e as KernelStartupError;
    expect(err.failed).toBe('data');
    expect(err.message).toContain('plugin "data" failed to start: start: migration 12 failed');
    expect(err.report.find((r) => r.plugin.name === 'data')).toMatchObject({ success: false, error: { message: 'start: migration 12 failed' } });
    expect(err.report.find((r) => r.plugin.name === 'database')?.success).toBe(true);
    // Never started: the gateway; rolled back in reverse: everything initialized.
    expect(log).not.toContain('start gateway');
    expect(log.slice(-3)).toEqual(['destroy gateway', 'destroy data', 'destroy database']);
  });

  it('a plugin past its timeout fails startup with a timeout error', async () => {
    const log: string[] = [];
    const k = createKernel({ logger, timeoutMs: 100 });
    k.use(plugin('slow', [], log, { start: () => new Promise(() => {}) }));
    const e = (await k.bootstrap().catch((x: unknown) => x)) as KernelStartupError;
    expect(e.failed).toBe('slow');
    expect(e.report[0]!.error).toMatchObject({ code: 'TIMEOUT', message: 'start: did not start within 100 ms' });
    expect(e.report[0]!.duration).toBeGreaterThanOrEqual(90);
  });

  it('an optional plugin failing runs degraded: the rest starts, health and readiness say so', async () => {
    const log: string[] = [];
    const k = createKernel({ logger });
    k.use(plugin('database', [], log))
      .use(plugin('metrics', [], log, { optional: true, init: () => Promise.reject(new Error('port 9464 in use')) }))
      .use(plugin('data', ['database', ['metrics', 'optional']], log, { healthCheck: () => ({ checks: [{ name: 'outbox', status: 'warning', message: 'lag 40 s' }] }) }));
    const report = await k.bootstrap();
    expect(report.find((r) => r.plugin.name === 'metrics')).toMatchObject({ success: false, optional: true, error: { message: 'init: port 9464 in use' } });
    expect(report.find((r) => r.plugin.name === 'data')?.success).toBe(true);
    expect(log).toContain('start data');
    const h = await k.health();
    expect(h.status).toBe('degraded');
    const by = Object.fromEntries(h.plugins.map((p) => [p.name, p.report]));
    expect(by['metrics']).toMatchObject({ status: 'failed', message: 'init: port 9464 in use' });
    expect(by['data']).toMatchObject({ status: 'degraded', checks: [{ name: 'outbox', status: 'warning', message: 'lag 40 s' }] });
    expect(by['data']!.dependencies).toEqual([{ pluginId: 'database', status: 'healthy' }, { pluginId: 'metrics', status: 'failed' }]);
    expect(by['database']!.metrics!.uptime).toBeGreaterThanOrEqual(0);
    const readiness = createReadiness();
    k.attach(readiness);
    readiness.started();
    const r = await readiness.report();
    expect(r.status).toBe('degraded');
    expect(r.checks.find((c) => c.name === 'plugins')).toMatchObject({ status: 'degraded', message: 'running without metrics' });
  });

  it('a plugin requiring one that failed fails too; a hung or failing health check is unhealthy', async () => {
    const log: string[] = [];
    const k = createKernel({ logger, healthTimeoutMs: 50 });
    k.use(plugin('redis', [], log, { optional: true, start: () => Promise.reject(new Error('ECONNREFUSED')) }))
      .use(plugin('presence', ['redis'], log, { optional: true }))
      .use(plugin('hung', [], log, { healthCheck: () => new Promise(() => {}) }))
      .use(plugin('broken', [], log, { healthCheck: () => Promise.reject(new Error('pool exhausted')) }));
    const report = await k.bootstrap();
    expect(report.find((r) => r.plugin.name === 'presence')).toMatchObject({ success: false, error: { message: 'start: requires "redis", which failed to start' } });
    // Initialized before redis failed at start: never started, and released.
    expect(log).not.toContain('start presence');
    expect(log).toContain('destroy presence');
    const h = await k.health();
    const by = Object.fromEntries(h.plugins.map((p) => [p.name, p.report]));
    expect(by['hung']).toMatchObject({ status: 'unhealthy', message: 'no answer within 50 ms' });
    expect(by['broken']).toMatchObject({ status: 'unhealthy', message: 'pool exhausted' });
    expect(h.status).toBe('unhealthy');
  });
});
