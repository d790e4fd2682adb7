/**
 * The Guild's gateways benchmark (../shared/conformance/graphql-gateways-benchmark), ported: its four
 * subgraphs in Node (subgraphs.ts, one process), its supergraph, its deep query and its expected
 * response. Side by side in one run, each gateway one Node process, autocannon at 50 connections:
 * - Hive Gateway 2.15 (its CLI; JS planner, inbound in-flight deduplication off);
 * - ObjectOS's gateway in plain mode over the same supergraph, with Hive's Rust query planner;
 * - ObjectOS's gateway with schema stitching (for reference: the JS planner Hive Gateway uses).
 * Every response is checked (data, no errors) during load, and the whole response is compared with
 * k6.js's expected structure and across gateways before and after each load.
 *
 *   npm run bench:gateways        (BENCH_DURATION=20 BENCH_RUNS=3 BENCH_CONNECTIONS=50 by default)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { join, resolve } from 'node:path';
import { runInNewContext } from 'node:vm';
import { freePort, REPO_ROOT } from '@objectos/testkit';
import { load, summarise, type Cell, type Run } from '../compare/load.ts';
import { spawnNode, type ServerProcess } from '../compare/process.ts';

const DURATION = Number(process.env['BENCH_DURATION'] ?? 20);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 50);
const BENCHMARK_DIR = resolve(process.env['OBJECTOS_SHARED'] ?? resolve(REPO_ROOT, '../shared'), 'conformance/graphql-gateways-benchmark');
const HIVE_BIN = join(REPO_ROOT, 'packages/hive-gateway-plugin/node_modules/@graphql-hive/gateway/dist/bin.js');
const work = join(REPO_ROOT, '.objectos/bench-gateways');

const k6 = readFileSync(join(BENCHMARK_DIR, 'k6.js'), 'utf8');
/** The query and the expected structure, exactly as k6.js has them. */
const QUERY = (JSON.parse(runInNewContext(`JSON.stringify(${/payload: JSON\.stringify\((\{[\s\S]*?\})\),\s*params/.exec(k6)![1]!})`) as string) as { query: string }).query;
const EXPECTED = runInNewContext(`(${/const expectedStructure = (\{[\s\S]*?\n {2}\});/.exec(k6)![1]!})`) as Record<string, unknown>;

/** k6.js's own check: every key of the expected structure is there, with the same JS type, recursively. */
function matchesStructure(obj: unknown, structure: unknown): boolean {
  if (obj == null) return false;
  for (const key of Object.keys(structure as object)) {
    const want = (structure as Record<string, unknown>)[key];
    const got = (obj as Record<string, unknown>)[key];
    if (!Object.prototype.hasOwnProperty.call(obj, key) || typeof got !== typeof want) return false;
    if (typeof want === 'object' && want !== null && !matchesStructure(got, want)) return false;
  }
  return true;
}

interface Gateway {
  name: string;
  url: string;
  process: ServerProcess;
}

async function ask(url: string): Promise<unknown> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: QUERY }) });
  return res.json();
}

const fmt = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '–');

