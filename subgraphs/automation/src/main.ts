import { createServerAdapter } from '@whatwg-node/server';
import type { Database } from '@objectos/db';
import { redisProbePlugin } from '@objectos/events';
import { definePlugin, OBJECTOS_VERSION, runProcess } from '@objectos/kernel';
import type { MetadataModel } from '@objectos/metadata';
import { principalGuardPlugin, type ReplayStore } from '@objectos/principal';
import { compile } from '@objectos/schema';
import { createAutomationSubgraph, type AutomationSubgraph } from './create-automation-subgraph.ts';
import { jobsFromEnvPlugin } from './process-env.ts';
import type { JobRuntime } from './runtime.ts';

/**
 * Runs the automation subgraph as its own process (services mode): the job monitor and notifications
 * API. PORT (4004), HOST, OBJECTOS_NAME_PREFIX, and the environment of `runtimeFromEnv`. It sends and
 * monitors only: workers (`worker.ts`) deliver and fire schedules. Plugins: redis, jobs, principal-guard,
 * automation.
 */
const redisUrl = process.env['REDIS_URL'] || undefined;
let automation: AutomationSubgraph | null = null;

runProcess({
  name: 'automation',
  port: Number(process.env['PORT'] ?? 4004),
  host: process.env['HOST'] ?? '127.0.0.1',
  plugins: (readiness) => [
    redisProbePlugin(readiness, redisUrl),
    // The runtime's own connection and metadata serve the API too.
    jobsFromEnvPlugin(false, readiness),
    principalGuardPlugin(redisUrl),
    definePlugin({
      name: 'automation', version: OBJECTOS_VERSION, implements: ['com.objectos.protocol.graphql-federation-subgraph.v2'],
      provides: [{ id: 'com.objectos.subgraph.automation', name: 'automation', methods: ['automationRules', 'jobRuns', 'retryJob', 'replayDeadLetter'] }],
      requires: ['jobs', 'principal-guard'],
      start(ctx) {
        const prefix = process.env['OBJECTOS_NAME_PREFIX'];
        const compiled = compile(ctx.getService<MetadataModel>('model'), prefix ? { namePrefix: prefix } : {});
        automation = createAutomationSubgraph({
          secret: process.env['OBJECTOS_SECRET']!, database: ctx.getService<Database>('database'), compiled, runtime: ctx.getService<JobRuntime>('jobs'), replay: ctx.getService<ReplayStore>('replay'),
        });
      },
    }),
  ],
  app: () => createServerAdapter(automation!.fetch),
}).catch((e: unknown) => {
  console.error(`automation subgraph failed to start:\n${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
