import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@objectos/db';
import { MetadataError, parseMetadata, type JobSchedule, type MetadataIssue } from '@objectos/metadata';
import { createTestDatabase, services, type Spawned } from '@objectos/testkit';
import { createPgQueue } from '../src/index.ts';
import { createScheduler, nextTick, tickKey } from '../src/scheduler.ts';
import { dropKeys } from './backends.ts';
import { Resources } from './fault-helpers.ts';

const OBJECT = { file: 'thing.object.yaml', text: 'name: thing\nfields:\n  title: { type: text }\n' };
const at = (iso: string) => new Date(iso);

describe('nextTick: the tick after a moment, the same in every replica', () => {
  const berlin: JobSchedule = { type: 'cron', expression: '0 9 * * *', timezone: 'Europe/Berlin' };

  it('reads cron in its time zone: 09:00 in Berlin is 08:00Z in winter, 07:00Z in summer, across the DST change', () => {
    expect(nextTick(berlin, at('2025-01-15T10:00:00Z'))).toEqual(at('2025-01-16T08:00:00Z'));
    expect(nextTick(berlin, at('2025-01-15T07:59:59Z'))).toEqual(at('2025-01-15T08:00:00Z'));
    expect(nextTick(berlin, at('2025-07-15T00:00:00Z'))).toEqual(at('2025-07-15T07:00:00Z'));
    // Clocks go forward on 30 March 2025: the 29th is still winter time, the 30th summer time.
    expect(nextTick(berlin, at('2025-03-29T08:00:00Z'))).toEqual(at('2025-03-30T07:00:00Z'));
    expect(nextTick({ type: 'cron', expression: '0 9 * * *', timezone: 'UTC' }, at('2025-01-15T10:00:00Z'))).toEqual(at('2025-01-16T09:00:00Z'));
  });

  it('takes a 6-field cron with seconds; the tick is strictly after `from`', () => {
    const every15s: JobSchedule = { type: 'cron', expression: '*/15 * * * * *', timezone: 'UTC' };
    expect(nextTick(every15s, at('2025-01-01T00:00:07Z'))).toEqual(at('2025-01-01T00:00:15Z'));
    expect(nextTick(every15s, at('2025-01-01T00:00:15Z'))).toEqual(at('2025-01-01T00:00:30Z'));
    expect(nextTick(every15s, at('2025-01-01T00:00:59.999Z'))).toEqual(at('2025-01-01T00:01:00Z'));
  });

  it('puts interval ticks on multiples of the interval since the epoch, so replicas agree whenever they start', () => {
    const minute: JobSchedule = { type: 'interval', intervalMs: 60_000 };
    expect(nextTick(minute, at('2025-01-01T00:00:30.500Z'))).toEqual(at('2025-01-01T00:01:00Z'));
    expect(nextTick(minute, at('2025-01-01T00:01:00Z'))).toEqual(at('2025-01-01T00:02:00Z'));
    const sevenS: JobSchedule = { type: 'interval', intervalMs: 7_000 };
    expect(nextTick(sevenS, new Date(10_000))).toEqual(new Date(14_000));
    const a = nextTick(sevenS, at('2025-06-01T12:00:00.100Z'))!;
    const b = nextTick(sevenS, at('2025-06-01T12:00:03.900Z'))!;
    expect(a).toEqual(b);
    expect(a.getTime() % 7_000).toBe(0);
  });

  it('gives a once job its moment while it is ahead, and null once it has passed', () => {
    const once: JobSchedule = { type: 'once', at: '2030-01-01T09:00:00+01:00' };
    expect(nextTick(once, at('2025-01-01T00:00:00Z'))).toEqual(at('2030-01-01T08:00:00Z'));
    expect(nextTick(once, at('2030-01-01T08:00:00Z'))).toBeNull();
    expect(nextTick(once, at('2031-01-01T00:00:00Z'))).toBeNull();
  });

  it('keys a tick by job and moment', () => {
    expect(tickKey('nightly', at('2025-01-16T08:00:00Z'))).toBe('schedule:nightly:2025-01-16T08:00:00.000Z');
  });
});

function jobIssues(text: string): MetadataIssue[] {
  try {
    parseMetadata([OBJECT, { file: 'nightly.job.yaml', text }]);
  } catch (e) {
    expect(e).toBeInstanceOf(MetadataError);
    return (e as MetadataError).issues;
  }
  throw new Error('expected the job metadata to be rejected');
}

