import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../src/config/index.js';
import { mulberry32 as seeded } from '../../../src/mock/faults.js';
import { chooseTarget } from '../../../src/pipeline/choose.js';
import { Deployments } from '../../../src/routing/deployments.js';
import { buildRoutes } from '../../../src/routing/routes.js';
import {
  backoffCap,
  DEFAULT_RETRY_BUDGET,
  fullJitterDelay,
  RetryBudget,
  retryDelay,
} from '../../../src/resilience/index.js';


describe('fullJitterDelay', () => {
  it('stays within [0, cap] and is a whole number of ms', () => {
    const rand = seeded(1);
    for (let i = 0; i < 5000; i++) {
      const index = i % 12;
      const d = fullJitterDelay(index, 500, 8000, rand);
      expect(Number.isInteger(d)).toBe(true);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(Math.min(8000, 500 * 2 ** index));
    }
  });

  it('doubles the cap per retry and clamps it at maxMs', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((i) => backoffCap(i, 500, 8000))).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000]);
    const almostOne = () => 0.999999;
    expect(fullJitterDelay(0, 500, 8000, almostOne)).toBe(499);
    expect(fullJitterDelay(3, 500, 8000, almostOne)).toBe(3999);
    expect(fullJitterDelay(10, 500, 8000, almostOne)).toBe(7999);
    expect(fullJitterDelay(2, 500, 8000, () => 0)).toBe(0);
    expect(fullJitterDelay(2, 500, 8000, () => 0.5)).toBe(1000);
  });

  it('is finite for huge or odd indexes and inputs', () => {
    for (const index of [60, 1023, 1024, 5000, Number.MAX_SAFE_INTEGER, Number.POSITIVE_INFINITY]) {
      expect(backoffCap(index, 500, 8000)).toBe(8000);
      expect(fullJitterDelay(index, 500, 8000, () => 0.5)).toBe(4000);
    }
    expect(fullJitterDelay(5000, 0, 8000, () => 0.5)).toBe(0);
    expect(fullJitterDelay(-3, 500, 8000, () => 0.5)).toBe(250);
    expect(fullJitterDelay(Number.NaN, 500, 8000, () => 0.5)).toBe(250);
    expect(fullJitterDelay(1, 500, 8000, () => 7)).toBe(1000);
    expect(fullJitterDelay(1, 500, 8000, () => -1)).toBe(0);
    expect(fullJitterDelay(1, 500, 8000, () => Number.NaN)).toBe(0);
  });

  it('spreads uniformly: mean ≈ cap / 2 within 5 % over 10,000 Math.random draws', () => {
    const n = 10_000;
    let sum = 0;
    let low = 0;
    for (let i = 0; i < n; i++) {
      const d = fullJitterDelay(4, 500, 8000, Math.random);
      sum += d;
      if (d < 4000) low++;
    }
    expect(Math.abs(sum / n - 4000)).toBeLessThan(4000 * 0.05);
    expect(low / n).toBeGreaterThan(0.45);
    expect(low / n).toBeLessThan(0.55);
  });
});

describe('retryDelay', () => {
  it('uses the jittered backoff when there is no hint', () => {
    expect(retryDelay({ retryIndex: 1, baseMs: 500, maxMs: 8000, rand: () => 0.5 })).toBe(500);
    expect(retryDelay({ retryIndex: 1, baseMs: 500, maxMs: 8000, hintMs: undefined, rand: () => 0.5 })).toBe(500);
  });

  it('treats the upstream hint as a floor, even above maxMs', () => {
    expect(retryDelay({ retryIndex: 0, baseMs: 500, maxMs: 8000, hintMs: 3000, rand: () => 0.5 })).toBe(3000);
    expect(retryDelay({ retryIndex: 0, baseMs: 500, maxMs: 8000, hintMs: 30_000, rand: () => 0.9 })).toBe(30_000);
    expect(retryDelay({ retryIndex: 0, baseMs: 500, maxMs: 8000, hintMs: 12.2, rand: () => 0 })).toBe(13);
  });

  it('keeps the backoff when it is longer than the hint, and ignores unusable hints', () => {
    expect(retryDelay({ retryIndex: 4, baseMs: 500, maxMs: 8000, hintMs: 100, rand: () => 0.5 })).toBe(4000);
    for (const hintMs of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(retryDelay({ retryIndex: 4, baseMs: 500, maxMs: 8000, hintMs, rand: () => 0.5 })).toBe(4000);
    }
  });
});

