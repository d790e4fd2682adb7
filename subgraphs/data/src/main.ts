import { pingDatabase } from '@objectos/db';
import { realtimePlugin, redisProbePlugin, type ChangeFeed } from '@objectos/events';
import { definePlugin, OBJECTOS_VERSION, runProcess } from '@objectos/kernel';
import { principalGuardPlugin, type ReplayStore } from '@objectos/principal';
import { createDataSubgraph, type DataSubgraph, type DataSubgraphOptions } from './create-data-subgraph.ts';

/**
 * Runs the data subgraph as its own process (services mode): PORT, HOST, DATABASE_URL, OBJECTOS_METADATA,
 * OBJECTOS_SECRET (the gateway's), OBJECTOS_SEED_ORGANIZATION (owner of the demo records, when seeding),
 * OBJECTOS_CHANGE_RETENTION_HOURS (how far back subscriptions can replay, default 24), REDIS_URL (change events reach the subscriptions of every replica; replicas share which gateway
 * signatures were used, so each is accepted once). Plugins: redis, realtime, principal-guard, data.
 */
const secret = process.env['OBJECTOS_SECRET'];
const redisUrl = process.env['REDIS_URL'] || undefined;
let data: DataSubgraph | null = null;
const retentionRaw = process.env['OBJECTOS_CHANGE_RETENTION_HOURS'];
const retentionHours = retentionRaw ? Number(retentionRaw) : undefined;
if (retentionHours !== undefined && !(Number.isInteger(retentionHours) && retentionHours > 0)) throw new Error(`OBJECTOS_CHANGE_RETENTION_HOURS must be a positive whole number of hours, got "${retentionRaw}"`);

runProcess({
  name: 'data',
  port: Number(process.env['PORT'] ?? 4001),
  host: process.env['HOST'] ?? '127.0.0.1',
  plugins: (readiness) => [
    redisProbePlugin(readiness, redisUrl),
    realtimePlugin(redisUrl),
    principalGuardPlugin(redisUrl),
    definePlugin({
      name: 'data', version: OBJECTOS_VERSION, implements: ['com.objectos.protocol.graphql-federation-subgraph.v2'],
      provides: [{ id: 'com.objectos.subgraph.data', name: 'data', methods: ['find', 'create', 'update', 'delete'], events: ['record.created', 'record.updated', 'record.deleted'] }],
      requires: ['realtime', 'principal-guard'],
      async start(ctx) {
        if (!secret) throw new Error('OBJECTOS_SECRET is required: the gateway signs every request with a key derived from it');
        const databaseUrl = process.env['DATABASE_URL'];
        const seedOrganizationId = process.env['OBJECTOS_SEED_ORGANIZATION'];
        data = await createDataSubgraph({
          metadata: process.env['OBJECTOS_METADATA'] ?? 'metadata',
          ...(databaseUrl ? { databaseUrl } : { dataDir: process.env['OBJECTOS_DATA_DIR'] ?? '.objectos/data' }),
          seed: process.env['OBJECTOS_SEED'] === 'true',
          ...(process.env['OBJECTOS_NAME_PREFIX'] ? { namePrefix: process.env['OBJECTOS_NAME_PREFIX'] } : {}),
          secret,
          ...(seedOrganizationId ? { seedOrganizationId } : {}),
          changeFeed: ctx.getService<ChangeFeed>('changeFeed'),
          presenceChannel: ctx.getService<NonNullable<DataSubgraphOptions['presenceChannel']>>('presenceChannel'),
          ...(retentionHours ? { changeRetentionMs: retentionHours * 3_600_000 } : {}),
          replay: ctx.getService<ReplayStore>('replay'),
        });
        const db = data.database;
        readiness.register('database', () => pingDatabase(db));
        ctx.registerService('data', data);
      },
      // The outbox relay publishes what is committed before the database closes.
      destroy: () => data?.dispose(),
    }),
  ],
  app: () => data!.yoga,
}).catch((e: unknown) => {
  console.error(`data subgraph failed to start:\n${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
