import { createServer } from 'node:http';
import { createBillingSubgraph, memoryInvoiceStore } from './billing.ts';

/**
 * `npm start` in examples/billing: the billing subgraph on PORT (default 4100), trusting the ObjectOS
 * gateway at OBJECTOS_PUBLIC_URL (its JWKS is read from there). Then start ObjectOS with
 * OBJECTOS_SUBGRAPHS=billing=http://127.0.0.1:4100/graphql.
 */
const port = Number(process.env['PORT'] ?? 4100);
const gateway = (process.env['OBJECTOS_PUBLIC_URL'] ?? 'http://localhost:4000').replace(/\/$/, '');
const store = memoryInvoiceStore();
const yoga = createBillingSubgraph({
  store,
  token: { jwks: process.env['OBJECTOS_JWKS_URL'] ?? `${gateway}/.well-known/jwks.json`, issuer: gateway, audience: process.env['SUBGRAPH_NAME'] ?? 'billing' },
});
createServer(yoga).listen(port, process.env['HOST'] ?? '127.0.0.1', () => {
  console.log(`billing subgraph listening on http://${process.env['HOST'] ?? '127.0.0.1'}:${port}/graphql (trusting ${gateway})`);
});
