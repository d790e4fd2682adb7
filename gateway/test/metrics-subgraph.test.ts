import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, signIn, withHeaders } from '@objectos/testkit';
import { startRulesApp, type RulesApp } from './rules-app.ts';

const PASSWORD = 'Sup3r-secret-pass!';

interface Report { status: string; message: string | null; checks: { name: string; status: string; message: string | null }[]; dependencies: { pluginId: string; status: string }[]; metrics: { uptime: number; memoryUsage: number } | null }
interface Component { name: string; process: string; report: Report }

/**
 * The metrics subgraph through the gateway (embedded: one process, every plugin in it): health per
 * component, current metric values and the startup report, for administrators only.
 */
describe('metrics subgraph: health, metrics and the startup report (pglite)', () => {
  let rig: RulesApp;
  let member: (q: string, v?: Record<string, unknown>) => ReturnType<typeof gql>;
  beforeAll(async () => {
    rig = await startRulesApp({ engine: 'pglite', slug: 'ops' });
    const orgId = (await rig.q<{ activeOrganization: { id: string } }>('{ activeOrganization { id } }')).activeOrganization.id;
    const auth = (path: string, body: unknown, token?: string) =>
      fetch(`${rig.base}/api/auth${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
    const id = ((await (await auth('/sign-up/email', { email: 'mo@ops.test', password: PASSWORD, name: 'Mo' })).json()) as { user: { id: string } }).user.id;
    await rig.app.identity!.auth.api.addMember({ body: { userId: id, organizationId: orgId, role: 'member' } });
    await rig.q('mutation($i: SetMemberAccessInput!) { setMemberAccess(input: $i) { userId } }', { i: { userId: id, role: null, permissionSets: ['standard_user'], groups: [] } });
    const token = await signIn(rig.base, 'mo@ops.test', PASSWORD);
    await auth('/organization/set-active', { organizationId: orgId }, token);
    const endpoint = withHeaders(`${rig.base}/graphql`, { authorization: `Bearer ${token}` });
    member = (q, v = {}) => gql(endpoint, q, v);
  }, 180_000);
  afterAll(() => rig?.close());

  it('health: a PluginHealthReport per component (every plugin, the database and the subgraphs), healthy', async () => {
    const { health } = await rig.q<{ health: { status: string; timestamp: string; components: Component[] } }>(`{ health { status timestamp components {
      name process report { status message checks { name status message } dependencies { pluginId status } metrics { uptime memoryUsage } } } } }`);
    expect(health.status).toBe('healthy');
    expect(Date.now() - Date.parse(health.timestamp)).toBeLessThan(60_000);
    const names = health.components.map((c) => c.name);
    for (const n of ['events', 'realtime', 'database', 'jobs', 'notifications', 'identity', 'data', 'audit', 'automation', 'workflow', 'metrics', 'gateway', 'subgraphs'])
      expect(names, n).toContain(n);
    const by = Object.fromEntries(health.components.map((c) => [c.name, c]));
    expect(by['database']!.report.checks[0]).toMatchObject({ name: 'pglite answers select 1', status: 'passed' });
    expect(by['gateway']!.report.checks.map((c) => c.name).sort()).toEqual(['subgraph audit', 'subgraph automation', 'subgraph data', 'subgraph identity', 'subgraph metrics', 'subgraph workflow']);
    expect(by['data']!.report.dependencies).toEqual(expect.arrayContaining([{ pluginId: 'database', status: 'healthy' }, { pluginId: 'realtime', status: 'healthy' }]));
    expect(by['jobs']!.report.checks.find((c) => c.name === 'workers')!.message).toMatch(/^working \d+ queues$/);
    expect(by['data']!.report.checks.find((c) => c.name === 'outbox relay')).toMatchObject({ status: 'passed' });
    expect(by['data']!.report.metrics!.uptime).toBeGreaterThan(0);
    expect(by['data']!.report.metrics!.memoryUsage).toBeGreaterThan(10_000_000);
    expect(health.components.every((c) => c.process === 'objectos')).toBe(true);
  });

  it('startupReport: every plugin with its version, success and duration, in dependency order', async () => {
    const { startupReport } = await rig.q<{ startupReport: { plugin: { name: string; version: string }; process: string; success: boolean; duration: number; optional: boolean; error: unknown; health: { healthy: boolean } | null }[] }>(
      '{ startupReport { plugin { name version } process success duration optional error { message } health { healthy timestamp } } }');
    const order = startupReport.map((r) => r.plugin.name);
    expect(order.indexOf('database')).toBeLessThan(order.indexOf('data'));
    expect(order.indexOf('jobs')).toBeLessThan(order.indexOf('workflow'));
    expect(order.at(-1)).toBe('gateway');
    expect(startupReport.every((r) => r.success && r.error === null && r.health?.healthy === true && r.plugin.version === '0.1.0' && r.duration >= 0)).toBe(true);
    expect(startupReport.find((r) => r.plugin.name === 'metrics')!.optional).toBe(true);
    expect(startupReport.find((r) => r.plugin.name === 'data')!.optional).toBe(false);
    // Migrations take time: the data plugin's duration is measured, not zero.
    expect(startupReport.find((r) => r.plugin.name === 'data')!.duration).toBeGreaterThan(1);
  });

  it('metrics(names): current values with their labels, only the names asked for', async () => {
    await rig.q('{ accounts(first: 1) { nodes { id } } }');
    const { metrics } = await rig.q<{ metrics: { name: string; type: string; help: string; samples: { name: string | null; labels: { name: string; value: string }[]; value: number }[] }[] }>(
      'query($n: [String!]) { metrics(names: $n) { name type help samples { name labels { name value } value } } }', { n: ['objectos_http_requests_total', 'nodejs_heap_size_used_bytes'] });
    expect(metrics.map((m) => m.name).sort()).toEqual(['nodejs_heap_size_used_bytes', 'objectos_http_requests_total']);
    const http = metrics.find((m) => m.name === 'objectos_http_requests_total')!;
    expect(http.type).toBe('counter');
    const graphqlOk = http.samples.find((s) => s.labels.some((l) => l.name === 'route' && l.value === '/graphql') && s.labels.some((l) => l.name === 'status' && l.value === '200'));
    expect(graphqlOk?.value).toBeGreaterThan(0);
    expect(metrics.find((m) => m.name === 'nodejs_heap_size_used_bytes')!.samples[0]!.value).toBeGreaterThan(1_000_000);
    const all = await rig.q<{ metrics: { name: string }[] }>('{ metrics { name } }');
    expect(all.metrics.length).toBeGreaterThan(10);
  });

  it('a member without viewSetup or viewMetrics is refused each, naming the permission; anonymous callers too', async () => {
    for (const [q, permission] of [['{ health { status } }', 'viewSetup'], ['{ startupReport { success } }', 'viewSetup'], ['{ metrics { name } }', 'viewMetrics']] as const) {
      const r = await member(q);
      expect(r.data ?? null, q).toBeNull();
      expect(r.errors?.[0]?.extensions?.['code'], q).toBe('FORBIDDEN');
      expect(r.errors?.[0]?.message, q).toContain(permission);
      const anonymous = await gql(`${rig.base}/graphql`, q);
      expect(anonymous.data ?? null).toBeNull();
      expect(anonymous.errors?.length).toBeGreaterThan(0);
    }
  });
});
