import { createLogger, type Logger, type Readiness } from '@objectos/observability';
import type { PluginHealthReport, PluginHealthStatus, PluginManifest, PluginStartupResult } from './manifest.ts';

/** What a plugin gets at `init` and `start`: the services of the plugins before it, and its own logger. */
export interface PluginContext {
  logger: Logger;
  registerService<T>(name: string, service: T): void;
  /** A service registered by a plugin this one requires; throws naming it when absent. */
  getService<T>(name: string): T;
  /** A service of an optional dependency: undefined when that plugin is absent or failed. */
  getOptionalService<T>(name: string): T | undefined;
  /** Runs `fn` on `trigger(name)` (e.g. `kernel:ready` once every plugin started). */
  hook(name: string, fn: (...args: unknown[]) => Promise<void> | void): void;
  trigger(name: string, ...args: unknown[]): Promise<void>;
}

/** What a plugin's own check says (the kernel adds the timestamp, uptime and dependencies). */
export interface PluginCheck {
  status?: PluginHealthStatus;
  message?: string;
  checks?: PluginHealthReport['checks'];
}

/**
 * A plugin (spec `Plugin`: name, version, init/start/destroy) with ObjectOS's additions: its manifest,
 * a health check, and whether the process may run without it.
 */
export interface Plugin {
  name: string;
  version: string;
  manifest: PluginManifest;
  /** Its failure at start degrades the process instead of stopping it. @default false */
  optional?: boolean;
  /** Longest init + start, in ms. @default the kernel's */
  timeoutMs?: number;
  /** Registers services; runs in dependency order, before any `start`. */
  init?(ctx: PluginContext): Promise<void> | void;
  /** Begins work (listens, consumes); in dependency order after every `init`. */
  start?(ctx: PluginContext): Promise<void> | void;
  /** Releases what it holds; in reverse order at shutdown. */
  destroy?(): Promise<void> | void;
  healthCheck?(): Promise<PluginCheck> | PluginCheck;
}

export interface KernelOptions {
  logger?: Logger;
  /** Per plugin, init + start. @default 30000 (spec) */
  timeoutMs?: number;
  /** Per plugin's destroy. @default 10000 */
  destroyTimeoutMs?: number;
  /** Per health check. @default 2000 */
  healthTimeoutMs?: number;
}

/** A required plugin failed to start: the process stops, its report names the plugin. */
export class KernelStartupError extends Error {
  constructor(readonly failed: string, readonly report: PluginStartupResult[]) {
    const r = report.find((x) => x.plugin.name === failed);
    super(`plugin "${failed}" failed to start: ${r?.error?.message ?? 'unknown error'}\n${formatStartupReport(report)}`);
    this.name = 'KernelStartupError';
  }
}

export interface Kernel {
  use(plugin: Plugin): Kernel;
  /** Inits then starts every plugin in dependency order; throws KernelStartupError when a required one fails. */
  bootstrap(): Promise<PluginStartupResult[]>;
  startupReport(): PluginStartupResult[];
  /** One report per plugin (failed optional plugins say so), and the process's overall status. */
  health(): Promise<{ status: PluginHealthStatus; plugins: Array<{ name: string; report: PluginHealthReport }> }>;
  /** Destroys started plugins in reverse order, each bounded; once. */
  shutdown(): Promise<void>;
  /** Adds a `plugins` readiness check: degraded while an optional plugin is down. */
  attach(readiness: Readiness): void;
  getService<T>(name: string): T | undefined;
  readonly plugins: readonly Plugin[];
}

const withTimeout = async <T>(what: Promise<T> | T, ms: number, message: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([Promise.resolve(what), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(Object.assign(new Error(message), { code: 'TIMEOUT' })), ms)))]);
  } finally {
    clearTimeout(timer);
  }
};

