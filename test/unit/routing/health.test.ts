import { describe, expect, it } from 'vitest';
import { DEFAULT_HEALTH_POLICY, DeploymentHealth, type HealthPolicy, HealthRegistry } from '../../../src/routing/health.js';

const T0 = 1_700_000_000_000;
const policy: HealthPolicy = { failure_threshold: 3, failure_ratio: 0.5, min_requests: 6, window_s: 10, cooldown_s: 30 };

function health(over: Partial<HealthPolicy> = {}): DeploymentHealth {
  return new DeploymentHealth('openai-east/gpt-4o', { ...policy, ...over });
}

/** One full attempt, as the pipeline runs it. */
function attempt(h: DeploymentHealth, now: number, outcome: 'ok' | 'server'): boolean {
  if (!h.tryAcquire(now)) return false;
  if (outcome === 'ok') h.recordSuccess(now, 100);
  else h.recordFailure(now, 'server');
  h.release();
  return true;
}

function openBreaker(h: DeploymentHealth, now: number): void {
  for (let i = 0; i < policy.failure_threshold; i++) attempt(h, now, 'server');
  expect(h.availability(now).state).toBe('open');
}

describe('DeploymentHealth breaker', () => {
  it('has documented defaults and rejects a nonsensical policy', () => {
    expect(DEFAULT_HEALTH_POLICY).toEqual({
      failure_threshold: 5,
      failure_ratio: 0.5,
      min_requests: 10,
      window_s: 30,
      cooldown_s: 30,
    });
    expect(() => health({ failure_threshold: 0 })).toThrow(RangeError);
    expect(() => health({ failure_ratio: 1.5 })).toThrow(RangeError);
  });

  it('starts healthy', () => {
    expect(health().availability(T0)).toEqual({ available: true, state: 'healthy' });
  });

  it('opens after failure_threshold consecutive failures, not before', () => {
    const h = health();
    attempt(h, T0, 'server');
    attempt(h, T0, 'server');
    expect(h.availability(T0).state).toBe('healthy');
    h.recordFailure(T0, 'timeout');
    const a = h.availability(T0 + 1);
    expect(a).toMatchObject({ available: false, state: 'open', until: T0 + 30_000 });
    expect(a.reason).toMatch(/3 consecutive failures \(last: timeout\)/);
    expect(h.tryAcquire(T0 + 1)).toBe(false);
  });

  it('a success resets the consecutive count', () => {
    const h = health({ min_requests: 100 });
    for (let i = 0; i < 10; i++) {
      attempt(h, T0 + i, 'server');
      attempt(h, T0 + i, 'server');
      attempt(h, T0 + i, 'ok');
    }
    expect(h.availability(T0 + 10).state).toBe('healthy');
  });

  it('opens on the failure ratio once min_requests outcomes are in the window', () => {
    const h = health({ failure_threshold: 100 });
    // fail, ok, fail, ok, fail: 3/5 failed but below min_requests
    for (const o of ['server', 'ok', 'server', 'ok', 'server'] as const) attempt(h, T0, o);
    expect(h.availability(T0).state).toBe('healthy');
    attempt(h, T0, 'ok'); // 3/6 = 0.5, but a success never opens the breaker
    expect(h.availability(T0).state).toBe('healthy');
    attempt(h, T0, 'server'); // 4/7 ≥ 0.5
    expect(h.availability(T0)).toMatchObject({ state: 'open', reason: expect.stringMatching(/4 of 7 attempts failed/) });
  });

  it('forgets outcomes that slid out of the window', () => {
    const h = health({ failure_threshold: 100 });
    for (let i = 0; i < 5; i++) attempt(h, T0, 'server');
    // 10 s later the first five have expired: 1 failure + 5 successes is below the ratio
    for (let i = 0; i < 5; i++) attempt(h, T0 + 10_000, 'ok');
    attempt(h, T0 + 10_000, 'server');
    expect(h.availability(T0 + 10_000).state).toBe('healthy');
    // whereas inside the window the same sequence would have opened it
    const h2 = health({ failure_threshold: 100 });
    for (let i = 0; i < 5; i++) attempt(h2, T0, 'server');
    for (let i = 0; i < 5; i++) attempt(h2, T0 + 9_000, 'ok');
    attempt(h2, T0 + 9_000, 'server');
    expect(h2.availability(T0 + 9_000).state).toBe('open');
  });

  it('goes half-open after the cooldown and lets exactly one probe through', () => {
    const h = health();
    openBreaker(h, T0);
    expect(h.availability(T0 + 29_999).state).toBe('open');
    expect(h.availability(T0 + 30_000)).toMatchObject({ available: true, state: 'half_open' });
    expect(h.tryAcquire(T0 + 30_000)).toBe(true);
    expect(h.tryAcquire(T0 + 30_001)).toBe(false);
    expect(h.tryAcquire(T0 + 30_002)).toBe(false);
    expect(h.inflight).toBe(1);
  });

  it('a probe success closes the breaker and resets its counters', () => {
    const h = health();
    openBreaker(h, T0);
    expect(h.tryAcquire(T0 + 30_000)).toBe(true);
    h.recordSuccess(T0 + 30_100, 80);
    h.release();
    expect(h.availability(T0 + 30_100)).toEqual({ available: true, state: 'healthy' });
    expect(h.tryAcquire(T0 + 30_100)).toBe(true);
    expect(h.tryAcquire(T0 + 30_100)).toBe(true);
    // counters were reset: it takes a full threshold of failures to open again
    h.recordFailure(T0 + 30_200, 'server');
    h.recordFailure(T0 + 30_200, 'server');
    expect(h.availability(T0 + 30_200).state).toBe('healthy');
  });

  it('a probe failure opens it again for another cooldown', () => {
    const h = health();
    openBreaker(h, T0);
    expect(h.tryAcquire(T0 + 30_000)).toBe(true);
    h.recordFailure(T0 + 31_000, 'connection');
    h.release();
    const a = h.availability(T0 + 31_000);
    expect(a).toMatchObject({ available: false, state: 'open', until: T0 + 61_000 });
    expect(a.reason).toMatch(/half-open probe failed \(connection\)/);
    expect(h.availability(T0 + 61_000).state).toBe('half_open');
    expect(h.tryAcquire(T0 + 61_000)).toBe(true);
  });

  it('an abandoned probe (released with no outcome) frees the slot', () => {
    const h = health();
    openBreaker(h, T0);
    expect(h.tryAcquire(T0 + 30_000)).toBe(true);
    h.release();
    expect(h.availability(T0 + 30_001).state).toBe('half_open');
    expect(h.tryAcquire(T0 + 30_001)).toBe(true);
  });

  it('stragglers sent before the breaker opened neither close nor extend it during the cooldown', () => {
    const h = health();
    openBreaker(h, T0);
    h.recordSuccess(T0 + 1000, 100);
    h.recordFailure(T0 + 2000, 'server');
    expect(h.availability(T0 + 2000)).toMatchObject({ state: 'open', until: T0 + 30_000 });
  });

  it('request-fault kinds change nothing', () => {
    const h = health({ failure_threshold: 1, min_requests: 1 });
    for (const kind of ['bad_request', 'context_length', 'content_policy', 'not_found', 'budget'] as const) {
      h.recordFailure(T0, kind, 5000);
    }
    expect(h.availability(T0)).toEqual({ available: true, state: 'healthy' });
  });
});

