import { createRequire } from 'node:module';
import type { DestinationStream } from 'pino';
import type PinoPretty from 'pino-pretty';
import type { LoggingConfig } from '../config/types.js';
import { LogSink } from './log-sink.js';

/**
 * `logging.format`: `pretty` for humans, `json` (one object a line) for machines. Unset, a terminal on stdout gets
 * pretty lines and anything else (a pipe, a file, a collector) JSON.
 */
export function wantsPretty(config: Pick<LoggingConfig, 'format'>, isTTY = process.stdout.isTTY === true): boolean {
  return config.format === 'pretty' || (config.format === undefined && isTTY);
}

/**
 * A destination that writes each JSON line as pino-pretty renders it (colours on a terminal), through the same
 * batched writer as JSON lines. The lines are made (and scrubbed of secrets) as JSON first; only their look changes.
 */
export function prettyDestination(sink: LogSink = new LogSink(1), colorize = process.stdout.isTTY === true): DestinationStream & { flush(cb?: (err?: Error) => void): void } {
  // Loaded only here: ~20 ms at startup that a JSON logger (and the library) need not pay.
  const pinoPretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  const render = pinoPretty.prettyFactory({ colorize, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
  return {
    write(line: string) {
      sink.write(render(line));
    },
    flush(cb) {
      sink.flush(cb);
    },
  };
}
