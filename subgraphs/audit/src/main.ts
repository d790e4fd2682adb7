import { createServerAdapter } from '@whatwg-node/server';
import { createChangeFeed, createEventBus, registerRedisProbe } from '@objectos/events';
import { pingDatabase } from '@objectos/db';
import { createLogger, listenWithProbes } from '@objectos/observability';
import { createReplayStore } from '@objectos/principal';
import { createAuditSubgraph } from './create-audit-subgraph.ts';

/**
 * Runs the audit subgraph as its own process (services mode): PORT (4003), HOST, DATABASE_URL (the
 * database the data and identity subgraphs queue their events in), OBJECTOS_METADATA, OBJECTOS_SECRET
 * (the gateway's), REDIS_URL (auth events and committed changes wake the capture at once; account locks
 * reach every gateway; replicas share which gateway signatures were used), OBJECTOS_NAME_PREFIX,
 * OBJECTOS_AUDIT_POLL_MS (queue poll without a signal, default 500).
 */
async function main(): Promise<void> {
  const port = Number(process.env['PORT'] ?? 4003);
  const host = process.env['HOST'] ?? '127.0.0.1';
  const secret = process.env['OBJECTOS_SECRET'];
  if (!secret) throw new Error('OBJECTOS_SECRET is required: the gateway signs every request with a key derived from it');
  const databaseUrl = process.env['DATABASE_URL'];
  if (!databaseUrl) throw new Error('DATABASE_URL is required: the audit subgraph reads the queue the other subgraphs write in PostgreSQL');
  const poll = process.env['OBJECTOS_AUDIT_POLL_MS'];
  if (poll && !/^\d+$/.test(poll)) throw new Error(`OBJECTOS_AUDIT_POLL_MS must be a whole number of milliseconds, got "${poll}"`);
  const redisUrl = process.env['REDIS_URL'] || undefined;
  // Listens at once: `/health` answers while it migrates, `/ready` only once started (see readiness).
  const { readiness, probes, server } = await listenWithProbes(port, host);
  const redisProbe = registerRedisProbe(readiness, redisUrl);
  const bus = createEventBus(redisUrl);
  const changeFeed = createChangeFeed(redisUrl);
  const replayLog = createLogger('principal-guard');
  const replay = createReplayStore(redisUrl, { onError: (e) => replayLog.warn({ err: e.message }, 'signature replay store unavailable: single use checked in this process only') });
  await Promise.all([bus.ready, changeFeed.ready, replay.ready]);
  const audit = await createAuditSubgraph({
    databaseUrl,
    secret,
    metadata: process.env['OBJECTOS_METADATA'] ?? 'metadata',
    ...(process.env['OBJECTOS_NAME_PREFIX'] ? { namePrefix: process.env['OBJECTOS_NAME_PREFIX'] } : {}),
    ...(poll ? { pollMs: Number(poll) } : {}),
    bus,
    changeFeed,
    replay,
  });
  readiness.register('database', () => pingDatabase(audit.database));
  probes.serve(createServerAdapter(audit.fetch));
  readiness.started();
  console.log(`audit subgraph listening on http://${host}:${(server.address() as { port: number }).port}/graphql`);
  const stop = () => {
    readiness.stopping();
    server.close(() => audit.dispose().then(() => Promise.all([bus.close(), changeFeed.close(), replay.close(), redisProbe?.close()])).then(() => process.exit(0)));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  console.error(`audit subgraph failed to start:\n${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
