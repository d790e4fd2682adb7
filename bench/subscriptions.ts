import { fork } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { createTestDatabase, type Engine } from '@objectos/testkit';
import { PASSWORD } from '../gateway/test/secure-stack.ts';
import { startRealtimeStack, type RealtimeStack } from '../gateway/test/realtime-stack.ts';
import { epochNow, type FromClients, type ToClients } from './subscription-clients.ts';
import { f, mean, mib, pct, sleep, until } from './stats.ts';
import { profileTeardown, watchTeardown } from './teardown.ts';

/**
 * Live subscriptions under fan-out: S graphql-ws subscribers (real sockets to a real HTTP server on
 * 127.0.0.1 with attachRealtime, as `npm start` serves it; identity + data subgraph + gateway in this
 * process, the subscribers in a second one, bench/subscription-clients.ts, as clients on other machines) watch `accountChanged { eventId op record { id name } }` while a writer sends a fixed number of
 * createAccount/updateAccount mutations over HTTP (sequentially, then from BENCH_CONCURRENCY workers).
 * Each change goes mutation → events.outbox (same transaction) → relay → change hub → the fan-out: one
 * check statement per batch of events for every group of subscribers (json_populate_record over the
 * snapshots, each predicate shape once, the groups' user ids as rows) → SSE to the gateway → graphql-ws → client.
 *
 * Measured per S and engine:
 *   events/s        deliveries received by all subscribers / wall time (first mutation sent → last delivery);
 *   delivery        arrival at the subscriber − arrival of the mutation's HTTP response (commit acknowledged),
 *                   p50/p99 over every delivery (negative: the event beat the response back to the writer);
 *   ack→pub         response → the relay published the event to the change hub (p50; < 0: published first);
 *   pub→arrival     published → arrival at the subscriber (p99): the grouped checks, SSE, gateway, WS;
 *   mutation        HTTP round trip of each mutation, p50/p99, and its ratio to the same writer with 0 subscribers;
 *   checks          check statements run (grouped: at most one per event) and their mean latency as the caller sees it
 *                   (execution + waiting for the connection / pool);
 *   CPU %           the server process's user+system CPU time / wall time (100 = one core busy);
 *   memory          peak RSS and heap of the server process (the stack, and the database on PGlite), and
 *                   per subscriber: (peak RSS − that of the 0-subscriber baseline) / S;
 *   clients'        the subscribers' process: CPU time / wall time, RSS (it shares the machine's 2 cores);
 *   deliveries      received / expected: every subscriber must get every event exactly once, or the run fails.
 * Subscribers are the organization owner (no row predicate: viewAllRecords) and, mixed in round-robin,
 * BENCH_MEMBERS standard_user members (roles sales_rep, support_agent, support_manager, none) who reach the
 * accounts through the criteria sharing rule (employees ≥ 1000 → group key_account_team), so their
 * check statements carry the full row-security predicate. Every written account has 5000 employees: every
 * subscriber must receive every event.
 * PGlite (embedded) always; PostgreSQL too when DATABASE_URL is set (a fresh database, dropped at the end).
 * Env: BENCH_SUBSCRIBERS=1,10,50,200  BENCH_MUTATIONS=100  BENCH_CONCURRENCY=8 (0: sequential only)
 *      BENCH_CONCURRENT_MAX_S=50 (the concurrent writer runs up to this S: a delivery costs ~0.3 ms of the
 *      server, so S=1000 × 100 events is ~30 s per writer)  BENCH_MEMBERS=4 (0: owner only)
 *      BENCH_ENGINES=pglite,postgres  BENCH_EXPLAIN=1 (query plans of the check statements)
 * Default run: ~3 min on PGlite alone, ~2 min more on PostgreSQL (2 cores, load average 5–6).
 * Run: npm run bench:subscriptions
 */
const SUBSCRIBERS = (process.env['BENCH_SUBSCRIBERS'] ?? '1,10,50,200').split(',').map(Number).filter((n) => n > 0);
const MUTATIONS = Math.max(2, Math.floor(Number(process.env['BENCH_MUTATIONS'] ?? 100) / 2) * 2); // create/update pairs
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 8);
const CONCURRENT_MAX_S = Number(process.env['BENCH_CONCURRENT_MAX_S'] ?? 50);
const MEMBERS = Math.min(4, Number(process.env['BENCH_MEMBERS'] ?? 4));
const ENGINES = (process.env['BENCH_ENGINES'] ?? 'pglite,postgres').split(',');
const WATCH = 'subscription { accountChanged { eventId op record { id name } } }';
const CREATE = 'mutation($n: String!) { createAccount(input: { name: $n, employees: 5000 }) { id } }';
const UPDATE = 'mutation($id: ID!, $n: String!) { updateAccount(id: $id, input: { name: $n }) { id } }';
const MEMBER_ROLES = ['sales_rep', 'support_agent', 'support_manager', null];

