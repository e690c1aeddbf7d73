import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../src/config/index.js';
import type { LogSink } from '../../../src/observability/log-sink.js';
import { createLogger, requestLineWriter } from '../../../src/observability/logger.js';
import { prettyDestination, wantsPretty } from '../../../src/observability/pretty.js';
import { Secrets } from '../../../src/secrets.js';

/** A LogSink that keeps what it is given. */
function memorySink(): { sink: LogSink; out: string[] } {
  const out: string[] = [];
  const sink = { write: (line: string) => out.push(line) > 0, flush: (cb?: () => void) => cb?.() } as unknown as LogSink;
  return { sink, out };
}

describe('logging.format', () => {
  it('pretty when asked, or when unset and stdout is a terminal; json otherwise', () => {
    expect(wantsPretty({ format: 'pretty' }, false)).toBe(true);
    expect(wantsPretty({ format: 'json' }, true)).toBe(false);
    expect(wantsPretty({ format: undefined }, true)).toBe(true);
    expect(wantsPretty({ format: undefined }, false)).toBe(false);
  });

  it('is a config key: json or pretty, nothing else; unset by default', () => {
    const base = { providers: { p: { type: 'openai', api_key: 'k' } }, models: { m: { targets: [{ provider: 'p', model: 'x' }] } } };
    expect(resolveConfig(base).logging.format).toBeUndefined();
    expect(resolveConfig({ ...base, logging: { format: 'pretty' } }).logging.format).toBe('pretty');
    expect(() => resolveConfig({ ...base, logging: { format: 'xml' } })).toThrow(/logging\.format.*"xml" is not a log format \(valid: json, pretty\)/s);
  });

  it('pretty lines: level, message and fields for humans, scrubbed of secrets like JSON ones; the request line too', () => {
    const { sink, out } = memorySink();
    const secret = 'sk-live-0123456789abcdefghijklmnop';
    const logger = createLogger({ level: 'info' }, prettyDestination(sink, false), new Secrets([secret]));
    logger.warn({ deployment: 'p/m' }, `circuit opened, key ${secret}`);
    requestLineWriter(logger)({ requestId: 'r1', status: 200, path: '/v1/chat/completions' }, 'request');
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: circuit opened, key \[redacted\]\n\s+deployment: "p\/m"\n$/);
    expect(out[0]).not.toContain(secret);
    expect(out[1]).toMatch(/INFO: request\n\s+requestId: "r1"\n\s+status: 200\n\s+path: "\/v1\/chat\/completions"\n$/);
  });
});
