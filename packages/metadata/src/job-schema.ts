import { Cron } from 'croner';
import { z } from 'zod';
import { snakeName } from './field-schema.ts';

/** A handler is named like a queue: lower-case words joined by dots (`audit.purge_expired`). */
const handlerName = z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/, { error: 'a handler name is lower-case words joined by dots, e.g. audit.purge_expired' });

export const timezone = z.string().superRefine((tz, ctx) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
  } catch {
    ctx.addIssue({ code: 'custom', message: `unknown time zone "${tz}" (an IANA name such as UTC or Europe/Berlin)` });
  }
});

/** Cron is parsed by croner (5 or 6 fields, with seconds), never by hand. */
export const cronExpression = z.string().superRefine((expr, ctx) => {
  try {
    new Cron(expr, { paused: true });
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `invalid cron expression "${expr}": ${(e as Error).message}` });
  }
});

/** Spec `schedule`: `cron {expression, timezone}`, `interval {intervalMs}` or `once {at}`. */
export const JobScheduleSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('cron'), expression: cronExpression, timezone: timezone.default('UTC') }),
  z.strictObject({ type: z.literal('interval'), intervalMs: z.int().min(1_000, { error: 'intervalMs is at least 1000 (one second)' }).max(31 * 86_400_000) }),
  z.strictObject({ type: z.literal('once'), at: z.iso.datetime({ offset: true, error: 'at is an ISO date-time with a zone, e.g. 2027-01-01T09:00:00Z' }) }),
]);

/** Spec `Job` (`*.job.yaml`): a handler run on a schedule, with its retry policy and timeout. */
export const JobSchema = z.strictObject({
  name: snakeName,
  label: z.string().optional(),
  description: z.string().optional(),
  schedule: JobScheduleSchema,
  /** A registered job handler (the runtime refuses an unknown one before it starts). */
  handler: handlerName,
  /** Payload given to the handler on every tick. */
  data: z.record(z.string(), z.unknown()).default({}),
  retryPolicy: z
    .strictObject({
      maxRetries: z.int().min(0).max(99).default(3),
      backoffMs: z.int().min(0).max(86_400_000).default(1_000),
      backoffMultiplier: z.literal(2, { error: 'backoffMultiplier: retries back off exponentially (doubling, with jitter), so only 2 is supported' }).default(2),
    })
    .prefault({}),
  /** Milliseconds an attempt may run. */
  timeout: z.int().min(10).max(86_400_000).default(300_000),
  enabled: z.boolean().default(true),
});
export type JobDefinition = z.output<typeof JobSchema>;
export type JobSchedule = z.output<typeof JobScheduleSchema>;