const engines: Engine[] = [];
if (ENGINES.includes('pglite')) engines.push({ name: 'pglite', open: async () => ({ options: { dataDir: 'memory://' }, cleanup: async () => {} }) });
if (ENGINES.includes('postgres') && process.env['DATABASE_URL'])
  engines.push({
    name: 'postgres',
    async open() {
      const db = await createTestDatabase('objectos_bench_subscriptions');
      return { options: { databaseUrl: db.url }, cleanup: () => db.drop() };
    },
  });

/**
 * A POST on a fresh loopback connection. Not fetch's keep-alive pool: under a saturated event loop an idle
 * pooled connection can be closed by the server (keepAliveTimeout, 5 s) just as a request is written on it
 * ("other side closed"), and a mutation cannot safely be retried.
 */
function postJson(url: string, headers: Record<string, string>, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString()) : reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString()}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Run {
  S: number;
  writer: string;
  expected: number;
  received: number;
  missing: number;
  duplicates: number;
  stray: number;
  errors: string[];
  wallMs: number;
  eventsPerS: number;
  delivery: { p50: number; p99: number };
  ackToPublish: number;
  publishToArrivalP99: number;
  mutation: { p50: number; p99: number; perS: number };
  checks: number;
  checkMeanMs: number;
  cpu: number;
  rss: number;
  heap: number;
  /** The subscribers' own process: its RSS at the end of the run, its CPU time / wall time. */
  clients: { rss: number; cpu: number };
  /** The same writer with 0 subscribers. */
  base?: Run;
}

