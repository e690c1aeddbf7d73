import type { Headers, HeaderValue } from './types.js';

/** First value of a header, case-insensitive lookup is not needed: node and undici lower-case names. */
export function header(headers: Headers, name: string): string | undefined {
  const v: HeaderValue = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * How long the upstream asked us to wait, from `retry-after-ms` (milliseconds, OpenAI) or
 * `retry-after` (delta-seconds or an HTTP date). Undefined when absent or unparseable; never negative.
 */
export function parseRetryAfter(headers: Headers, now: number = Date.now()): number | undefined {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined) {
    const n = Number(ms.trim());
    if (ms.trim() !== '' && Number.isFinite(n) && n >= 0) return Math.ceil(n);
  }
  const ra = header(headers, 'retry-after');
  if (ra === undefined) return undefined;
  return parseRetryAfterValue(ra, now);
}

export function parseRetryAfterValue(value: string, now: number = Date.now()): number | undefined {
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.ceil(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
