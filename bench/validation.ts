import { createDataSubgraph } from '@objectos/data-subgraph';
import { TEST_SECRET, testAuth } from '@objectos/testkit';
import { createGateway } from '@objectos/gateway';
import { CASES } from '../gateway/test/hostile-cases.ts';

/**
 * How long the gateway takes to refuse each hostile request, in process (no network): p50/p99 over
 * many rounds, next to a trivial valid query as the baseline. Run: npm run bench:validation
 */
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 300);
const data = await createDataSubgraph({ secret: TEST_SECRET, metadata: 'metadata' });
let subgraphCalls = 0;
const gateway = await createGateway({ auth: testAuth(), subgraphs: [{ name: 'data', url: 'http://data.internal/graphql', sdl: data.sdl, fetch: (r) => { subgraphCalls++; return data.fetch(r); } }] });

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
async function time(init: RequestInit & { path?: string }): Promise<number[]> {
  const { path = '/graphql', ...rest } = init;
  const out: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const body = typeof rest.body === 'string' || rest.body === undefined ? rest.body : null;
    if (body === null) break; // streamed bodies can be sent once only; measured by the test instead
    const t = process.hrtime.bigint();
    const res = await gateway.fetch(new Request(`http://objectos.test${path}`, { ...rest, body }));
    await res.arrayBuffer();
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out;
}

const rows: string[] = [];
const baseline = await time({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
rows.push(`| baseline: { __typename } (no subgraph call) | ${pct(baseline, 50).toFixed(2)} | ${pct(baseline, 99).toFixed(2)} |`);
subgraphCalls = 0;
for (const c of CASES) {
  const xs = await time(c.init);
  if (xs.length) rows.push(`| ${c.name} | ${pct(xs, 50).toFixed(2)} | ${pct(xs, 99).toFixed(2)} |`);
}
console.log(`\nRejection time in process, ${ROUNDS} rounds each, Node ${process.version}; subgraph calls during the hostile cases: ${subgraphCalls}\n`);
console.log('| request | p50 ms | p99 ms |\n|---|---|---|');
console.log(rows.join('\n'));
console.log(`\nRSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
await data.dispose();
