export * from './types.ts';
export { jobIdOf, MAX_PAYLOAD_BYTES } from './common.ts';
export { createPgQueue, type PgQueueOptions } from './pg-queue.ts';
export { createBullQueue, type BullQueueOptions } from './bullmq-queue.ts';
export { createJobQueue, type JobQueueConfig } from './create-queue.ts';
export { effectOnce, ensureEffectTable, type Tx } from './effects.ts';
export { createScheduler, nextTick, tickKey, type Scheduler } from './scheduler.ts';