describe('DeploymentHealth cooldowns', () => {
  it('a 429 cools it down for retryAfterMs without counting toward the breaker', () => {
    const h = health({ failure_threshold: 1, min_requests: 1 });
    h.recordFailure(T0, 'rate_limited', 2500);
    expect(h.availability(T0 + 1)).toMatchObject({ available: false, state: 'rate_limited', until: T0 + 2500 });
    expect(h.tryAcquire(T0 + 2499)).toBe(false);
    expect(h.availability(T0 + 2500)).toEqual({ available: true, state: 'healthy' });
    expect(h.tryAcquire(T0 + 2500)).toBe(true);
  });

  it('a 429 with no hint imposes no wait (the retry backs off with jitter): the deployment is only steered around for 1 s', () => {
    const h = health();
    h.recordFailure(T0, 'rate_limited');
    // A fixed 1 s hold released every request that met it at the same instant (issue 20.1).
    expect(h.availability(T0)).toEqual({ available: true, state: 'healthy' });
    expect(h.tryAcquire(T0)).toBe(true);
    expect([h.throttled(T0), h.throttled(T0 + 999), h.throttled(T0 + 1000)]).toEqual([true, true, false]);
    h.recordFailure(T0 + 500, 'rate_limited');
    expect(h.throttled(T0 + 1499)).toBe(true);
    expect(h.withPolicy({ ...policy, cooldown_s: 1 }).throttled(T0 + 1499)).toBe(true); // a reload keeps it
  });

  it('a burst of 429s is one cooldown: answers of the same burst, ms apart, do not push it further', () => {
    const h = health();
    h.recordFailure(T0, 'rate_limited', 2000);
    // Requests that were in flight when the first answer came: "Retry-After: 2" each, from a little later.
    for (const at of [T0 + 3, T0 + 40, T0 + 400, T0 + 990]) h.recordFailure(at, 'rate_limited', 2000);
    expect(h.availability(T0 + 1000)).toMatchObject({ state: 'rate_limited', until: T0 + 2000 });
    expect(h.availability(T0 + 2000)).toEqual({ available: true, state: 'healthy' });
  });

  it('a 429 of the burst whose hint reaches more than 1 s further (a later date, a longer window) does extend it', () => {
    const h = health();
    h.recordFailure(T0, 'rate_limited', 2000);
    h.recordFailure(T0 + 10, 'rate_limited', 2990); // T0 + 3000: within the 1 s resolution of Retry-After
    expect(h.availability(T0).until).toBe(T0 + 2000);
    h.recordFailure(T0 + 20, 'rate_limited', 4980); // T0 + 5000
    expect(h.availability(T0).until).toBe(T0 + 5000);
    // Once it has passed, the next 429 is a new cooldown, whatever its length.
    h.recordFailure(T0 + 5000, 'rate_limited', 300);
    expect(h.availability(T0 + 5001)).toMatchObject({ state: 'rate_limited', until: T0 + 5300 });
  });

  it('a burst of 503s with Retry-After is one cooldown too', () => {
    const h = health({ failure_threshold: 100, min_requests: 100 });
    h.recordFailure(T0, 'overloaded', 2000);
    for (const at of [T0 + 5, T0 + 50, T0 + 500]) h.recordFailure(at, 'overloaded', 2000);
    expect(h.availability(T0 + 1000)).toMatchObject({ state: 'cooling_down', until: T0 + 2000 });
  });

  it('a later, longer 429 extends the cooldown; a shorter one does not shorten it', () => {
    const h = health();
    h.recordFailure(T0, 'rate_limited', 5000);
    h.recordFailure(T0 + 1000, 'rate_limited', 1000);
    expect(h.availability(T0 + 2000)).toMatchObject({ state: 'rate_limited', until: T0 + 5000 });
    h.recordFailure(T0 + 2000, 'rate_limited', 10_000);
    expect(h.availability(T0 + 2000)).toMatchObject({ state: 'rate_limited', until: T0 + 12_000 });
  });

  it('markExhausted holds it until the rate-limit reset', () => {
    const h = health();
    h.markExhausted(T0 + 6000);
    expect(h.availability(T0)).toMatchObject({
      available: false,
      state: 'rate_limited',
      until: T0 + 6000,
      reason: expect.stringMatching(/remaining reached 0/),
    });
    h.markExhausted(T0 + 3000);
    expect(h.availability(T0 + 5999).until).toBe(T0 + 6000);
    expect(h.availability(T0 + 6000).state).toBe('healthy');
  });

  it('a Retry-After on a 5xx-class failure cools it down and still counts toward the breaker', () => {
    const h = health();
    h.recordFailure(T0, 'overloaded', 4000);
    expect(h.availability(T0)).toMatchObject({ available: false, state: 'cooling_down', until: T0 + 4000 });
    h.recordFailure(T0, 'overloaded');
    h.recordFailure(T0, 'overloaded');
    expect(h.availability(T0).state).toBe('open');
  });

  it('disable takes it out of rotation for good; a 401/403 does that', () => {
    const h = health();
    h.recordFailure(T0, 'auth');
    expect(h.availability(T0 + 3_600_000)).toEqual({
      available: false,
      state: 'disabled',
      reason: 'upstream rejected credentials',
    });
    expect(h.tryAcquire(T0 + 3_600_000)).toBe(false);
    h.recordSuccess(T0, 100);
    expect(h.availability(T0).state).toBe('disabled');
  });

  it('state priority: disabled > open > rate_limited > half_open > healthy', () => {
    const h = health();
    openBreaker(h, T0);
    h.recordFailure(T0 + 1000, 'rate_limited', 60_000); // a straggler's 429 outlasts the breaker's cooldown
    // open reports when it can really be tried again
    expect(h.availability(T0 + 2000)).toMatchObject({ state: 'open', until: T0 + 61_000 });
    // past the breaker cooldown, the Retry-After still holds the probe back
    expect(h.availability(T0 + 30_000)).toMatchObject({ available: false, state: 'rate_limited', until: T0 + 61_000 });
    expect(h.tryAcquire(T0 + 30_000)).toBe(false);
    expect(h.availability(T0 + 61_000).state).toBe('half_open');
    h.disable('key revoked');
    expect(h.availability(T0 + 2000)).toEqual({ available: false, state: 'disabled', reason: 'key revoked' });
  });
});

