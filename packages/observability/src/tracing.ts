import { context, propagation, ROOT_CONTEXT, trace, SpanKind, SpanStatusCode, type Attributes, type Context, type Link, type Span, type Tracer } from '@opentelemetry/api';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { outsideRequest } from './request-context.ts';

/**
 * OpenTelemetry traces. Instrumentation is written against `@opentelemetry/api` only (a no-op until a
 * process starts tracing), so it costs next to nothing when tracing is off. `startTracing` registers
 * the SDK (`@opentelemetry/sdk-node`): W3C trace context, AsyncLocalStorage context, and OTLP/HTTP export
 * when OTEL_EXPORTER_OTLP_ENDPOINT is set. Spans are made by hand where ObjectOS does the work (request,
 * subgraph call, SQL statement, outbox publish, job), so they are the same on pg and PGlite, and no
 * module patching (which ESM and tsx make fragile) is involved.
 */

/**
 * The tracer, looked up at each use rather than once at import: `@opentelemetry/api` is loaded twice here
 * (its ESM build by our sources, its CommonJS build by the SDK), and a tracer taken from the ESM copy
 * before the SDK registered stays bound to that copy's provider, which never gets the SDK's: every span
 * would be a no-op. The global provider (shared by both copies) is read when a span starts.
 */
const current = (): Tracer => trace.getTracer('objectos');
export const tracer: Tracer = {
  startSpan: (name, options, ctx) => current().startSpan(name, options, ctx),
  startActiveSpan: ((...args: unknown[]) => {
    const t = current();
    return Reflect.apply(t.startActiveSpan, t, args) as unknown;
  }) as Tracer['startActiveSpan'],
};

export { SpanKind };

/**
 * Ends a span; failed when `error` is given, with the error's message (bounded). `quiet` leaves the message
 * out: a database's messages can quote a value ("invalid input syntax for type uuid: …").
 */
export function endSpan(span: Span, error?: unknown, quiet = false): void {
  if (error !== undefined) {
    if (!quiet) span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR, ...(quiet ? {} : { message: error instanceof Error ? error.message.slice(0, 200) : undefined }) });
  }
  span.end();
}

/**
 * Runs `fn` in a new active span; an exception marks it failed. Attributes never carry values of records.
 * `links` name other traces the work also belongs to (a batch serving several requests).
 */
export async function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>, kind: SpanKind = SpanKind.INTERNAL, parent?: Context, links?: Link[]): Promise<T> {
  return tracer.startActiveSpan(name, { kind, attributes, ...(links?.length ? { links } : {}) }, parent ?? context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (e) {
      span.recordException(e instanceof Error ? e : String(e));
      span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message.slice(0, 200) : undefined });
      throw e;
    } finally {
      span.end();
    }
  });
}

/** Adds the current trace context (`traceparent`, `tracestate`) to outgoing headers. */
export function injectTraceContext(headers: Record<string, string>, ctx: Context = context.active()): Record<string, string> {
  propagation.inject(ctx, headers);
  return headers;
}

/** The context an incoming request's `traceparent` names (the active one when it names none). */
export function extractTraceContext(headers: Headers | Record<string, string | string[] | undefined>): Context {
  const get = headers instanceof Headers ? (k: string) => headers.get(k) ?? undefined : (k: string) => {
    const v = headers[k];
    return Array.isArray(v) ? v[0] : v;
  };
  return propagation.extract(context.active(), {}, { get: (_c, k) => get(k), keys: () => ['traceparent', 'tracestate'] });
}

/**
 * The W3C `traceparent` of the active span, for work handed over through a table or a queue (an outbox
 * row, a job) so that whoever picks it up continues the trace; null when no span is recording (tracing
 * off, or this trace not sampled): nothing is stored then.
 */
export function currentTraceparent(): string | null {
  if (!trace.getActiveSpan()?.isRecording()) return null;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier['traceparent'] ?? null;
}

