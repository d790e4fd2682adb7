import { createServerAdapter } from '@whatwg-node/server';
import { pingDatabase } from '@objectos/db';
import { eventsPlugin, realtimePlugin, redisProbePlugin, type ChangeFeed, type EventBus } from '@objectos/events';
import { definePlugin, OBJECTOS_VERSION, runProcess } from '@objectos/kernel';
import { principalGuardPlugin, type ReplayStore } from '@objectos/principal';
import { createAuditSubgraph, type AuditSubgraph } from './create-audit-subgraph.ts';

/**
 * Runs the audit subgraph as its own process (services mode): PORT (4003), HOST, DATABASE_URL (the
 * database the data and identity subgraphs queue their events in), OBJECTOS_METADATA, OBJECTOS_SECRET
 * (the gateway's), REDIS_URL (auth events and committed changes wake the capture at once; account locks
 * reach every gateway; replicas share which gateway signatures were used), OBJECTOS_NAME_PREFIX,
 * OBJECTOS_AUDIT_POLL_MS (queue poll without a signal, default 500). Plugins: redis, events, realtime,
 * principal-guard, audit.
 */
const redisUrl = process.env['REDIS_URL'] || undefined;
let audit: AuditSubgraph | null = null;

runProcess({
  name: 'audit',
  port: Number(process.env['PORT'] ?? 4003),
  host: process.env['HOST'] ?? '127.0.0.1',
  plugins: (readiness) => [
    redisProbePlugin(readiness, redisUrl),
    eventsPlugin(redisUrl),
    realtimePlugin(redisUrl),
    principalGuardPlugin(redisUrl),
    definePlugin({
      name: 'audit', version: OBJECTOS_VERSION, implements: ['com.objectos.protocol.graphql-federation-subgraph.v2'],
      provides: [{ id: 'com.objectos.subgraph.audit', name: 'audit', methods: ['record', 'query', 'export', 'verify'] }],
      requires: ['events', 'realtime', 'principal-guard'],
      async start(ctx) {
        const secret = process.env['OBJECTOS_SECRET'];
        if (!secret) throw new Error('OBJECTOS_SECRET is required: the gateway signs every request with a key derived from it');
        const databaseUrl = process.env['DATABASE_URL'];
        if (!databaseUrl) throw new Error('DATABASE_URL is required: the audit subgraph reads the queue the other subgraphs write in PostgreSQL');
        const poll = process.env['OBJECTOS_AUDIT_POLL_MS'];
        if (poll && !/^\d+$/.test(poll)) throw new Error(`OBJECTOS_AUDIT_POLL_MS must be a whole number of milliseconds, got "${poll}"`);
        audit = await createAuditSubgraph({
          databaseUrl, secret, metadata: process.env['OBJECTOS_METADATA'] ?? 'metadata',
          ...(process.env['OBJECTOS_NAME_PREFIX'] ? { namePrefix: process.env['OBJECTOS_NAME_PREFIX'] } : {}),
          ...(poll ? { pollMs: Number(poll) } : {}),
          bus: ctx.getService<EventBus>('bus'), changeFeed: ctx.getService<ChangeFeed>('changeFeed'), replay: ctx.getService<ReplayStore>('replay'),
        });
        const db = audit.database;
        readiness.register('database', () => pingDatabase(db));
      },
      // Flushes the capture's pending events before its database closes.
      destroy: () => audit?.dispose(),
    }),
  ],
  app: () => createServerAdapter(audit!.fetch),
}).catch((e: unknown) => {
  console.error(`audit subgraph failed to start:\n${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
