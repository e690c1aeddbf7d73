// Resilience end to end, inside one model: the official OpenAI SDK → lifeline serve → one or more mocks, over real
// sockets. Retries of a deployment (backoff and retry-after hints, as logged), failover to the next deployment,
// keys taken out of rotation, rate-limit headers steering traffic, deadlines, and the answers when everything is
// down. The chaos suite (test/chaos/faults.test.ts) covers behaviour at volume and timing; fallbacks to other models are
// in resilience-fallbacks.test.ts.
import type { AttemptRecord } from '../../src/pipeline/index.js';
import { describe, expect, it } from 'vitest';
import type { FaultPlan } from '../../src/mock/index.js';
import { apiError, chat, FAST_RETRY, messages, single, withWorld } from '../support/resilience.js';
import { eventually, SLACK_MS } from '../support/timing.js';

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

type LoggedAttempt = AttemptRecord;

/** The gateway's access-log line for a request (written just after the response ends, so poll for it). */
async function requestLine(lines: string[], requestId: string): Promise<{ status: number; attempts: LoggedAttempt[]; [k: string]: unknown }> {
  const find = () =>
    lines.map((l) => JSON.parse(l) as { msg?: string; requestId?: string }).find((l) => l.msg === 'request' && l.requestId === requestId);
  if (!(await eventually(() => find() !== undefined))) throw new Error(`no request log line for ${requestId}`);
  return find() as never;
}

// ---------------------------------------------------------------------------------------------------------

