import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import pg from 'pg';
import { readConfig, startObjectOS, type RunningObjectOS } from '@objectos/gateway';
import { REPO_ROOT, TEST_SECRET } from '@objectos/testkit';

/**
 * What the audit trail costs, with `npm start`'s wiring (startObjectOS: identity, data and audit subgraphs
 * and the gateway in this process, one HTTP endpoint on 127.0.0.1, rate limit off, NODE_ENV=production).
 *
 * 1. Mutation throughput, audit on vs off (target on/off ≥ 0.85): autocannon (in this process) sends
 *    createAccount/updateAccount (half each, unique names, random accounts of 200) through the gateway to two
 *    stacks that run side by side: OFF = a copy of metadata/ whose audit/crm.audit.yaml says `enabled: false`
 *    (the relay queues no audit event, capture has nothing to do), ON = metadata/ as is. Warm-up, then
 *    off, on, off, on… (BENCH_RUNS each); after each run both stacks are drained (backlog and drain time shown:
 *    capture falling behind would show there). Every ON request carries its own x-request-id; at the end every
 *    acknowledged mutation (200 without GraphQL errors) must have exactly one data.* event in audit.events.
 *    PGlite (file data folder, as `npm start`) always; PostgreSQL too when reachable (a fresh database per stack).
 * 2. auditEvents over BENCH_EVENTS (1,000,000) events on PostgreSQL (target p99 < 50 ms): synthetic rows
 *    written with generate_series (5 tenants, 70 % in the signed-up owner's organization, ~35 event types, 250
 *    actors per tenant, skewed targets, 360 days; auth.* only in the last 175 days as its 180-day retention
 *    leaves it) — their hash chain is placeholders, not computed. Page queries (first: 50, no totalCount) over
 *    HTTP as the organization owner (admin profile: viewAuditLog), BENCH_REPEAT times each after warm-up;
 *    totalCount separately; the floor of the path (`{ __typename }`); EXPLAIN (ANALYZE, BUFFERS) of the exact SQL
 *    the audit subgraph ran for each shape, and that page statement timed alone on its own connection.
 * Env: BENCH_PARTS=throughput,query  BENCH_ENGINES=pglite,postgres  BENCH_DURATION=10  BENCH_WARMUP=3
 *      BENCH_CONNECTIONS=16  BENCH_RUNS=5  BENCH_EVENTS=1000000  BENCH_REPEAT=200  BENCH_COUNT_REPEAT=20
 *      BENCH_PGLITE=memory (PGlite in memory://, not a data folder)  DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test when it answers)
 * Run: npm run bench:audit  (~6–8 min on 2 cores; results also in bench/results/audit.json)
 */
process.env['LOG_LEVEL'] ??= 'warn';
const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const PARTS = (process.env['BENCH_PARTS'] ?? 'throughput,query').split(',');
const ENGINES = (process.env['BENCH_ENGINES'] ?? 'pglite,postgres').split(',');
const [DURATION, WARMUP, CONNECTIONS, RUNS] = [num('BENCH_DURATION', 10), num('BENCH_WARMUP', 3), num('BENCH_CONNECTIONS', 16), num('BENCH_RUNS', 5)];
const [EVENTS, REPEAT, COUNT_REPEAT] = [num('BENCH_EVENTS', 1_000_000), num('BENCH_REPEAT', 200), num('BENCH_COUNT_REPEAT', 20)];
const PGLITE_MEMORY = process.env['BENCH_PGLITE'] === 'memory'; // memory:// instead of a data folder (not what `npm start` does)
const PG_BASE = process.env['DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/test';
const CREATE = 'mutation($n: String!) { createAccount(input: { name: $n, employees: 50 }) { id } }';
const UPDATE = 'mutation($id: ID!, $n: String!) { updateAccount(id: $id, input: { name: $n }) { id } }';

const pct = (xs: number[], p: number): number => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]! : NaN);
const median = (xs: number[]): number => (xs.length % 2 ? pct(xs, 50) : (pct(xs, 50) + [...xs].sort((a, b) => a - b)[xs.length / 2 - 1]!) / 2);
const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const mib = (b: number) => (b / 2 ** 20).toFixed(0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length };

// ---- PostgreSQL: reachable? a fresh database per use, dropped at the end ---------------------------------
async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_BASE, connectionTimeoutMillis: 3000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
async function freshDatabase(prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`create database "${name}"`));
  const url = new URL(PG_BASE);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(async (c) => void (await c.query(`drop database if exists "${name}" with (force)`))) };
}

