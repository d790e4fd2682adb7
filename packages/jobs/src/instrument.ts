import { jobDuration, jobFailures, jobLatency, metricsEnabled, queueDepth } from '@objectos/observability/metrics';
import { contextOfTraceparent, currentTracing, inSpan, SpanKind } from '@objectos/observability/tracing';
import type { StoredJob } from './common.ts';

/** What the worker knows of the attempt it is about to run. */
export interface AttemptFacts {
  queue: string;
  id: string;
  /** 1 on the first attempt. */
  attempt: number;
  /** Attempts in all: the last one failing is final (a dead letter). */
  maxAttempts: number;
  /** When the job was due (ms since the epoch), known for first attempts; a retry waits on purpose (backoff), which is not latency. */
  dueMs: number | null;
}

/**
 * Runs one attempt as span `job <queue>`, a child of the request (or job, or rule evaluation) that
 * enqueued it (its `traceparent`, stored with the job), and records `objectos_job_duration_seconds`,
 * `objectos_job_latency_seconds` (due → started, first attempts) and `objectos_job_failures_total`
 * (`final` when no attempt remains). Queue names are fixed names (`automation.action`), never ids.
 */
export function instrumentedAttempt<T>(facts: AttemptFacts, stored: StoredJob, run: () => Promise<T>): Promise<T> {
  const measured = metricsEnabled();
  // Neither traced nor measured (the benchmark's baseline): the attempt alone.
  if (!measured && !currentTracing()) return run();
  const started = measured ? performance.now() : 0;
  if (measured && facts.attempt === 1 && facts.dueMs !== null) jobLatency.observe({ queue: facts.queue }, Math.max(0, Date.now() - facts.dueMs) / 1000);
  const record = (outcome: 'ok' | 'error') => {
    if (!measured) return;
    jobDuration.observe({ queue: facts.queue, outcome }, (performance.now() - started) / 1000);
    if (outcome === 'error') jobFailures.inc({ queue: facts.queue, final: String(facts.attempt >= facts.maxAttempts) });
  };
  return inSpan(`job ${facts.queue}`, { 'objectos.job.queue': facts.queue, 'objectos.job.id': facts.id, 'objectos.job.attempt': facts.attempt }, async () => {
    try {
      const r = await run();
      record('ok');
      return r;
    } catch (e) {
      record('error');
      throw e;
    }
  }, SpanKind.CONSUMER, contextOfTraceparent(stored.c));
}

export type DepthState = 'waiting' | 'delayed' | 'active' | 'failed';
const STATES: readonly DepthState[] = ['waiting', 'delayed', 'active', 'failed'];

/**
 * Reports `objectos_queue_depth{queue,state}` for the queues this process works, read when scraped
 * (`count` answers per queue and state; a missing pair is 0). Returns the removal (at stop).
 */
export function watchQueueDepth(queues: readonly string[], count: () => Promise<Array<{ queue: string; state: DepthState; n: number }>>): () => void {
  if (queues.length === 0) return () => {};
  return queueDepth.add(async () => {
    const found = new Map<string, number>();
    for (const r of await count()) found.set(`${r.queue}\0${r.state}`, (found.get(`${r.queue}\0${r.state}`) ?? 0) + r.n);
    return queues.flatMap((queue) => STATES.map((state) => ({ labels: { queue, state }, value: found.get(`${queue}\0${state}`) ?? 0 })));
  });
}