describe('DeploymentHealth inflight and latency', () => {
  it('counts attempts in flight and never goes below zero', () => {
    const h = health();
    expect(h.tryAcquire(T0)).toBe(true);
    expect(h.tryAcquire(T0)).toBe(true);
    expect(h.inflight).toBe(2);
    h.release();
    h.release();
    h.release();
    expect(h.inflight).toBe(0);
    h.recordFailure(T0, 'rate_limited', 1000);
    expect(h.tryAcquire(T0)).toBe(false);
    expect(h.inflight).toBe(0);
  });

  it('latency is undefined until the first success, and failures do not feed it', () => {
    const h = health();
    expect(h.latency(T0)).toBeUndefined();
    h.recordFailure(T0, 'timeout');
    expect(h.latency(T0)).toBeUndefined();
    h.recordSuccess(T0, 120);
    expect(h.latency(T0)).toBe(120);
  });

  it('peak-EWMA jumps to a slower sample at once', () => {
    const h = health();
    h.recordSuccess(T0, 100);
    h.recordSuccess(T0 + 10, 400);
    expect(h.latency(T0 + 10)).toBe(400);
  });

  it('peak-EWMA decays toward a faster sample with weight exp(-Δt/10 s)', () => {
    const h = health();
    h.recordSuccess(T0, 300);
    h.recordSuccess(T0 + 10_000, 100);
    const w = Math.exp(-1);
    expect(h.latency(T0 + 10_000)).toBeCloseTo(300 * w + 100 * (1 - w), 9);
    // samples close together barely move it
    const h2 = health();
    h2.recordSuccess(T0, 300);
    h2.recordSuccess(T0 + 10, 100);
    expect(h2.latency(T0 + 10)).toBeGreaterThan(299);
  });

  it('a stale estimate fades while the deployment gets no traffic, so it is explored again', () => {
    const h = health();
    h.recordSuccess(T0, 300);
    expect(h.latency(T0 + 10_000)).toBeCloseTo(300 * Math.exp(-1), 9);
    expect(h.latency(T0 + 60_000)).toBeLessThan(1);
  });
});

