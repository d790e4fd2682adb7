export { createLogger, type Logger } from './logger.ts';
export { errorChain, REQUEST_ID_HEADER, useCorrelatedErrors, type ClassifyError, type CorrelatedErrorsOptions } from './use-correlated-errors.ts';
export { isDataOnly, rawResult, type RawResult } from './raw-result.ts';
export { handoff, HANDOFF_CONTENT_TYPE, HANDOFF_KEY, useResultHandoff, type HandedTexts, type Handoff } from './result-handoff.ts';
export {
  createReadiness, listenWithProbes, probeListener, redact, type CheckOutcome, type CheckResult, type CheckStatus, type Lifecycle, type ProbeListener, type ProbeListenerOptions, type Readiness,
  type ReadinessCheck, type ReadinessOptions, type ReadinessReport,
} from './readiness.ts';
export * as metrics from './metrics.ts';
export { errorCodeLabel, metricsRoute, metricsResponse, metricsSettingsFromEnv, operationLabel, type MetricsAccess, type MetricsSettings, type SampledGauge } from './metrics.ts';
export { serveOperations, startOperationsServer, type OperationsServer } from './operations-server.ts';
export { instrumentListener, routeLabel } from './http-instrument.ts';
export {
  activeTraceIds, contextOfTraceparent, currentTraceparent, currentTracing, detached, endSpan, extractTraceContext, injectTraceContext, inSpan, parentAndLinks, SpanKind, startTracing, tracer,
  tracingHere, type Tracing, type TracingOptions,
} from './tracing.ts';
export { currentRequestId, outsideRequest, runWithRequestId } from './request-context.ts';