describe('RetryBudget', () => {
  const t0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

  it('has SRE defaults', () => {
    expect(DEFAULT_RETRY_BUDGET).toEqual({ ratio: 0.1, min_per_window: 10, window_s: 10 });
    expect(Object.isFrozen(DEFAULT_RETRY_BUDGET)).toBe(true);
  });

  it('allows min_per_window retries with no traffic, then refuses', () => {
    const budget = new RetryBudget(DEFAULT_RETRY_BUDGET);
    for (let i = 0; i < 10; i++) expect(budget.tryRetry(t0 + i)).toBe(true);
    expect(budget.tryRetry(t0 + 10)).toBe(false);
    expect(budget.stats(t0 + 11)).toEqual({ attempts: 0, retries: 10 });
  });

  it('allows ratio × attempts + floor retries', () => {
    const budget = new RetryBudget({ ratio: 0.1, min_per_window: 10, window_s: 10 });
    for (let i = 0; i < 1000; i++) budget.recordAttempt(t0 + i * 5); // spread over 5 s, all in the window
    let granted = 0;
    while (budget.tryRetry(t0 + 5000)) granted++;
    expect(granted).toBe(110);
    expect(budget.stats(t0 + 5000)).toEqual({ attempts: 1000, retries: 110 });
  });

  it('restores capacity as buckets slide out of the window', () => {
    const budget = new RetryBudget({ ratio: 0, min_per_window: 3, window_s: 10 });
    expect(budget.tryRetry(t0)).toBe(true);
    expect(budget.tryRetry(t0 + 4_000)).toBe(true);
    expect(budget.tryRetry(t0 + 4_500)).toBe(true);
    expect(budget.tryRetry(t0 + 9_999)).toBe(false);
    // At t0 + 10 s the bucket of t0 has expired: one retry back, the two at +4 s still count.
    expect(budget.stats(t0 + 10_000)).toEqual({ attempts: 0, retries: 2 });
    expect(budget.tryRetry(t0 + 10_000)).toBe(true);
    expect(budget.tryRetry(t0 + 10_001)).toBe(false);
    expect(budget.stats(t0 + 14_000)).toEqual({ attempts: 0, retries: 1 });
  });

  it('expires attempts too, so earned retries do not outlive their traffic', () => {
    const budget = new RetryBudget({ ratio: 0.5, min_per_window: 0, window_s: 2 });
    for (let i = 0; i < 10; i++) budget.recordAttempt(t0);
    expect(budget.stats(t0 + 1_999)).toEqual({ attempts: 10, retries: 0 });
    expect(budget.stats(t0 + 2_000)).toEqual({ attempts: 0, retries: 0 });
    expect(budget.tryRetry(t0 + 2_000)).toBe(false);
  });

  it('forgets everything after an idle gap longer than the window', () => {
    const budget = new RetryBudget(DEFAULT_RETRY_BUDGET);
    for (let i = 0; i < 50; i++) budget.recordAttempt(t0);
    while (budget.tryRetry(t0)) {
      // drain
    }
    expect(budget.stats(t0)).toEqual({ attempts: 50, retries: 15 });
    const later = t0 + 3_600_000; // an hour idle, landing on the same ring slot
    expect(budget.stats(later)).toEqual({ attempts: 0, retries: 0 });
    for (let i = 0; i < 10; i++) expect(budget.tryRetry(later)).toBe(true);
    expect(budget.tryRetry(later)).toBe(false);
  });

  it('counts a clock that steps back in the newest bucket', () => {
    const budget = new RetryBudget({ ratio: 0, min_per_window: 2, window_s: 10 });
    expect(budget.tryRetry(t0 + 5_000)).toBe(true);
    expect(budget.tryRetry(t0)).toBe(true);
    expect(budget.tryRetry(t0 + 5_000)).toBe(false);
    expect(budget.stats(t0 + 15_000)).toEqual({ attempts: 0, retries: 0 });
  });

  it('works with small epoch values and fractional windows', () => {
    const budget = new RetryBudget({ ratio: 1, min_per_window: 0, window_s: 1.5 });
    budget.recordAttempt(0);
    expect(budget.tryRetry(999)).toBe(true);
    expect(budget.tryRetry(1_000)).toBe(false);
    expect(budget.stats(1_999)).toEqual({ attempts: 1, retries: 1 });
    expect(budget.stats(2_000)).toEqual({ attempts: 0, retries: 0 });
  });

  it('rejects nonsensical policies', () => {
    expect(() => new RetryBudget({ ratio: -1, min_per_window: 10, window_s: 10 })).toThrow(RangeError);
    expect(() => new RetryBudget({ ratio: 0.1, min_per_window: Number.NaN, window_s: 10 })).toThrow(RangeError);
    expect(() => new RetryBudget({ ratio: 0.1, min_per_window: 10, window_s: 0 })).toThrow(RangeError);
    expect(() => new RetryBudget(DEFAULT_RETRY_BUDGET).tryRetry(Number.NaN)).toThrow(RangeError);
  });
});

/** One model over deployments `a/x`, `b/x`, …: the pure decision of where a request's next attempt goes. */
function model(providers: string[], retry: Record<string, unknown> = {}) {
  const config = resolveConfig({
    retry,
    providers: Object.fromEntries(providers.map((p) => [p, { type: 'openai', api_key: `sk-${p}`, base_url: 'http://127.0.0.1:9/v1' }])),
    models: { m: { targets: providers.map((provider) => ({ provider, model: 'x' })) } },
  });
  return { config, route: buildRoutes(config).get('m')!, deployments: new Deployments(config) };
}

