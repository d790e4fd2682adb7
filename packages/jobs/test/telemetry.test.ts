import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeTraceIds, inSpan, metrics, startTracing, type Tracing, type TracingOptions } from '@objectos/observability';
import type { JobQueue } from '../src/index.ts';
import { backends, until } from './backends.ts';

/**
 * Jobs and telemetry, on every backend: a job's run is a span `job <queue>` continuing the trace of what
 * enqueued it (its traceparent travels with the job), and the job metrics and queue depths are recorded.
 * Tracing is once per process: this file has it to itself.
 */
type Processor = NonNullable<TracingOptions['spanProcessors']>[number];
type Finished = Parameters<Processor['onEnd']>[0];
const ended: Finished[] = [];
let tracing: Tracing | null;
beforeAll(async () => {
  tracing = await startTracing({ serviceName: 'jobs-test', spanProcessors: [{ onStart: () => {}, onEnd: (s) => void ended.push(s), forceFlush: async () => {}, shutdown: async () => {} }] });
});
afterAll(() => tracing?.shutdown());

/** The value of a series in the process's registry (0 when absent). */
async function valueOf(name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name.replace(/_(count|sum|bucket)$/, ''));
  return (metric?.values ?? [])
    .filter((v) => (!('metricName' in v) || v.metricName === name) && Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x))
    .reduce((a, v) => a + v.value, 0);
}
const depthOf = async (queue: string) => (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === 'objectos_queue_depth')?.values.filter((v) => v.labels['queue'] === queue) ?? [];

for (const backend of backends()) {
  describe(`job telemetry: ${backend.name}`, () => {
    let q: JobQueue;
    const inHandler: Array<{ traceId: string; spanId: string } | null> = [];
    beforeAll(async () => {
      q = await backend.queue();
      q.register('traced.job', async () => void inHandler.push(activeTraceIds()));
      q.register('failing.job', async () => {
        throw new Error('always fails');
      });
      await q.start();
    });
    afterAll(async () => {
      await q?.stop(1_000);
      await backend.cleanup();
    });

    it('runs a job as a child span of the request that enqueued it, with its duration and latency recorded', async () => {
      const durations = await valueOf('objectos_job_duration_seconds_count', { queue: 'traced.job', outcome: 'ok' });
      const latencies = await valueOf('objectos_job_latency_seconds_count', { queue: 'traced.job' });
      const request = await inSpan('request', {}, async (span) => {
        await q.enqueue('traced.job', { x: 1 }, { key: 'k-1' });
        return span.spanContext();
      });
      await until('the job to run', async () => inHandler.length, (n) => n === 1);
      const mine = () => ended.filter((s) => s.name === 'job traced.job' && s.spanContext().traceId === request.traceId);
      await until('its span to end', async () => mine().length, (n) => n === 1);
      const job = mine()[0]!;
      expect(job.parentSpanContext?.spanId).toBe(request.spanId);
      expect(job.kind).toBe(4); // CONSUMER
      expect(job.attributes).toMatchObject({ 'objectos.job.queue': 'traced.job', 'objectos.job.attempt': 1 });
      // The handler runs inside the job's span (its SQL, calls and log lines are part of the trace).
      expect(inHandler[0]).toEqual({ traceId: request.traceId, spanId: job.spanContext().spanId });
      await until('the duration to be recorded', () => valueOf('objectos_job_duration_seconds_count', { queue: 'traced.job', outcome: 'ok' }), (n) => n === durations + 1);
      expect(await valueOf('objectos_job_latency_seconds_count', { queue: 'traced.job' })).toBe(latencies + 1);
    });

    it('counts failed attempts, the last one as final, and reports the queue depth by state', async () => {
      const failures = async (final: string) => valueOf('objectos_job_failures_total', { queue: 'failing.job', final });
      const [notFinal, final] = [await failures('false'), await failures('true')];
      const from = ended.length;
      const { id } = await q.enqueue('failing.job', {}, { key: 'f-1', attempts: 2, backoffMs: 0 });
      await until('the job to be dead', () => q.getJob(id), (r) => r?.status === 'dead', 30_000);
      await until('both failures to be counted', async () => (await failures('false')) + (await failures('true')), (n) => n === notFinal + final + 2);
      expect(await failures('false')).toBe(notFinal + 1);
      expect(await failures('true')).toBe(final + 1);
      // A failed run's span is marked failed.
      const runs = () => ended.slice(from).filter((s) => s.name === 'job failing.job' && s.attributes['objectos.job.id'] === id);
      await until('both runs\' spans to end', async () => runs().length, (n) => n === 2);
      expect(runs().map((s) => [s.attributes['objectos.job.attempt'], s.status.code])).toEqual([[1, 2], [2, 2]]);
      const depth = await depthOf('failing.job');
      expect(depth.map((v) => v.labels['state']).sort()).toEqual(['active', 'delayed', 'failed', 'waiting']);
      expect(depth.find((v) => v.labels['state'] === 'failed')!.value).toBe(1);
    });

    it('stops reporting its queues\' depth when it stops', async () => {
      expect(await depthOf('traced.job')).toHaveLength(4);
      await q.stop(1_000);
      expect(await depthOf('traced.job')).toEqual([]);
    });
  });
}