async function benchEngine(engine: Engine): Promise<{ runs: Run[]; notes: string[]; failed: boolean }> {
  const t0 = performance.now();
  const rssBefore = process.memoryUsage().rss;
  const s: RealtimeStack = await startRealtimeStack(engine);
  const notes: string[] = [];
  const runs: Run[] = [];
  const clients = fork(fileURLToPath(new URL('./subscription-clients.ts', import.meta.url)), [], { execArgv: ['--import', '@objectos/runtime/register'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    // ---- people: the owner, and members reaching the accounts through the criteria sharing rule -------------
    const owner = await s.user('owner@bench-subscriptions.test', 'Benchsubs');
    const org = (await s.q<{ activeOrganization: { id: string } }>(owner.headers, '{ activeOrganization { id } }')).data!.activeOrganization.id;
    const people: { name: string; headers: Record<string, string> }[] = [{ name: 'owner', headers: owner.headers }];
    for (let m = 0; m < MEMBERS; m++) {
      const email = `member${m}@bench-subscriptions.test`;
      const joined = await s.user(email);
      await s.identity.auth.api.addMember({ body: { userId: joined.userId, organizationId: org, role: 'member' } });
      const set = await s.q(owner.headers, 'mutation($i: SetMemberAccessInput!) { setMemberAccess(input: $i) { userId } }',
        { i: { userId: joined.userId, role: MEMBER_ROLES[m], permissionSets: [], groups: ['key_account_team'] } });
      if (set.errors) throw new Error(`setMemberAccess: ${JSON.stringify(set.errors)}`);
      const signedIn = await s.auth('/sign-in/email', { email, password: PASSWORD });
      people.push({ name: `member(${MEMBER_ROLES[m] ?? 'no role'})`, headers: { authorization: `Bearer ${signedIn.headers.get('set-auth-token')}` } });
    }

    // ---- instrumentation: when each event reaches the change hub; every check statement's latency ----------
    let published: Float64Array = new Float64Array(0);
    let tag = '';
    const indexOf = (name: unknown): number => (typeof name === 'string' && name.startsWith(tag) ? Number(name.slice(tag.length)) : -1);
    const probe = s.data.hub.listen(org, 'account', (e) => {
      const i = indexOf(e.record?.['name']);
      if (i >= 0 && i < published.length && published[i] === 0) published[i] = epochNow();
    });
    // The fan-out's check statements go through `database.run` (one per batch of events, for every group).
    const database = s.data.database;
    const run0 = database.run.bind(database);
    let checkTimes: number[] = [];
    const samples = new Map<string, unknown[]>(); // distinct check statements (by text), replayed in isolation at the end
    database.run = async <T>(text: string, params: unknown[], name?: string): Promise<T[]> => {
      if (!text.includes('json_populate_record')) return run0<T>(text, params, name);
      if (samples.size < 12 && !samples.has(text)) samples.set(text, params);
      const t = performance.now();
      try {
        return await run0<T>(text, params, name);
      } finally {
        checkTimes.push(performance.now() - t);
      }
    };

    // ---- subscribers: one pool in a process of its own (bench/subscription-clients.ts), growing run by run ---
    let progress = { received: 0, errors: 0 };
    let clientFailure: string | null = null;
    const waiting = new Map<string, (m: FromClients) => void>();
    clients.on('message', (raw) => {
      const m = raw as FromClients;
      if (m.type === 'progress') progress = m;
      else if (m.type === 'failed') clientFailure = m.error;
      else waiting.get(m.type)?.(m);
    });
    clients.once('exit', (code) => (clientFailure ??= `the clients' process exited (${code})`));
    const ask = <K extends FromClients['type']>(message: ToClients, reply: K): Promise<Extract<FromClients, { type: K }>> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the clients' process did not answer ${message.type} within 120 s`)), 120_000);
        waiting.set(reply, (m) => {
          clearTimeout(timer);
          waiting.delete(reply);
          resolve(m as Extract<FromClients, { type: K }>);
        });
        clients.send(message);
      });
    let opened = 0;
    const grow = async (S: number): Promise<void> => {
      // Clients arrive in waves of 250, each live before the next: 5,000 connections opened in the same
      // millisecond overflow the listen backlog (a socket was reset at S = 5,000), which is no client load.
      while (opened < S) {
        const to = Math.min(S, opened + 250);
        await ask({ type: 'open', url: s.wsUrl, query: WATCH, from: opened, to, headers: people.map((p) => p.headers) }, 'opened');
        opened = to;
        // Live when the data subgraph has every one of them in a group (the probe is a raw listener, not counted).
        await until(`${to} live subscriptions`, () => s.data.hub.size() >= to || progress.errors > 0 || clientFailure !== null, 60_000);
      }
      await until(`${S} live subscriptions`, () => s.data.hub.size() === S || progress.errors > 0 || clientFailure !== null);
    };

    // ---- one run: the S subscribers of the pool, one writer ------------------------------------------------
    let runNo = 0;
    let warming = true;
    const run = async (S: number, concurrency: number): Promise<Run> => {
      if (opened !== S) throw new Error(`pool has ${opened} subscribers, run wants ${S}`);
      tag = `bench-${engine.name}-${++runNo}-`;
      const N = MUTATIONS;
      published = new Float64Array(N);
      await ask({ type: 'run', tag, N }, 'ready');
      progress = { received: 0, errors: 0 };
      checkTimes = [];

      const mem = { rss: 0, heap: 0 };
      const sampleMem = () => {
        const m = process.memoryUsage();
        mem.rss = Math.max(mem.rss, m.rss);
        mem.heap = Math.max(mem.heap, m.heapUsed);
      };
      sampleMem();
      const sampler = setInterval(sampleMem, 50);
      const cpu0 = process.cpuUsage();

      // Writer: create/update pairs over HTTP, `concurrency` workers, each timestamped at send and at the response.
      const sendAt = new Float64Array(N);
      const ackAt = new Float64Array(N);
      const post = async (i: number, query: string, variables: Record<string, unknown>): Promise<Record<string, { id: string }>> => {
        sendAt[i] = epochNow();
        const body = JSON.parse(await postJson(s.url, owner.headers, JSON.stringify({ query, variables }))) as { data?: Record<string, { id: string }>; errors?: unknown };
        ackAt[i] = epochNow();
        if (body.errors || !body.data) throw new Error(`mutation ${i} failed: ${JSON.stringify(body.errors)}`);
        return body.data;
      };
      let nextPair = 0;
      const start = epochNow();
      // A refused mutation fails the run (reported with the table, as a missed delivery is), and stops its worker.
      const late: string[] = [];
      await Promise.all(Array.from({ length: concurrency }, async () => {
        for (let j = nextPair++; j < N / 2 && late.length === 0; j = nextPair++) {
          try {
            const { createAccount } = await post(2 * j, CREATE, { n: `${tag}${2 * j}` });
            await post(2 * j + 1, UPDATE, { id: createAccount!.id, n: `${tag}${2 * j + 1}` });
          } catch (e) {
            late.push(`writer: ${(e as Error).message}`);
          }
        }
      }));
      const writerMs = epochNow() - start;
      // Everything committed is published; then wait for every delivery (bounded), and a moment more for duplicates.
      await s.data.relay.drain();
      const expected = S * N;
      if (late.length === 0) await until('every delivery', () => progress.received >= expected || progress.errors > 0 || clientFailure !== null, 60_000 + expected).catch((e: Error) => late.push(e.message));
      const cpu = process.cpuUsage(cpu0);
      await sleep(S > 0 ? 300 : 0);
      clearInterval(sampler);
      sampleMem();
      const t = await ask({ type: 'collect' }, 'tally');
      const { arrivals, counts, stray, received } = t;
      const errors = [...t.errors, ...late, ...(clientFailure ? [clientFailure] : [])];
      const wallMs = (S > 0 && received >= expected ? t.lastArrival : epochNow()) - start;
      process.stderr.write(`  ${engine.name}${warming ? ' warm-up' : ''} S=${S} ${concurrency === 1 ? 'sequential' : `${concurrency} concurrent`}: ${((epochNow() - start) / 1000).toFixed(1)} s, ${received}/${expected} deliveries\n`);

      const mutationLatencies = Array.from(ackAt, (a, i) => a - sendAt[i]!);
      const delivery: number[] = [];
      const pubToArrival: number[] = [];
      let missing = 0;
      let duplicates = 0;
      for (let k = 0; k < S; k++)
        for (let i = 0; i < N; i++) {
          const c = counts[k * N + i]!;
          if (c === 0) missing++;
          else {
            duplicates += c - 1;
            delivery.push(arrivals[k * N + i]! - ackAt[i]!);
            if (published[i]! > 0) pubToArrival.push(arrivals[k * N + i]! - published[i]!);
          }
        }
      const ackToPub = Array.from(published, (p, i) => p - ackAt[i]!).filter((_, i) => published[i]! > 0);
      return {
        S, writer: concurrency === 1 ? 'sequential' : `${concurrency} concurrent`, expected, received, missing, duplicates, stray, errors,
        wallMs, eventsPerS: received / (wallMs / 1000),
        delivery: { p50: pct(delivery, 50), p99: pct(delivery, 99) },
        ackToPublish: pct(ackToPub, 50),
        publishToArrivalP99: pct(pubToArrival, 99),
        mutation: { p50: pct(mutationLatencies, 50), p99: pct(mutationLatencies, 99), perS: N / (writerMs / 1000) },
        checks: checkTimes.length,
        checkMeanMs: mean(checkTimes),
        cpu: (cpu.user + cpu.system) / 1000 / wallMs,
        rss: mem.rss,
        heap: mem.heap,
        clients: { rss: t.rss, cpu: t.cpuMs / wallMs },
      };
    };

    // Warm up (JIT, caches, pools) without subscribers, then the 0-subscriber baselines, then S = 1, 10, … as the pool grows.
    const modes = CONCURRENCY > 1 ? [1, CONCURRENCY] : [1];
    for (const c of modes) await run(0, c);
    warming = false;
    const baseline = new Map<number, Run>();
    for (const c of modes) {
      const b = await run(0, c);
      baseline.set(c, b);
      runs.push(b);
    }
    // What a subscriber holds while idle: the server's heap and RSS after a full collection (node --expose-gc),
    // with S subscribers live and no event in flight, against the same with none.
    const retained = async (): Promise<{ heap: number; rss: number }> => {
      await sleep(200);
      for (let i = 0; i < 3; i++) (globalThis as { gc?: () => void }).gc?.();
      const m = process.memoryUsage();
      return { heap: m.heapUsed, rss: m.rss };
    };
    const idle0 = await retained();
    for (const S of [...SUBSCRIBERS].sort((a, b) => a - b)) {
      await grow(S);
      if ((globalThis as { gc?: unknown }).gc) {
        const idle = await retained();
        notes.push(`S=${S} idle, after a full GC: heap ${mib(idle.heap)} MiB (${f((idle.heap - idle0.heap) / S / 1024, 1)} KB per subscriber), RSS ${mib(idle.rss)} MiB (${f((idle.rss - idle0.rss) / S / 1024, 1)} KB per subscriber) against ${mib(idle0.heap)} / ${mib(idle0.rss)} MiB with none`);
        if (process.env['BENCH_HEAPSNAPSHOT']) notes.push(`heap snapshot at S=${S}: ${writeHeapSnapshot(`${process.env['BENCH_HEAPSNAPSHOT']}-${S}.heapsnapshot`)}`);
      } else notes.push('retained memory per subscriber not measured: run with node --expose-gc (npm run bench:subscriptions does)');
      for (const c of modes) if (c === 1 || S <= CONCURRENT_MAX_S) runs.push({ ...(await run(S, c)), base: baseline.get(c)! });
    }
    // Subscribers leave: sockets close at once; how long until the data subgraph drops their subscriptions?
    const left = performance.now();
    const profiled = await profileTeardown();
    const teardown = watchTeardown(() => s.realtime.sockets(), () => s.data.hub.size(), s.realtime.sockets());
    await ask({ type: 'dispose' }, 'disposed');
    opened = 0;
    await until('sockets to close', () => s.realtime.sockets() === 0);
    const socketsClosed = performance.now() - left;
    await until('the data subgraph to end the subscriptions', () => s.data.hub.size() === 0, 60_000);
    const lag = teardown.stop();
    const profile = await profiled();
    if (profile) notes.push(`CPU profile of the teardown: ${profile}`);
    notes.push(`after the ${Math.max(...SUBSCRIBERS)} clients disconnected: sockets closed in ${f(socketsClosed, 0)} ms; the data subgraph still held their subscriptions (and checked every event for them) for ${f(performance.now() - left, 0)} ms; each subscription outlived its socket by p50 ${f(lag.p50, 0)} ms, p99 ${f(lag.p99, 0)} ms, max ${f(lag.max, 0)} ms (${lag.n} paired)`);
    // The baselines again at the end: how much the process and the tables drifted over the runs.
    for (const c of modes) {
      const b = await run(0, c);
      notes.push(`baseline drift (${b.writer}, 0 subscribers): mutation p50 ${f(baseline.get(c)!.mutation.p50, 2)} → ${f(b.mutation.p50, 2)} ms, p99 ${f(baseline.get(c)!.mutation.p99, 2)} → ${f(b.mutation.p99, 2)} ms at the end`);
    }

    // Where the fan-out time goes: each distinct check statement, run alone, sequentially.
    database.run = run0;
    probe();
    for (const [text, params] of samples) {
      for (let i = 0; i < 20; i++) await run0(text, params);
      const xs: number[] = [];
      for (let i = 0; i < 200; i++) {
        const t = performance.now();
        await run0(text, params);
        xs.push(performance.now() - t);
      }
      const forms = text.split(' union all ').length;
      notes.push(`check statement (${forms} predicate shape${forms === 1 ? '' : 's'}, ${text.length} chars of SQL, ${params.length} parameters): run alone ${f(pct(xs, 50), 3)} ms p50, ${f(pct(xs, 99), 3)} ms p99`);
      if (process.env['BENCH_EXPLAIN'] === '1') {
        const plan = await run0<Record<string, string>>(`explain analyze ${text}`, params);
        notes.push(`${text}\n${plan.map((r) => `  ${Object.values(r)[0]}`).join('\n')}`);
      }
    }
    notes.unshift(`${people.length} subscriber identities (round-robin): ${people.map((p) => p.name).join(', ')}; setup+runs ${((performance.now() - t0) / 1000).toFixed(1)} s; process RSS before this engine's stack started ${mib(rssBefore)} MiB${engines[0] === engine ? '' : " (what the earlier engine left in this process is in this engine's RSS too)"}`);
  } finally {
    clients.kill();
    await s.close();
  }
  return { runs, notes, failed: runs.some((r) => r.missing || r.duplicates || r.stray || r.errors.length) };
}

