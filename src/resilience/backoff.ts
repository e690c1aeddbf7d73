/**
 * Retry delays. Pure: randomness comes in as `rand` (a `Math.random`-like source in [0, 1)), so a test can
 * pin it and the pipeline can pass `Math.random`.
 */

/** Above this many doublings any finite base has passed any finite cap; stops `2 ** n` reaching Infinity. */
const MAX_DOUBLINGS = 1023;

function nonNegative(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** The exponential ceiling for a retry: `min(maxMs, baseMs × 2^retryIndex)`, finite for any index. */
export function backoffCap(retryIndex: number, baseMs: number, maxMs: number): number {
  const max = nonNegative(maxMs);
  const base = nonNegative(baseMs);
  if (base === 0 || max === 0) return 0;
  const index = retryIndex > 0 ? Math.floor(retryIndex) : 0; // NaN and negatives count as the first retry
  if (index >= MAX_DOUBLINGS) return max;
  return Math.min(max, base * 2 ** index);
}

/**
 * "Full jitter" (AWS Architecture Blog, Exponential Backoff and Jitter): a uniform draw in
 * `[0, min(maxMs, baseMs × 2^retryIndex))`, in whole milliseconds. Spreading retries over the whole interval
 * keeps clients that failed together from retrying together. `retryIndex` is 0 for the first retry.
 */
export function fullJitterDelay(retryIndex: number, baseMs: number, maxMs: number, rand: () => number): number {
  const cap = backoffCap(retryIndex, baseMs, maxMs);
  const r = rand();
  // A misbehaving source must not produce a negative or beyond-cap wait.
  const u = Number.isFinite(r) ? Math.min(1, Math.max(0, r)) : 0;
  return Math.floor(u * cap);
}

export interface RetryDelayOptions {
  /** 0 for the first retry. */
  retryIndex: number;
  baseMs: number;
  maxMs: number;
  /** The upstream's own wait hint (Retry-After and friends), in ms, if it sent one. */
  hintMs?: number | undefined;
  rand: () => number;
}

/**
 * How long to wait before a retry: the jittered backoff, but never less than the upstream asked for.
 * The hint is a floor and is not clamped to `maxMs`: retrying earlier than the upstream said only earns
 * another 429. Whether the wait still fits the request's deadline is the caller's decision.
 */
export function retryDelay(opts: RetryDelayOptions): number {
  const jittered = fullJitterDelay(opts.retryIndex, opts.baseMs, opts.maxMs, opts.rand);
  const hint = opts.hintMs;
  if (hint === undefined || !Number.isFinite(hint) || hint <= 0) return jittered;
  return Math.max(jittered, Math.ceil(hint));
}
