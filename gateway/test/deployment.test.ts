import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT, testAuth } from '@objectos/testkit';
import { createGateway, readConfig } from '../src/index.ts';

const hasCompose = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;
if (!hasCompose) console.warn('[objectos] docker-compose is not installed: the `docker-compose config` check is NOT RUN (CI installs it)');

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(`${REPO_ROOT}docker-compose.yml`, 'utf8'), { merge: true }) as { services: Record<string, { environment?: Record<string, string>; depends_on?: unknown }> };

  it.runIf(hasCompose)('passes `docker-compose config`, and refuses to run without OBJECTOS_SECRET', () => {
    const config = (env: NodeJS.ProcessEnv) => execFileSync('docker-compose', ['-f', `${REPO_ROOT}docker-compose.yml`, 'config', '-q'], { stdio: 'pipe', env });
    expect(() => config({ ...process.env, OBJECTOS_SECRET: 'a-secret-of-at-least-thirty-two-characters!' })).not.toThrow();
    const { OBJECTOS_SECRET: _, ...without } = process.env;
    expect(() => config(without)).toThrow(/set OBJECTOS_SECRET/);
  });

  it('describes PostgreSQL, Redis, the identity, data, audit, automation, workflow and metrics subgraphs, the worker and the gateway, wired the way the code reads its configuration', async () => {
    expect(Object.keys(compose.services).sort()).toEqual(['audit', 'automation', 'data', 'gateway', 'identity', 'metrics', 'postgres', 'redis', 'worker', 'workflow']);
    // As docker-compose substitutes `${VAR:-default}` with nothing set: the default.
    const substituted = Object.fromEntries(Object.entries(compose.services['gateway']!.environment!).map(([k, v]) => [k, String(v).replace(/\$\{\w+:-([^}]*)\}/g, '$1')]));
    const gw = readConfig(substituted, []);
    expect(gw.remoteSubgraphs).toEqual({ identity: 'http://identity:4002/graphql', data: 'http://data:4001/graphql', audit: 'http://audit:4003/graphql', automation: 'http://automation:4004/graphql', workflow: 'http://workflow:4006/graphql', metrics: 'http://metrics:4007/graphql' });
    for (const name of ['gateway', 'identity', 'data', 'audit', 'automation', 'worker', 'workflow', 'metrics']) expect(compose.services[name]!.environment!['OBJECTOS_SECRET'], name).toMatch(/OBJECTOS_SECRET/);
    // Every ObjectOS process serves /metrics on its operations port; the metrics subgraph asks each process's probes.
    for (const name of ['gateway', 'identity', 'data', 'audit', 'automation', 'worker', 'workflow', 'metrics']) expect(compose.services[name]!.environment!['OBJECTOS_METRICS_PORT'], name).toBe('9464');
    const { healthTargets } = await import('@objectos/metrics-subgraph');
    const targets = healthTargets(compose.services['metrics']!.environment!['OBJECTOS_HEALTH_TARGETS']);
    expect(targets.map((t) => t.name).sort()).toEqual(['audit', 'automation', 'data', 'identity', 'worker', 'workflow']);
    for (const t of targets) expect(t.url, t.name).toBe(`http://${t.name}:${compose.services[t.name]!.environment!['PORT']}`);
    expect(compose.services['identity']!.environment!['DATABASE_URL']).toBe(compose.services['data']!.environment!['DATABASE_URL']);
    // The audit subgraph reads the queue the data and identity subgraphs write, in the same database.
    expect(compose.services['audit']!.environment!['DATABASE_URL']).toBe(compose.services['data']!.environment!['DATABASE_URL']);
    expect(compose.services['audit']!.environment!['REDIS_URL']).toBe(compose.services['gateway']!.environment!['REDIS_URL']);
    // Change events travel between data replicas (and auth events between gateways) over the same Redis.
    expect(compose.services['data']!.environment!['REDIS_URL']).toBe(compose.services['gateway']!.environment!['REDIS_URL']);
    // Jobs: identity and the automation API queue, the worker works, all on one Redis under one prefix, effects in one database.
    const env = (n: string) => compose.services[n]!.environment!;
    for (const name of ['identity', 'automation', 'worker', 'workflow']) {
      expect(env(name)['OBJECTOS_JOBS_PREFIX'], name).toBe('objectos');
      expect(env(name)['REDIS_URL'], name).toBe(env('gateway')['REDIS_URL']);
      expect(env(name)['DATABASE_URL'], name).toBe(env('data')['DATABASE_URL']);
    }
    const services = compose.services as Record<string, { command?: string[]; healthcheck?: { test: string[] } }>;
    expect(services['worker']!.command).toContain('subgraphs/automation/src/worker.ts');
    // The worker runs workflow rules: their writes go to the data subgraph's own API.
    expect(env('worker')['DATA_URL']).toBe(`http://data:${env('data')['PORT']}/graphql`);
    // The workflow subgraph writes state changes through the data subgraph (signed grants); its actions run on the worker.
    expect(env('workflow')['DATA_URL']).toBe(`http://data:${env('data')['PORT']}/graphql`);
    expect(services['workflow']!.command).toContain('subgraphs/workflow/src/main.ts');
    // Every ObjectOS process is checked on its readiness (started, database and Redis answer, not shutting down).
    for (const name of ['identity', 'data', 'audit', 'automation', 'worker', 'workflow', 'metrics', 'gateway'])
      expect(services[name]!.healthcheck!.test.join(' '), name).toContain(`127.0.0.1:${env(name)['PORT']}/ready`);
    // An acknowledged job survives a Redis restart: AOF on, nothing evicted.
    expect(services['redis']!.command).toEqual(expect.arrayContaining(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']));
    expect(gw).toMatchObject({ host: '0.0.0.0', port: 4000, graphiql: false, introspection: false, redisUrl: 'redis://redis:6379', rateLimitPerMinute: 600 });
    expect(compose.services['data']!.environment!['DATABASE_URL']).toMatch(/^postgres:\/\/objectos:objectos@postgres:5432\/objectos$/);
  });
});

