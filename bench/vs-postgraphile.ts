import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import pg from 'pg';
import { createTestDatabase, REPO_ROOT } from '@objectos/testkit';
import { load, summarise, goodBody, type Cell, type Run } from './compare/load.ts';
import { rssMiB } from './compare/process.ts';
import { buildQueries, firstDifference, treeSize, type QuerySpec } from './compare/queries.ts';
import { analyzeAndCount, installPostGraphileFunctions, seedBenchData } from './compare/seed.ts';
import { POOL_SIZE, startDirect, startGateway, startPostGraphile, targetFetch, type Target } from './compare/targets.ts';

/**
 * ObjectOS next to PostGraphile v5 on the same PostgreSQL tables: PostGraphile (no auth, no RLS), the
 * data subgraph directly (its own process entry, every call signed as the demo admin, as the gateway signs), and the gateway as `npm start` runs it (production,
 * every protection on, signed in as the demo admin). Three queries, 10 and 50 connections, three runs
 * each in alternating target order. Run: DATABASE_URL=… npm run bench:compare   (BENCH_DURATION=10)
 * For a quick look at one cell: BENCH_QUERIES=byId BENCH_CONNECTIONS=10; BENCH_PROFILE=1 also writes CPU
 * profiles of the three targets to bench/results/profiles (read them with bench/profile-summary.ts).
 */
const DURATION = Number(process.env['BENCH_DURATION'] ?? 10);
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 3);
const RUNS = 3;
const CONNECTIONS = (process.env['BENCH_CONNECTIONS'] ?? '10,50').split(',').map(Number);
const ONLY_QUERIES = process.env['BENCH_QUERIES']?.split(',');
const PROFILE_ARGS = process.env['BENCH_PROFILE'] ? ['--cpu-prof', `--cpu-prof-dir=${REPO_ROOT}bench/results/profiles`] : [];
// Requests per minute per client IP: autocannon sends everything from 127.0.0.1, far above the default 600.
const RATE_LIMIT = 1_000_000_000;

if (!process.env['DATABASE_URL']) {
  console.error('The comparison runs on real PostgreSQL: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test).');
  process.exit(2);
}
if (!(DURATION > 0) || !(WARMUP >= 0) || !CONNECTIONS.every((c) => Number.isInteger(c) && c > 0)) {
  console.error('BENCH_DURATION must be a positive number of seconds (BENCH_WARMUP zero or more), BENCH_CONNECTIONS positive integers separated by commas.');
  process.exit(2);
}

const cpuModel = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
const load1 = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');
const machine = { nproc: availableParallelism(), cpu: cpuModel, node: process.version, loadAtStart: loadavg() };
console.log(`Machine: ${machine.nproc} cores, ${machine.cpu}, Node ${machine.node}; load average at start ${load1()}`);

/** Sends one query; fails unless the answer is HTTP 200 with data and no errors. */
async function ask(t: Target, query: string): Promise<unknown> {
  const res = await targetFetch(t)(new Request(t.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) }));
  const text = await res.text();
  if (res.status !== 200 || !goodBody(text)) throw new Error(`${t.name} answered ${res.status}: ${text.slice(0, 500)}`);
  return (JSON.parse(text) as { data: unknown }).data;
}

/** Every target must return the same records for every query before anything is measured. */
async function verify(targets: Target[], queries: QuerySpec[]): Promise<Record<string, unknown>> {
  const sizes: Record<string, unknown> = {};
  for (const q of queries) {
    const answers = await Promise.all(targets.map(async (t) => {
      const data = await ask(t, t.key === 'postgraphile' ? q.postgraphile : q.objectos);
      return { t, canonical: t.key === 'postgraphile' ? q.fromPostGraphile(data) : q.fromObjectOS(data) };
    }));
    for (const a of answers) {
      const problem = q.check(a.canonical);
      if (problem) throw new Error(`Query "${q.title}" on ${a.t.name}: ${problem}`);
    }
    const [first, ...rest] = answers;
    for (const a of rest) {
      const diff = firstDifference(first!.canonical, a.canonical);
      if (diff) throw new Error(`The targets disagree on "${q.title}": ${first!.t.name} vs ${a.t.name} at ${diff}. Nothing was measured.`);
    }
    sizes[q.key] = q.key === 'nested' ? treeSize(first!.canonical) : Array.isArray(first!.canonical) ? first!.canonical.length : 1;
  }
  return sizes;
}

