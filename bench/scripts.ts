import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { createSandbox, ScriptError, type Sandbox } from '../packages/sandbox/src/index.ts';

/**
 * What running an automation `custom_script` in the sandbox (packages/sandbox) costs, against the same logic as a
 * plain function call in the host.
 *
 * The script reads two fields and updates one: ctx.update('total', record.qty * record.price), each run with its own
 * record (qty = i). Every run gets a fresh QuickJS runtime + context inside a worker thread (prelude, JSON copies of
 * the record in, JSON of the updates out, the worker round trip); every result is checked (`wrong` must be 0).
 *   sequential      one run at a time, awaited (what an automation executor running actions in order sees);
 *   4 in flight     4 runs outstanding at once against 1 worker (runs queue: the worker is never idle);
 *   4 workers       4 in flight against createSandbox({ workers: 4 }) (real parallelism, up to the cores);
 *   host function   the same logic as a plain function call in this thread, frozen record, ctx.update collecting
 *                   into an object — the floor, for the ratio;
 *   host + JSON     that plus a JSON copy of the record in and of the updates out (the marshalling a sandbox must do).
 * Latency per script: from run() to its result, as the caller sees it (queueing included with runs in flight).
 * A warm-up of BENCH_WARMUP runs per variant (not shown), then BENCH_ROUNDS rounds of BENCH_SCRIPTS runs; medians.
 * Memory: peak RSS of this whole process (workers included: they are threads), sampled every 100 ms.
 * Also: createSandbox() cold start, and the recovery after a script stuck in a builtin (its worker is terminated at
 * timeout + grace and replaced): time until the next run has answered.
 * Target (the issue): ≥ 100 scripts/s sustained — checked on the sequential, 1-worker median.
 * Env: BENCH_SCRIPTS=2000  BENCH_ROUNDS=3  BENCH_WARMUP=200
 * Run: npm run bench:scripts
 */
const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const [SCRIPTS, ROUNDS, WARMUP] = [num('BENCH_SCRIPTS', 2_000), num('BENCH_ROUNDS', 3), num('BENCH_WARMUP', 200)];
const TARGET_RATE = 100;
const CODE = `ctx.update('total', record.qty * record.price);`;

interface Row {
  variant: string;
  seconds: number;
  rate: number;
  p50: number;
  p99: number;
  wrong: number;
  peakRss: number;
}

