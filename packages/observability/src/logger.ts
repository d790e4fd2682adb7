import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** JSON log lines (pino): one logger per process, `service` on every line. LOG_LEVEL sets the level. */
export function createLogger(service: string, destination?: DestinationStream): Logger {
  const options = { level: process.env['LOG_LEVEL'] ?? 'info', base: { service } };
  return destination ? pino(options, destination) : pino(options);
}