// ---- main -------------------------------------------------------------------------------------------------
const started = performance.now();
const cpus = os.cpus();
console.log('\nLive subscriptions: fan-out of change events to S graphql-ws subscribers (accountChanged { eventId op record { id name } })');
console.log(`Path: mutation over HTTP → row + events.outbox in one transaction → relay → change hub → grouped checks (one statement per batch of events for all groups) → SSE data→gateway → graphql-ws; stack in this one process (PGlite too), the subscribers in a process of their own (bench/subscription-clients.ts), loopback 127.0.0.1`);
console.log(`Per run: ${MUTATIONS} mutations (${MUTATIONS / 2} createAccount + ${MUTATIONS / 2} updateAccount pairs) over HTTP, sequential${CONCURRENCY > 1 ? ` and from ${CONCURRENCY} concurrent workers (S ≤ ${CONCURRENT_MAX_S})` : ''}; S = ${SUBSCRIBERS.join(', ')}; baseline = the same writer with 0 subscribers`);
console.log("events/s = deliveries / (first send → last arrival); delivery = arrival − mutation response (commit acknowledged); ack→pub = response → relay published (p50, < 0: published before the response arrived); pub→arr = published → arrival; checks = check statements (mean latency incl. waiting for the connection); CPU % = the server process, user+sys / wall (100 = one core); KB / subscriber = (peak RSS − peak RSS of the 0-subscriber baseline) / S; clients = the subscribers' process");
console.log(`Machine: ${cpus.length} × ${cpus[0]?.model.trim() ?? '?'}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')} (1/5/15 min), ${mib(os.totalmem())} MiB RAM, Node ${process.version}`);

