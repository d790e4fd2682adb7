import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { currentRequestId } from './request-context.ts';
import { activeTraceIds } from './tracing.ts';

export type { Logger };

/** One pretty-printing worker for every logger of the process. */
let prettyStream: DestinationStream | undefined;
/** One synchronous stdout destination for every JSON logger of the process. */
let syncStdout: DestinationStream | undefined;

/** Pretty lines for a person at a terminal in development; JSON everywhere else (and always when LOG_FORMAT=json). */
const pretty = (): boolean =>
  process.env['LOG_FORMAT'] === 'pretty' || (process.env['LOG_FORMAT'] !== 'json' && Boolean(process.stdout.isTTY) && process.env['NODE_ENV'] !== 'production' && !process.env['CI'] && !process.env['VITEST']);

/**
 * JSON log lines (pino): one logger per component, `service` on every line, and, when written while
 * serving a request, its `requestId` and the active trace's `traceId`/`spanId`. LOG_LEVEL sets the level.
 */
export function createLogger(service: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level: process.env['LOG_LEVEL'] ?? 'info',
    base: { service },
    mixin() {
      const ids = activeTraceIds();
      const requestId = currentRequestId();
      return { ...(requestId ? { requestId } : {}), ...(ids ? { traceId: ids.traceId, spanId: ids.spanId } : {}) };
    },
  };
  if (destination) return pino(options, destination);
  if (pretty()) return pino(options, (prettyStream ??= pino.transport({ target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } }) as DestinationStream));
  // Written synchronously: lines keep their order with the process's other output, and none is lost
  // when the process exits right after (a failed start, the end of a shutdown). ObjectOS logs events,
  // not every request, so the cost is small.
  return pino(options, (syncStdout ??= pino.destination({ dest: 1, sync: true })));
}
