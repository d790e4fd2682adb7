import { injectTraceContext, inSpan, metrics, SpanKind } from '@objectos/observability';

/** SpanStatusCode.ERROR of @opentelemetry/api (the gateway reaches OpenTelemetry through @objectos/observability only). */
const SPAN_ERROR = 2;

/**
 * How a subgraph call ended: answered (`ok`), past its timeout (`timeout`), cancelled because the client
 * went away (`cancelled`: not the subgraph's fault, kept out of `error` so error rates mean something),
 * or anything else (`error`: unreachable, a 5xx, no GraphQL result). `null`: not recorded at all.
 */
export type CallOutcome = 'ok' | 'error' | 'timeout' | 'cancelled';

const isTimeout = (e: unknown): boolean => e instanceof Error && e.name === 'TimeoutError';

/**
 * One call from the gateway to a subgraph (the stitched or planned executor's, or the one hop): a CLIENT
 * span `subgraph <name>`, the W3C trace context added to `headers` (so the subgraph's spans join this
 * trace), and its duration in objectos_subgraph_call_duration_seconds by subgraph and outcome. `run`
 * gets the headers to send; `outcomeOf` judges an answer (a throw is `timeout` or `error`, or what
 * `onThrow` says).
 */
export function subgraphCall<T>(
  subgraph: string,
  headers: Record<string, string>,
  run: (headers: Record<string, string>) => Promise<T>,
  judge: { outcomeOf?: (answer: T) => CallOutcome | null; onThrow?: (e: unknown) => CallOutcome } = {},
): Promise<T> {
  return inSpan(`subgraph ${subgraph}`, { 'objectos.subgraph': subgraph }, async (span) => {
    injectTraceContext(headers);
    const started = performance.now();
    const record = (outcome: CallOutcome | null) => {
      if (outcome === null) return;
      if (outcome !== 'ok') span.setStatus({ code: SPAN_ERROR, message: outcome });
      span.setAttribute('objectos.subgraph.outcome', outcome);
      if (metrics.metricsEnabled()) metrics.subgraphCalls.observe({ subgraph, outcome }, (performance.now() - started) / 1000);
    };
    let answer: T;
    try {
      answer = await run(headers);
    } catch (e) {
      record(judge.onThrow?.(e) ?? (isTimeout(e) ? 'timeout' : 'error'));
      throw e;
    }
    record(judge.outcomeOf ? judge.outcomeOf(answer) : 'ok');
    return answer;
  }, SpanKind.CLIENT);
}

/** An HTTP answer's outcome: a 5xx is the subgraph failing; anything else carries a GraphQL result. */
export const byStatus = (status: number): CallOutcome => (status >= 500 ? 'error' : 'ok');