describe('retries and failover inside one model', () => {
  it('retries the same deployment after a 5xx, and logs every attempt', async () => {
    const config = { models: { solo: single('only', 'mock-solo') } };
    await withWorld({ only: { script: [{ status: 502 }, {}] } }, config, async ({ client, mocks, lines }) => {
      const { data, response } = await chat(client, 'solo', { 'x-request-id': 'retry-log-1' });
      expect(data.choices[0]?.message.content).toBe(mocks.only!.answerFor({ model: 'mock-solo', messages }));
      expect(response.headers.get('x-lifeline-attempts')).toBe('2');
      expect(response.headers.get('x-lifeline-deployment')).toBe('only/mock-solo');
      expect(mocks.only!.stats().requests).toBe(2);

      const line = await requestLine(lines, 'retry-log-1');
      expect(line).toMatchObject({ status: 200, model: 'solo', deployment: 'only/mock-solo' });
      expect(line.attempts).toHaveLength(2);
      const [first, second] = line.attempts as [LoggedAttempt, LoggedAttempt];
      expect(first).toMatchObject({ deployment: 'only/mock-solo', status: 502, kind: 'server', upstreamRequestId: 'mock-req-1' });
      expect(first.ms).toBeGreaterThanOrEqual(0);
      expect(first.waitedMs).toBeUndefined(); // nothing is waited before a first attempt
      expect(second).toMatchObject({ deployment: 'only/mock-solo', status: 200, upstreamRequestId: 'mock-req-2' });
      expect(second.kind).toBeUndefined();
      expect(second.ms).toBeGreaterThanOrEqual(0);
      // The jittered backoff is in [0, base_delay_ms); the pipeline leaves out a wait of 0 ms.
      expect(second.waitedMs ?? 0).toBeGreaterThanOrEqual(0);
      expect(second.waitedMs ?? 0).toBeLessThan(FAST_RETRY.base_delay_ms);
    });
  });

  it('a 5xx with retry-after-ms: the retry waits the hint once (not twice), and waitedMs records it', async () => {
    // Long enough that "once" and "twice" are seconds apart, whatever else the machine is doing.
    const hint = 1500;
    const config = { models: { solo: single('only', 'mock-solo') } };
    await withWorld({ only: { script: [{ status: 503, retry_after_ms: hint }, {}] } }, config, async ({ client, mocks, lines }) => {
      const { response } = await chat(client, 'solo', { 'x-request-id': 'retry-hint-1' });
      expect(response.headers.get('x-lifeline-attempts')).toBe('2');
      const [first, second] = mocks.only!.stats().records;
      const gap = second!.at - first!.finishedAt!;
      expect(gap).toBeGreaterThanOrEqual(hint - 5);
      expect(gap).toBeLessThan(2 * hint); // waiting the hint twice would be ≥ 2 × hint
      const line = await requestLine(lines, 'retry-hint-1');
      // The log accounts for the wait: the hint (measured from the failure, so a few ms of processing come off),
      // and no more than the mock saw pass between the failed answer and the retry.
      expect(line.attempts[1]?.waitedMs).toBeGreaterThanOrEqual(hint - 5);
      expect(line.attempts[1]!.waitedMs!).toBeLessThanOrEqual(gap + 5);
    });
  });

  it('fails over to the next deployment at once, without a backoff', async () => {
    // A backoff drawn from [0, 60 s) would show in the elapsed time (past SLACK_MS 11 times in 12) and as waitedMs.
    const config = {
      retry: { base_delay_ms: 60_000, max_delay_ms: 60_000 },
      models: {
        tiered: {
          strategy: 'priority',
          targets: [
            { provider: 'first', model: 'mock-a', priority: 1 },
            { provider: 'second', model: 'mock-b', priority: 2 },
          ],
        },
      },
    };
    await withWorld({ first: { script: [{ status: 500 }] }, second: {} }, config, async ({ client, mocks, lines }) => {
      const { value, ms } = await timed(() => chat(client, 'tiered', { 'x-request-id': 'failover-1' }));
      const { data, response } = value;
      expect(data.choices[0]?.message.content).toBe(mocks.second!.answerFor({ model: 'mock-b', messages }));
      expect(response.headers.get('x-lifeline-attempts')).toBe('2');
      expect(response.headers.get('x-lifeline-deployment')).toBe('second/mock-b');
      expect(response.headers.get('x-lifeline-fallback')).toBeNull(); // same model, another deployment
      expect(mocks.first!.stats().requests).toBe(1);
      expect(mocks.second!.stats().requests).toBe(1);
      expect(ms).toBeLessThan(SLACK_MS);
      const line = await requestLine(lines, 'failover-1');
      expect(line.attempts.map((a) => a.deployment)).toEqual(['first/mock-a', 'second/mock-b']);
      expect(line.attempts[1]?.waitedMs).toBeUndefined();
    });
  });

  it('a 401 takes that key out of rotation: requests succeed on the other key, the bad one gets nothing more', async () => {
    const config = {
      models: {
        keyed: {
          strategy: 'priority',
          targets: [
            { provider: 'keyone', model: 'mock-k', priority: 1 },
            { provider: 'keytwo', model: 'mock-k', priority: 2 },
          ],
        },
      },
    };
    await withWorld({ keyone: { default: { status: 401 } }, keytwo: {} }, config, async ({ client, mocks, lines }) => {
      const { response } = await chat(client, 'keyed');
      expect(response.headers.get('x-lifeline-deployment')).toBe('keytwo/mock-k');
      expect(response.headers.get('x-lifeline-attempts')).toBe('2');
      expect(mocks.keyone!.stats().requests).toBe(1);
      for (let i = 0; i < 10; i++) {
        const { response: r } = await chat(client, 'keyed');
        expect(r.headers.get('x-lifeline-deployment')).toBe('keytwo/mock-k');
        expect(r.headers.get('x-lifeline-attempts')).toBe('1');
      }
      expect(mocks.keyone!.stats().requests).toBe(1);
      expect(mocks.keytwo!.stats().requests).toBe(11);
      // Loudly: an error-level line naming the provider whose key was rejected, and never the key itself.
      expect(lines.some((l) => l.includes('"level":50') && l.includes('keyone/mock-k') && l.includes('"provider":"keyone"'))).toBe(true);
      for (const l of lines) expect(l).not.toContain('sk-keyone-provider-key');
    });
  });

  it('x-ratelimit-remaining-requests: 0 on a success steers traffic to the other deployment until the reset', async () => {
    // The reset window holds the ten requests below however slowly they go (each may take up to 0.5 s).
    const resetMs = 5000;
    const exhausted: FaultPlan = { default: { headers: { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': `${resetMs / 1000}s` } } };
    const config = {
      models: {
        // Weighted so that A takes (practically) every request while it is available.
        spread: {
          targets: [
            { provider: 'a', model: 'mock-s', weight: 1_000_000 },
            { provider: 'b', model: 'mock-s', weight: 1 },
          ],
        },
      },
    };
    await withWorld({ a: exhausted, b: {} }, config, async ({ client, mocks }) => {
      const { response } = await chat(client, 'spread');
      const exhaustedAt = Date.now();
      expect(response.headers.get('x-lifeline-deployment')).toBe('a/mock-s');
      for (let i = 0; i < 10; i++) {
        const { response: r } = await chat(client, 'spread');
        expect(r.headers.get('x-lifeline-deployment')).toBe('b/mock-s');
        expect(r.headers.get('x-lifeline-attempts')).toBe('1');
      }
      expect(Date.now() - exhaustedAt).toBeLessThan(resetMs); // the ten requests above all fell inside the reset window
      expect(mocks.a!.stats().requests).toBe(1);
      expect(mocks.b!.stats().requests).toBe(10);
      // After the reset A is back.
      await new Promise((r) => setTimeout(r, Math.max(0, exhaustedAt + resetMs + 300 - Date.now())));
      const { response: after } = await chat(client, 'spread');
      expect(after.headers.get('x-lifeline-deployment')).toBe('a/mock-s');
      expect(mocks.a!.stats().requests).toBe(2);
    });
  });
});

describe('deadlines', () => {
  // first_byte_ms far above the 300 ms deadline plus SLACK_MS: only the deadline can end the hung request in time.
  const config = { timeouts: { first_byte_ms: 20_000 }, models: { slow: single('hung', 'mock-slow') } };

  it('x-lifeline-timeout-ms lowers the deadline: a hung upstream ends in 504 total_timeout on time', async () => {
    await withWorld({ hung: { default: { hang: true } } }, config, async ({ client }) => {
      const { value: err, ms } = await timed(() => apiError(chat(client, 'slow', { 'x-lifeline-timeout-ms': '300' })));
      expect(err.status).toBe(504);
      expect(err.code).toBe('total_timeout');
      expect(err.message).toContain('300 ms');
      expect(ms).toBeGreaterThanOrEqual(290);
      expect(ms).toBeLessThan(300 + SLACK_MS);
    });
  });

  it('an invalid x-lifeline-timeout-ms is a 400 naming the header, and nothing goes upstream', async () => {
    await withWorld({ hung: {} }, config, async ({ client, mocks }) => {
      const err = await apiError(chat(client, 'slow', { 'x-lifeline-timeout-ms': 'abc' }));
      expect(err.status).toBe(400);
      expect(err.message).toContain('x-lifeline-timeout-ms');
      expect(err.param).toBe('x-lifeline-timeout-ms');
      expect(mocks.hung!.stats().requests).toBe(0);
    });
  });
});

describe('everything down', () => {
  it('an open breaker answers 503 at once with Retry-After, naming the deployment and "circuit open"', async () => {
    const config = {
      retry: { ...FAST_RETRY, max_attempts: 1 },
      health: { failure_threshold: 2, cooldown_s: 30 },
      models: { solo: single('down', 'mock-down') },
    };
    await withWorld({ down: { default: { status: 500 } } }, config, async ({ client, mocks }) => {
      for (let i = 0; i < 2; i++) expect((await apiError(chat(client, 'solo'))).status).toBe(502);
      expect(mocks.down!.stats().requests).toBe(2); // the breaker is open now
      const { value: err, ms } = await timed(() => apiError(chat(client, 'solo')));
      // One comparison, so a failure shows status, latency and upstream traffic together.
      expect({ status: err.status, atOnce: ms < SLACK_MS, upstreamRequests: mocks.down!.stats().requests }).toEqual({
        status: 503,
        atOnce: true, // not after sleeping through the 30 s cooldown
        upstreamRequests: 2, // this request reached no upstream
      });
      const retryAfter = Number(err.headers?.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(30);
      expect(err.message).toContain('down/mock-down');
      expect(err.message).toContain('circuit open');
    });
  });

  it('every deployment rate-limited: 429 at once with Retry-After close to the upstream\'s 30 s', async () => {
    const limited: FaultPlan = { default: { status: 429, retry_after: 30 } };
    const config = {
      // A 30 s hint is longer than this request may wait for (20 s), so it is not slept through; sleeping up to
      // that cap would show too.
      retry: { ...FAST_RETRY, max_retry_after_ms: 20_000 },
      models: { both: { targets: [{ provider: 'r1', model: 'mock-r' }, { provider: 'r2', model: 'mock-r' }] } },
    };
    await withWorld({ r1: limited, r2: limited }, config, async ({ client, mocks }) => {
      const first = await timed(() => apiError(chat(client, 'both')));
      expect(first.value.status).toBe(429);
      expect(first.ms).toBeLessThan(SLACK_MS);
      expect(mocks.r1!.stats().requests + mocks.r2!.stats().requests).toBe(2); // each tried once, neither retried
      for (const { value: err, ms } of [first, await timed(() => apiError(chat(client, 'both')))]) {
        expect(err.status).toBe(429);
        const retryAfter = Number(err.headers?.get('retry-after'));
        expect(retryAfter).toBeGreaterThanOrEqual(28);
        expect(retryAfter).toBeLessThanOrEqual(30);
        expect(ms).toBeLessThan(SLACK_MS);
      }
      expect(mocks.r1!.stats().requests + mocks.r2!.stats().requests).toBe(2); // the second went nowhere
    });
  });
});
