// Issue 20 end to end (the official OpenAI SDK → lifeline serve → mocks, over real sockets): a 429 without a hint is
// retried after a jittered backoff, a burst of 429s with Retry-After is one cooldown that its waiters come out of
// together, and failovers are bounded per model (failover budget) and per request (retry.max_attempts_per_request).
// The pure decisions are in unit/resilience/resilience.test.ts and unit/routing/health.test.ts; the chaos figure in chaos/ratelimit.test.ts.
import { describe, expect, it } from 'vitest';
import type { AttemptRecord } from '../../src/pipeline/index.js';
import { load, send } from '../support/world.js';
import { apiError, chat, FAST_RETRY, single, withWorld } from '../support/resilience.js';
import { eventually } from '../support/timing.js';

interface RequestLine {
  requestId: string;
  status: number;
  attempts: AttemptRecord[];
}

/** The access-log lines of `ids` (written just after each response ends, so polled for). */
async function requestLines(lines: string[], ids: string[]): Promise<RequestLine[]> {
  const find = () => {
    const byId = new Map<string, RequestLine>();
    for (const l of lines) {
      const line = JSON.parse(l) as { msg?: string } & RequestLine;
      if (line.msg === 'request' && ids.includes(line.requestId)) byId.set(line.requestId, line);
    }
    return ids.map((id) => byId.get(id)).filter((l): l is RequestLine => l !== undefined);
  };
  if (!(await eventually(() => find().length === ids.length))) throw new Error(`request log lines missing: ${ids.length - find().length}`);
  return find();
}

const waited = (line: RequestLine) => line.attempts.reduce((sum, a) => sum + (a.waitedMs ?? 0), 0);
const upstream = (mocks: Record<string, { stats(): { requests: number } }>) => Object.values(mocks).reduce((n, m) => n + m.stats().requests, 0);
const NO_BREAKER = { failure_threshold: 1_000_000, min_requests: 1_000_000 };

describe('429s', () => {
  it('a 429 without a hint is retried after the full-jitter backoff of a 5xx, not after a fixed 1 s', async () => {
    const n = 6;
    const plan = { script: Array.from({ length: n }, () => [{ status: 429 }, {}]).flat() };
    await withWorld({ only: plan }, { models: { solo: single('only', 'mock-solo') } }, async ({ client, mocks, lines }) => {
      const ids = Array.from({ length: n }, (_, i) => `no-hint-${i}`);
      for (const id of ids) {
        const { response } = await chat(client, 'solo', { 'x-request-id': id });
        expect(response.headers.get('x-lifeline-attempts')).toBe('2');
      }
      expect(mocks.only!.stats().requests).toBe(2 * n);
      // The logged wait is the delay the gateway chose: the first retry's draw is in [0, base_delay_ms). The fixed
      // wait was the 1 s hold, the same for every request.
      for (const line of await requestLines(lines, ids)) {
        expect(line.attempts[0]).toMatchObject({ status: 429, kind: 'rate_limited' });
        expect(line.attempts[1]!.waitedMs ?? 0).toBeLessThan(FAST_RETRY.base_delay_ms);
      }
    });
  });

  it('a burst of "429 Retry-After: 2" on the only deployment: 10 concurrent requests wait one cooldown, then all succeed', async () => {
    // The upstream refuses everything for 2 s from its first request, as an exhausted rate limit does.
    const plan = { default: { status: 429, retry_after: 2 }, for_ms: 2000 };
    await withWorld({ only: plan }, { models: { solo: single('only', 'mock-solo') } }, async ({ client, mocks, lines }) => {
      const n = 10;
      const ids = Array.from({ length: n }, (_, i) => `burst-${i}`);
      const results = await load(n, n, (i) => send(client, 'solo', false, { 'x-request-id': ids[i]! }));
      expect(results.map((r) => r.status)).toEqual(Array.from({ length: n }, () => 200));
      const logged = await requestLines(lines, ids);
      for (const line of logged) {
        // At most one attempt in the burst and one after it; the wait is one cooldown (≤ the 2 s hint), not two.
        expect(line.attempts.length).toBeLessThanOrEqual(2);
        expect(line.attempts.at(-1)).toMatchObject({ status: 200 });
        expect(waited(line)).toBeLessThanOrEqual(2000 + 50);
      }
      expect(upstream(mocks)).toBeLessThanOrEqual(2 * n);
      // Released together when the cooldown ended: every retry reached the upstream after the burst, none before.
      const records = mocks.only!.stats().records;
      const first = records[0]!.at;
      expect(records.filter((r) => r.status === 200).every((r) => r.at >= first + 2000)).toBe(true);
    });
  });
});

describe('failover bounds', () => {
  it('two failing deployments, breakers off: failovers are charged to the model\'s budget, not free (was 2.27 attempts per request)', async () => {
    const config = { health: NO_BREAKER, models: { pair: { targets: [{ provider: 'a', model: 'mock-p' }, { provider: 'b', model: 'mock-p' }] } } };
    await withWorld({ a: { default: { status: 500 } }, b: { default: { status: 500 } } }, config, async ({ client, mocks }) => {
      const n = 200;
      const results = await load(n, 10, () => send(client, 'pair', false));
      expect(results.every((r) => r.status === 502)).toBe(true);
      // Within one 10 s window: failovers ≤ 0.1 × 200 + 10 = 30, retries ≤ Σ per deployment (0.1 × its first
      // attempts + 10) ≈ 0.1 × 230 + 20 = 43: about 1.37 attempts per request, well under 1.5 even across two windows.
      expect(upstream(mocks)).toBeLessThanOrEqual(n * 1.5);
    });
  });

  it('retry.max_attempts_per_request caps every attempt of a request: deployments and fallback models together', async () => {
    const dead = { default: { status: 500 } };
    const trio = (suffix: string) => ({
      targets: ['a', 'b', 'c'].map((provider) => ({ provider, model: `mock-${suffix}` })),
    });
    const models = { main: { ...trio('main'), fallbacks: ['second', 'third'] }, second: trio('second'), third: trio('third') };
    for (const [retry, cap] of [[{}, 6], [{ max_attempts_per_request: 2 }, 2]] as const) {
      await withWorld({ a: dead, b: dead, c: dead }, { health: NO_BREAKER, retry: { ...FAST_RETRY, ...retry }, models }, async ({ client, mocks }) => {
        const err = await apiError(chat(client, 'main'));
        expect(err.status).toBe(502);
        // Without the cap: 3 attempts on each of the three models, 9.
        expect(err.headers?.get('x-lifeline-attempts')).toBe(String(cap));
        expect(upstream(mocks)).toBe(cap);
      });
    }
  });
});
