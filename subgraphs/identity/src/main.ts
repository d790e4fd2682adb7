import { createServerAdapter } from '@whatwg-node/server';
import { createEventBus, registerRedisProbe } from '@objectos/events';
import { loadMetadata } from '@objectos/metadata';
import { pingDatabase } from '@objectos/db';
import { createLogger, listenWithProbes } from '@objectos/observability';
import { createReplayStore } from '@objectos/principal';
import { runtimeFromEnv } from '@objectos/automation-subgraph';
import { createIdentitySubgraph } from './create-identity-subgraph.ts';
import { securityNamesOf } from './identity-schema.ts';
import { originsOf } from './origin-rule.ts';

/**
 * Runs the identity subgraph as its own process (services mode): PORT (4002), HOST, DATABASE_URL,
 * OBJECTOS_SECRET, OBJECTOS_PUBLIC_URL (the gateway's), OBJECTOS_METADATA (policies, security names), REDIS_URL
 * (auth events reach every gateway; replicas share which gateway signatures were used), OBJECTOS_SEED=true (demo organization on first start),
 * OBJECTOS_TRUSTED_ORIGINS, OBJECTOS_OPERATORS and OBJECTOS_IMPERSONATION_MINUTES as for the gateway, and the job
 * queue's settings (OBJECTOS_JOBS_PREFIX; mail is queued here, delivered by the workers).
 */
async function main(): Promise<void> {
  const port = Number(process.env['PORT'] ?? 4002);
  const host = process.env['HOST'] ?? '127.0.0.1';
  const secret = process.env['OBJECTOS_SECRET'];
  if (!secret) throw new Error('OBJECTOS_SECRET is required: the gateway signs every request with a key derived from it');
  const databaseUrl = process.env['DATABASE_URL'];
  if (!databaseUrl) throw new Error('DATABASE_URL is required: in services mode identity shares PostgreSQL with the data subgraph');
  const publicUrl = process.env['OBJECTOS_PUBLIC_URL'] ?? 'http://localhost:4000';
  const list = (name: string) => (process.env[name] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const minutes = process.env['OBJECTOS_IMPERSONATION_MINUTES'];
  if (minutes && !/^\d+$/.test(minutes)) throw new Error(`OBJECTOS_IMPERSONATION_MINUTES must be a whole number of minutes, got "${minutes}"`);
  // Listens at once: `/health` answers while it migrates, `/ready` only once started (see readiness).
  const { readiness, probes, server } = await listenWithProbes(port, host);
  const redisProbe = registerRedisProbe(readiness, process.env['REDIS_URL'] || undefined);
  const model = await loadMetadata(process.env['OBJECTOS_METADATA'] ?? 'metadata');
  const bus = createEventBus(process.env['REDIS_URL'] || undefined);
  // A Redis failure narrows single use to this process (its memory decides): said in the log, once per failure.
  const replayLog = createLogger('principal-guard');
  const replay = createReplayStore(process.env['REDIS_URL'] || undefined, { onError: (e) => replayLog.warn({ err: e.message }, 'signature replay store unavailable: single use checked in this process only') });
  await Promise.all([bus.ready, replay.ready]);
  // Mail (verification, reset, invitations) is queued here and delivered by the workers.
  const jobs = await runtimeFromEnv(false);
  const identity = await createIdentitySubgraph({
    databaseUrl,
    secret,
    baseURL: publicUrl,
    // The same origins the gateway allows: a sign-in accepted in one topology is accepted in the other.
    trustedOrigins: [new URL(publicUrl).origin, ...originsOf(list('OBJECTOS_TRUSTED_ORIGINS'), 'OBJECTOS_TRUSTED_ORIGINS')],
    operators: list('OBJECTOS_OPERATORS'),
    ...(minutes ? { impersonationMinutes: Number(minutes) } : {}),
    policy: model.defaultPolicy,
    security: securityNamesOf(model.security),
    bus,
    seedDemo: process.env['OBJECTOS_SEED'] === 'true',
    replay,
    notifier: jobs.runtime.notifier,
    emailOtp: process.env['OBJECTOS_EMAIL_OTP'] === 'true',
    ...(process.env['OBJECTOS_NAME_PREFIX'] ? { namePrefix: process.env['OBJECTOS_NAME_PREFIX'] } : {}),
  });
  if (identity.demo?.password) console.log(`demo admin: ${identity.demo.email} / ${identity.demo.password} (organization ${identity.demo.organizationId})`);
  readiness.register('database', () => pingDatabase(identity.database));
  // The same fetch handler as in process, adapted to node:http by yoga's own server adapter.
  probes.serve(createServerAdapter(identity.fetch));
  readiness.started();
  console.log(`identity subgraph listening on http://${host}:${(server.address() as { port: number }).port}/graphql`);
  const stop = () => {
    readiness.stopping();
    server.close(() => identity.dispose().then(() => jobs.close()).then(() => bus.close()).then(() => replay.close()).then(() => redisProbe?.close()).then(() => process.exit(0)));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  console.error(`identity subgraph failed to start:\n${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