interface Block { query: string; connections: number; cells: Cell[] }

const db = await createTestDatabase('objectos_vs_pg');
const started: Target[] = [];
let exitCode = 0;
try {
  const gateway = await startGateway(db.url, RATE_LIMIT, PROFILE_ARGS);
  started.push(gateway);
  const direct = await startDirect(db.url, gateway.principal, PROFILE_ARGS);
  started.push(direct);
  console.log(`Demo admin ${gateway.email}: user ${gateway.principal.userId}, organization ${gateway.principal.organizationId}, roles [${gateway.principal.roles.join(', ')}], permission sets [${gateway.principal.permissionSets.join(', ')}]`);
  const seeded = await seedBenchData(targetFetch(direct));
  const counts = await analyzeAndCount(db.url, gateway.principal.organizationId!);
  if (counts.foreign !== 0) throw new Error(`${counts.foreign} rows belong to another organization: PostGraphile (no tenant filter) would see more than the admin`);
  console.log(`Tables: ${counts.accounts} accounts, ${counts.contacts} contacts, ${counts.cases} cases, ${counts.opportunities} opportunities, all in the demo organization ` +
    `(the demo seed's plus ${seeded.accountIds.length} accounts, ${seeded.contacts} contacts, ${seeded.cases} cases, ${seeded.opportunities} opportunities seeded through the data subgraph's mutations); vacuum analyze done.`);
  await installPostGraphileFunctions(db.url);
  const postgraphile = await startPostGraphile(db.url, PROFILE_ARGS);
  started.push(postgraphile);
  const targets: Target[] = [postgraphile, direct, gateway];
  const queries = buildQueries(seeded.accountIds[100]!).filter((q) => !ONLY_QUERIES || ONLY_QUERIES.includes(q.key));
  if (!queries.length) throw new Error(`BENCH_QUERIES names no query (${buildQueries('').map((q) => q.key).join(', ')})`);
  const sizes = await verify(targets, queries);
  console.log(`Checked: all three targets return the same records for each query (${JSON.stringify(sizes)}).`);
  const idleRss = Object.fromEntries(await Promise.all(targets.map(async (t) => [t.key, await rssMiB(t.process.pid)] as const)));

  const blocks: Block[] = [];
  for (const q of queries) {
    for (const connections of CONNECTIONS) {
      const runs = new Map<string, Run[]>(targets.map((t) => [t.key, []]));
      for (const t of targets) await load(t, t.key === 'postgraphile' ? q.postgraphile : q.objectos, connections, WARMUP);
      for (let r = 0; r < RUNS; r++) {
        // Alternating order (forward, backward, forward), so drift does not favour one target.
        for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
          const run = await load(t, t.key === 'postgraphile' ? q.postgraphile : q.objectos, connections, DURATION);
          runs.get(t.key)!.push(run);
          process.stdout.write(`  ${q.key} × ${connections} conns, run ${r + 1}, ${t.name}: ${run.rps.toFixed(0)} req/s\n`);
        }
      }
      blocks.push({ query: q.key, connections, cells: targets.map((t) => summarise(t.name, runs.get(t.key)!)) });
    }
  }
  const loadAtEnd = loadavg();
  const pgVersion = await serverVersion(db.url);
  mkdirSync(`${REPO_ROOT}bench/results`, { recursive: true });
  writeFileSync(`${REPO_ROOT}bench/results/vs-postgraphile.json`, JSON.stringify({
    date: new Date().toISOString(), machine: { ...machine, loadAtEnd, postgres: pgVersion },
    settings: { durationSeconds: DURATION, warmupSeconds: WARMUP, runs: RUNS, connections: CONNECTIONS, poolSize: POOL_SIZE, gatewayRateLimitPerMinute: RATE_LIMIT },
    data: { ...counts, seeded: { accounts: seeded.accountIds.length, contacts: seeded.contacts, cases: seeded.cases, opportunities: seeded.opportunities }, answers: sizes },
    queries: queries.map((q) => ({ key: q.key, title: q.title, objectos: q.objectos, postgraphile: q.postgraphile })),
    idleRssMiB: idleRss, results: blocks,
  }, null, 2));
  print(queries, blocks, targets, idleRss);
  console.log(`\nLoad average at start ${machine.loadAtStart.map((l) => l.toFixed(2)).join(' ')}, at end ${loadAtEnd.map((l) => l.toFixed(2)).join(' ')}.`);
  console.log('Full results: bench/results/vs-postgraphile.json');
} catch (e) {
  console.error(`\n${e instanceof Error ? e.message : String(e)}`);
  exitCode = 1;
} finally {
  await Promise.all(started.map((t) => t.process.stop()));
  await db.drop();
}
process.exit(exitCode);