describe('configuration', () => {
  it('has safe defaults: embedded engine, seeded demo, GraphiQL only outside production', () => {
    expect(readConfig({}, [])).toMatchObject({ host: '127.0.0.1', port: 4000, databaseUrl: undefined, seed: true, graphiql: true, remoteSubgraphs: {} });
    expect(readConfig({ NODE_ENV: 'production' }, []).graphiql).toBe(false);
    expect(readConfig({}, ['--empty']).seed).toBe(false);
  });

  it('reads trusted origins as URL origins (the spelling CORS and better-auth both compare), and names a bad one', () => {
    expect(readConfig({ OBJECTOS_TRUSTED_ORIGINS: 'https://app.example.com/, http://admin.example.com:8080/x' }, []).trustedOrigins).toEqual(['https://app.example.com', 'http://admin.example.com:8080']);
    expect(() => readConfig({ OBJECTOS_TRUSTED_ORIGINS: 'app.example.com' }, [])).toThrow(/OBJECTOS_TRUSTED_ORIGINS entries are origins such as https:\/\/app\.example\.com, got "app\.example\.com"/);
  });

  it('needs OBJECTOS_SECRET in production, refuses a short one, and keeps a generated one in development', async () => {
    const { resolveSecret } = await import('../src/secret.ts');
    const { mkdtempSync, readFileSync: read } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'objectos-secret-')), 'secret');
    expect(() => resolveSecret({ secret: undefined, secretFile: file, production: true })).toThrow(/OBJECTOS_SECRET is required in production/);
    expect(() => resolveSecret({ secret: 'short', secretFile: file, production: false })).toThrow(/at least 32 characters/);
    const generated = resolveSecret({ secret: undefined, secretFile: file, production: false });
    expect(generated.length).toBeGreaterThanOrEqual(32);
    expect(read(file, 'utf8').trim()).toBe(generated);
    expect(resolveSecret({ secret: undefined, secretFile: file, production: false })).toBe(generated);
  });

  it('refuses malformed settings with a message naming them', () => {
    expect(() => readConfig({ PORT: 'eighty' }, [])).toThrow(/PORT must be a port number, got "eighty"/);
    expect(() => readConfig({ OBJECTOS_SUBGRAPHS: 'billing' }, [])).toThrow(/OBJECTOS_SUBGRAPHS entries are name=http/);
  });

  it('reads the plain gateway mode and its authentication, refusing incomplete or contradictory settings', () => {
    expect(readConfig({ OBJECTOS_MODE: 'gateway', OBJECTOS_SUPERGRAPH: 'supergraph.graphql', OBJECTOS_AUTH: 'none' }, [])).toMatchObject({ mode: 'gateway', supergraph: 'supergraph.graphql', auth: 'none', pollMs: 10_000, queryPlanner: 'rust' });
    expect(readConfig({}, []).queryPlanner).toBe('stitching');
    expect(() => readConfig({ OBJECTOS_QUERY_PLANNER: 'apollo' }, [])).toThrow(/OBJECTOS_QUERY_PLANNER must be one of stitching, rust/);
    expect(readConfig({ OBJECTOS_MODE: 'gateway', OBJECTOS_SUBGRAPHS: 'a=http://a:4001/graphql', OBJECTOS_AUTH: 'jwt', OBJECTOS_JWKS_URL: 'https://idp.example.com/jwks', OBJECTOS_JWT_ISSUER: 'https://idp.example.com/', OBJECTOS_POLL_MS: '0' }, []))
      .toMatchObject({ auth: 'jwt', jwt: { jwksUrl: 'https://idp.example.com/jwks', issuer: 'https://idp.example.com/', audience: undefined, organizationClaim: 'org_id', rolesClaim: 'roles' }, pollMs: 0 });
    expect(() => readConfig({ OBJECTOS_MODE: 'router' }, [])).toThrow(/OBJECTOS_MODE must be one of objectos, gateway, got "router"/);
    expect(() => readConfig({ OBJECTOS_MODE: 'gateway' }, [])).toThrow(/needs OBJECTOS_SUPERGRAPH \(a file or URL\) or OBJECTOS_SUBGRAPHS/);
    expect(() => readConfig({ OBJECTOS_MODE: 'gateway', OBJECTOS_SUPERGRAPH: 's.graphql', OBJECTOS_SUBGRAPHS: 'a=http://a/graphql' }, [])).toThrow(/not both/);
    expect(() => readConfig({ OBJECTOS_SUPERGRAPH: 's.graphql' }, [])).toThrow(/OBJECTOS_SUPERGRAPH is for OBJECTOS_MODE=gateway/);
    expect(() => readConfig({ OBJECTOS_AUTH: 'none' }, [])).toThrow(/OBJECTOS_AUTH=none is for OBJECTOS_MODE=gateway/);
    expect(() => readConfig({ OBJECTOS_MODE: 'gateway', OBJECTOS_SUPERGRAPH: 's.graphql', OBJECTOS_AUTH: 'jwt' }, [])).toThrow(/OBJECTOS_AUTH=jwt needs OBJECTOS_JWKS_URL/);
    expect(() => readConfig({ OBJECTOS_MODE: 'gateway', OBJECTOS_SUPERGRAPH: 's.graphql', OBJECTOS_AUTH: 'saml' }, [])).toThrow(/OBJECTOS_AUTH must be one of objectos, jwt, none/);
  });

  it('serves GraphiQL in development and not otherwise', async () => {
    const sdl = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])\ntype Query { hello: String }';
    const fetchLocal = async () => Response.json({ data: { hello: 'hi' } });
    const page = async (graphiql: boolean) => {
      const gw = await createGateway({ auth: testAuth(), subgraphs: [{ name: 'h', url: 'http://h/graphql', sdl, fetch: fetchLocal }], graphiql });
      const r = await gw.fetch(new Request('http://x/graphql', { headers: { accept: 'text/html' } }));
      return { status: r.status, body: await r.text() };
    };
    const on = await page(true);
    expect(on.body).toMatch(/ObjectOS GraphiQL/);
    // Served from the installed package: no script, style or icon is fetched from anywhere else
    // (graphiql-browser.test loads it in Chromium with the network cut).
    expect(on.body).not.toMatch(/<(script|link)[^>]+(src|href)="(https?:)?\/\//);
    const off = await page(false);
    expect(off.body).not.toMatch(/GraphiQL/);
  });
});
