import { createDataSubgraph } from '@objectos/data-subgraph';
import { connectDatabase } from '@objectos/db';
import { createMemoryEventBus } from '@objectos/events';
import { createIdentitySubgraph } from '@objectos/identity-subgraph';
import { createGateway, type Gateway } from '@objectos/gateway';
import { TEST_SECRET, testPrincipal } from '@objectos/testkit';

/**
 * What authentication costs per request, in process on the embedded engine: the same small query
 * through three gateways over the same subgraphs —
 *   fixed:    the principal is given (no lookup at all) — the baseline;
 *   cached:   a real bearer session, resolved once then served from the principal cache (5 s TTL);
 *   uncached: the same session looked up in the identity subgraph on every request (TTL 0).
 * Prints throughput, p50/p99 and ratios against the baseline. Run: npm run bench:auth
 */
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2000);
const QUERY = JSON.stringify({ query: '{ accounts(first: 10) { nodes { id name } } }' });

const database = await connectDatabase({ dataDir: 'memory://' });
const bus = createMemoryEventBus();
const identity = await createIdentitySubgraph({ database, secret: TEST_SECRET, baseURL: 'http://objectos.test', bus, seedDemo: true });
const data = await createDataSubgraph({ metadata: 'metadata', database, secret: TEST_SECRET, seed: true, seedOrganizationId: identity.demo!.organizationId });
const subgraphs = [
  { name: 'identity', url: 'http://identity.internal/graphql', sdl: identity.sdl, fetch: identity.fetch },
  { name: 'data', url: 'http://data.internal/graphql', sdl: data.sdl, fetch: data.fetch },
];
const resolve = (c: object) => identity.resolve(new Headers(c as Record<string, string>));
const admin = testPrincipal(identity.demo!.organizationId);
const gateways: Record<string, Gateway> = {
  fixed: await createGateway({ subgraphs, auth: { secret: TEST_SECRET, resolve: async () => ({ principal: admin }) } }),
  cached: await createGateway({ subgraphs, auth: { secret: TEST_SECRET, resolve, bus } }),
  uncached: await createGateway({ subgraphs, auth: { secret: TEST_SECRET, resolve, bus, cacheTtlMs: 0 } }),
};
const signIn = await identity.auth.api.signInEmail({ body: { email: identity.demo!.email, password: identity.demo!.password! }, asResponse: true });
const token = signIn.headers.get('set-auth-token')!;

async function run(g: Gateway, n: number, into: number[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    const res = await g.fetch(new Request('http://objectos.test/graphql', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: QUERY }));
    const body = (await res.json()) as { errors?: unknown };
    if (body.errors) throw new Error(`benchmark query failed: ${JSON.stringify(body.errors)}`);
    into.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

// Warm up every path, then interleave blocks of 100 so GC and JIT phases fall on all three alike.
for (const g of Object.values(gateways)) await run(g, 200, []);
const samples: Record<string, number[]> = { fixed: [], cached: [], uncached: [] };
for (let block = 0; block < ROUNDS / 100; block++) for (const name of Object.keys(samples)) await run(gateways[name]!, 100, samples[name]!);
const results: Record<string, { rps: number; p50: number; p99: number }> = {};
for (const [name, xs] of Object.entries(samples)) results[name] = { rps: xs.length / (xs.reduce((a, b) => a + b, 0) / 1000), p50: pct(xs, 50), p99: pct(xs, 99) };
const base = results['fixed']!;
console.log(`\nAuthentication cost, in process, ${ROUNDS} sequential requests each, interleaved in blocks of 100 (req/s = requests / summed latency), Node ${process.version}, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB\n`);
console.log('| principal | req/s | ratio | p50 ms | p99 ms |\n|---|---|---|---|---|');
for (const [name, r] of Object.entries(results))
  console.log(`| ${name} | ${r.rps.toFixed(0)} | ${(r.rps / base.rps).toFixed(2)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`);
console.log(`\nprincipal cache entries: ${gateways['cached']!.principals.size()}`);
for (const g of Object.values(gateways)) await g.dispose();
await data.dispose();
await identity.dispose();
await database.close();