/** Plugins ordered so each comes after what it requires; unknown required plugins and cycles are refused, naming them. */
export function dependencyOrder(plugins: readonly Plugin[]): Plugin[] {
  const byName = new Map(plugins.map((p) => [p.name, p]));
  const out: Plugin[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (p: Plugin, path: string[]) => {
    if (state.get(p.name) === 'done') return;
    if (state.get(p.name) === 'visiting') throw new Error(`plugins require each other in a cycle: ${[...path, p.name].join(' → ')}`);
    state.set(p.name, 'visiting');
    for (const r of p.manifest.capabilities.requires) {
      const dep = byName.get(r.pluginId);
      if (!dep) {
        if (r.optional) continue;
        throw new Error(`plugin "${p.name}" requires "${r.pluginId}", which is not installed`);
      }
      visit(dep, [...path, p.name]);
    }
    state.set(p.name, 'done');
    out.push(p);
  };
  for (const p of plugins) visit(p, []);
  return out;
}

export function formatStartupReport(report: readonly PluginStartupResult[]): string {
  return report
    .map((r) => `  ${r.success ? 'ok  ' : r.optional ? 'DEGR' : 'FAIL'} ${r.plugin.name.padEnd(14)} ${r.plugin.version.padEnd(8)} ${String(Math.round(r.duration)).padStart(6)} ms${r.error ? `  ${r.error.message}` : ''}`)
    .join('\n');
}

export function createKernel(options: KernelOptions = {}): Kernel {
  const logger = options.logger ?? createLogger('kernel');
  const timeoutMs = options.timeoutMs ?? 30_000;
  const plugins: Plugin[] = [];
  const services = new Map<string, unknown>();
  const hooks = new Map<string, Array<(...args: unknown[]) => Promise<void> | void>>();
  const results = new Map<string, PluginStartupResult>();
  const initialized: Plugin[] = [];
  const startedAt = Date.now();
  let shutdown: Promise<void> | null = null;

  const contextOf = (p: Plugin): PluginContext => ({
    logger: logger.child({ plugin: p.name }),
    registerService(name, service) {
      if (services.has(name)) throw new Error(`plugin "${p.name}" registers service "${name}", already registered`);
      services.set(name, service);
    },
    getService<T>(name: string): T {
      if (!services.has(name)) throw new Error(`plugin "${p.name}" needs service "${name}", which no started plugin registered`);
      return services.get(name) as T;
    },
    getOptionalService: <T>(name: string) => services.get(name) as T | undefined,
    hook(name, fn) {
      hooks.set(name, [...(hooks.get(name) ?? []), fn]);
    },
    async trigger(name, ...args) {
      for (const fn of hooks.get(name) ?? []) await fn(...args);
    },
  });

  const failedOf = (p: Plugin): string | undefined =>
    p.manifest.capabilities.requires.find((r) => !r.optional && results.get(r.pluginId) && !results.get(r.pluginId)!.success)?.pluginId;

  const destroyAll = async () => {
    for (const p of [...initialized].reverse()) {
      try {
        await withTimeout(p.destroy?.(), options.destroyTimeoutMs ?? 10_000, `plugin "${p.name}" did not stop within ${options.destroyTimeoutMs ?? 10_000} ms`);
      } catch (e) {
        logger.error({ plugin: p.name, err: e instanceof Error ? e.message : String(e) }, 'plugin failed to stop');
      }
    }
    initialized.length = 0;
  };

  const kernel: Kernel = {
    plugins,
    use(plugin) {
      if (plugins.some((p) => p.name === plugin.name)) throw new Error(`plugin "${plugin.name}" is installed twice`);
      plugins.push(plugin);
      return kernel;
    },
    async bootstrap() {
      const order = dependencyOrder(plugins);
      const spent = new Map<string, number>();
      const fail = async (p: Plugin, e: unknown, phase: string): Promise<boolean> => {
        const err = e instanceof Error ? e : new Error(String(e));
        const code = (err as { code?: unknown }).code;
        results.set(p.name, {
          plugin: { name: p.name, version: p.version }, success: false, optional: Boolean(p.optional), duration: spent.get(p.name) ?? 0,
          error: { name: err.name, message: `${phase}: ${err.message}`, ...(typeof code === 'string' ? { code } : {}) },
        });
        if (p.optional) {
          logger.warn({ plugin: p.name, err: err.message }, 'optional plugin failed to start: running degraded without it');
          return true;
        }
        const report = order.map((q) => results.get(q.name)).filter((r): r is PluginStartupResult => Boolean(r));
        logger.error({ plugin: p.name, err: err.message }, `startup failed\n${formatStartupReport(report)}`);
        await destroyAll();
        throw new KernelStartupError(p.name, report);
      };
      // Each phase in dependency order; a plugin's budget is its init and start together.
      for (const phase of ['init', 'start'] as const) {
        for (const p of order) {
          if (results.get(p.name)?.success === false) continue;
          const dep = failedOf(p);
          if (dep) {
            // Initialized already (its dependency failed at start): released before it is reported.
            if (initialized.includes(p)) {
              initialized.splice(initialized.indexOf(p), 1);
              await Promise.resolve(p.destroy?.()).catch(() => {});
            }
            await fail(p, new Error(`requires "${dep}", which failed to start`), phase);
            continue;
          }
          const t0 = performance.now();
          const budget = (p.timeoutMs ?? timeoutMs) - (spent.get(p.name) ?? 0);
          try {
            await withTimeout(p[phase]?.(contextOf(p)), Math.max(budget, 1), `did not ${phase === 'init' ? 'initialize' : 'start'} within ${p.timeoutMs ?? timeoutMs} ms`);
            if (phase === 'init') initialized.push(p);
          } catch (e) {
            spent.set(p.name, (spent.get(p.name) ?? 0) + performance.now() - t0);
            // Timed out: its work may still be running; destroy is not called on what never finished.
            if (phase === 'start' && (e as { code?: unknown }).code === 'TIMEOUT') initialized.splice(initialized.indexOf(p), 1);
            else if (phase === 'start' && p.optional) {
              initialized.splice(initialized.indexOf(p), 1);
              await Promise.resolve(p.destroy?.()).catch(() => {});
            }
            await fail(p, e, phase);
            continue;
          }
          spent.set(p.name, (spent.get(p.name) ?? 0) + performance.now() - t0);
          if (phase === 'start')
            results.set(p.name, { plugin: { name: p.name, version: p.version }, success: true, optional: Boolean(p.optional), duration: spent.get(p.name)!, health: { healthy: true, timestamp: new Date().toISOString() } });
        }
      }
      const report = order.map((p) => results.get(p.name)!);
      // The startup report: one line per plugin, with its duration.
      for (const r of report)
        logger.info({ plugin: r.plugin.name, version: r.plugin.version, durationMs: Math.round(r.duration), success: r.success, ...(r.error ? { err: r.error.message } : {}) },
          `plugin ${r.plugin.name} ${r.success ? 'started' : 'FAILED (optional: running degraded)'} in ${Math.round(r.duration)} ms`);
      logger.info({ plugins: report.length, sinceProcessStartMs: Math.round(performance.now()) }, `${report.length} plugins started`);
      for (const fn of hooks.get('kernel:ready') ?? []) await fn();
      return report;
    },
    startupReport: () => dependencyOrder(plugins).map((p) => results.get(p.name)).filter((r): r is PluginStartupResult => Boolean(r)),
    async health() {
      const timestamp = new Date().toISOString();
      const uptime = (Date.now() - startedAt) / 1000;
      const reports = new Map<string, PluginHealthReport>();
      await Promise.all(
        plugins.map(async (p) => {
          const started = results.get(p.name);
          let own: PluginCheck;
          if (!started) own = { status: 'unknown', message: 'not started' };
          else if (!started.success) own = { status: 'failed', message: started.error?.message ?? 'failed to start' };
          else if (!p.healthCheck) own = { status: 'healthy' };
          else
            own = await withTimeout(p.healthCheck(), options.healthTimeoutMs ?? 2_000, `no answer within ${options.healthTimeoutMs ?? 2_000} ms`).catch(
              (e: unknown): PluginCheck => ({ status: 'unhealthy', message: e instanceof Error ? e.message : String(e) }),
            );
          const checks = own.checks ?? [];
          const status = own.status ?? (checks.some((c) => c.status === 'failed') ? 'unhealthy' : checks.some((c) => c.status === 'warning') ? 'degraded' : 'healthy');
          reports.set(p.name, { status, timestamp, ...(own.message ? { message: own.message } : {}), metrics: { uptime, memoryUsage: process.memoryUsage().rss }, checks, dependencies: [] });
        }),
      );
      for (const p of plugins)
        reports.get(p.name)!.dependencies = p.manifest.capabilities.requires
          .filter((r) => reports.has(r.pluginId))
          .map((r) => ({ pluginId: r.pluginId, status: reports.get(r.pluginId)!.status }));
      const list = dependencyOrder(plugins).map((p) => ({ name: p.name, report: reports.get(p.name)! }));
      const bad = (p: Plugin) => ['unhealthy', 'failed', 'unknown'].includes(reports.get(p.name)!.status);
      const status: PluginHealthStatus = plugins.some((p) => !p.optional && bad(p)) ? 'unhealthy' : plugins.some((p) => bad(p) || reports.get(p.name)!.status === 'degraded') ? 'degraded' : 'healthy';
      return { status, plugins: list };
    },
    shutdown() {
      shutdown ??= destroyAll();
      return shutdown;
    },
    attach(readiness) {
      readiness.register('plugins', () => {
        const down = [...results.values()].filter((r) => !r.success).map((r) => r.plugin.name);
        return down.length ? { status: 'degraded', message: `running without ${down.join(', ')}` } : undefined;
      });
    },
    getService: <T>(name: string) => services.get(name) as T | undefined,
  };
  return kernel;
}
