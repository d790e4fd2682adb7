import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, get as httpGet } from 'node:http';
import { cpus, loadavg } from 'node:os';
import autocannon from 'autocannon';
import pg from 'pg';
import { createTestDatabase, gqlOk, REPO_ROOT } from '@objectos/testkit';
import { metrics } from '@objectos/observability';
import { cpuMs } from './compare/process.ts';

/**
 * What metrics and tracing cost (issue #18 point 8). The query of bench/gateway-vs-direct.ts ("50 accounts
 * with their contacts") through the gateway with the data subgraph in process, on real PostgreSQL, with
 * autocannon, in four configurations:
 *   - metrics on (the default) and OBJECTOS_METRICS=off: target on/off throughput ≥ 0.95;
 *   - tracing with every span sampled and 10% sampled, exported nowhere (a no-op exporter behind the
 *     batch processor), both with metrics on, against the metrics-on server (tracing off).
 * Each run has a server process of its own (started, warmed up, loaded, stopped): with one process per
 * configuration kept across rounds, the 10%-tracing process (strictly more work) beat the metrics-only one
 * in all of 4 rounds, by up to 25%: a per-process effect that would otherwise stick to one configuration. Rounds run in alternating order (ABCD, DCBA, …) so drift on a
 * shared machine does not favour one. Each server's gateway port is wrapped as `npm start` wraps it
 * (request span, HTTP metrics). Then `/metrics` with ≥ 1,000 series: `registry.metrics()` in process, and
 * GET /metrics on the operations port of a metrics-on server after traffic (target < 20 ms).
 * Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:observability
 */
const DURATION = Number(process.env['BENCH_DURATION'] ?? 15);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 50);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 4);
const SCRAPES = 200;
const QUERY = '{ accounts(first: 50, orderBy: [{ field: NAME }]) { nodes { id name industry annualRevenue contacts { id firstName lastName email } } } }';

if (!process.env['DATABASE_URL']) {
  console.error('The benchmark runs on real PostgreSQL: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test).');
  process.exit(2);
}

interface Server { child: ChildProcess; ports: Record<string, number>; stop(): Promise<number | null> }

/** bench/server.ts in its own process; `stop` resolves with the spans its no-op exporter received (null without tracing). */
function startServer(env: Record<string, string>): Promise<Server> {
  const profile = process.env['BENCH_PROFILE'] === '1' ? ['--cpu-prof', `--cpu-prof-dir=${REPO_ROOT}bench/results/profiles`] : [];
  const child = spawn(process.execPath, [...profile, '--import', '@objectos/runtime/register', 'bench/server.ts'], {
    cwd: REPO_ROOT, env: { ...process.env, NODE_ENV: 'production', ROLE: 'all', BENCH_INSTRUMENT: '1', OBJECTOS_METRICS_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<number | null> => {
    child.kill('SIGTERM');
    await exited;
    const m = /SPANS (\d+)/.exec(out);
    return m ? Number(m[1]) : null;
  };
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      const had = /READY (.*)/.test(out);
      out += d.toString();
      const m = /READY (.*)/.exec(out);
      if (m && !had) resolve({ child, stop, ports: Object.fromEntries(m[1]!.trim().split(' ').map((kv) => kv.split('=')).map(([k, v]) => [k!, Number(v)])) });
    });
    child.once('exit', (code) => reject(new Error(`bench server exited (${code})`)));
  });
}

const rssMiB = (pid: number): number => Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)]).toString().trim()) / 1024;

/** One measured run; `cpuUsPerRequest`: the server process's CPU (all threads) per request answered, less sensitive than req/s to what else runs on the machine. */
interface Run { config: string; round: number; rps: number; p50: number; p99: number; errors: number; non2xx: number; requests: number; cpuUsPerRequest: number; rssMiB: number; load1: number; spans: number | null }

