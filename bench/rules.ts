import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { startRulesApp, until, type RulesApp, type RulesEngine } from '../gateway/test/rules-app.ts';

/**
 * Workflow rules (subgraphs/automation) under load, through one running ObjectOS (`npm start`'s path:
 * gateway, data subgraph, rule engine and job worker in this process; PGlite, or PostgreSQL with
 * BENCH_ENGINE=postgres and DATABASE_URL).
 * 1. Mutation throughput with 10 active rules on the written object whose criteria never match, against
 *    the same stack with no rule on it: BENCH_CONCURRENCY clients send updateAccount for BENCH_SECONDS per
 *    run, runs alternating (BENCH_ROUNDS each), each run in a child process of its own (a fresh heap). The rules' cost is the relay's hand-over row per change and
 *    the engine evaluating 10 criteria per change, in this same process. After each run, the hand-over
 *    rows still waiting and the time to evaluate them are printed (the engine must keep up).
 *    Target (the issue): ratio ≥ 0.9.
 * 2. Commit → applied field_update: the demo rule (opportunity won → probability 100): BENCH_LATENCY
 *    opportunities won one after another; latency = updatedAt of the rule's write − updatedAt of the
 *    winning write (both stamped by the data subgraph's write path on this machine's clock).
 * 3. BENCH_TRIGGERS time triggers with a short real delay: cases whose closed_at is ~BENCH_DELAY_S from now
 *    (spread over 2 s), a rule with a zero-length trigger on closed_at calling a loopback receiver; each
 *    arrival − its due time. Target (the issue): every one within ±1 s.
 * Env: BENCH_PARTS=throughput,latency,triggers  BENCH_SECONDS=10  BENCH_ROUNDS=2  BENCH_CONCURRENCY=16
 *      BENCH_LATENCY=50  BENCH_TRIGGERS=1000  BENCH_DELAY_S=30  BENCH_ENGINE=pglite|postgres|postgres+redis
 * Run: npm run bench:rules
 */
const num = (k: string, d: number) => Number(process.env[k] ?? d);
const PARTS = (process.env['BENCH_PARTS'] ?? 'throughput,latency,triggers').split(',');
const [SECONDS, ROUNDS, CONCURRENCY] = [num('BENCH_SECONDS', 10), num('BENCH_ROUNDS', 2), num('BENCH_CONCURRENCY', 16)];
const [LATENCY_N, TRIGGERS, DELAY_S] = [num('BENCH_LATENCY', 50), num('BENCH_TRIGGERS', 1000), num('BENCH_DELAY_S', 30)];
const ENGINE = (process.env['BENCH_ENGINE'] ?? 'pglite') as RulesEngine;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};
const median = (xs: number[]) => pct(xs, 50);
const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const mib = (b: number) => (b / 2 ** 20).toFixed(0);
const log = (line: string) => process.stderr.write(`  ${line}\n`);

/** Ten rules on account whose criteria no update here meets (evaluated on every change, never acting). */
const TEN_RULES = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`automation/never_${i}.rule.yaml`, `name: never_${i}
objectName: account
triggerType: on_create_or_update
criteria: "employees = ${-1000 - i} AND ISCHANGED(employees)"
actions:
  - { name: touch, type: field_update, field: description, value: "never" }
`]));

interface Throughput { variant: string; round: number; done: number; rate: number; p50: number; p99: number; cpuMsPerReq: number; backlog: number; drainMs: number; peakRss: number }

async function throughput(variant: string, extra: Record<string, string>, round: number): Promise<Throughput> {
  const rig = await startRulesApp({ engine: ENGINE, slug: `bench-${variant.replace(/\W/g, '')}-${round}`, extra });
  try {
    const ids = await Promise.all(Array.from({ length: CONCURRENCY }, async (_, i) =>
      (await rig.q<{ createAccount: { id: string } }>('mutation($n: String!) { createAccount(input: { name: $n, employees: 10 }) { id } }', { n: `Bench ${i}` })).createAccount.id));
    await rig.settle();
    const latencies: number[] = [];
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const end = t0 + SECONDS * 1000;
    await Promise.all(ids.map(async (id, w) => {
      for (let n = 0; performance.now() < end; n++) {
        const s = performance.now();
        await rig.q('mutation($id: ID!, $n: String!) { updateAccount(id: $id, input: { name: $n }) { id } }', { id, n: `Bench ${w} ${n}` });
        latencies.push(performance.now() - s);
      }
    }));
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    clearInterval(sampler);
    await rig.app.data!.relay.drain();
    const [{ n: backlog }] = (await rig.app.data!.database.run<{ n: number }>('select count(*)::int as n from events.automation_outbox', [])) as [{ n: number }];
    const d0 = performance.now();
    await rig.app.jobs?.rules?.drain();
    const r: Throughput = { variant, round, done: latencies.length, rate: latencies.length / wall, p50: pct(latencies, 50), p99: pct(latencies, 99),
      cpuMsPerReq: (cpu.user + cpu.system) / 1000 / latencies.length, backlog, drainMs: performance.now() - d0, peakRss };
    log(`${variant} r${round}: ${r.done} mutations, ${f(r.rate, 0)}/s, p50 ${f(r.p50)} ms, p99 ${f(r.p99)} ms; hand-over backlog ${backlog}, evaluated in ${f(r.drainMs, 0)} ms`);
    return r;
  } finally {
    await rig.close();
  }
}

