import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { postgraphile } from 'postgraphile';
import { makePgService } from 'postgraphile/adaptors/pg';
import { grafserv } from 'postgraphile/grafserv/node';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { PostGraphileConnectionFilterPreset } from 'postgraphile-plugin-connection-filter';

/**
 * PostGraphile v5 over the ObjectOS data tables (schema `public` of DATABASE_URL), for
 * bench/vs-postgraphile.ts: no auth, no RLS, no GraphiQL, no watch mode, a pool of POOL_SIZE (10)
 * connections, on 127.0.0.1. Run with the polyfill preloaded (Node 20):
 *   node --import @objectos/runtime/register --import ./bench/postgraphile/polyfill.ts bench/postgraphile/server.ts
 * Prints `READY port=N`.
 */
const connectionString = process.env['DATABASE_URL'];
if (!connectionString) throw new Error('DATABASE_URL is required');
if (typeof (Promise as PromiseConstructor & { withResolvers?: unknown }).withResolvers !== 'function')
  throw new Error('Promise.withResolvers is missing: preload bench/postgraphile/polyfill.ts with --import');

const preset: GraphileConfig.Preset = {
  extends: [PostGraphileAmberPreset, PostGraphileConnectionFilterPreset],
  pgServices: [makePgService({ connectionString, schemas: ['public'], poolConfig: { max: Number(process.env['POOL_SIZE'] ?? 10) } })],
  grafserv: { graphiql: false, watch: false },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.once('error', (e) => {
  console.error(e);
  process.exit(1);
});
await serv.addTo(server);
await new Promise<void>((r) => server.listen(Number(process.env['PORT'] ?? 0), '127.0.0.1', r));
// The schema is built on the first request otherwise: build it now so the first measured request does not pay for it.
await pgl.getSchema();
console.log(`READY port=${(server.address() as AddressInfo).port}`);

process.on('SIGTERM', () => {
  server.close();
  Promise.resolve(pgl.release()).then(() => process.exit(0), () => process.exit(1));
});
