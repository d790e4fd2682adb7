export { createLogger, type Logger } from './logger.ts';
export { errorChain, REQUEST_ID_HEADER, useCorrelatedErrors, type ClassifyError, type CorrelatedErrorsOptions } from './use-correlated-errors.ts';
export { isDataOnly, rawResult, type RawResult } from './raw-result.ts';
export {
  createReadiness, listenWithProbes, probeListener, redact, type CheckOutcome, type CheckResult, type CheckStatus, type Lifecycle, type ProbeListener, type Readiness,
  type ReadinessCheck, type ReadinessOptions, type ReadinessReport,
} from './readiness.ts';
