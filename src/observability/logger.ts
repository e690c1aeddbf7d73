import { pino, type DestinationStream, type Logger } from 'pino';
import type { LoggingConfig } from '../config/types.js';

export type { Logger } from 'pino';

/**
 * JSON logs on stdout. Asynchronous by default so a request never waits on a write; `flushLogger`
 * is called on shutdown. Auth headers are never logged by anyone, and redaction is a second fence.
 */
export function createLogger(config: LoggingConfig, destination?: DestinationStream): Logger {
  const dest = destination ?? pino.destination({ dest: 1, sync: false, minLength: 4096 });
  return pino(
    {
      level: config.level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['api_key', '*.api_key', 'headers.authorization', 'headers["x-api-key"]', 'headers["api-key"]'],
        censor: '[redacted]',
      },
    },
    dest,
  );
}

export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    try {
      logger.flush(() => resolve());
    } catch {
      resolve();
    }
  });
}