describe('HealthRegistry', () => {
  it('creates one health per id with its policy, on first use', () => {
    const asked: string[] = [];
    const reg = new HealthRegistry((id) => {
      asked.push(id);
      return id.startsWith('strict/') ? { ...policy, failure_threshold: 1 } : policy;
    });
    const a = reg.get('strict/m');
    expect(reg.get('strict/m')).toBe(a);
    expect(reg.get('lax/m').policy.failure_threshold).toBe(3);
    expect(a.policy.failure_threshold).toBe(1);
    expect(asked).toEqual(['strict/m', 'lax/m']);
  });

  it('snapshot lists each deployment with its state, in-flight count and latency', () => {
    const reg = new HealthRegistry(() => policy);
    expect(reg.snapshot(T0)).toEqual([]);
    const east = reg.get('openai-east/gpt-4o');
    east.tryAcquire(T0);
    east.recordSuccess(T0, 90);
    east.tryAcquire(T0);
    reg.get('openai-west/gpt-4o').recordFailure(T0, 'rate_limited', 3000);
    reg.get('anthropic/claude').disable('upstream rejected credentials');
    expect(reg.snapshot(T0)).toEqual([
      { id: 'openai-east/gpt-4o', available: true, state: 'healthy', inflight: 2, latencyMs: 90 },
      {
        id: 'openai-west/gpt-4o',
        available: false,
        state: 'rate_limited',
        until: T0 + 3000,
        reason: 'upstream rate limit (429)',
        inflight: 0,
      },
      {
        id: 'anthropic/claude',
        available: false,
        state: 'disabled',
        reason: 'upstream rejected credentials',
        inflight: 0,
      },
    ]);
  });
});