async function load(config: string, round: number, port: number, pid: number): Promise<Omit<Run, 'spans'>> {
  const opts = { url: `http://127.0.0.1:${port}/graphql`, method: 'POST' as const, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: QUERY }), connections: CONNECTIONS };
  const warm = await autocannon({ ...opts, duration: 3 }); // warm-up: JIT, pools, caches
  const cpuBefore = cpuMs(pid);
  const r = await autocannon({ ...opts, duration: DURATION });
  const cpuAfter = cpuMs(pid);
  const cpuUsPerRequest = cpuBefore === null || cpuAfter === null ? Number.NaN : ((cpuAfter - cpuBefore) * 1000) / r.requests.total;
  // `requests` counts the warm-up too: spans per request divide the spans exported by every request sent.
  return { config, round, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx, requests: warm.requests.total + r.requests.total, cpuUsPerRequest, rssMiB: rssMiB(pid), load1: loadavg()[0]! };
}

// A keep-alive node:http client, as a Prometheus scraper keeps its connection. fetch (undici) took ~7 ms of this
// process's CPU per 214 KB scrape (node:http ~3 ms): on 2 cores that would be charged to the server's scrape.
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const getText = (url: string): Promise<string> => new Promise((resolve, reject) => {
  httpGet(url, { agent }, (res) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(new Error(`GET ${url}: ${res.statusCode}`))));
  }).on('error', reject);
});

/** Series in a Prometheus exposition: every line that is not a comment (`# HELP`, `# TYPE`) or empty. */
const seriesOf = (text: string): number => text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/**
 * Wall time of a scrape, and CPU time per scrape: of this process (`cpuMs`, the scrape itself in process,
 * the HTTP client over HTTP) and of the server (`serverCpuMs`, over HTTP). On a shared machine the wall time
 * also holds waiting for a core; the CPU time is what the scrape costs.
 */
interface Timing { series: number; bytes: number; p50: number; p99: number; max: number; cpuMs: number; serverCpuMs: number | null }

/** `SCRAPES` timed calls of `scrape` after 30 untimed ones (JIT, lazily built label maps); `pid`: the server answering them. */
async function timeScrapes(scrape: () => Promise<string>, pid?: number): Promise<Timing> {
  for (let i = 0; i < 30; i++) await scrape();
  const ms: number[] = [];
  let text = '';
  const cpu = process.cpuUsage();
  const serverBefore = pid === undefined ? null : cpuMs(pid);
  for (let i = 0; i < SCRAPES; i++) {
    const t = performance.now();
    text = await scrape();
    ms.push(performance.now() - t);
  }
  const serverAfter = pid === undefined ? null : cpuMs(pid);
  const used = process.cpuUsage(cpu);
  ms.sort((a, b) => a - b);
  return {
    series: seriesOf(text), bytes: Buffer.byteLength(text), p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), max: ms.at(-1)!,
    cpuMs: (used.user + used.system) / 1000 / SCRAPES, serverCpuMs: serverBefore === null || serverAfter === null ? null : (serverAfter - serverBefore) / SCRAPES,
  };
}

/**
 * The real registry of this process (its default process metrics and every ObjectOS metric), filled as a
 * busy process would fill it: a base of routes, statement kinds, subgraph calls and error codes, then
 * distinct operation names (their counter and 15-line histogram, for the gateway and the data subgraph)
 * until the exposition reaches `target` series or the operation-name cap.
 */
let named = 0;
async function fillRegistry(target: number): Promise<number> {
  if (named === 0) {
    for (const route of ['/graphql', '/health', '/ready', '/api/auth/sign-in', '/api/auth/get-session', 'other'])
      for (const status of ['200', '400', '401', '500']) {
        metrics.httpRequests.inc({ service: 'gateway', route, method: route === '/graphql' ? 'POST' : 'GET', status });
        metrics.httpDuration.observe({ service: 'gateway', route }, 0.004);
      }
    for (const kind of ['select', 'insert', 'update', 'delete', 'with', 'begin', 'commit', 'rollback'])
      for (const outcome of ['ok', 'error']) metrics.sqlDuration.observe({ engine: 'pg', kind, outcome }, 0.002);
    for (const subgraph of ['data', 'identity', 'audit', 'automation', 'metrics'])
      for (const outcome of ['ok', 'error']) metrics.subgraphCalls.observe({ subgraph, outcome }, 0.01);
    for (const code of ['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED', 'TIMEOUT'])
      for (const service of ['gateway', 'data']) metrics.graphqlErrors.inc({ service, code: metrics.errorCodeLabel(code) });
  }
  let series = seriesOf(await metrics.registry.metrics());
  while (series < target && named < metrics.OPERATION_NAME_CAP) {
    const operation = metrics.operationLabel(`BenchOperation${named++}`);
    for (const service of ['gateway', 'data']) {
      metrics.graphqlOperations.inc({ service, operation, type: 'query' });
      metrics.graphqlDuration.observe({ service, operation, type: 'query' }, 0.003 * (named % 7));
    }
    series = seriesOf(await metrics.registry.metrics());
  }
  return series;
}