let failed = false;
for (const engine of engines) {
  const { runs, notes, failed: bad } = await benchEngine(engine);
  failed ||= bad;
  console.log(`\n### ${engine.name === 'pglite' ? 'PGlite (embedded, in process, one connection)' : 'PostgreSQL (pool of 10, fresh database)'}\n`);
  console.log('| S | writer | delivered / expected | events/s | delivery p50 ms | delivery p99 ms | ack→pub p50 ms | pub→arr p99 ms | mutation p50 ms | mutation p99 ms | p50 × base | p99 × base | mutations/s | checks | check mean ms | CPU % | peak RSS MiB | peak heap MiB | KB / subscriber | clients CPU % | clients RSS MiB |');
  console.log('|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of runs) {
    const base = r.base;
    const ok = r.missing === 0 && r.duplicates === 0 && r.stray === 0 && r.errors.length === 0;
    const delivered = r.S === 0 ? '– (baseline)' : `${r.received} / ${r.expected} (${f((100 * (r.received - r.duplicates)) / r.expected, 1)} %)${ok ? '' : ` **FAIL** missing ${r.missing}, duplicated ${r.duplicates}, stray ${r.stray}`}`;
    console.log(`| ${r.S} | ${r.writer} | ${delivered} | ${r.S ? f(r.eventsPerS, 0) : '–'} | ${f(r.delivery.p50)} | ${f(r.delivery.p99)} | ${f(r.ackToPublish, 2)} | ${f(r.publishToArrivalP99)} | ${f(r.mutation.p50, 2)} | ${f(r.mutation.p99, 2)} | ${base ? f(r.mutation.p50 / base.mutation.p50, 2) : '1.00'} | ${base ? f(r.mutation.p99 / base.mutation.p99, 2) : '1.00'} | ${f(r.mutation.perS, 0)} | ${r.checks} | ${f(r.checkMeanMs, 2)} | ${f(100 * r.cpu, 0)} | ${mib(r.rss)} | ${mib(r.heap)} | ${base && r.S ? f((r.rss - base.rss) / r.S / 1024, 0) : '–'} | ${f(100 * r.clients.cpu, 0)} | ${mib(r.clients.rss)} |`);
  }
  console.log('');
  for (const n of notes) console.log(`- ${n}`);
  for (const r of runs) for (const e of r.errors.slice(0, 5)) console.log(`- ERROR (S=${r.S}, ${r.writer}): ${e}`);
  for (const r of runs) if (r.S > 0) console.log(`- S=${r.S}, ${r.writer}: ${r.checks} check statements for ${r.S * MUTATIONS} event × subscriber pairs (grouped and batched)`);
}
console.log(`\nTotal ${((performance.now() - started) / 1000).toFixed(0)} s; load average now ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}`);
if (failed) {
  console.error('\nFAILED: some subscriber missed, repeated or got an unexpected event (see above).');
  process.exitCode = 1;
}
