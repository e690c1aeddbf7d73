import { describe, expect, it } from 'vitest';
import {
  header,
  parseDuration,
  parseRetryAfter,
  parseRetryAfterValue,
  parseRfc3339,
  rateLimitResetMs,
  retryHintMs,
  shouldRetryHeader,
} from '../../../src/resilience/retry-hints.js';

const now = Date.parse('2026-01-01T00:00:00Z');

describe('header', () => {
  it('takes the first of repeated values', () => {
    expect(header({ a: ['1', '2'] }, 'a')).toBe('1');
    expect(header({ a: '1' }, 'a')).toBe('1');
    expect(header({}, 'a')).toBeUndefined();
  });
});

describe('retry-after', () => {
  it('reads retry-after-ms before retry-after', () => {
    expect(parseRetryAfter({ 'retry-after-ms': '250', 'retry-after': '5' }, now)).toBe(250);
    expect(parseRetryAfter({ 'retry-after-ms': '12.3' }, now)).toBe(13);
    expect(parseRetryAfter({ 'retry-after-ms': 'x', 'retry-after': '2' }, now)).toBe(2000);
  });

  it('reads delta seconds and the three HTTP date forms', () => {
    expect(parseRetryAfterValue('7', now)).toBe(7000);
    expect(parseRetryAfterValue(' 0.25 ', now)).toBe(250);
    expect(parseRetryAfterValue('0', now)).toBe(0);
    expect(parseRetryAfterValue('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfterValue('Thursday, 01-Jan-26 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfterValue('Thu Jan  1 00:00:30 2026', now)).toBe(30_000); // asctime is GMT, whatever TZ
    expect(parseRetryAfterValue('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0); // past dates wait 0
  });

  it('ignores garbage that Date.parse would accept', () => {
    for (const v of ['', 'soon', '-5', '1 2', '2001-01-01', '5s', '1.', 'NaN', 'Infinity']) {
      expect(parseRetryAfterValue(v, now)).toBeUndefined();
    }
    expect(parseRetryAfter({ 'retry-after-ms': '-5' }, now)).toBeUndefined();
  });
});

describe('parseDuration (Go durations, OpenAI resets)', () => {
  it.each([
    ['6m0s', 360_000],
    ['1.5s', 1500],
    ['20ms', 20],
    ['1h2m3s', 3_723_000],
    ['0s', 0],
    ['0', 0],
    ['59.123s', 59_123],
    ['2m', 120_000],
    ['300ms', 300],
    ['2m59.56s', 179_560],
    ['7.66s', 7660],
    ['1m30.5s', 90_500],
    ['.5s', 500],
    ['1500us', 2],
    ['250µs', 1],
    ['10ns', 1],
    [' 12ms ', 12],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 'abc', '5', '-1s', '1x', 's', '1.2.3s', '1s garbage', '1 s', 'ms', '6m0', '1e3ms', 'NaN'])(
    'rejects %j',
    (text) => {
      expect(parseDuration(text)).toBeUndefined();
    },
  );
});

describe('parseRfc3339', () => {
  it('reads Z, fractional seconds and offsets', () => {
    expect(parseRfc3339('2026-01-01T00:00:05Z')).toBe(now + 5000);
    expect(parseRfc3339('2026-01-01T00:00:05.250Z')).toBe(now + 5250);
    expect(parseRfc3339('2026-01-01T00:00:05.123456789Z')).toBeCloseTo(now + 5123.456789, 3);
    expect(parseRfc3339('2026-01-01T01:00:05+01:00')).toBe(now + 5000);
    expect(parseRfc3339('2025-12-31T19:00:05.5-05:00')).toBe(now + 5500);
    expect(parseRfc3339('2026-01-01t00:00:05z')).toBe(now + 5000);
  });

  it('rejects what is not RFC 3339', () => {
    for (const v of ['2026-01-01', 'Thu, 01 Jan 2026 00:00:30 GMT', '2026-13-01T00:00:00Z', '2026-01-01T00:00:00', '1', '']) {
      expect(parseRfc3339(v)).toBeUndefined();
    }
  });
});

describe('rateLimitResetMs', () => {
  it('reads an exhausted OpenAI limit', () => {
    expect(rateLimitResetMs({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '6m0s' }, now)).toBe(360_000);
    expect(rateLimitResetMs({ 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '1.5s' }, now)).toBe(1500);
  });

  it('reads bare seconds from OpenAI-compatible upstreams that send them', () => {
    expect(rateLimitResetMs({ 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '12' }, now)).toBe(12_000);
  });

  it('reads an exhausted Anthropic limit as an RFC 3339 time minus now', () => {
    const h = { 'anthropic-ratelimit-requests-remaining': '0', 'anthropic-ratelimit-requests-reset': '2026-01-01T00:00:42Z' };
    expect(rateLimitResetMs(h, now)).toBe(42_000);
    for (const limit of ['tokens', 'input-tokens', 'output-tokens']) {
      const hh = { [`anthropic-ratelimit-${limit}-remaining`]: '0', [`anthropic-ratelimit-${limit}-reset`]: '2026-01-01T00:00:01.5Z' };
      expect(rateLimitResetMs(hh, now)).toBe(1500);
    }
    const offset = { 'anthropic-ratelimit-tokens-remaining': '0', 'anthropic-ratelimit-tokens-reset': '2026-01-01T02:00:03+02:00' };
    expect(rateLimitResetMs(offset, now)).toBe(3000);
    const past = { 'anthropic-ratelimit-tokens-remaining': '0', 'anthropic-ratelimit-tokens-reset': '2025-12-31T23:59:00Z' };
    expect(rateLimitResetMs(past, now)).toBe(0);
  });

  it('ignores limits that are not exhausted or not reported', () => {
    expect(rateLimitResetMs({ 'x-ratelimit-remaining-requests': '12', 'x-ratelimit-reset-requests': '6m0s' }, now)).toBeUndefined();
    expect(rateLimitResetMs({ 'x-ratelimit-reset-requests': '6m0s' }, now)).toBeUndefined();
    expect(rateLimitResetMs({ 'x-ratelimit-remaining-tokens': '-1', 'x-ratelimit-reset-tokens': '0' }, now)).toBeUndefined();
    expect(rateLimitResetMs({ 'x-ratelimit-remaining-tokens': '', 'x-ratelimit-reset-tokens': '1s' }, now)).toBeUndefined();
    const h = { 'anthropic-ratelimit-requests-remaining': '3', 'anthropic-ratelimit-requests-reset': '2026-01-01T00:00:42Z' };
    expect(rateLimitResetMs(h, now)).toBeUndefined();
    expect(rateLimitResetMs({}, now)).toBeUndefined();
  });

  it('takes the longest of several exhausted limits', () => {
    const h = {
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '20ms',
      'x-ratelimit-remaining-tokens': '0',
      'x-ratelimit-reset-tokens': '1m2s',
      'anthropic-ratelimit-input-tokens-remaining': '0',
      'anthropic-ratelimit-input-tokens-reset': '2026-01-01T00:00:30Z',
      'anthropic-ratelimit-output-tokens-remaining': '5',
      'anthropic-ratelimit-output-tokens-reset': '2026-01-01T01:00:00Z',
    };
    expect(rateLimitResetMs(h, now)).toBe(62_000);
  });

  it('skips unreadable resets but keeps the readable ones', () => {
    const h = {
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': 'soon',
      'anthropic-ratelimit-tokens-remaining': '0',
      'anthropic-ratelimit-tokens-reset': 'tomorrow',
      'anthropic-ratelimit-requests-remaining': '0',
      'anthropic-ratelimit-requests-reset': '2026-01-01T00:00:02Z',
    };
    expect(rateLimitResetMs(h, now)).toBe(2000);
    expect(rateLimitResetMs({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': 'x' }, now)).toBeUndefined();
  });
});

describe('retryHintMs', () => {
  const exhausted = { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '9s' };
  it('prefers retry-after-ms, then retry-after, then the rate-limit reset', () => {
    expect(retryHintMs({ ...exhausted, 'retry-after-ms': '150', 'retry-after': '3' }, now)).toBe(150);
    expect(retryHintMs({ ...exhausted, 'retry-after': '3' }, now)).toBe(3000);
    expect(retryHintMs({ ...exhausted, 'retry-after': 'Thu, 01 Jan 2026 00:00:04 GMT' }, now)).toBe(4000);
    expect(retryHintMs({ ...exhausted, 'retry-after': 'garbage' }, now)).toBe(9000);
    expect(retryHintMs(exhausted, now)).toBe(9000);
    expect(retryHintMs({}, now)).toBeUndefined();
  });
});

describe('shouldRetryHeader', () => {
  it('reads true and false, nothing else', () => {
    expect(shouldRetryHeader({ 'x-should-retry': 'true' })).toBe(true);
    expect(shouldRetryHeader({ 'x-should-retry': 'false' })).toBe(false);
    expect(shouldRetryHeader({ 'x-should-retry': ' TRUE ' })).toBe(true);
    expect(shouldRetryHeader({ 'x-should-retry': 'maybe' })).toBeUndefined();
    expect(shouldRetryHeader({ 'x-should-retry': '1' })).toBeUndefined();
    expect(shouldRetryHeader({})).toBeUndefined();
  });
});
