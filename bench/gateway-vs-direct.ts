import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import autocannon from 'autocannon';
import pg from 'pg';
import { createTestDatabase, gqlOk, REPO_ROOT } from '@objectos/testkit';

/**
 * Gateway overhead: "50 accounts with their contacts" sent straight to the data subgraph vs through the
 * gateway (subgraph in process, as `npm start` runs it, and over HTTP, as docker-compose runs it), on
 * real PostgreSQL, autocannon with 50 connections. Run: DATABASE_URL=… npm run bench
 */
const DURATION = Number(process.env['BENCH_DURATION'] ?? 15);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 50);
const QUERY = '{ accounts(first: 50, orderBy: [{ field: NAME }]) { nodes { id name industry annualRevenue contacts { id firstName lastName email } } } }';

if (!process.env['DATABASE_URL']) {
  console.error('The benchmark runs on real PostgreSQL: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test).');
  process.exit(2);
}

function startServer(env: Record<string, string>): Promise<{ child: ChildProcess; ports: Record<string, number> }> {
  const profile = process.env['BENCH_PROFILE'] === '1' ? ['--cpu-prof', `--cpu-prof-dir=${REPO_ROOT}bench/results/profiles`] : [];
  const child = spawn(process.execPath, [...profile, '--import', '@objectos/runtime/register', 'bench/server.ts'], { cwd: REPO_ROOT, env: { ...process.env, NODE_ENV: 'production', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (.*)/.exec(out);
      if (m) resolve({ child, ports: Object.fromEntries(m[1]!.trim().split(' ').map((kv) => kv.split('=')).map(([k, v]) => [k!, Number(v)])) });
    });
    child.once('exit', (code) => reject(new Error(`bench server exited (${code})`)));
  });
}

const rssMiB = (pid: number): number => Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)]).toString().trim()) / 1024;

interface Result { name: string; rps: number; p50: number; p99: number; errors: number; non2xx: number; rssMiB: number }

async function load(name: string, port: number, pid: number): Promise<Result> {
  const opts = { url: `http://127.0.0.1:${port}/graphql`, method: 'POST' as const, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: QUERY }), connections: CONNECTIONS };
  await autocannon({ ...opts, duration: 3 }); // warm-up: JIT, pools, caches
  const r = await autocannon({ ...opts, duration: DURATION });
  return { name, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx, rssMiB: rssMiB(pid) };
}

const db = await createTestDatabase('objectos_bench');
const children: ChildProcess[] = [];
try {
  const main = await startServer({ ROLE: 'all', DATABASE_URL: db.url });
  children.push(main.child);
  const direct = `http://127.0.0.1:${main.ports['direct']}/graphql`;
  // 200 accounts with 4 contacts each; the query reads 50 accounts and their 200 contacts.
  for (let b = 0; b < 20; b++) {
    const m = Array.from({ length: 10 }, (_, i) => `a${i}: createAccount(input: { name: "Bench ${String(b * 10 + i).padStart(3, '0')}", industry: technology, annualRevenue: ${1000 * (b + i)} }) { id }`).join('\n');
    const accounts = await gqlOk<Record<string, { id: string }>>(direct, `mutation { ${m} }`);
    for (const { id } of Object.values(accounts)) {
      const c = Array.from({ length: 4 }, (_, i) => `c${i}: createContact(input: { lastName: "Contact ${i}", firstName: "Bench", email: "c${i}.${id}@example.com", accountId: "${id}" }) { id }`).join('\n');
      await gqlOk(direct, `mutation { ${c} }`);
    }
  }
  // Fresh planner statistics, so the first target measured is not penalised by a cold or unanalysed table.
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query('vacuum analyze');
  await admin.end();
  const sample = await gqlOk<{ accounts: { nodes: { contacts: unknown[] }[] } }>(direct, QUERY);
  const contacts = sample.accounts.nodes.reduce((n, a) => n + a.contacts.length, 0);
  const remote = await startServer({ ROLE: 'gateway', DATA_URL: direct });
  children.push(remote.child);

  const targets = [
    { name: 'data subgraph, direct', port: main.ports['direct']!, pid: main.child.pid! },
    { name: 'gateway → subgraph in process', port: main.ports['gateway']!, pid: main.child.pid! },
    { name: 'gateway → subgraph over HTTP', port: remote.ports['gateway']!, pid: remote.child.pid! },
  ];
  // Two rounds in alternating order, so drift (autovacuum, JIT, page cache) does not favour one target.
  const rounds: Result[][] = [[], []];
  for (const t of targets) rounds[0]!.push(await load(t.name, t.port, t.pid));
  for (const t of [...targets].reverse()) rounds[1]!.unshift(await load(t.name, t.port, t.pid));
  const results: Result[] = targets.map((t, i) => {
    const [a, b] = [rounds[0]![i]!, rounds[1]![i]!];
    return { name: t.name, rps: (a.rps + b.rps) / 2, p50: Math.max(a.p50, b.p50), p99: Math.max(a.p99, b.p99), errors: a.errors + b.errors, non2xx: a.non2xx + b.non2xx, rssMiB: Math.max(a.rssMiB, b.rssMiB) };
  });
  const base = results[0]!.rps;
  console.log(`\nQuery: 50 accounts with ${contacts} contacts; ${CONNECTIONS} connections, ${DURATION}s per run after a 3s warm-up; PostgreSQL; Node ${process.version}\n`);
  console.log('Per round (req/s):', targets.map((t, i) => `${t.name}: ${rounds[0]![i]!.rps.toFixed(0)} / ${rounds[1]![i]!.rps.toFixed(0)}`).join('; '));
  console.log('Table: mean req/s of the two rounds; worst p50/p99 and RSS of the two.\n');
  console.log('| target | req/s | p50 ms | p99 ms | errors | non-2xx | server RSS MiB | throughput vs direct |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of results)
    console.log(`| ${r.name} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.errors} | ${r.non2xx} | ${r.rssMiB.toFixed(0)} | ${(r.rps / base).toFixed(2)} |`);
  mkdirSync(`${REPO_ROOT}bench/results`, { recursive: true });
  writeFileSync(`${REPO_ROOT}bench/results/gateway-vs-direct.json`, JSON.stringify({ date: new Date().toISOString(), contacts, rounds, results }, null, 2));
} finally {
  await Promise.all(children.map((c) => new Promise((r) => {
    c.once('exit', r);
    c.kill('SIGTERM');
  })));
  await db.drop();
}