describe('where the next attempt goes (chooseTarget)', () => {
  const T0 = 1_767_225_600_000;

  it('a 429 without a hint: the retry of the only deployment is a backed-off retry, not a wait for a fixed 1 s', () => {
    const { route, deployments } = model(['a']);
    deployments.health('a/x').recordFailure(T0, 'rate_limited');
    // 'wait' would sleep until T0 + 1000 exactly: every request that met the 429 retrying together (issue 20.1).
    const choice = chooseTarget('chat', route, deployments, new Set(), new Set(['a/x']), T0 + 1, Math.random);
    expect(choice).toMatchObject({ type: 'retry', target: { deployment: { id: 'a/x' } } });
    // A retry's delay is the full-jitter draw, growing with the retry index, as after a 5xx.
    const draws = [0, 0.5, 0.999].map((r) => retryDelay({ retryIndex: 1, baseMs: 500, maxMs: 8000, rand: () => r }));
    expect(draws).toEqual([0, 500, 999]);
  });

  it('a 429 without a hint steers new requests to another deployment for 1 s, then the deployment is back', () => {
    const { route, deployments } = model(['a', 'b']);
    deployments.health('a/x').recordFailure(T0, 'rate_limited');
    const rand = seeded(7);
    const pick = (now: number) => {
      const c = chooseTarget('chat', route, deployments, new Set(), new Set(), now, rand);
      return c.type === 'fresh' ? c.target.deployment.id : c.type;
    };
    const during = Array.from({ length: 200 }, () => pick(T0 + 500));
    expect(new Set(during)).toEqual(new Set(['b/x']));
    const after = Array.from({ length: 200 }, () => pick(T0 + 1000));
    expect(new Set(after)).toEqual(new Set(['a/x', 'b/x']));
  });

  it('without failover, only the deployments the request has tried are offered: a retry, a wait, or none', () => {
    const { route, deployments } = model(['a', 'b', 'c']);
    const tried = new Set(['a/x']);
    for (let i = 0; i < 100; i++) {
      const c = chooseTarget('chat', route, deployments, new Set(), tried, T0, Math.random, { failover: false });
      expect(c).toMatchObject({ type: 'retry', target: { deployment: { id: 'a/x' } } });
    }
    deployments.health('a/x').recordFailure(T0, 'rate_limited', 2000);
    expect(chooseTarget('chat', route, deployments, new Set(), tried, T0, Math.random, { failover: false })).toMatchObject({
      type: 'wait',
      until: T0 + 2000,
    });
    expect(chooseTarget('chat', route, deployments, new Set(['a/x']), tried, T0, Math.random, { failover: false }).type).toBe('none');
    // With failover (the default) an untried deployment comes first, at once.
    expect(chooseTarget('chat', route, deployments, new Set(), tried, T0, Math.random).type).toBe('fresh');
  });
});

describe('the failover budget (per model)', () => {
  const T0 = 1_767_225_600_000;

  it('allows failover_budget_ratio × the model\'s requests + 10 failovers per 10 s window', () => {
    const { config, deployments } = model(['a', 'b']);
    expect(config.retry.failover_budget_ratio).toBe(0.1);
    const budget = deployments.failovers('m');
    expect(budget).toBe(deployments.failovers('m'));
    expect(budget.policy).toEqual({ ratio: 0.1, min_per_window: 10, window_s: 10 });
    for (let i = 0; i < 200; i++) budget.recordAttempt(T0);
    let granted = 0;
    while (budget.tryRetry(T0 + 1)) granted++;
    expect(granted).toBe(30);
  });

  it('takes its ratio from retry.failover_budget_ratio, and a reload under the same ratio keeps it', () => {
    const { config, deployments } = model(['a', 'b'], { failover_budget_ratio: 0.5 });
    const budget = deployments.failovers('m');
    expect(budget.policy.ratio).toBe(0.5);
    expect(deployments.carryTo(config, ['a/x', 'b/x']).failovers('m')).toBe(budget);
    const stricter = model(['a', 'b'], { failover_budget_ratio: 0.2 }).config;
    expect(deployments.carryTo(stricter, ['a/x', 'b/x']).failovers('m')).not.toBe(budget);
  });

  it('retry.max_attempts_per_request: 6 by default, and per model', () => {
    expect(model(['a']).config.retry.max_attempts_per_request).toBe(6);
    const config = resolveConfig({
      retry: { max_attempts_per_request: 4 },
      providers: { a: { type: 'openai', api_key: 'sk-a', base_url: 'http://127.0.0.1:9/v1' } },
      models: { m: { targets: [{ provider: 'a', model: 'x' }] }, n: { targets: [{ provider: 'a', model: 'x' }], retry: { max_attempts_per_request: 2 } } },
    });
    expect([config.retry.max_attempts_per_request, config.models.m!.retry.max_attempts_per_request, config.models.n!.retry.max_attempts_per_request]).toEqual([4, 4, 2]);
  });
});