async function serverVersion(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<{ v: string }>('show server_version')).rows[0]!.v;
  } finally {
    await c.end();
  }
}

function ms(v: number): string {
  return Number.isNaN(v) ? '—' : String(v);
}

function print(queries: QuerySpec[], blocks: Block[], targets: Target[], idleRss: Record<string, number>): void {
  console.log(`\nObjectOS vs PostGraphile v5 — ${RUNS} runs of ${DURATION} s per query × connections × target (after a ${WARMUP} s warm-up each), alternating order;`);
  console.log(`req/s is the median of the runs, p50/p99 the medians of the runs', peak RSS the largest ps sample (every 200 ms) of the target's process during its runs.`);
  console.log(`Pools: ${POOL_SIZE} PostgreSQL connections per server. Gateway: npm start entry, NODE_ENV=production, every protection on, rate limit raised with OBJECTOS_RATE_LIMIT=${RATE_LIMIT} (per minute per IP).`);
  console.log('"GraphQL errors" counts 2xx answers without data or with errors.\n');
  for (const q of queries) console.log(`- ${q.key}: ${q.title}`);
  console.log('"CPU µs/req" is the CPU time the target\'s process used (all threads, /proc), per answered request: less sensitive to a shared machine than req/s; "PostgreSQL µs/req" the same for all PostgreSQL server processes.\n');
  console.log('\n| query | conns | target | req/s | req/s per run | p50 ms | p99 ms | CPU µs/req | PostgreSQL µs/req | peak RSS MiB | errors | non-2xx | GraphQL errors |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const b of blocks)
    for (const c of b.cells)
      console.log(`| ${b.query} | ${b.connections} | ${c.target} | ${c.rps.toFixed(0)} | ${c.runs.map((r) => r.rps.toFixed(0)).join(' / ')} | ${ms(c.p50)} | ${ms(c.p99)} | ${ms(Math.round(c.cpuUsPerRequest))} | ${ms(Math.round(c.postgresUsPerRequest))} | ${c.peakRssMiB.toFixed(0)} | ${c.errors} | ${c.non2xx} | ${c.graphqlErrors} |`);
  console.log('\nThroughput ratios (median req/s):\n');
  console.log('| query | conns | direct / PostGraphile | gateway / PostGraphile | gateway / direct |');
  console.log('|---|---|---|---|---|');
  for (const b of blocks) {
    const [pgl, direct, gateway] = b.cells.map((c) => c.rps) as [number, number, number];
    const ratio = (a: number, d: number) => (d > 0 ? (a / d).toFixed(2) : 'n/a');
    console.log(`| ${b.query} | ${b.connections} | ${ratio(direct, pgl)} | ${ratio(gateway, pgl)} | ${ratio(gateway, direct)} |`);
  }
  console.log('\nRSS per target (MiB): idle before the load (after seeding and the check), and peak over all its runs:');
  targets.forEach((t, i) => console.log(`- ${t.name}: idle ${idleRss[t.key]!.toFixed(0)}, peak ${Math.max(...blocks.map((b) => b.cells[i]!.peakRssMiB)).toFixed(0)}`));
}