/** The context a stored `traceparent` names, on an empty context (not the caller's); the empty one without it. */
export function contextOfTraceparent(traceparent: string | null | undefined): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, { traceparent }, { get: (c, k) => c[k as 'traceparent'], keys: () => ['traceparent'] });
}

/**
 * Where batched work continues the traces of what it serves: the first stored `traceparent` is its
 * parent, the other distinct ones are links. Without any, the parent is the empty context (a root span).
 */
export function parentAndLinks(traceparents: readonly (string | null | undefined)[]): { parent: Context; links: Link[] } {
  const distinct = [...new Set(traceparents.filter((t): t is string => Boolean(t)))];
  const parent = contextOfTraceparent(distinct[0]);
  const links: Link[] = [];
  for (const t of distinct.slice(1)) {
    const spanContext = trace.getSpanContext(contextOfTraceparent(t));
    if (spanContext) links.push({ context: spanContext });
  }
  return { parent, links };
}

/** True when a span is recording here: instrumentation that only makes child spans (SQL) checks this first. */
export const tracingHere = (): boolean => trace.getActiveSpan()?.isRecording() ?? false;

/**
 * Runs `fn` outside the caller's trace and request: background work (an outbox sweep) that a request
 * merely kicked must not be reported as part of that request (its rows carry their own trace).
 */
export function detached<T>(fn: () => T): T {
  return context.with(ROOT_CONTEXT, () => outsideRequest(fn));
}

/** The active span's trace and span ids (for log lines), or nothing when no span is recording. */
export function activeTraceIds(): { traceId: string; spanId: string } | null {
  const span = trace.getActiveSpan();
  if (!span) return null;
  const c = span.spanContext();
  return c.traceId && c.traceId !== '00000000000000000000000000000000' ? { traceId: c.traceId, spanId: c.spanId } : null;
}

export interface TracingOptions {
  serviceName: string;
  /** An exporter to use instead of OTLP (tests: InMemorySpanExporter). */
  exporter?: SpanExporter;
  /** Span processors to use as given (instead of a batch processor over `exporter`). */
  spanProcessors?: SpanProcessor[];
  /** Fraction of traces sampled (parent-based). @default OTEL_TRACES_SAMPLER_ARG or 1 */
  sampleRatio?: number;
}

export interface Tracing {
  /** Exports what is pending (graceful shutdown calls it). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

let running: Tracing | null = null;

/**
 * Starts tracing for this process when OTEL_EXPORTER_OTLP_ENDPOINT (or OBJECTOS_TRACING=on) is set, or
 * an exporter is given; null otherwise (instrumentation stays a no-op). Once per process.
 */
export async function startTracing(options: TracingOptions): Promise<Tracing | null> {
  if (running) return running;
  const endpoint = process.env['OTEL_EXPORTER_OTLP_ENDPOINT'] || process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
  if (!options.exporter && !options.spanProcessors && !endpoint && process.env['OBJECTOS_TRACING'] !== 'on') return null;
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } = await import('@opentelemetry/sdk-trace-base');
  const { resourceFromAttributes } = await import('@opentelemetry/resources');
  let exporter = options.exporter;
  if (!exporter && endpoint) {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    exporter = new OTLPTraceExporter();
  }
  const ratio = options.sampleRatio ?? (process.env['OTEL_TRACES_SAMPLER_ARG'] ? Number(process.env['OTEL_TRACES_SAMPLER_ARG']) : 1);
  const processors = options.spanProcessors ?? (exporter ? [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 500 })] : []);
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors: processors,
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(Number.isFinite(ratio) ? ratio : 1) }),
    instrumentations: [],
  });
  sdk.start();
  running = {
    flush: async () => {
      await Promise.all(processors.map((p) => p.forceFlush()));
    },
    shutdown: async () => {
      running = null;
      await sdk.shutdown();
    },
  };
  return running;
}

/** The running tracing of this process, if any. */
export const currentTracing = (): Tracing | null => running;