async function latency(): Promise<number[]> {
  const rig = await startRulesApp({ engine: ENGINE, slug: 'bench-latency' });
  try {
    const account = (await rig.q<{ createAccount: { id: string } }>('mutation { createAccount(input: { name: "Latency" }) { id } }')).createAccount.id;
    const out: number[] = [];
    for (let i = 0; i < LATENCY_N; i++) {
      const id = (await rig.q<{ createOpportunity: { id: string } }>('mutation($a: ID!, $n: String!) { createOpportunity(input: { name: $n, accountId: $a, stage: prospecting, probability: 10 }) { id } }', { a: account, n: `Deal ${i}` })).createOpportunity.id;
      const won = await rig.q<{ updateOpportunity: { updatedAt: string } }>('mutation($id: ID!) { updateOpportunity(id: $id, input: { stage: closed_won }) { updatedAt } }', { id });
      const applied = await until(() => rig.q<{ opportunity: { probability: number; updatedAt: string } }>('query($id: ID!) { opportunity(id: $id) { probability updatedAt } }', { id }), (r) => r.opportunity.probability === 100, 30_000);
      if (applied.opportunity.probability !== 100) throw new Error(`deal ${i}: the rule's field update did not arrive within 30 s`);
      out.push(new Date(applied.opportunity.updatedAt).getTime() - new Date(won.updateOpportunity.updatedAt).getTime());
    }
    return out;
  } finally {
    await rig.close();
  }
}

async function triggers(): Promise<{ offsets: number[]; starts: number[]; missing: number; createS: number }> {
  const arrivals = new Map<string, number>();
  const receiver = createServer((req, res) => {
    arrivals.set(req.url!.slice('/due/'.length), Date.now());
    req.resume();
    res.writeHead(200).end();
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const port = (receiver.address() as { port: number }).port;
  const rule = `name: bench_due
objectName: case
triggerType: on_create_or_update
criteria: "status = 'working'"
actions: []
timeTriggers:
  - { timeLength: 0, timeUnit: minutes, offsetFrom: date_field, dateField: closed_at, actions: [ { name: call, type: http_call, method: GET, url: "http://127.0.0.1:${port}/due/{{record.id}}" } ] }
`;
  const rig = await startRulesApp({ engine: ENGINE, slug: 'bench-triggers', extra: { 'automation/bench_due.rule.yaml': rule }, env: { OBJECTOS_WEBHOOK_ALLOW: 'loopback' } });
  try {
    const due = new Map<string, number>();
    const first = Date.now() + DELAY_S * 1000;
    const t0 = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < TRIGGERS) {
        const i = next++;
        const at = first + Math.floor((i / TRIGGERS) * 2000);
        const made = await rig.q<{ createCase: { id: string } }>('mutation($s: String!, $at: DateTime!) { createCase(input: { subject: $s, status: working, closedAt: $at }) { id } }', { s: `Due ${i}`, at: new Date(at).toISOString() });
        due.set(made.createCase.id, at);
      }
    }));
    const createS = (performance.now() - t0) / 1000;
    if (Date.now() > first) log(`creating the cases took ${f(createS)} s, past the first due time: raise BENCH_DELAY_S`);
    await until(async () => arrivals.size, (n) => n >= TRIGGERS, (DELAY_S + 60) * 1000);
    const offsets = [...due].filter(([id]) => arrivals.has(id)).map(([id, at]) => arrivals.get(id)! - at);
    // When each action started (its run's first attempt), from the run log: the trigger firing, before the call's own work.
    const started = await rig.app.data!.database.run<{ record_id: string; started_at: Date | string }>("select record_id::text, started_at from automation.runs where trigger = 'time_trigger' and rule = 'bench_due'", []);
    const starts = started.filter((r) => due.has(r.record_id)).map((r) => new Date(r.started_at).getTime() - due.get(r.record_id)!);
    return { offsets, starts, missing: TRIGGERS - offsets.length, createS };
  } finally {
    await rig.close();
    await new Promise((r) => receiver.close(r));
  }
}

