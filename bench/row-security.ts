import { createDataSubgraph } from '@objectos/data-subgraph';
import { connectDatabase, literal, type Database } from '@objectos/db';
import { createGateway, type Gateway } from '@objectos/gateway';
import type { Principal } from '@objectos/principal';
import { createTestDatabase, gqlOk, signedFetch, TEST_ORG, TEST_SECRET, testPrincipal, type TestDatabase } from '@objectos/testkit';

/**
 * What row security costs: the foundation benchmark's list query ("50 accounts with their contacts")
 * through the gateway, in process, on the same data, as
 *   admin:  org owner → system_administrator profile (viewAllRecords): no row predicate at all;
 *   member: standard_user (private OWD on account, contact controlled_by_parent) + revenue_viewer, role
 *           support_manager, group key_account_team: its rows come from ownership, the role hierarchy
 *           (support agents), the owner-based and the criteria sharing rules and manual shares.
 * Both get a full page of 50 accounts, so the difference is the predicates, not the result size.
 * Embedded engine (PGlite) by default; DATABASE_URL=… runs it on PostgreSQL (a fresh database).
 * BENCH_EXPLAIN=1 prints EXPLAIN ANALYZE of every statement of one request per principal.
 * Run: npm run bench:security
 */
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2000);
const ACCOUNTS = Number(process.env['BENCH_ACCOUNTS'] ?? 1000);
const CONTACTS_PER_ACCOUNT = 4;
const PAGE = 50;
const QUERY_TEXT = `{ accounts(first: ${PAGE}, orderBy: [{ field: NAME }]) { nodes { id name industry annualRevenue contacts { id firstName lastName email } } } }`;
const QUERY = JSON.stringify({ query: QUERY_TEXT });

// ---- people: who owns what, and who holds which role --------------------------------------------------
const uid = (n: string) => `bench-user-${n}`;
const MEMBER = uid('support-manager-1');
const users: { id: string; role: string | null; groups: string[] }[] = [
  { id: uid('ceo'), role: 'ceo', groups: [] },
  { id: uid('sales-manager'), role: 'sales_manager', groups: [] },
  ...[1, 2, 3, 4].map((i) => ({ id: uid(`sales-rep-${i}`), role: 'sales_rep', groups: [] })),
  { id: MEMBER, role: 'support_manager', groups: ['key_account_team'] },
  { id: uid('support-manager-2'), role: 'support_manager', groups: [] },
  ...[1, 2, 3, 4].map((i) => ({ id: uid(`support-agent-${i}`), role: 'support_agent', groups: [] })),
  ...[1, 2].map((i) => ({ id: uid(`no-role-${i}`), role: null, groups: [] })),
];
const admin = testPrincipal(TEST_ORG);
const member: Principal = { ...testPrincipal(TEST_ORG, MEMBER), roles: ['member'], permissionSets: ['revenue_viewer'], role: 'support_manager', groups: ['key_account_team'] };

// Owner of account i, by share of the data: [owner, weight]. Names interleave, so every page mixes them.
const OWNERS: [string, number][] = [
  [MEMBER, 5], // ownership
  ...[1, 2, 3, 4].map((i): [string, number] => [uid(`support-agent-${i}`), 4]), // hierarchy (16)
  [uid('sales-manager'), 6], ...[1, 2, 3, 4].map((i): [string, number] => [uid(`sales-rep-${i}`), 6]), // sharing rule by owner (30)
  [uid('ceo'), 15], [uid('support-manager-2'), 10], [uid('no-role-1'), 7], [uid('no-role-2'), 7], [admin.userId!, 10], // reached only by criteria / manual shares
];
const ownerCycle = OWNERS.flatMap(([o, w]) => Array<string>(w).fill(o));
const MANUAL_SHARE_TO: [string, string][] = [['user', MEMBER], ['role', 'support_manager'], ['role_and_subordinates', 'ceo'], ['group', 'key_account_team']];

// ---- engine, data subgraph, gateways --------------------------------------------------------------------
let capture: string[][] | null = null;
const onQuery = (q: string, params: unknown[]) => capture?.push([q, ...params.map((p) => literal(p))]);
let pgDb: TestDatabase | null = null;
let database: Database;
if (process.env['DATABASE_URL']) {
  pgDb = await createTestDatabase('objectos_bench_security');
  database = await connectDatabase({ databaseUrl: pgDb.url, poolSize: 10, onQuery });
} else database = await connectDatabase({ dataDir: 'memory://', onQuery });
const data = await createDataSubgraph({ metadata: 'metadata', database, secret: TEST_SECRET });
const subgraphs = [{ name: 'data', url: 'http://data.internal/graphql', sdl: data.sdl, fetch: data.fetch, ...(data.readCompiled ? { readCompiled: data.readCompiled } : {}) }];
const gateways: Record<'admin' | 'member', Gateway> = {
  admin: await createGateway({ subgraphs, auth: { secret: TEST_SECRET, resolve: async () => ({ principal: admin }) } }),
  member: await createGateway({ subgraphs, auth: { secret: TEST_SECRET, resolve: async () => ({ principal: member }) } }),
};
const exec = async <T = Record<string, unknown>>(text: string): Promise<T[]> => ((await database.db.execute(text)) as unknown as { rows: T[] }).rows;

