/**
 * Provider-neutral reading of the headers upstreams use to say "wait" or "don't retry". Providers use it to
 * classify errors; the pipeline uses it on successful responses too (an exhausted rate limit is news before
 * the 429 arrives). Pure: `now` is epoch ms. Every parser returns undefined for what it cannot read, so one
 * odd header never breaks a request.
 */
import type { Headers, HeaderValue } from '../types.js';

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

/** Every HTTP-date form (IMF-fixdate, RFC 850, asctime) starts with a day name. */
const HTTP_DATE_START = /^[A-Za-z]{3}/;
const ASCTIME_END = /\d{2}:\d{2}:\d{2} \d{4}$/;

export function parseRetryAfterValue(value: string, now: number = Date.now()): number | undefined {
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.ceil(Number(v) * 1000);
  // Date.parse alone is too lenient: it reads "-5" or "1 2" as dates in 2001.
  if (!HTTP_DATE_START.test(v)) return undefined;
  // asctime dates carry no zone and HTTP says they are GMT; Date.parse would read them as local time.
  const at = Date.parse(ASCTIME_END.test(v) ? `${v} GMT` : v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

const DURATION_UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ns: 1e-6 };
/** One `<number><unit>` term of a Go duration; `ms` before `m` so the longer unit wins. */
const DURATION_TERM = /(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|μs|ns)/y;

/**
 * A Go `time.Duration` string as OpenAI sends in `x-ratelimit-reset-*` (`6m0s`, `1.5s`, `20ms`, `1h2m3s`),
 * in whole milliseconds rounded up (a wait is never shortened). `0` alone is valid, as in Go.
 * Undefined for anything else, including negative durations.
 */
export function parseDuration(text: string): number | undefined {
  const v = text.trim();
  if (v === '') return undefined;
  if (v === '0') return 0;
  DURATION_TERM.lastIndex = 0;
  let total = 0;
  while (DURATION_TERM.lastIndex < v.length) {
    const m = DURATION_TERM.exec(v);
    if (m === null) return undefined;
    total += Number(m[1]) * DURATION_UNIT_MS[m[2]!]!;
  }
  if (!Number.isFinite(total)) return undefined;
  // Round away float noise (59.123 × 1000 = 59123.000000000007) before rounding up.
  return Math.ceil(Math.round(total * 1e6) / 1e6);
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$/;

/** An RFC 3339 timestamp as epoch ms; strict, because Date.parse accepts far more than RFC 3339. */
export function parseRfc3339(text: string): number | undefined {
  const m = RFC3339.exec(text.trim());
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  const fractionMs = m[7] === undefined ? 0 : Number(`0${m[7]}`) * 1000;
  const offsetMin = m[9] === undefined ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  return Date.UTC(year, month - 1, day, hour, minute, second) + fractionMs - offsetMin * 60_000;
}

/** A rate-limit counter that reads exactly 0 (Azure's -1 means "not reported", not "exhausted"). */
function exhausted(headers: Headers, name: string): boolean {
  const v = header(headers, name)?.trim();
  return v !== undefined && v !== '' && Number(v) === 0;
}

/** OpenAI's reset is a Go duration; some OpenAI-compatible upstreams send bare seconds instead. */
function relativeResetMs(value: string): number | undefined {
  const d = parseDuration(value);
  if (d !== undefined) return d;
  const v = value.trim();
  return /^\d+(\.\d+)?$/.test(v) ? Math.ceil(Number(v) * 1000) : undefined;
}

// Header names built once: this runs on every successful response.
const OPENAI_LIMITS = ['requests', 'tokens'].map((l) => ({ remaining: `x-ratelimit-remaining-${l}`, reset: `x-ratelimit-reset-${l}` }));
const ANTHROPIC_LIMITS = ['requests', 'tokens', 'input-tokens', 'output-tokens'].map((l) => ({
  remaining: `anthropic-ratelimit-${l}-remaining`,
  reset: `anthropic-ratelimit-${l}-reset`,
}));

/**
 * How long until the rate limits that are exhausted now reset, the longest of them (all must reset before a
 * request can pass). OpenAI: `x-ratelimit-remaining-{requests,tokens}` = 0 → `x-ratelimit-reset-*` (a
 * duration). Anthropic: `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-remaining` = 0 →
 * `…-reset` (RFC 3339, minus now, at least 0). Undefined when none is exhausted or no reset can be read.
 */
export function rateLimitResetMs(headers: Headers, now: number = Date.now()): number | undefined {
  let longest: number | undefined;
  const consider = (ms: number | undefined): void => {
    if (ms !== undefined && (longest === undefined || ms > longest)) longest = ms;
  };
  for (const limit of OPENAI_LIMITS) {
    if (!exhausted(headers, limit.remaining)) continue;
    const reset = header(headers, limit.reset);
    if (reset !== undefined) consider(relativeResetMs(reset));
  }
  for (const limit of ANTHROPIC_LIMITS) {
    if (!exhausted(headers, limit.remaining)) continue;
    const reset = header(headers, limit.reset);
    const at = reset === undefined ? undefined : parseRfc3339(reset);
    if (at !== undefined) consider(Math.max(0, Math.ceil(at - now)));
  }
  return longest;
}

/**
 * The upstream's wait hint for a failed request: `retry-after-ms`, else `retry-after` (seconds or an HTTP
 * date), else the reset of an exhausted rate limit. Undefined when the upstream gave none.
 */
export function retryHintMs(headers: Headers, now: number = Date.now()): number | undefined {
  return parseRetryAfter(headers, now) ?? rateLimitResetMs(headers, now);
}

/** `x-should-retry: true|false` (OpenAI, Anthropic): the upstream's own verdict; undefined when absent or odd. */
export function shouldRetryHeader(headers: Headers): boolean | undefined {
  const v = header(headers, 'x-should-retry')?.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  return undefined;
}

/** The limits whose remaining count an upstream reports, as /admin/deployments names them. */
export type QuotaName = 'requests' | 'tokens' | 'input_tokens' | 'output_tokens';

const REMAINING_HEADERS: ReadonlyArray<readonly [QuotaName, string]> = [
  ['requests', 'x-ratelimit-remaining-requests'],
  ['tokens', 'x-ratelimit-remaining-tokens'],
  ['requests', 'anthropic-ratelimit-requests-remaining'],
  ['tokens', 'anthropic-ratelimit-tokens-remaining'],
  ['input_tokens', 'anthropic-ratelimit-input-tokens-remaining'],
  ['output_tokens', 'anthropic-ratelimit-output-tokens-remaining'],
];

/**
 * What is left of the upstream's rate limits, from the response headers that say (OpenAI
 * `x-ratelimit-remaining-{requests,tokens}`, Anthropic `anthropic-ratelimit-*-remaining`); undefined when none does.
 */
export function rateLimitRemaining(headers: Headers): Partial<Record<QuotaName, number>> | undefined {
  let found: Partial<Record<QuotaName, number>> | undefined;
  for (const [name, h] of REMAINING_HEADERS) {
    const v = header(headers, h)?.trim();
    if (v === undefined || !/^\d+$/.test(v)) continue;
    found ??= {};
    found[name] = Number(v);
  }
  return found;
}