describe('job schedules in metadata: mistakes are located errors', () => {
  const cases: { name: string; text: string; issue: MetadataIssue }[] = [
    {
      name: 'a bad cron expression',
      text: 'name: nightly\nschedule:\n  type: cron\n  expression: "61 * * * *"\nhandler: tick.record\n',
      issue: { file: 'nightly.job.yaml', line: 4, column: 15, path: 'schedule.expression', message: 'invalid cron expression "61 * * * *": CronPattern: Invalid value for minute: 61' },
    },
    {
      name: 'an unknown time zone',
      text: 'name: nightly\nschedule:\n  type: cron\n  expression: "0 9 * * *"\n  timezone: Mars/Olympus\nhandler: tick.record\n',
      issue: { file: 'nightly.job.yaml', line: 5, column: 13, path: 'schedule.timezone', message: 'unknown time zone "Mars/Olympus" (an IANA name such as UTC or Europe/Berlin)' },
    },
    {
      name: 'an interval under a second',
      text: 'name: nightly\nschedule:\n  type: interval\n  intervalMs: 500\nhandler: tick.record\n',
      issue: { file: 'nightly.job.yaml', line: 4, column: 15, path: 'schedule.intervalMs', message: 'intervalMs is at least 1000 (one second)' },
    },
    {
      name: 'an unknown schedule type',
      text: 'name: nightly\nschedule:\n  type: weekly\nhandler: tick.record\n',
      issue: { file: 'nightly.job.yaml', line: 3, column: 9, path: 'schedule.type', message: 'unknown schedule type "weekly" (expected one of cron, interval, once)' },
    },
  ];
  for (const c of cases) it(c.name, () => expect(jobIssues(c.text)).toEqual([c.issue]));

  it('a job naming an unregistered handler: createScheduler refuses it with its file, line and the registered handlers', async () => {
    // Never started (nor connected): the scheduler checks its handlers before anything runs.
    const queue = await createPgQueue({ databaseUrl: 'postgres://objectos@127.0.0.1:9/never-connected' });
    queue.register('tick.record', async () => {});
    queue.register('effect.write', async () => {});
    const model = parseMetadata([
      OBJECT,
      { file: 'ticks.job.yaml', text: 'name: ticks\nschedule:\n  type: interval\n  intervalMs: 1000\nhandler: tick.record\n' },
      { file: 'report.job.yaml', text: 'name: report\nlabel: Weekly report\nschedule:\n  type: cron\n  expression: "0 8 * * 1"\nhandler: report.send\n' },
    ]);
    let error: unknown;
    try {
      createScheduler(queue, model.jobs);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MetadataError);
    expect((error as MetadataError).issues).toEqual([
      { file: 'report.job.yaml', line: 6, column: 10, path: 'handler', message: 'unknown job handler "report.send" (registered: effect.write, tick.record)' },
    ]);
    expect((error as Error).message).toContain('report.job.yaml:6:10 handler: unknown job handler "report.send"');
    // Without the unknown job it is accepted.
    expect(() => createScheduler(queue, model.jobs.filter((j) => j.name === 'ticks'))).not.toThrow();
  });
});

/** Two processes each running the scheduler with a one-second interval job. */
const TICK_JOB = 'name: tick\nschedule:\n  type: interval\n  intervalMs: 1000\nhandler: tick.record\n';
const RUN_MS = 5_500;
const PROCESS_TEST_MS = 240_000;

describe.skipIf(!services.postgres)('the scheduler in two processes: every tick once', () => {
  let pg: Awaited<ReturnType<typeof createTestDatabase>>;
  let database: Database;
  const resources = new Resources();
  beforeAll(async () => {
    pg = await createTestDatabase('objectos_jobtick');
    resources.add(() => pg.drop());
    database = await connectDatabase({ databaseUrl: pg.url });
    resources.add(() => database.close());
  });
  afterAll(() => resources.release());

  /** Runs two replicas for RUN_MS, stops them, and checks tick_log (then empties it for the next case). */
  async function twoReplicas(env: Record<string, string>): Promise<{ ticks: number; createdTwice: number; pids: number }> {
    const replicas: Spawned[] = [resources.worker(env), resources.worker(env)];
    await Promise.all(replicas.map((p) => p.waitFor(/worker ready/, 90_000)));
    await new Promise((r) => setTimeout(r, RUN_MS));
    expect(await Promise.all(replicas.map((p) => p.kill('SIGTERM')))).toEqual([0, 0]);

    const rows = await database.run<{ key: string; pid: number }>('select key, pid from tick_log', []);
    await database.run('truncate tick_log', []);
    const keys = rows.map((r) => r.key);
    // Every tick ran once: no key twice, however many replicas fired it.
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.length).toBeGreaterThanOrEqual(4);
    // Consecutive seconds, no tick missed in between.
    const times = keys.map((k) => Date.parse(k.slice('schedule:tick:'.length))).sort((a, b) => a - b);
    expect(times.every((t) => t % 1_000 === 0)).toBe(true);
    expect(times.slice(1).map((t, i) => t - times[i]!)).toEqual(times.slice(1).map(() => 1_000));
    // Both replicas fired the ticks (each enqueued them under the tick's key), and each ran tick became a job.
    const fired = replicas.map((p) => [...p.output().matchAll(/^fired (\S+) (true|false)$/gm)].map((m) => ({ key: m[1]!, created: m[2] === 'true' })));
    const firedByBoth = keys.filter((k) => fired.every((f) => f.some((x) => x.key === k)));
    expect(firedByBoth.length).toBeGreaterThanOrEqual(3);
    for (const k of keys) expect(fired.flat().some((x) => x.key === k && x.created)).toBe(true);
    const createdTwice = keys.filter((k) => fired.every((f) => f.some((x) => x.key === k && x.created))).length;
    return { ticks: keys.length, createdTwice, pids: new Set(rows.map((r) => r.pid)).size };
  }

  it.skipIf(!services.redis)('BullMQ on Redis (services mode)', async () => {
    const prefix = `objectos-tick-${randomBytes(4).toString('hex')}`;
    resources.add(() => dropKeys([prefix]));
    const r = await twoReplicas({ JOBS_DATABASE_URL: pg.url, JOBS_REDIS_URL: services.redis!, JOBS_PREFIX: prefix, JOBS_JOBS_YAML: TICK_JOB });
    console.log(`[schedule] BullMQ: ${r.ticks} ticks, each run once, by ${r.pids} process(es); ${r.createdTwice} tick(s) reported created by both`);
  }, PROCESS_TEST_MS);

  it('pg-boss on one PostgreSQL database (no Redis)', async () => {
    const r = await twoReplicas({ JOBS_DATABASE_URL: pg.url, JOBS_JOBS_YAML: TICK_JOB });
    // pg-boss inserts by id atomically: exactly one replica created each tick's job.
    expect(r.createdTwice).toBe(0);
    console.log(`[schedule] pg-boss: ${r.ticks} ticks, each run once, by ${r.pids} process(es)`);
  }, PROCESS_TEST_MS);
});