// ---- seed -----------------------------------------------------------------------------------------------
const t0 = Date.now();
for (const u of users)
  await exec(`insert into security.member_access (organization_id, user_id, role, permission_sets, groups)
    values (${literal(TEST_ORG)}, ${literal(u.id)}, ${literal(u.role)}, '{}', ${literal(u.groups)})`);
interface Seeded { id: string; owner: string; employees: number; manual: string | null }
const accounts: Seeded[] = [];
const byOwner = new Map<string, number[]>();
for (let i = 0; i < ACCOUNTS; i++) {
  const owner = ownerCycle[(i * 7) % ownerCycle.length]!; // stride 7 (prime to 100) spreads owners over the name order
  (byOwner.get(owner) ?? byOwner.set(owner, []).get(owner)!).push(i);
}
const reachedDirectly = new Set([MEMBER, ...[1, 2, 3, 4].map((i) => uid(`support-agent-${i}`)), uid('sales-manager'), ...[1, 2, 3, 4].map((i) => uid(`sales-rep-${i}`))]);
const industries = ['technology', 'finance', 'healthcare', 'manufacturing', 'retail'];
for (const [owner, idx] of byOwner) {
  const as = signedFetch(data.fetch, testPrincipal(TEST_ORG, owner));
  for (let b = 0; b < idx.length; b += 10) {
    const chunk = idx.slice(b, b + 10);
    const m = chunk.map((i) => `a${i}: createAccount(input: { name: "Bench ${String(i).padStart(5, '0')}", industry: ${industries[i % 5]}, annualRevenue: ${1000 * i}, employees: ${i % 4 === 0 ? 5000 : 50} }) { id }`).join('\n');
    const created = await gqlOk<Record<string, { id: string }>>(as, `mutation { ${m} }`);
    for (const i of chunk) accounts[i] = { id: created[`a${i}`]!.id, owner, employees: i % 4 === 0 ? 5000 : 50, manual: null };
    const c = chunk.flatMap((i) => Array.from({ length: CONTACTS_PER_ACCOUNT }, (_, k) =>
      `c${i}_${k}: createContact(input: { lastName: "Contact ${k}", firstName: "Bench", email: "c${k}.${i}@example.com", accountId: "${accounts[i]!.id}" }) { id }`)).join('\n');
    await gqlOk(as, `mutation { ${c} }`);
  }
}
// Manual shares on every 3rd account the member reaches no other way (rotating share targets that all reach it),
// plus decoys that reach someone else, so the share lookup has rows to skip.
let shared = 0;
for (const [i, a] of accounts.entries()) {
  if (reachedDirectly.has(a.owner)) continue;
  const [type, to] = i % 3 === 0 && a.employees < 1000 ? MANUAL_SHARE_TO[shared++ % MANUAL_SHARE_TO.length]! : ['user', uid('no-role-1')];
  if (i % 3 === 0 && a.employees < 1000) a.manual = `${type}:${to}`;
  await exec(`insert into security.record_share (organization_id, object, record_id, shared_with_type, shared_with, access_level)
    values (${literal(TEST_ORG)}, 'account', ${literal(a.id)}, ${literal(type)}, ${literal(to)}, 'read') on conflict do nothing`);
}
await exec('analyze');

// What the member should reach, layer by layer (a record counts in the first layer that reaches it).
const layers = { owner: 0, role_hierarchy: 0, sharing_rule_owner: 0, sharing_rule_criteria: 0, manual_share: 0, none: 0 };
for (const a of accounts) {
  if (a.owner === MEMBER) layers.owner++;
  else if (a.owner.includes('support-agent')) layers.role_hierarchy++;
  else if (a.owner.includes('sales-')) layers.sharing_rule_owner++;
  else if (a.employees >= 1000) layers.sharing_rule_criteria++;
  else if (a.manual) layers.manual_share++;
  else layers.none++;
}
const expected = ACCOUNTS - layers.none;

// ---- check both sides return a full, comparable page ----------------------------------------------------
type Page = { accounts: { nodes: { annualRevenue: number | null; contacts: unknown[] }[] } };
async function call(g: Gateway, body = QUERY): Promise<Page> {
  const res = await g.fetch(new Request('http://objectos.test/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body }));
  const r = (await res.json()) as { data?: Page; errors?: unknown };
  if (r.errors || !r.data) throw new Error(`benchmark query failed: ${JSON.stringify(r.errors)}`);
  return r.data;
}
const shape: Record<string, { accounts: number; contacts: number; visible: number }> = {};
for (const name of ['admin', 'member'] as const) {
  const p = await call(gateways[name]);
  const total = (await (await gateways[name].fetch(new Request('http://objectos.test/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ accounts(first: 1) { totalCount } }' }) }))).json()) as { data: { accounts: { totalCount: number } } };
  shape[name] = { accounts: p.accounts.nodes.length, contacts: p.accounts.nodes.reduce((n, a) => n + a.contacts.length, 0), visible: total.data.accounts.totalCount };
  if (shape[name]!.accounts !== PAGE || shape[name]!.contacts !== PAGE * CONTACTS_PER_ACCOUNT) throw new Error(`${name} did not get a full page: ${JSON.stringify(shape[name])}`);
  if (p.accounts.nodes.some((a) => a.annualRevenue === null)) throw new Error(`${name} cannot read annualRevenue`);
}
if (shape['admin']!.visible !== ACCOUNTS) throw new Error(`admin sees ${shape['admin']!.visible} accounts, expected ${ACCOUNTS}`);
if (shape['member']!.visible !== expected) throw new Error(`member sees ${shape['member']!.visible} accounts, expected ${expected} (${JSON.stringify(layers)})`);
const seedSeconds = (Date.now() - t0) / 1000;

