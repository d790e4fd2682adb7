import type { Kernel, PluginHealthReport, PluginHealthStatus, PluginStartupResult } from '@objectos/kernel';
import type { Readiness } from '@objectos/observability';

export interface ComponentHealth {
  name: string;
  /** The process reporting it. */
  process: string;
  report: PluginHealthReport;
}

export type ProcessStartup = PluginStartupResult & { process: string };

/** Where the metrics subgraph learns about health and startup: this process's kernel, and other processes. */
export interface MetricsSource {
  health(): Promise<{ status: PluginHealthStatus; components: ComponentHealth[] }>;
  startupReport(): Promise<ProcessStartup[]>;
}

const RANK: Record<PluginHealthStatus, number> = { healthy: 0, recovering: 1, degraded: 2, unknown: 3, unhealthy: 4, failed: 5 };
/** The worse of two statuses (for combining processes). */
export const worse = (a: PluginHealthStatus, b: PluginHealthStatus): PluginHealthStatus => (RANK[b] > RANK[a] ? b : a);

const checkStatus = (s: string): 'passed' | 'failed' | 'warning' => (s === 'healthy' ? 'passed' : s === 'degraded' ? 'warning' : 'failed');

/**
 * This process: each plugin's report from its kernel, and each readiness check (database, Redis, the
 * gateway's subgraphs) as a component of its own, so a dependency that is down shows by its name.
 */
export function kernelSource(kernel: Kernel, processName: string, readiness?: Readiness): MetricsSource {
  return {
    async health() {
      const [h, ready] = await Promise.all([kernel.health(), readiness?.report()]);
      const timestamp = new Date().toISOString();
      const components: ComponentHealth[] = h.plugins.map((p) => ({ name: p.name, process: processName, report: p.report }));
      let status = h.status;
      for (const c of ready?.checks ?? []) {
        if (c.name === 'plugins' || c.name === 'lifecycle') continue;
        const s: PluginHealthStatus = c.status;
        status = worse(status, s);
        const check = { name: `ready: ${c.name}`, status: checkStatus(c.status), ...(c.message ? { message: c.message } : {}) };
        // A probe named after a plugin (database) is one more check of that plugin's report.
        const plugin = components.find((x) => x.name === c.name);
        if (plugin) {
          plugin.report.checks.push(check);
          plugin.report.status = worse(plugin.report.status, s);
          continue;
        }
        components.push({
          name: c.name, process: processName,
          report: { status: s, timestamp, ...(c.message ? { message: c.message } : {}), checks: [{ name: c.name, status: checkStatus(c.status), ...(c.message ? { message: c.message } : {}) }], dependencies: [] },
        });
      }
      return { status, components };
    },
    startupReport: () => Promise.resolve(kernel.startupReport().map((r) => ({ ...r, process: processName }))),
  };
}

/** Several sources (this process and others) as one: components listed together, the worst status. */
export function combinedSource(sources: MetricsSource[]): MetricsSource {
  return {
    async health() {
      const all = await Promise.all(sources.map((s) => s.health()));
      return { status: all.reduce<PluginHealthStatus>((a, h) => worse(a, h.status), 'healthy'), components: all.flatMap((h) => h.components) };
    },
    startupReport: async () => (await Promise.all(sources.map((s) => s.startupReport()))).flat(),
  };
}