// ---- one ObjectOS as `npm start` runs it, and its organization owner --------------------------------------
interface Stack { app: RunningObjectOS; url: string; headers: Record<string, string>; org: string }
async function startStack(metadataDir: string, where: { databaseUrl: string } | { dataDir: string }, email: string): Promise<Stack> {
  const config = readConfig({
    NODE_ENV: 'production', HOST: '127.0.0.1', PORT: '0', OBJECTOS_SECRET: TEST_SECRET, OBJECTOS_SEED: 'false', OBJECTOS_RATE_LIMIT: '0', OBJECTOS_METADATA: metadataDir,
    ...('databaseUrl' in where ? { DATABASE_URL: where.databaseUrl } : { OBJECTOS_DATA_DIR: where.dataDir }), LOG_LEVEL: process.env['LOG_LEVEL'],
  }, []);
  const app = await startObjectOS(PGLITE_MEMORY && !('databaseUrl' in where) ? { ...config, dataDir: 'memory://' } : config);
  const origin = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const post = (path: string, body: unknown, h: Record<string, string> = {}) => fetch(`${origin}/api/auth${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...h }, body: JSON.stringify(body) });
  const up = await post('/sign-up/email', { email, password: 'Sturdy-Passw0rd', name: 'Bench Owner' });
  if (up.status !== 200) throw new Error(`sign-up: ${up.status} ${await up.text()}`);
  const headers = { authorization: `Bearer ${up.headers.get('set-auth-token')}` };
  const o = await post('/organization/create', { name: 'Bench Corp', slug: `bench-${randomBytes(3).toString('hex')}` }, headers);
  if (o.status !== 200) throw new Error(`organization: ${o.status} ${await o.text()}`);
  const url = `${origin}/graphql`;
  const org = (await gqlOk<{ activeOrganization: { id: string } }>(url, headers, '{ activeOrganization { id } }')).activeOrganization.id;
  return { app, url, headers, org };
}
async function gqlOk<T>(url: string, headers: Record<string, string>, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: T; errors?: unknown };
  if (body.errors || !body.data) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data;
}
const rowsOf = async <T>(s: Stack, text: string, params: unknown[] = []): Promise<T[]> => s.app.audit!.database.run<T>(text, params);
async function drain(s: Stack): Promise<void> {
  await s.app.data!.relay.drain();
  await s.app.audit!.capture.drain();
}

// ---- part 1: mutation throughput, audit on vs off ------------------------------------------------------------
interface Load { variant: 'off' | 'on'; run: string; rps: number; p50: number; p99: number; acked: number; failed: number; errors: number; rss: number; backlog: number; drainMs: number; cpuMs: number }
async function throughput(engine: 'pglite' | 'postgres'): Promise<void> {
  const dir = await mkdtemp(join(os.tmpdir(), 'objectos-bench-audit-'));
  const dbs: { drop: () => Promise<void> }[] = [];
  const stacks: Partial<Record<'off' | 'on', Stack>> = {};
  try {
    await cp(join(REPO_ROOT, 'metadata'), join(dir, 'metadata-off'), { recursive: true });
    const yaml = join(dir, 'metadata-off', 'audit', 'crm.audit.yaml');
    await writeFile(yaml, `${(await readFile(yaml, 'utf8')).trimEnd()}\nenabled: false\n`);
    const where = async (v: string) => {
      if (engine === 'pglite') return { dataDir: join(dir, `data-${v}`) };
      const db = await freshDatabase(`objectos_bench_audit_${v}`);
      dbs.push(db);
      return { databaseUrl: db.url };
    };
    const t0 = performance.now();
    stacks.off = await startStack(join(dir, 'metadata-off'), await where('off'), 'owner-off@bench-audit.test');
    stacks.on = await startStack(join(REPO_ROOT, 'metadata'), await where('on'), 'owner-on@bench-audit.test');
    // 200 accounts per stack to update (10 per mutation: the gateway allows 15 aliases).
    const accounts: Record<string, string[]> = { off: [], on: [] };
    for (const v of ['off', 'on'] as const)
      for (let b = 0; b < 20; b++) {
        const m = Array.from({ length: 10 }, (_, i) => `a${i}: createAccount(input: { name: "Seed ${b * 10 + i}", employees: 50 }) { id }`).join('\n');
        accounts[v]!.push(...Object.values(await gqlOk<Record<string, { id: string }>>(stacks[v]!.url, stacks[v]!.headers, `mutation { ${m} }`)).map((a) => a.id));
      }
    for (const s of Object.values(stacks)) await drain(s);
    if (engine === 'postgres') for (const s of Object.values(stacks)) await rowsOf(s, 'analyze');
    const setupS = (performance.now() - t0) / 1000;

    const ackedOn = new Set<string>();
    let seq = 0;
    const load = async (variant: 'off' | 'on', run: string, duration: number): Promise<Load> => {
      const s = stacks[variant]!;
      const ids = accounts[variant]!;
      const tag = `audit-bench-${engine}-${variant}-${run}-`;
      let acked = 0;
      let failed = 0;
      let rss = process.memoryUsage().rss;
      const sampler = setInterval(() => (rss = Math.max(rss, process.memoryUsage().rss)), 200);
      const cpu0 = process.cpuUsage();
      const r = await autocannon({
        url: s.url, method: 'POST', connections: CONNECTIONS, duration,
        headers: { 'content-type': 'application/json', ...s.headers },
        requests: [{
          setupRequest: (req, context) => {
            const n = ++seq;
            const id = `${tag}${n}`;
            (context as { id?: string }).id = id;
            const body = n % 2 ? { query: CREATE, variables: { n: `Bench ${n}` } } : { query: UPDATE, variables: { id: ids[(n * 7919) % ids.length], n: `Bench ${n}` } };
            return { ...req, headers: { ...req.headers, 'x-request-id': id }, body: JSON.stringify(body) };
          },
          onResponse: (status, body, context) => {
            if (status === 200 && !body.includes('"errors"')) {
              acked++;
              if (variant === 'on') ackedOn.add((context as { id: string }).id);
            } else if (failed++ < 3) console.error(`  ${variant} ${run}: HTTP ${status} ${body.slice(0, 300)}`);
          },
        }],
      });
      clearInterval(sampler);
      await sleep(200); // requests cut off at the end finish on the server
      const [backlog] = await rowsOf<{ n: number }>(s, `select (select count(*) from events.outbox where published_at is null) + (select count(*) from events.audit_outbox) as n`);
      const t = performance.now();
      await drain(s);
      const cpu = process.cpuUsage(cpu0);
      const out: Load = { variant, run, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, acked, failed, errors: r.errors + r.timeouts, rss, backlog: Number(backlog!.n), drainMs: performance.now() - t, cpuMs: (cpu.user + cpu.system) / 1000 / Math.max(1, acked) };
      process.stderr.write(`  ${engine} ${variant} ${run}: ${f(out.rps, 0)} req/s, p50 ${out.p50} ms, p99 ${out.p99} ms, backlog ${out.backlog}, drained in ${f(out.drainMs, 0)} ms\n`);
      return out;
    };
    await load('off', 'warmup', WARMUP);
    await load('on', 'warmup', WARMUP);
    const runs: Load[] = [];
    for (let i = 1; i <= RUNS; i++) for (const v of ['off', 'on'] as const) runs.push(await load(v, `r${i}`, DURATION));

    // Every acknowledged ON mutation: exactly one data.* event (request id = the x-request-id it was sent with).
    await sleep(500);
    for (const s of Object.values(stacks)) await drain(s);
    const byId = new Map((await rowsOf<{ r: string; n: number }>(stacks.on, `select request_id as r, count(*)::int as n from audit.events where event_type like 'data.%' and request_id like 'audit-bench-%' group by request_id`)).map((x) => [x.r, Number(x.n)]));
    let once = 0, missing = 0, repeated = 0, unacked = 0;
    for (const id of ackedOn) {
      const n = byId.get(id) ?? 0;
      if (n === 1) once++;
      else if (n === 0) missing++;
      else repeated++;
    }
    for (const [id, n] of byId) if (!ackedOn.has(id)) {
      unacked++;
      if (n > 1) repeated++;
    }
    const total = async (s: Stack) => Number((await rowsOf<{ n: number }>(s, `select count(*)::int as n from audit.events where event_type like 'data.%'`))[0]!.n);
    const [onTotal, offTotal] = [await total(stacks.on), await total(stacks.off)];

    const on = runs.filter((r) => r.variant === 'on');
    const off = runs.filter((r) => r.variant === 'off');
    const ratio = median(on.map((r) => r.rps)) / median(off.map((r) => r.rps));
    const pairs = on.map((r, i) => r.rps / off[i]!.rps);
    const sum = (xs: Load[], k: 'acked' | 'cpuMs') => xs.reduce((a, r) => a + r[k], 0);
    console.log(`\n### Mutation throughput, audit on vs off — ${engine === 'pglite' ? `PGlite (embedded, ${PGLITE_MEMORY ? 'memory://' : 'file data folder as npm start'}, one connection per stack)` : 'PostgreSQL (pool of 10 per stack, a fresh database each)'}\n`);
    console.log(`createAccount/updateAccount (1:1) over HTTP through the gateway, autocannon in this process, ${CONNECTIONS} connections, ${DURATION} s per run after ${WARMUP} s warm-up per stack; both stacks in this process (RSS is the whole process); setup ${f(setupS)} s\n`);
    console.log('| run | audit | req/s | p50 ms | p99 ms | acknowledged | failed | socket errors/timeouts | peak RSS MiB | queued at end | drain ms | process CPU ms / mutation |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of runs) console.log(`| ${r.run} | ${r.variant} | ${f(r.rps, 0)} | ${r.p50} | ${r.p99} | ${r.acked} | ${r.failed} | ${r.errors} | ${mib(r.rss)} | ${r.backlog} | ${f(r.drainMs, 0)} | ${f(r.cpuMs, 2)} |`);
    for (const [name, xs] of [['off', off], ['on', on]] as const)
      console.log(`| **median** | ${name} | **${f(median(xs.map((r) => r.rps)), 0)}** | ${median(xs.map((r) => r.p50))} | ${median(xs.map((r) => r.p99))} | | | | ${mib(median(xs.map((r) => r.rss)))} | | | ${f(median(xs.map((r) => r.cpuMs)), 2)} |`);
    console.log(`\non/off throughput, median req/s on ÷ median req/s off: **${f(ratio, 2)}** (target ≥ 0.85: ${ratio >= 0.85 ? 'met' : 'MISSED'}); per pair (adjacent runs): ${pairs.map((x) => f(x, 2)).join(', ')}, their median ${f(median(pairs), 2)}; all acknowledged on ÷ off: ${f(sum(on, 'acked') / sum(off, 'acked'), 2)}`);
    console.log(`process CPU per acknowledged mutation (gateway, subgraphs, relay, capture, autocannon${engine === 'pglite' ? ', PGlite' : '; not the PostgreSQL server'}), median: off ${f(median(off.map((r) => r.cpuMs)), 2)} ms, on ${f(median(on.map((r) => r.cpuMs)), 2)} ms → off/on ${f(median(off.map((r) => r.cpuMs)) / median(on.map((r) => r.cpuMs)), 2)}`);
    console.log(`audit ON: ${ackedOn.size} acknowledged mutations (warm-up included) → ${once} with exactly one data.* event, ${missing} without, ${repeated} request ids with more than one; ${unacked} events of requests cut off at the end of a run (sent, no response); data.* events in audit.events: ${onTotal} = 200 seed creates + ${onTotal - 200} (acknowledged + cut off = ${ackedOn.size + unacked}) → ${missing === 0 && repeated === 0 && onTotal === 200 + ackedOn.size + unacked ? 'exactly once: OK' : '**MISMATCH**'}`);
    console.log(`audit OFF: data.* events in audit.events: ${offTotal} (expected 0)`);
    if (missing || repeated || offTotal || onTotal !== 200 + ackedOn.size + unacked) process.exitCode = 1;
    results[`throughput_${engine}`] = { runs, ratio, pairs, acked: ackedOn.size, once, missing, repeated, unacked, onTotal, offTotal };
  } finally {
    for (const s of Object.values(stacks)) await s.app.stop();
    for (const db of dbs) await db.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

// ---- part 2: auditEvents over a million events on PostgreSQL ------------------------------------------------
const TYPES: [string, number, number, string][] = [ // event type, weight ‰, severity rank, result
  ['data.update', 300, 1, 'success'], ['data.create', 220, 1, 'success'], ['data.delete', 40, 2, 'success'], ['data.export', 8, 2, 'success'], ['data.import', 4, 2, 'success'],
  ['data.bulk_update', 6, 2, 'success'], ['data.bulk_delete', 2, 3, 'success'], ['auth.login', 120, 1, 'success'], ['auth.logout', 60, 1, 'success'], ['auth.session_created', 80, 1, 'success'],
  ['auth.login_failed', 30, 3, 'failure'], ['auth.session_expired', 40, 1, 'success'], ['auth.password_changed', 4, 2, 'success'], ['auth.password_reset', 2, 2, 'success'],
  ['auth.session_revoked', 3, 2, 'success'], ['auth.email_verified', 3, 1, 'success'], ['auth.account_locked', 1, 3, 'success'], ['auth.account_unlocked', 1, 2, 'success'],
  ['authz.role_assigned', 5, 2, 'success'], ['authz.permission_granted', 4, 2, 'success'], ['authz.permission_revoked', 2, 2, 'success'], ['authz.role_removed', 2, 2, 'success'],
  ['authz.policy_updated', 1, 2, 'success'], ['security.access_denied', 25, 3, 'failure'], ['security.api_key_created', 2, 2, 'success'], ['security.api_key_revoked', 1, 2, 'success'],
  ['security.suspicious_activity', 1, 6, 'success'], ['system.config_changed', 1, 2, 'success'], ['system.backup_created', 2, 1, 'success'], ['system.integration_added', 1, 2, 'success'],
  ['job.started', 15, 1, 'success'], ['job.completed', 14, 1, 'success'], ['job.failed', 1, 4, 'failure'], ['job.dead_lettered', 1, 4, 'failure'], ['data.read', 0, 1, 'success'],
];
function fillSql(): string {
  const sum = TYPES.reduce((a, t) => a + t[1], 0);
  let acc = 0;
  const pick = TYPES.filter((t) => t[1] > 0).map(([t, w]) => `when r2 < ${((acc += w) / sum).toFixed(6)} then '${t}'`).join(' ');
  const sev = TYPES.map(([t, , s]) => `when '${t}' then ${s}`).join(' ');
  const res = TYPES.filter((t) => t[3] !== 'success').map(([t]) => `'${t}'`).join(', ');
  const sys = `(t like 'system.%' or t like 'job.%')`;
  const obj = `(t like 'data.%' or t = 'security.access_denied')`;
  return `insert into audit.events (id, event_type, severity, occurred_at, recorded_at, tenant_id, actor_type, actor_id, actor_ip, actor_user_agent, target_type, target_id, description, changes, result, request_id, details, prev_hash, hash)
  select gen_random_uuid(), t, case t ${sev} else 1 end, at, at + interval '40 milliseconds', tenant,
    case when ${sys} then 'system' else 'user' end, case when ${sys} then null else 'usr_' || tn || '_' || actor end,
    case when ${sys} then null else '10.' || tn || '.' || actor || '.' || (g % 250) end,
    case when ${sys} then null else (array['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0', 'objectos-sdk/1.4.0', 'curl/8.5.0'])[1 + g % 4] end,
    case when ${obj} then obj when t like 'auth.%' then 'user' when t like 'job.%' then 'job' end,
    case when ${obj} then md5(tenant || obj || rec)::uuid::text when t like 'auth.%' then 'usr_' || tn || '_' || actor when t like 'job.%' then 'job-' || (g % 5000) end,
    t || coalesce(' ' || case when ${obj} then obj || ' ' || md5(tenant || obj || rec)::uuid::text end, ''),
    case t when 'data.update' then jsonb_build_array(jsonb_build_object('field', 'name', 'oldValue', 'Name ' || g, 'newValue', 'Name ' || g + 1), jsonb_build_object('field', 'annualRevenue', 'oldValue', g % 1000 * 1000, 'newValue', (g % 1000 + 1) * 1000))
      when 'data.create' then jsonb_build_array(jsonb_build_object('field', 'name', 'oldValue', null, 'newValue', 'Name ' || g)) end,
    case when t in (${res}) then 'failure' else 'success' end, case when t like 'system.%' then null else 'req-' || md5(g::text) end,
    case when t like 'security.%' then jsonb_build_object('reason', 'synthetic', 'count', 1 + g % 7) end, repeat('0', 64), md5(g::text) || md5((g + 1)::text)
  from (select g, tenant, tn, actor, obj, rec, at, case when t like 'auth.%' and at < now() - interval '175 days' then 'data.update' else t end as t
    from (select g, case when tn = 0 then $1::text else 'org_bench_' || tn end as tenant, tn, floor(250 * r3 ^ 2)::int as actor,
        (array['account', 'account', 'contact', 'contact', 'opportunity', 'lead', 'case'])[1 + floor(r4 * 7)::int] as obj, floor(40000 * r5 ^ 3)::int as rec,
        date_trunc('milliseconds', $4::timestamptz + (g::float8 / $5::float8) * interval '360 days' + r6 * interval '30 seconds') as at, case ${pick} else 'data.update' end as t
      from (select g, case when r1 < 0.70 then 0 when r1 < 0.80 then 1 when r1 < 0.88 then 2 when r1 < 0.95 then 3 else 4 end as tn, r2, r3, r4, r5, r6
        from (select g, random() r1, random() r2, random() r3, random() r4, random() r5, random() r6 from generate_series($2::int, $3::int) g) s0 offset 0) s1 offset 0) s2 offset 0) s3`;
}

const PAGE = `query($w: AuditEventWhere, $after: String) { auditEvents(where: $w, first: 50, after: $after) { COUNT pageInfo { hasNextPage endCursor }
  edges { cursor node { id eventType severity timestamp result description requestId actor { type id ipAddress userAgent } target { type id } changes { field oldValue newValue } } } } }`;
interface Shape { name: string; where: Record<string, unknown>; after?: string }
type PageData = { auditEvents: { totalCount?: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: unknown[] } };

async function queries(): Promise<void> {
  const db = await freshDatabase('objectos_bench_audit_query');
  let s: Stack | null = null;
  const c = new pg.Client({ connectionString: db.url });
  try {
    const started = performance.now();
    s = await startStack(join(REPO_ROOT, 'metadata'), { databaseUrl: db.url }, 'owner-query@bench-audit.test');
    await c.connect();
    // ---- fill: the product's secondary indexes dropped and recreated from their own definitions (faster than row by row)
    const t0 = performance.now();
    const defs = (await c.query<{ name: string; def: string }>(`select indexname as name, indexdef as def from pg_indexes i where schemaname = 'audit' and tablename = 'events'
      and not exists (select 1 from pg_constraint k where k.conname = i.indexname)`)).rows;
    for (const d of defs) await c.query(`drop index audit.${d.name}`);
    await c.query('select setseed(0.42)');
    const begin = new Date(Date.now() - 360 * 86_400_000).toISOString();
    const CHUNK = 100_000;
    for (let lo = 1; lo <= EVENTS; lo += CHUNK) {
      await c.query(fillSql(), [s.org, lo, Math.min(EVENTS, lo + CHUNK - 1), begin, EVENTS]);
      process.stderr.write(`  filled ${Math.min(EVENTS, lo + CHUNK - 1)} rows, ${f((performance.now() - t0) / 1000)} s\n`);
    }
    for (const d of defs) await c.query(d.def);
    await c.query('vacuum analyze audit.events');
    const fillS = (performance.now() - t0) / 1000;
    const dist = (await c.query<{ tenant: string; n: string }>(`select coalesce(tenant_id, '(platform)') as tenant, count(*) as n from audit.events group by 1 order by 2 desc`)).rows;
    const size = (await c.query<{ t: string; i: string }>(`select pg_size_pretty(pg_table_size('audit.events')) as t, pg_size_pretty(pg_indexes_size('audit.events')) as i`)).rows[0]!;
    // ---- parameters from the data: a mid-frequency actor, a typical and the hottest account, a request id
    const one = async <T>(q: string): Promise<T> => (await c.query(q, [s!.org])).rows[0] as T;
    const actor = await one<{ a: string; n: string }>(`select actor_id as a, count(*) as n from audit.events where tenant_id = $1 and actor_id is not null group by 1 order by 2 desc offset 20 limit 1`);
    const targets = `select target_id as id, count(*) as n from audit.events where tenant_id = $1 and target_type = 'account' group by 1`;
    const typical = await one<{ id: string; n: string }>(`select * from (${targets}) t where n between 5 and 10 limit 1`);
    const hot = await one<{ id: string; n: string }>(`${targets} order by 2 desc limit 1`);
    const req = await one<{ r: string }>(`select request_id as r from audit.events where tenant_id = $1 and request_id like 'req-%' order by seq desc offset 5000 limit 1`);
    const ago = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();
    const shapes: Shape[] = [
      { name: 'newest page, no filter (tenant only)', where: {} },
      { name: 'eventType data.update + last 30 days', where: { eventType: ['data.update'], from: ago(30), to: new Date().toISOString() } },
      { name: 'eventType auth.* (category) + last 90 days', where: { eventType: ['auth.*'], from: ago(90) } },
      { name: 'eventType authz.* (category, 1.4 %)', where: { eventType: ['authz.*'] } },
      { name: `actor ${actor.a} (${actor.n} events)`, where: { actor: actor.a } },
      { name: `target account, typical (${typical.n} events)`, where: { target: { type: 'account', id: typical.id } } },
      { name: `target account, hottest (${hot.n} events)`, where: { target: { type: 'account', id: hot.id } } },
      { name: 'severity ≥ warning (6 %)', where: { severity: 'warning' } },
      { name: 'severity ≥ error (0.2 %)', where: { severity: 'error' } },
      { name: 'result failure + last 7 days', where: { result: 'failure', from: ago(7) } },
      { name: 'requestId', where: { requestId: req.r } },
    ];
    const call = (shape: Shape, count = false) => gqlOk<PageData>(s!.url, s!.headers, PAGE.replace('COUNT', count ? 'totalCount' : ''), { w: shape.where, ...(shape.after ? { after: shape.after } : {}) });
    for (const base of [shapes[1]!, shapes[7]!]) {
      const p1 = await call(base);
      shapes.push({ name: `page 2 (after) of: ${base.name}`, where: base.where, after: p1.auditEvents.pageInfo.endCursor! });
    }
    // The audit subgraph's first retention run is 60 s after its start (a scan of the table): measure after it.
    while (performance.now() - started < 65_000) await sleep(1000);
    while ((await c.query(`select 1 from pg_stat_activity where query like '%from audit.events where occurred_at < (case%' and state = 'active' and pid <> pg_backend_pid()`)).rowCount) await sleep(500);

    // Interleaved rounds (each shape once per round): a burst of load on the machine falls on every shape alike.
    const time = async (into: number[], fn: () => Promise<unknown>) => {
      const t = performance.now();
      await fn();
      into.push(performance.now() - t);
    };
    const series = () => new Map<string, number[]>(shapes.map((x) => [x.name, []]));
    const [lat, cnt, alone, floor] = [series(), series(), series(), [] as number[]];
    const last = new Map<string, PageData>();
    for (let round = -20; round < REPEAT; round++) {
      await time(round < 0 ? [] : floor, () => gqlOk(s!.url, s!.headers, '{ __typename }'));
      for (const x of shapes) await time(round < 0 ? [] : lat.get(x.name)!, async () => last.set(x.name, await call(x)));
    }
    for (let round = 0; round < COUNT_REPEAT; round++) for (const x of shapes) await time(cnt.get(x.name)!, async () => last.set(x.name, await call(x, true)));

    // ---- the exact SQL the audit subgraph ran for each shape (page, then count): explained, and the page SQL timed alone
    const drizzle = s.app.audit!.database.db as unknown as { execute: (q: unknown) => Promise<unknown>; dialect: { sqlToQuery(q: unknown): { sql: string; params: unknown[] } } };
    const execute = drizzle.execute.bind(drizzle);
    let seen: { sql: string; params: unknown[] }[] = [];
    drizzle.execute = (q: unknown) => {
      const query = drizzle.dialect.sqlToQuery(q);
      if (/from audit\.events where/.test(query.sql)) seen.push(query);
      return execute(q);
    };
    const plans: { shape: string; sql: string; params: unknown[]; plan: string[] }[] = [];
    for (const shape of shapes) {
      seen = [];
      await call(shape, true);
      for (const q of seen) plans.push({ shape: shape.name, ...q, plan: (await c.query<{ 'QUERY PLAN': string }>(`explain (analyze, buffers) ${q.sql}`, q.params)).rows.map((r) => r['QUERY PLAN']) });
    }
    drizzle.execute = execute;
    for (let round = -5; round < REPEAT; round++)
      for (const p of plans) if (!p.sql.startsWith('select count')) await time(round < 0 ? [] : alone.get(p.shape)!, () => c.query(p.sql, p.params));

    const all = [...lat.values()].flat();
    const p99 = pct(all, 99);
    const cell = (xs: number[], d = 1) => `${f(pct(xs, 50), d)} | ${f(pct(xs, 99), d)}`;
    console.log(`\n### auditEvents over ${EVENTS.toLocaleString('en')} events — PostgreSQL\n`);
    console.log(`Synthetic rows: filled in ${f(fillS)} s (generate_series; secondary indexes rebuilt from their definitions, then VACUUM ANALYZE); table ${size.t}, indexes ${size.i}.`);
    console.log('The synthetic rows carry placeholder prev_hash/hash values: their hash chain was NOT computed (verifyAuditChain is not what is measured).');
    console.log(`Tenants: ${dist.map((d) => `${d.tenant === s!.org ? `${d.tenant} (the owner's organization)` : d.tenant} ${Number(d.n).toLocaleString('en')}`).join(', ')}`);
    console.log(`Over HTTP through the gateway (→ audit subgraph in process) as the organization's owner, sequential, client in this process; first: 50, node fields incl. actor, target, changes.`);
    console.log(`${REPEAT} interleaved rounds after 20 warm-up rounds; totalCount: ${COUNT_REPEAT} rounds separately; "SQL alone" = the captured page statement run directly on its own connection (${REPEAT} rounds)\n`);
    console.log('| query shape (first: 50) | edges | p50 ms | p99 ms | max ms | p99 < 50 ms | SQL alone p50 | p99 | with totalCount p50 | p99 | totalCount |\n|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|');
    console.log(`| floor: \`{ __typename }\` (gateway only, no subgraph) | – | ${cell(floor, 2)} | ${f(Math.max(...floor), 2)} | | | | | | |`);
    for (const x of shapes) {
      const xs = lat.get(x.name)!;
      console.log(`| ${x.name} | ${last.get(x.name)!.auditEvents.edges.length} | ${cell(xs, 2)} | ${f(Math.max(...xs), 2)} | ${pct(xs, 99) < 50 ? 'yes' : '**NO**'} | ${cell(alone.get(x.name)!, 2)} | ${cell(cnt.get(x.name)!)} | ${last.get(x.name)!.auditEvents.totalCount?.toLocaleString('en')} |`);
    }
    console.log(`| **all shapes** (${all.length} requests) | | **${f(pct(all, 50), 2)}** | **${f(p99, 2)}** | ${f(Math.max(...all), 2)} | ${p99 < 50 ? 'yes' : '**NO**'} | ${cell([...alone.values()].flat(), 2)} | | | |`);
    const worst = [...lat.entries()].sort((a, b) => pct(b[1], 99) - pct(a[1], 99))[0]!;
    console.log(`\nauditEvents p99 over all page shapes without totalCount: ${f(p99, 2)} ms (target < 50 ms: ${p99 < 50 ? 'met' : 'MISSED'}); slowest shape: ${worst[0]}, p99 ${f(pct(worst[1], 99), 2)} ms`);
    console.log('\nEXPLAIN (ANALYZE, BUFFERS) of the SQL the audit subgraph ran (captured from its connection, parameters bound as it bound them):');
    for (const p of plans) console.log(`\n-- ${p.shape}: ${p.sql.startsWith('select count') ? 'totalCount' : 'page'}\n${p.sql.replace(/\s+/g, ' ')}\n   params: ${JSON.stringify(p.params)}\n${p.plan.map((l) => `  ${l}`).join('\n')}`);
    const stats = (m: Map<string, number[]>) => Object.fromEntries([...m].map(([k, xs]) => [k, { p50: pct(xs, 50), p99: pct(xs, 99) }]));
    results['query'] = { events: EVENTS, fillS, dist, size, floor: { p50: pct(floor, 50), p99: pct(floor, 99) }, pages: stats(lat), sqlAlone: stats(alone), withTotalCount: stats(cnt), p99, plans };
  } finally {
    await c.end().catch(() => {});
    await s?.app.stop();
    await db.drop();
  }
}

// ---- main ---------------------------------------------------------------------------------------------------
const began = performance.now();
const cpus = os.cpus();
console.log('\nAudit trail benchmark (issue #14, point 11): mutation throughput with audit on vs off, and auditEvents latency over 1M events');
console.log(`Machine: ${cpus.length} × ${cpus[0]?.model.trim() ?? '?'}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')} (1/5/15 min), ${mib(os.totalmem())} MiB RAM, Node ${process.version}`);
const havePg = await admin(async () => true).catch(() => false);
if (!havePg) console.log(`PostgreSQL not reachable at ${PG_BASE.replace(/\/\/[^@]*@/, '//…@')}: PGlite only, and no auditEvents part.`);
if (PARTS.includes('throughput')) {
  if (ENGINES.includes('pglite')) await throughput('pglite');
  if (ENGINES.includes('postgres') && havePg) await throughput('postgres');
}
if (PARTS.includes('query') && havePg) await queries();
console.log(`\nTotal ${f((performance.now() - began) / 1000, 0)} s; load average now ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}`);
await mkdir(join(REPO_ROOT, 'bench/results'), { recursive: true });
await writeFile(join(REPO_ROOT, 'bench/results/audit.json'), JSON.stringify(results, null, 2));
