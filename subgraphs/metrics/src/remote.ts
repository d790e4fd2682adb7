import type { PluginHealthReport, PluginHealthStatus } from '@objectos/kernel';
import type { ComponentHealth, MetricsSource, ProcessStartup } from './source.ts';
import { worse } from './source.ts';

export interface RemoteProcess {
  /** The process's name (the subgraph it runs: data, identity…). */
  name: string;
  /** Its base URL (its probes answer `/ready` and `/startup` there). */
  url: string;
}

interface ReadyBody {
  status?: string;
  checks?: Array<{ name: string; status: string; message?: string }>;
}

const STATUSES = new Set(['healthy', 'degraded', 'unhealthy']);
const checkStatus = (s: string): 'passed' | 'failed' | 'warning' => (s === 'healthy' ? 'passed' : s === 'degraded' ? 'warning' : 'failed');

async function getJson<T>(url: string, timeoutMs: number): Promise<{ status: number; body: T | null }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: r.status, body: (await r.json().catch(() => null)) as T | null };
}

/**
 * Other processes of a services deployment, asked over their probes: `/ready` (each of its checks
 * becomes a component: its database, Redis, subgraphs) and `/startup` (its kernel's report). A process
 * that does not answer is one `unhealthy` component named after it; it is never left out silently.
 */
export function remoteSource(processes: readonly RemoteProcess[], timeoutMs = 2_000): MetricsSource {
  return {
    async health() {
      const timestamp = new Date().toISOString();
      let status: PluginHealthStatus = 'healthy';
      const components: ComponentHealth[] = [];
      await Promise.all(processes.map(async (p) => {
        let body: ReadyBody | null = null;
        let message: string | undefined;
        try {
          body = (await getJson<ReadyBody>(new URL('/ready', p.url).href, timeoutMs)).body;
        } catch (e) {
          message = e instanceof Error && e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : 'unreachable';
        }
        const overall: PluginHealthStatus = body?.status && STATUSES.has(body.status) ? (body.status as PluginHealthStatus) : 'unhealthy';
        status = worse(status, overall);
        const checks = (body?.checks ?? []).map((c) => ({ name: c.name, status: checkStatus(c.status), ...(c.message ? { message: c.message } : {}) }));
        const report: PluginHealthReport = { status: overall, timestamp, ...(message ? { message } : {}), checks, dependencies: [] };
        components.push({ name: p.name, process: p.name, report });
      }));
      return { status, components: components.sort((a, b) => a.name.localeCompare(b.name)) };
    },
    async startupReport() {
      const all = await Promise.all(processes.map(async (p): Promise<ProcessStartup[]> => {
        try {
          const { body } = await getJson<{ plugins?: ProcessStartup[] }>(new URL('/startup', p.url).href, timeoutMs);
          return (body?.plugins ?? []).map((r) => ({ ...r, process: p.name }));
        } catch {
          return [{ plugin: { name: p.name, version: 'unknown' }, process: p.name, success: false, optional: false, duration: 0, error: { name: 'Unreachable', message: 'the process did not answer /startup' } }];
        }
      }));
      return all.flat();
    },
  };
}

/** OBJECTOS_HEALTH_TARGETS, refused clearly when an entry is not `name=url`. */
export function healthTargets(raw: string | undefined): RemoteProcess[] {
  return (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((entry) => {
    const at = entry.indexOf('=');
    const name = entry.slice(0, at).trim();
    const url = entry.slice(at + 1).trim();
    if (at < 1 || !/^[a-z][a-z0-9_-]*$/.test(name) || !URL.canParse(url)) throw new Error(`OBJECTOS_HEALTH_TARGETS: "${entry}" is not name=url (e.g. data=http://data:4001)`);
    return { name, url };
  });
}
