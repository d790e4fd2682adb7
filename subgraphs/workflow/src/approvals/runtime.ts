import type { JobQueue } from '@objectos/jobs';
import { ESCALATION_JOBS, ESCALATION_QUEUE, type Approvals } from './engine.ts';

/** The escalation job's handler, worked by the process hosting the workflow subgraph. */
export function registerApprovalHandlers(queue: JobQueue, approvals: () => Approvals): void {
  queue.register<{ org: string; taskId: string }>(ESCALATION_QUEUE, async (job) => ({ escalation: await approvals().escalate(job.org, job.taskId) }), { ...ESCALATION_JOBS, concurrency: 4 });
}
