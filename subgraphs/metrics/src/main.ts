import { createServerAdapter } from '@whatwg-node/server';
import { redisProbePlugin } from '@objectos/events';
import { definePlugin, OBJECTOS_VERSION, runProcess } from '@objectos/kernel';
import { loadMetadata } from '@objectos/metadata';
import { principalGuardPlugin, type ReplayStore } from '@objectos/principal';
import { compile } from '@objectos/schema';
import { createMetricsSubgraph, type MetricsSubgraph } from './create-metrics-subgraph.ts';
import { combinedSource, kernelSource } from './source.ts';
import { healthTargets, remoteSource } from './remote.ts';

/**
 * Runs the metrics subgraph as its own process (services mode): PORT (4007), HOST, OBJECTOS_SECRET,
 * OBJECTOS_METADATA (system permissions), OBJECTOS_NAME_PREFIX, REDIS_URL (replicas share which gateway
 * signatures were used), and OBJECTOS_HEALTH_TARGETS: the processes whose health and startup it reports,
 * `name=url,…` (each answers `/ready` and `/startup` at that URL's origin). Its own `metrics(names)` are
 * this process's; every process serves its own `/metrics` for Prometheus. No database of its own.
 */
const redisUrl = process.env['REDIS_URL'] || undefined;
let metrics: MetricsSubgraph | null = null;

runProcess({
  name: 'metrics',
  port: Number(process.env['PORT'] ?? 4007),
  host: process.env['HOST'] ?? '127.0.0.1',
  plugins: (readiness, kernel) => [
    redisProbePlugin(readiness, redisUrl),
    principalGuardPlugin(redisUrl),
    definePlugin({
      name: 'metrics', version: OBJECTOS_VERSION, implements: ['com.objectos.protocol.graphql-federation-subgraph.v2', 'com.objectos.protocol.prometheus-exposition.v1'],
      provides: [{ id: 'com.objectos.subgraph.metrics', name: 'metrics', methods: ['health', 'metrics', 'startupReport'] }],
      requires: ['principal-guard'],
      async start(ctx) {
        const secret = process.env['OBJECTOS_SECRET'];
        if (!secret) throw new Error('OBJECTOS_SECRET is required: the gateway signs every request with a key derived from it');
        const targets = healthTargets(process.env['OBJECTOS_HEALTH_TARGETS']);
        const prefix = process.env['OBJECTOS_NAME_PREFIX'];
        const compiled = compile(await loadMetadata(process.env['OBJECTOS_METADATA'] ?? 'metadata'), prefix ? { namePrefix: prefix } : {});
        const local = kernelSource(kernel, 'metrics', readiness);
        metrics = createMetricsSubgraph({ secret, compiled, source: combinedSource([local, remoteSource(targets)]), replay: ctx.getService<ReplayStore>('replay') });
      },
    }),
  ],
  app: () => createServerAdapter(metrics!.fetch),
}).catch((e: unknown) => {
  console.error(`metrics subgraph failed to start:\n${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
