import { createServerAdapter } from '@whatwg-node/server';
import { deliveryConfigFromEnv, jobsFromEnvPlugin, type JobRuntime } from '@objectos/automation-subgraph';
import type { Database } from '@objectos/db';
import { redisProbePlugin } from '@objectos/events';
import { definePlugin, OBJECTOS_VERSION, runProcess } from '@objectos/kernel';
import type { MetadataModel } from '@objectos/metadata';
import { principalGuardPlugin, type ReplayStore } from '@objectos/principal';
import { compile, type CompiledSchema } from '@objectos/schema';
import { createWorkflowSubgraph, type WorkflowSubgraph } from './create-workflow-subgraph.ts';
import { createFlowRuntime, type FlowRuntime } from './flows/flow-runtime.ts';
import { registerApprovalHandlers } from './approvals/runtime.ts';

/**
 * Runs the workflow subgraph as its own process (services mode): PORT (4006), HOST, DATA_URL (the data
 * subgraph, where state changes are written), OBJECTOS_NAME_PREFIX, and the job runtime's environment
 * (DATABASE_URL, REDIS_URL, OBJECTOS_SECRET, OBJECTOS_METADATA): it queues transitions' actions, which
 * the automation workers run. It runs flows itself: their queues (`workflow.flow`, `workflow.flow_start`)
 * are worked here, with OBJECTOS_WEBHOOK_ALLOW and connector secrets for http and connector nodes.
 * Plugins: redis, jobs (with the flow and escalation handlers), principal-guard, workflow.
 */
const redisUrl = process.env['REDIS_URL'] || undefined;
const prefix = process.env['OBJECTOS_NAME_PREFIX'];
const dataUrl = process.env['DATA_URL'];
const data = { fetch: (r: Request) => fetch(r), url: dataUrl ?? '' };
// Made while the job runtime starts (its queue must know the flow queues before it starts).
const made: { flows: FlowRuntime | null; compiled: CompiledSchema | null; workflow: WorkflowSubgraph | null } = { flows: null, compiled: null, workflow: null };

runProcess({
  name: 'workflow',
  port: Number(process.env['PORT'] ?? 4006),
  host: process.env['HOST'] ?? '127.0.0.1',
  plugins: (readiness) => [
    redisProbePlugin(readiness, redisUrl),
    jobsFromEnvPlugin(false, readiness, {
      register(queue, opened) {
        made.compiled = compile(opened.model, prefix ? { namePrefix: prefix } : {});
        // Approval escalations are worked here too, once the subgraph is made.
        if (opened.model.approvals.length > 0) registerApprovalHandlers(queue, () => {
          if (!made.workflow?.approvals) throw new Error('the workflow subgraph is not started yet');
          return made.workflow.approvals;
        });
        if (opened.model.flows.length === 0) return;
        const allow = deliveryConfigFromEnv(process.env).allow;
        made.flows = createFlowRuntime({ db: opened.database.db, compiled: made.compiled, data, secret: process.env['OBJECTOS_SECRET']!, ...(allow ? { allow } : {}) });
        made.flows.register(queue);
      },
    }),
    principalGuardPlugin(redisUrl),
    definePlugin({
      name: 'workflow', version: OBJECTOS_VERSION, implements: ['com.objectos.protocol.graphql-federation-subgraph.v2'],
      provides: [{ id: 'com.objectos.subgraph.workflow', name: 'workflow', methods: ['transition', 'approve', 'reject', 'startFlow'] }],
      requires: ['jobs', 'principal-guard'],
      async start(ctx) {
        if (!dataUrl) throw new Error('DATA_URL is required: state changes are written through the data subgraph');
        const compiled = made.compiled ?? compile(ctx.getService<MetadataModel>('model'), prefix ? { namePrefix: prefix } : {});
        made.workflow = await createWorkflowSubgraph({
          secret: process.env['OBJECTOS_SECRET']!, database: ctx.getService<Database>('database'), compiled, queue: ctx.getService<JobRuntime>('jobs').queue,
          replay: ctx.getService<ReplayStore>('replay'), data, ...(made.flows ? { flows: made.flows } : {}), ...(redisUrl ? { redisUrl } : {}),
        });
      },
      async destroy() {
        await made.workflow?.close();
        await made.flows?.close();
      },
    }),
  ],
  app: () => createServerAdapter(made.workflow!.fetch),
}).catch((e: unknown) => {
  console.error(`workflow subgraph failed to start:\n${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
