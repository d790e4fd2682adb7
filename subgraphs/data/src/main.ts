import { pingDatabase } from '@objectos/db';
import { createChangeFeed, registerRedisProbe } from '@objectos/events';
import { createLogger, listenWithProbes } from '@objectos/observability';
import { createReplayStore } from '@objectos/principal';
import { createDataSubgraph } from './create-data-subgraph.ts';

/**
 * Runs the data subgraph as its own process (services mode): PORT, HOST, DATABASE_URL, OBJECTOS_METADATA,
 * OBJECTOS_SECRET (the gateway's), OBJECTOS_SEED_ORGANIZATION (owner of the demo records, when seeding),
 * REDIS_URL (change events reach the subscriptions of every replica; replicas share which gateway
 * signatures were used, so each is accepted once).
 */
async function main(): Promise<void> {
  const port = Number(process.env['PORT'] ?? 4001);
  const host = process.env['HOST'] ?? '127.0.0.1';
  const databaseUrl = process.env['DATABASE_URL'];
  const secret = process.env['OBJECTOS_SECRET'];
  if (!secret) throw new Error('OBJECTOS_SECRET is required: the gateway signs every request with a key derived from it');
  const seedOrganizationId = process.env['OBJECTOS_SEED_ORGANIZATION'];
  // Listens at once: `/health` answers while it migrates, `/ready` only once started (see readiness).
  const { readiness, probes, server } = await listenWithProbes(port, host);
  const redisProbe = registerRedisProbe(readiness, process.env['REDIS_URL'] || undefined);
  const changeFeed = createChangeFeed(process.env['REDIS_URL']);
  // A Redis failure narrows single use to this process (its memory decides): said in the log, once per failure.
  const replayLog = createLogger('principal-guard');
  const replay = createReplayStore(process.env['REDIS_URL'] || undefined, { onError: (e) => replayLog.warn({ err: e.message }, 'signature replay store unavailable: single use checked in this process only') });
  await Promise.all([changeFeed.ready, replay.ready]);
  const subgraph = await createDataSubgraph({
    metadata: process.env['OBJECTOS_METADATA'] ?? 'metadata',
    ...(databaseUrl ? { databaseUrl } : { dataDir: process.env['OBJECTOS_DATA_DIR'] ?? '.objectos/data' }),
    seed: process.env['OBJECTOS_SEED'] === 'true',
    ...(process.env['OBJECTOS_NAME_PREFIX'] ? { namePrefix: process.env['OBJECTOS_NAME_PREFIX'] } : {}),
    secret,
    ...(seedOrganizationId ? { seedOrganizationId } : {}),
    changeFeed,
    replay,
  });
  readiness.register('database', () => pingDatabase(subgraph.database));
  probes.serve(subgraph.yoga);
  readiness.started();
  console.log(`data subgraph listening on http://${host}:${(server.address() as { port: number }).port}/graphql`);
  const stop = () => {
    readiness.stopping();
    server.close(() => subgraph.dispose().then(() => changeFeed.close()).then(() => replay.close()).then(() => redisProbe?.close()).then(() => process.exit(0)));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  console.error(`data subgraph failed to start:\n${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