const fmt = (n: number, d = 0): string => n.toFixed(d);
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

// 1. The scrape in process, before any server runs, so nothing else competes for the CPU while it is timed.
await fillRegistry(1_000);
const inProcess1k = await timeScrapes(() => metrics.registry.metrics());
await fillRegistry(Number.POSITIVE_INFINITY);
const inProcessCap = await timeScrapes(() => metrics.registry.metrics());

const configs: { name: string; env: Record<string, string> }[] = [
  { name: 'metrics on, tracing off', env: {} },
  { name: 'metrics off (OBJECTOS_METRICS=off)', env: { OBJECTOS_METRICS: 'off' } },
  { name: 'tracing on, 100% sampled, no-op exporter', env: { BENCH_TRACING: 'noop', OTEL_TRACES_SAMPLER_ARG: '1' } },
  { name: 'tracing on, 10% sampled, no-op exporter', env: { BENCH_TRACING: 'noop', OTEL_TRACES_SAMPLER_ARG: '0.1' } },
];
const loadAtStart = loadavg();
const db = await createTestDatabase('objectos_bench');
const servers = new Set<Server>();
const start = async (env: Record<string, string>): Promise<Server> => {
  const s = await startServer({ DATABASE_URL: db.url, ...env });
  servers.add(s);
  return s;
};
const stop = (s: Server): Promise<number | null> => (servers.delete(s), s.stop());
try {
  const seeder = await start({});
  const direct = `http://127.0.0.1:${seeder.ports['direct']}/graphql`;
  // 200 accounts with 4 contacts each; the query reads 50 accounts and their 200 contacts.
  for (let b = 0; b < 20; b++) {
    const m = Array.from({ length: 10 }, (_, i) => `a${i}: createAccount(input: { name: "Bench ${String(b * 10 + i).padStart(3, '0')}", industry: technology, annualRevenue: ${1000 * (b + i)} }) { id }`).join('\n');
    const accounts = await gqlOk<Record<string, { id: string }>>(direct, `mutation { ${m} }`);
    for (const { id } of Object.values(accounts)) {
      const c = Array.from({ length: 4 }, (_, i) => `c${i}: createContact(input: { lastName: "Contact ${i}", firstName: "Bench", email: "c${i}.${id}@example.com", accountId: "${id}" }) { id }`).join('\n');
      await gqlOk(direct, `mutation { ${c} }`);
    }
  }
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query('vacuum analyze');
  await admin.end();
  await stop(seeder);

  let contacts = 0;
  const runs: Run[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? configs.map((_, i) => i) : configs.map((_, i) => configs.length - 1 - i);
    for (const i of order) {
      const s = await start(configs[i]!.env);
      const gateway = `http://127.0.0.1:${s.ports['gateway']}/graphql`;
      // The gateway answers with data, not errors (a 200 with errors would look fast).
      const sample = await gqlOk<{ accounts: { nodes: { contacts: unknown[] }[] } }>(gateway, QUERY);
      contacts = sample.accounts.nodes.reduce((n, a) => n + a.contacts.length, 0);
      const r = await load(configs[i]!.name, round, s.ports['gateway']!, s.child.pid!);
      // The sample request made spans too: counted with the run's requests.
      const run = { ...r, requests: r.requests + 1, spans: await stop(s) };
      runs.push(run);
      console.log(`round ${round + 1}: ${r.config}: ${fmt(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${fmt(r.cpuUsPerRequest)} µs CPU/req, RSS ${fmt(r.rssMiB)} MiB, load ${fmt(r.load1, 1)}`);
    }
  }

  // 2. GET /metrics on the operations port of a metrics-on server after traffic, with distinct operation
  //    names adding series: first just past 1,000 series, then at the operation-name cap.
  const on = await start({});
  const gateway = `http://127.0.0.1:${on.ports['gateway']}/graphql`;
  const ops = `http://127.0.0.1:${on.ports['ops']}`;
  await autocannon({ url: gateway, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: QUERY }), connections: CONNECTIONS, duration: 3 });
  let names = 0;
  const addNames = async (until: (series: number) => boolean): Promise<void> => {
    while (names < metrics.OPERATION_NAME_CAP && !until(seriesOf(await getText(`${ops}/metrics`))))
      for (const end = Math.min(names + 5, metrics.OPERATION_NAME_CAP); names < end; names++) await gqlOk(gateway, `query BenchScrape${names} { accounts(first: 1) { nodes { id } } }`);
  };
  await addNames((n) => n >= 1_000);
  const overHttp1k = await timeScrapes(() => getText(`${ops}/metrics`), on.child.pid!);
  await addNames(() => false);
  const overHttpCap = await timeScrapes(() => getText(`${ops}/metrics`), on.child.pid!);
  // The same port's /health: the floor of an HTTP round trip from this client, to tell it from the scrape's own cost.
  const healthOverHttp = await timeScrapes(() => getText(`${ops}/health`), on.child.pid!);
  agent.destroy();
  await stop(on);

  const byConfig = configs.map((c) => runs.filter((r) => r.config === c.name));
  const summary = configs.map((c, i) => {
    const rs = byConfig[i]!;
    const spans = rs.every((r) => r.spans === null) ? null : rs.reduce((n, r) => n + (r.spans ?? 0), 0);
    const requests = rs.reduce((n, r) => n + r.requests, 0);
    return {
      config: c.name, rps: mean(rs.map((r) => r.rps)), cpuUsPerRequest: mean(rs.map((r) => r.cpuUsPerRequest)), p50: mean(rs.map((r) => r.p50)), p99: mean(rs.map((r) => r.p99)),
      errors: rs.reduce((n, r) => n + r.errors, 0), non2xx: rs.reduce((n, r) => n + r.non2xx, 0), rssMiB: Math.max(...rs.map((r) => r.rssMiB)), requests, spans, spansPerRequest: spans === null ? null : spans / requests,
    };
  });
  // Ratios of runs of the same round (close in time), then their mean; and the ratio of the means.
  const paired = (a: number, b: number) => {
    const perRound = Array.from({ length: ROUNDS }, (_, k) => byConfig[a]![k]!.rps / byConfig[b]![k]!.rps);
    // CPU per request the other way round (baseline / configuration): the throughput ratio a CPU-bound server would see.
    return { perRound, meanOfRounds: mean(perRound), ofMeans: summary[a]!.rps / summary[b]!.rps, cpuPerRequest: summary[b]!.cpuUsPerRequest / summary[a]!.cpuUsPerRequest };
  };
  const ratios = { metricsOnVsOff: paired(0, 1), tracing100VsOff: paired(2, 0), tracing10VsOff: paired(3, 0) };

  console.log(`\nQuery: 50 accounts with ${contacts} contacts; ${CONNECTIONS} connections, ${DURATION}s per run after a 3s warm-up, a fresh server process per run; ${ROUNDS} rounds in alternating order; PostgreSQL; Node ${process.version}; ${cpus().length} CPUs, load average ${fmt(loadAtStart[0]!, 1)} at the start, ${fmt(loadavg()[0]!, 1)} at the end (shared machine)\n`);
  console.log('| configuration | req/s per round | mean req/s | mean p50 ms | mean p99 ms | errors | non-2xx | max RSS MiB | server CPU µs/req | throughput ratio (per round; mean) | CPU/req ratio |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  const ratioOf = [ratios.metricsOnVsOff, null, ratios.tracing100VsOff, ratios.tracing10VsOff];
  summary.forEach((s, i) => {
    const r = ratioOf[i];
    const label = i === 0 ? ' vs metrics off' : i >= 2 ? ' vs tracing off' : ' (baseline)';
    const cell = r ? `${r.perRound.map((x) => fmt(x, 3)).join(' / ')}; ${fmt(r.meanOfRounds, 3)}${label}` : label.trim();
    console.log(`| ${s.config} | ${byConfig[i]!.map((r2) => fmt(r2.rps)).join(' / ')} | ${fmt(s.rps)} | ${fmt(s.p50, 1)} | ${fmt(s.p99, 1)} | ${s.errors} | ${s.non2xx} | ${fmt(s.rssMiB)} | ${fmt(s.cpuUsPerRequest)} | ${cell} | ${r ? fmt(r.cpuPerRequest, 3) : '1'} |`);
  });
  for (const s of summary) if (s.spans !== null) console.log(`${s.config}: ${s.spans} spans exported, ${fmt(s.spansPerRequest!, 2)} per request sent`);
  console.log(`\n${SCRAPES} scrapes each after 30 untimed; CPU ms per scrape: this process (the scrape in process; the HTTP client over HTTP), and the server's (all its threads).\n`);
  console.log('| /metrics scrape | series | bytes | p50 ms | p99 ms | max ms | CPU ms/scrape here | server CPU ms/scrape |');
  console.log('|---|---|---|---|---|---|---|---|');
  const scrapes = [
    ['registry.metrics(), in process', inProcess1k], ['registry.metrics(), in process, operation-name cap reached', inProcessCap],
    ['GET /metrics, operations port of a server after traffic', overHttp1k], ['GET /metrics, same server, operation-name cap reached', overHttpCap], ['GET /health, same port (HTTP round trip alone)', healthOverHttp],
  ] as const;
  for (const [name, t] of scrapes)
    console.log(`| ${name} | ${t.series} | ${t.bytes} | ${fmt(t.p50, 2)} | ${fmt(t.p99, 2)} | ${fmt(t.max, 2)} | ${fmt(t.cpuMs, 2)} | ${t.serverCpuMs === null ? '' : fmt(t.serverCpuMs, 2)} |`);
  const spread = Math.max(...byConfig.map((rs) => (Math.max(...rs.map((r) => r.rps)) - Math.min(...rs.map((r) => r.rps))) / mean(rs.map((r) => r.rps))));
  console.log(`\nLargest spread between rounds of one configuration: ${fmt(spread * 100, 1)}% of its mean${spread > 0.05 ? ' (runs vary: ratios within that spread are noise)' : ''}.`);
  const met = {
    metricsOnOff: ratios.metricsOnVsOff.meanOfRounds >= 0.95,
    scrapeInProcess: inProcess1k.series >= 1_000 && inProcess1k.p99 < 20,
    scrapeOverHttp: overHttp1k.series >= 1_000 && overHttp1k.p99 < 20,
  };
  console.log(`Target metrics on/off ≥ 0.95: ${met.metricsOnOff ? 'met' : 'missed'} (${fmt(ratios.metricsOnVsOff.meanOfRounds, 3)}). Target scrape of ≥ 1,000 series < 20 ms at p99: in process ${met.scrapeInProcess ? 'met' : 'missed'}, over HTTP ${met.scrapeOverHttp ? 'met' : 'missed'}.`);
  mkdirSync(`${REPO_ROOT}bench/results`, { recursive: true });
  writeFileSync(`${REPO_ROOT}bench/results/observability.json`, JSON.stringify({
    date: new Date().toISOString(), node: process.version, cpus: cpus().length, loadavgAtStart: loadAtStart, loadavgAtEnd: loadavg(), duration: DURATION, connections: CONNECTIONS, rounds: ROUNDS, contacts,
    runs, summary, ratios, scrape: { inProcess1k, inProcessCap, overHttp1k, overHttpCap, healthOverHttp }, spread, met,
  }, null, 2));
} finally {
  await Promise.all([...servers].map((s) => s.stop()));
  await db.drop();
}