// ---- measure --------------------------------------------------------------------------------------------
async function run(g: Gateway, n: number, into: number[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await call(g);
    into.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const mem = { rss: 0, heap: 0 };
const sampleMem = () => {
  const m = process.memoryUsage();
  mem.rss = Math.max(mem.rss, m.rss);
  mem.heap = Math.max(mem.heap, m.heapUsed);
};

// Warm up both, then interleave blocks of 100 (alternating which goes first) so GC, JIT and cache phases fall on both alike.
for (const g of Object.values(gateways)) await run(g, 200, []);
const samples: Record<'admin' | 'member', number[]> = { admin: [], member: [] };
for (let block = 0; block < ROUNDS / 100; block++) {
  for (const name of block % 2 === 0 ? (['admin', 'member'] as const) : (['member', 'admin'] as const)) await run(gateways[name], 100, samples[name]);
  sampleMem();
}
const results = Object.fromEntries(Object.entries(samples).map(([name, xs]) =>
  [name, { rps: xs.length / (xs.reduce((a, b) => a + b, 0) / 1000), p50: pct(xs, 50), p99: pct(xs, 99) }])) as Record<'admin' | 'member', { rps: number; p50: number; p99: number }>;

console.log(`\nRow-security cost: "${PAGE} accounts with their contacts" through the gateway (subgraph in process), ${database.engine === 'pglite' ? 'PGlite (embedded)' : 'PostgreSQL'}, Node ${process.version}`);
console.log(`Data: ${ACCOUNTS} accounts × ${CONTACTS_PER_ACCOUNT} contacts, ${users.length + 1} owners; seeded in ${seedSeconds.toFixed(1)} s`);
console.log(`Member (standard_user + revenue_viewer, role support_manager, group key_account_team) reaches ${shape['member']!.visible} of ${ACCOUNTS} accounts: ${Object.entries(layers).filter(([k]) => k !== 'none').map(([k, v]) => `${k} ${v}`).join(', ')}`);
console.log(`${ROUNDS} sequential requests each, interleaved in blocks of 100 after 200 warm-up requests (req/s = requests / summed latency); peak rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB, peak heap used ${(mem.heap / 2 ** 20).toFixed(0)} MiB (one process, both principals)\n`);
console.log('| principal | row predicates | accounts / contacts per response | req/s | p50 ms | p99 ms |\n|---|---|---|---|---|---|');
for (const name of ['admin', 'member'] as const) {
  const r = results[name];
  console.log(`| ${name} | ${name === 'admin' ? 'none (viewAllRecords)' : 'owner, hierarchy, 2 sharing rules, manual shares; contacts via parent'} | ${shape[name]!.accounts} / ${shape[name]!.contacts} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`);
}
const ratio = results.member.rps / results.admin.rps;
console.log(`\nmember/admin throughput: ${ratio.toFixed(2)} (row-security overhead ${((1 - ratio) * 100).toFixed(0)}%; target ≥ 0.80: ${ratio >= 0.8 ? 'met' : 'MISSED'})`);

// ---- where the time goes: the SQL of one request per principal ------------------------------------------
if (process.env['BENCH_EXPLAIN'] === '1' || ratio < 0.8) {
  const inline = ([q, ...ps]: string[]) => q!.replace(/\$(\d+)/g, (_, n: string) => ps[Number(n) - 1]!);
  for (const name of ['admin', 'member'] as const) {
    capture = [];
    await call(gateways[name]);
    const statements = capture.map(inline);
    capture = null;
    let total = 0;
    console.log(`\n--- ${name}: ${statements.length} statement(s) per request`);
    for (const s of statements) {
      const t = process.hrtime.bigint();
      for (let i = 0; i < 50; i++) await exec(s);
      const ms = Number(process.hrtime.bigint() - t) / 1e6 / 50;
      total += ms;
      console.log(`\n[${ms.toFixed(2)} ms per execution] ${s}\n`);
      for (const row of await exec<{ 'QUERY PLAN': string }>(`explain analyze ${s}`)) console.log(`  ${row['QUERY PLAN']}`);
    }
    console.log(`\n${name}: SQL ${total.toFixed(2)} ms of ${results[name].p50.toFixed(2)} ms p50`);
  }
}

for (const g of Object.values(gateways)) await g.dispose();
await data.dispose();
await database.close();
await pgDb?.drop();