async function main(): Promise<void> {
  mkdirSync(work, { recursive: true });
  const processes: ServerProcess[] = [];
  try {
    const subgraphPort = await freePort();
    const subgraphs = spawnNode('subgraphs', ['--import', '@objectos/runtime/register', 'bench/gateways/subgraphs.ts'], { PORT: String(subgraphPort), BENCHMARK_DIR, NODE_ENV: 'production' });
    processes.push(subgraphs);
    await subgraphs.waitFor(/SUBGRAPHS READY/);
    const supergraph = join(work, 'supergraph.graphql');
    writeFileSync(supergraph, readFileSync(join(BENCHMARK_DIR, 'gateways/hive-gateway/supergraph.graphql'), 'utf8').replaceAll('http://0.0.0.0:4200/', `http://127.0.0.1:${subgraphPort}/`));
    // As the benchmark's own Hive Gateway config, but with inbound deduplication off: each request is executed.
    // (defineConfig is the identity: the plain object needs no import from outside the package.)
    writeFileSync(join(work, 'gateway.config.ts'), `export const gatewayConfig = { inboundInflightRequestDeduplication: false };\n`);

    const gateways: Gateway[] = [];
    const hivePort = await freePort();
    const hive = spawnNode('Hive Gateway', [HIVE_BIN, 'supergraph', supergraph, '--port', String(hivePort), '--host', '127.0.0.1', '--fork', '1', '--config-path', join(work, 'gateway.config.ts')], { NODE_ENV: 'production' });
    processes.push(hive);
    gateways.push({ name: 'Hive Gateway 2.15 (JS planner)', url: `http://127.0.0.1:${hivePort}/graphql`, process: hive });
    for (const planner of ['rust', 'stitching'] as const) {
      const port = await freePort();
      const p = spawnNode(`ObjectOS (${planner})`, ['--import', '@objectos/runtime/register', 'gateway/src/main.ts'], {
        NODE_ENV: 'production', OBJECTOS_MODE: 'gateway', OBJECTOS_SUPERGRAPH: supergraph, OBJECTOS_AUTH: 'none', OBJECTOS_QUERY_PLANNER: planner,
        // The deep query's cost estimate (6 users × 20 assumed reviews per list, 7 levels down) is far past
        // the default limit meant for record lists; Hive Gateway has no cost limit: neither has this run.
        OBJECTOS_RATE_LIMIT: '0', OBJECTOS_MAX_COST: '0', OBJECTOS_POLL_MS: '0', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn',
        OBJECTOS_SECRET: 'gateways-benchmark-secret-not-for-production-use',
      });
      processes.push(p);
      gateways.push({ name: planner === 'rust' ? 'ObjectOS gateway (Rust planner)' : 'ObjectOS gateway (stitching)', url: `http://127.0.0.1:${port}/graphql`, process: p });
    }
    for (const g of gateways) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        try {
          await ask(g.url);
          break;
        } catch {
          if (Date.now() > deadline) throw new Error(`${g.name} did not answer within 60 s:\n${g.process.output()}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    }
    const check = async (when: string) => {
      const answers = await Promise.all(gateways.map((g) => ask(g.url)));
      answers.forEach((a, i) => {
        if (!matchesStructure(a, EXPECTED)) throw new Error(`${gateways[i]!.name} ${when}: the response does not match k6.js's expected structure:\n${JSON.stringify(a).slice(0, 2000)}`);
        if (!isDeepStrictEqual(a, answers[0])) throw new Error(`${gateways[i]!.name} ${when}: the response differs from ${gateways[0]!.name}'s`);
      });
      return JSON.stringify(answers[0]).length;
    };
    const size = await check('before the load');
    console.log(`query ${QUERY.length} B, response ${size} B (k6.js structure matched, identical across ${gateways.length} gateways); ${RUNS} × ${DURATION} s at ${CONNECTIONS} connections each, interleaved`);
    const runs = new Map<string, Run[]>(gateways.map((g) => [g.name, []]));
    for (const g of gateways) await load(g as never, QUERY, CONNECTIONS, 3); // warm-up: JIT, plan caches, keep-alive pools
    for (let i = 0; i < RUNS; i++)
      for (const g of gateways) {
        const r = await load({ url: g.url, headers: {}, process: g.process } as never, QUERY, CONNECTIONS, DURATION);
        runs.get(g.name)!.push(r);
        console.log(`  run ${i + 1} ${g.name}: ${fmt(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.errors + r.timeouts + r.non2xx + r.graphqlErrors} bad`);
      }
    await check('after the load');
    const cells: Cell[] = gateways.map((g) => summarise(g.name, runs.get(g.name)!));
    const base = cells[0]!;
    console.log(`\n| gateway | req/s (median) | vs Hive Gateway | p50 ms | p99 ms | errors | peak RSS MiB | CPU µs/req |`);
    console.log(`|---|---|---|---|---|---|---|---|`);
    for (const c of cells)
      console.log(`| ${c.target} | ${fmt(c.rps)} | ${fmt(c.rps / base.rps, 2)}× | ${fmt(c.p50)} | ${fmt(c.p99)} | ${c.errors + c.non2xx + c.graphqlErrors} | ${fmt(c.peakRssMiB)} | ${fmt(c.cpuUsPerRequest)} |`);
    console.log(`\ntarget: ObjectOS (Rust planner) ≥ 1.5× Hive Gateway with 0 errors → ${cells[1]!.rps / base.rps >= 1.5 && cells[1]!.errors + cells[1]!.non2xx + cells[1]!.graphqlErrors === 0 ? 'met' : 'NOT met'}`);
  } finally {
    await Promise.all(processes.reverse().map((p) => p.stop()));
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
