import { pino, type DestinationStream, type Logger } from 'pino';
import type { LoggingConfig } from '../config/types.js';
import { Secrets } from '../secrets.js';
import { LogSink } from './log-sink.js';
import { prettyDestination, wantsPretty } from './pretty.js';

export type { Logger } from 'pino';

/**
 * Logs on stdout: JSON lines, or pretty ones for humans (`logging.format`, pretty.ts). Asynchronous by default so
 * a request never waits on a write; `flushLogger` is called on shutdown. Auth headers are never logged by anyone, and redaction is a second fence; the last is
 * `secrets` (the configured ones): every line goes out scrubbed of them, whole or in pieces. Lines through pino
 * are rare (startup, a key out of rotation, an internal error), so each is scanned in full.
 */
export function createLogger(config: Pick<LoggingConfig, 'level' | 'format'>, destination?: DestinationStream, secrets: Secrets = Secrets.none): Logger {
  const dest = destination ?? (wantsPretty(config) ? prettyDestination() : new LogSink(1));
  const logger = pino(
    {
      level: config.level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['api_key', '*.api_key', 'headers.authorization', 'headers["x-api-key"]', 'headers["api-key"]'],
        censor: '[redacted]',
      },
      hooks: { streamWrite: (line) => secrets.scrubUntrusted(line) },
    },
    dest,
  );
  ours.add(logger);
  return logger;
}

/**
 * The per-request line, written straight to the logger's destination in pino's own shape
 * (`{"level":30,"time":"…",…fields,"msg":"request"}`). pino's generic path (key-by-key serialisation, the
 * redaction fence, time formatting) cost ~14 µs per line, ~7 % of the gateway's CPU per request; one
 * JSON.stringify of a known shape costs a fraction. The fields are ids, names, counts and gateway error
 * messages: nothing the redaction paths would match. Lines go out at `level` (info unless told); callers check
 * `isLevelEnabled(level)` first.
 * Only for loggers made by `createLogger` (whose shape this knows); any other logger (a library user's, with
 * its own bindings, formatters or multistream) gets its lines through `logger.info`.
 *
 * Last fence against a leaked secret (upstream text is scrubbed where it enters): a line with an `error` is
 * scanned for pieces of `secrets` too; any other line (ids, names, counts) only for exact ones, which costs an
 * `includes` per secret.
 */
export function requestLineWriter(
  logger: Logger,
  secrets: Secrets = Secrets.none,
  levelName: 'info' | 'debug' = 'info',
): (fields: Record<string, unknown>, msg: string) => void {
  const exact = (s: string) => secrets.scrubExact(s);
  const untrusted = (s: string) => secrets.scrubUntrusted(s);
  const scrub = (fields: Record<string, unknown>) => (fields.error === undefined ? exact : untrusted);
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as DestinationStream | undefined;
  if (!ours.has(logger) || !stream || typeof stream.write !== 'function') {
    return (fields, msg) => logger[levelName](scrubStrings(fields, scrub(fields)) as Record<string, unknown>, msg);
  }
  const level = logger.levels.values[levelName] ?? (levelName === 'debug' ? 20 : 30);
  return (fields, msg) => {
    const body = JSON.stringify(fields);
    const sep = body.length > 2 ? ',' : '';
    const line = `{"level":${level},"time":"${new Date().toISOString()}"${sep}${body.slice(1, -1)},"msg":${JSON.stringify(msg)}}\n`;
    stream.write(scrub(fields)(line));
  };
}

/** `value` with `scrub` applied to every string in it; the same object where nothing changed. */
function scrubStrings(value: unknown, scrub: (s: string) => string): unknown {
  if (typeof value === 'string') return scrub(value);
  if (value === null || typeof value !== 'object') return value;
  let copy: Record<string, unknown> | unknown[] | undefined;
  for (const [key, v] of Object.entries(value)) {
    const scrubbed = scrubStrings(v, scrub);
    if (scrubbed === v) continue;
    copy ??= Array.isArray(value) ? [...value] : { ...value };
    (copy as Record<string, unknown>)[key] = scrubbed;
  }
  return copy ?? value;
}

/** Loggers made by `createLogger`: their shape is known, so the request line may bypass pino's generic path. */
const ours = new WeakSet<Logger>();

/**
 * A logger that writes nothing, anywhere: library mode's default, so an app embedding the gateway keeps its stdout
 * to itself. No destination is opened (pino's default would be stdout).
 */
export function silentLogger(): Logger {
  return pino({ level: 'silent' }, { write: () => undefined });
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