const recordOf = (i: number) => ({ id: `r${i}`, qty: i, price: 2.5, status: 'open' });
const expected = (i: number) => i * 2.5;
const f = (n: number, digits = 1) => n.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const mib = (bytes: number) => f(bytes / 2 ** 20, 0);
const pct = (xs: Float64Array, p: number): number => {
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function peakRss(): () => number {
  let peak = process.memoryUsage().rss;
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
  return () => (clearInterval(t), Math.max(peak, process.memoryUsage().rss));
}

/** n runs, `inFlight` outstanding at a time. */
async function drive(sandbox: Sandbox, n: number, inFlight: number): Promise<Omit<Row, 'variant' | 'peakRss'>> {
  const latencies = new Float64Array(n);
  let next = 0;
  let wrong = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    for (let i = next++; i < n; i = next++) {
      const t = performance.now();
      const result = await sandbox.run({ code: CODE, record: recordOf(i), timeoutMs: 1000 });
      latencies[i] = performance.now() - t;
      if (result.updates['total'] !== expected(i)) wrong++;
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  return { seconds, rate: n / seconds, p50: pct(latencies, 50), p99: pct(latencies, 99), wrong };
}

type Logic = (record: Readonly<Record<string, unknown>>, ctx: { update(field: string, value: unknown): void }) => void;
const logic: Logic = (record, ctx) => ctx.update('total', Number(record['qty']) * Number(record['price']));

function host(n: number, marshal: boolean): Omit<Row, 'variant' | 'peakRss'> {
  const latencies = new Float64Array(n);
  let wrong = 0;
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const record = Object.freeze(marshal ? (JSON.parse(JSON.stringify(recordOf(i))) as Record<string, unknown>) : recordOf(i));
    let updates: Record<string, unknown> = {};
    logic(record, { update: (field, value) => void (updates[field] = value) });
    if (marshal) updates = JSON.parse(JSON.stringify(updates)) as Record<string, unknown>;
    latencies[i] = performance.now() - t;
    if (updates['total'] !== expected(i)) wrong++;
  }
  const seconds = (performance.now() - started) / 1000;
  return { seconds, rate: n / seconds, p50: pct(latencies, 50), p99: pct(latencies, 99), wrong };
}

async function variant(name: string, measure: (n: number) => Promise<Omit<Row, 'variant' | 'peakRss'>>): Promise<Row[]> {
  await measure(WARMUP);
  const rows: Row[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const stop = peakRss();
    const r = await measure(SCRIPTS);
    rows.push({ variant: name, ...r, peakRss: stop() });
  }
  return rows;
}

async function recovery(sandbox: Sandbox): Promise<{ killedAfter: number; answeredAfter: number }> {
  const t = performance.now();
  const stuck = await sandbox.run({ code: 'const a = new Array(1e6).fill(0); while (true) a.indexOf(1);', record: {}, timeoutMs: 50 }).then(
    () => 'ran',
    (e: unknown) => (e instanceof ScriptError ? e.code : 'other error'),
  );
  if (stuck !== 'TIMEOUT') throw new Error(`the stuck script ended with ${stuck}, not TIMEOUT`);
  const killedAfter = performance.now() - t;
  await sandbox.run({ code: CODE, record: recordOf(1), timeoutMs: 5000 });
  return { killedAfter, answeredAfter: performance.now() - t };
}

console.log(`\nScript sandbox benchmark (packages/sandbox, quickjs-emscripten in worker threads): Node ${process.version}, ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}`);
console.log(`Script: \`${CODE}\`; ${SCRIPTS} runs per round, ${ROUNDS} rounds after a ${WARMUP}-run warm-up; medians of the rounds.\n`);

let t = performance.now();
const one = await createSandbox();
const coldOne = performance.now() - t;
t = performance.now();
const four = await createSandbox({ workers: 4 });
const coldFour = performance.now() - t;

const rows = [
  ...(await variant('sandbox, 1 worker, sequential', (n) => drive(one, n, 1))),
  ...(await variant('sandbox, 1 worker, 4 in flight', (n) => drive(one, n, 4))),
  ...(await variant('sandbox, 4 workers, 4 in flight', (n) => drive(four, n, 4))),
  ...(await variant('host function (baseline)', async (n) => host(n, false))),
  ...(await variant('host function + JSON copies', async (n) => host(n, true))),
];
const rec = await recovery(one);
const stats = [one.stats(), four.stats()];
one.close();
four.close();

const names = [...new Set(rows.map((r) => r.variant))];
const summary = names.map((name) => {
  const rs = rows.filter((r) => r.variant === name);
  return { name, rate: median(rs.map((r) => r.rate)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)), wrong: rs.reduce((s, r) => s + r.wrong, 0), peakRss: Math.max(...rs.map((r) => r.peakRss)) };
});
const baseline = summary.find((s) => s.name.startsWith('host function ('))!;
console.log('| variant | scripts/s | p50 ms / script | p99 ms / script | p50 vs host function | wrong results | peak RSS MiB |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const s of summary) {
  console.log(`| ${s.name} | ${f(s.rate, 0)} | ${f(s.p50, 3)} | ${f(s.p99, 3)} | ${f(s.p50 / baseline.p50, 0)}× | ${s.wrong} | ${mib(s.peakRss)} |`);
}
console.log(`\nPer round (scripts/s): ${names.map((n) => `${n}: ${rows.filter((r) => r.variant === n).map((r) => f(r.rate, 0)).join(', ')}`).join('; ')}`);
console.log(`Throughput, host function / sandbox sequential: ${f(baseline.rate / summary[0]!.rate, 0)}× (the sandbox's fixed cost per script is a fresh runtime + context, the prelude, and a worker round trip)`);
console.log(`Cold start: createSandbox() ${f(coldOne, 0)} ms (1 worker), ${f(coldFour, 0)} ms (4 workers). A script stuck in a builtin with timeoutMs 50: TIMEOUT after ${f(rec.killedAfter, 0)} ms (worker terminated), next run answered ${f(rec.answeredAfter, 0)} ms after the stuck one started (new worker).`);
console.log(`Sandbox stats: 1-worker ${JSON.stringify(stats[0])}; 4-worker ${JSON.stringify(stats[1])}`);
const m = process.memoryUsage();
console.log(`Memory at the end (this whole process): RSS ${mib(m.rss)} MiB, heap used ${mib(m.heapUsed)} MiB`);
const seq = summary[0]!;
const correct = summary.every((s) => s.wrong === 0);
console.log(`\nTarget ≥ ${TARGET_RATE} scripts/s sustained (sandbox, 1 worker, sequential): **${seq.rate >= TARGET_RATE && correct ? 'PASS' : 'FAIL'}** (median ${f(seq.rate, 0)} scripts/s${correct ? '' : '; some results were WRONG'})`);