// The development mail of each stack's sign-up (printed, not sent) is not part of the report.
const print = console.log.bind(console);
console.log = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && args[0].startsWith('[email]')) return;
  print(...args);
};

/** One throughput run in a child process of its own: each stack starts from a fresh heap, not the previous run's. */
async function throughputIsolated(variant: string, round: number): Promise<Throughput> {
  const child = spawn(process.execPath, ['--import', '@objectos/runtime/register', fileURLToPath(import.meta.url)], {
    env: { ...process.env, BENCH_ONE: JSON.stringify({ variant, round }) }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (code !== 0 || !line) throw new Error(`${variant} r${round}: the run failed (exit ${code})`);
  return JSON.parse(line.slice('RESULT '.length)) as Throughput;
}

async function main(): Promise<void> {
  if (process.env['BENCH_ONE']) {
    const { variant, round } = JSON.parse(process.env['BENCH_ONE']) as { variant: string; round: number };
    print(`RESULT ${JSON.stringify(await throughput(variant, variant === '10 rules' ? TEN_RULES : {}, round))}`);
    return;
  }
  console.log(`Workflow rules benchmark: ${ENGINE}, Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}\n`);
  if (PARTS.includes('throughput')) {
    const runs: Throughput[] = [];
    for (let round = 1; round <= ROUNDS; round++)
      for (const variant of round % 2 ? ['0 rules', '10 rules'] : ['10 rules', '0 rules'])
        runs.push(await throughputIsolated(variant, round));
    console.log(`### 1. updateAccount throughput, ${CONCURRENCY} clients × ${SECONDS} s per run, ${ROUNDS} rounds alternating\n`);
    console.log('| variant | round | mutations | per s | p50 ms | p99 ms | CPU ms / mutation | hand-over backlog after | evaluated in ms | peak RSS MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of runs) console.log(`| ${r.variant} | ${r.round} | ${r.done} | ${f(r.rate, 0)} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.cpuMsPerReq, 2)} | ${r.backlog} | ${f(r.drainMs, 0)} | ${mib(r.peakRss)} |`);
    const rate = (v: string) => median(runs.filter((r) => r.variant === v).map((r) => r.rate));
    const ratio = rate('10 rules') / rate('0 rules');
    console.log(`\n10 rules / 0 rules (median mutations/s): **${f(ratio, 3)}**; target ≥ 0.9: **${ratio >= 0.9 ? 'PASS' : 'FAIL'}**\n`);
  }
  if (PARTS.includes('latency')) {
    const l = await latency();
    console.log(`### 2. Commit → applied field_update (demo rule), ${l.length} wins one after another\n`);
    console.log(`p50 ${f(pct(l, 50), 0)} ms, p99 ${f(pct(l, 99), 0)} ms, max ${f(Math.max(...l), 0)} ms\n`);
  }
  if (PARTS.includes('triggers')) {
    const t = await triggers();
    const late = t.offsets;
    const within = late.filter((x) => Math.abs(x) <= 1000).length;
    console.log(`### 3. ${TRIGGERS} time triggers due ~${DELAY_S} s after they were set (cases created in ${f(t.createS)} s)\n`);
    const fired = t.starts.filter((x) => Math.abs(x) <= 1000).length;
    console.log(`action started − due (the trigger fired): p50 ${f(pct(t.starts, 50), 0)} ms, p99 ${f(pct(t.starts, 99), 0)} ms, earliest ${f(Math.min(...t.starts), 0)} ms, latest ${f(Math.max(...t.starts), 0)} ms`);
    console.log(`call arrived at the receiver − due: p50 ${f(pct(late, 50), 0)} ms, p99 ${f(pct(late, 99), 0)} ms, earliest ${f(Math.min(...late), 0)} ms, latest ${f(Math.max(...late), 0)} ms; missing ${t.missing}`);
    console.log(`fired within ±1 s: ${fired} / ${TRIGGERS}: **${fired === TRIGGERS ? 'PASS' : 'FAIL'}**; arrived within ±1 s: ${within} / ${TRIGGERS}: **${within === TRIGGERS ? 'PASS' : 'FAIL'}**\n`);
  }
  const m = process.memoryUsage();
  console.log(`Memory at the end: RSS ${mib(m.rss)} MiB, heap ${mib(m.heapUsed)} MiB; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}`);
}

main().then(() => process.exit(0), (e: unknown) => {
  console.error(e);
  process.exit(1);
});
