// The chaos suite: the resilience engine against `lifeline mock` faults, over real sockets, with the official SDK.
// `npm run chaos` runs it alone and prints the table; `npm test` runs it too. The table's latencies are figures to
// read, not to assert: a test here asserts counts, who answered, and time only against bounds a busy machine
// cannot reach (a limit plus SLACK_MS, far below the hang, cooldown or default timeout the behaviour avoids).
import { afterAll, describe, expect, it } from 'vitest';
import { load, type Row, send, startWorld, summarize } from '../support/world.js';
import { SLACK_MS } from '../support/timing.js';

const rows: Row[] = [];
afterAll(() => {
  console.log('\nchaos suite');
  console.table(rows);
});

const FAST_RETRY = { base_delay_ms: 50, max_delay_ms: 500 };
const single = (provider: string, extra: Record<string, unknown> = {}) => ({ targets: [{ provider, model: 'm' }], ...extra });

describe('chaos', () => {
  for (const stream of [false, true]) {
    it(`30% mixed faults on the primary, healthy fallback: 1,000 ${stream ? 'streamed' : 'JSON'} requests at c=20 all succeed`, async () => {
      const world = await startWorld(
        {
          primary: {
            failure_rate: 0.3,
            mix: [{ status: 500 }, { status: 502 }, { status: 503 }, { status: 429, retry_after: 1 }, { reset: true }],
          },
          backup: {},
        },
        { retry: FAST_RETRY, models: { chat: single('primary', { fallbacks: ['backup-chat'] }), 'backup-chat': single('backup') } },
      );
      try {
        const results = await load(1000, 20, () => send(world.client, 'chat', stream));
        rows.push(summarize(`30% faults, ${stream ? 'stream' : 'json'}`, results, world));
        expect(results.filter((r) => !r.ok)).toEqual([]);
        // Don't amplify: failures move to the fallback instead of multiplying upstream load.
        const upstream = world.mocks.primary!.stats().requests + world.mocks.backup!.stats().requests;
        expect(world.mocks.primary!.stats().requests).toBeGreaterThan(0);
        expect(upstream).toBeLessThanOrEqual(1300);
      } finally {
        await world.close();
      }
    });
  }

  for (const [label, fault, floor] of [
    ['retry-after: 1', { status: 429, retry_after: 1 }, 1000],
    ['retry-after-ms: 600', { status: 429, retry_after_ms: 600 }, 600],
  ] as const) {
    it(`${label} on the only deployment: the retry reaches it ≥ ${floor} ms later, not a cooldown later`, async () => {
      const world = await startWorld({ only: { script: [fault, {}] } }, { retry: FAST_RETRY, models: { chat: single('only') } });
      try {
        const result = await send(world.client, 'chat', false);
        rows.push(summarize(label, [result], world));
        expect(result.ok).toBe(true);
        const [first, second] = world.mocks.only!.stats().records;
        expect(second!.at - first!.at).toBeGreaterThanOrEqual(floor);
        // The hint, not the 30 s health cooldown (default cooldown_s), decides when the deployment is tried again.
        expect(second!.at - first!.at).toBeLessThan(floor + SLACK_MS);
      } finally {
        await world.close();
      }
    });
  }

  it('dead primary (100% 500): of 100 sequential requests it receives ≤ 10, all succeed by fallback', async () => {
    const world = await startWorld(
      { primary: { default: { status: 500 } }, backup: {} },
      { retry: FAST_RETRY, models: { chat: single('primary', { fallbacks: ['backup-chat'] }), 'backup-chat': single('backup') } },
    );
    try {
      const results = await load(100, 1, () => send(world.client, 'chat', false));
      rows.push(summarize('dead primary', results, world));
      expect(results.every((r) => r.ok && r.fallback === 'backup-chat')).toBe(true);
      expect(world.mocks.primary!.stats().requests).toBeLessThanOrEqual(10);
    } finally {
      await world.close();
    }
  });

  it('hung primary: each request fails over after first_byte_ms, long before the hang would end', async () => {
    const world = await startWorld(
      { primary: { default: { hang: true } }, backup: {} },
      {
        retry: FAST_RETRY,
        timeouts: { first_byte_ms: 300 },
        models: { chat: single('primary', { fallbacks: ['backup-chat'] }), 'backup-chat': single('backup') },
      },
    );
    try {
      const results = await load(20, 2, (i) => send(world.client, 'chat', i % 2 === 0));
      rows.push(summarize('hung primary', results, world));
      expect(results.every((r) => r.ok)).toBe(true);
      // The hang never ends; without the first-byte timer a request would wait out the SDK's 60 s timeout.
      expect(Math.max(...results.map((r) => r.ms))).toBeLessThan(300 + SLACK_MS);
    } finally {
      await world.close();
    }
  });

  it('all deployments down: 200 requests cause ≤ 240 upstream attempts; then 503 + Retry-After at once, upstream untouched', async () => {
    const world = await startWorld(
      { a: { default: { status: 500 } }, b: { default: { status: 503 } } },
      {
        retry: FAST_RETRY,
        health: { cooldown_s: 30 },
        models: { chat: single('a', { fallbacks: ['backup-chat'] }), 'backup-chat': single('b') },
      },
    );
    try {
      const results = await load(200, 10, () => send(world.client, 'chat', false));
      const attempts = world.mocks.a!.stats().requests + world.mocks.b!.stats().requests;
      rows.push(summarize('all down', results, world));
      expect(results.every((r) => !r.ok)).toBe(true);
      expect(attempts).toBeLessThanOrEqual(240);
      const after = await load(20, 1, () => send(world.client, 'chat', false));
      for (const r of after) {
        expect(r.status).toBe(503);
        expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
        expect(r.ms).toBeLessThan(SLACK_MS); // not after waiting out the 30 s cooldown
      }
      expect(world.mocks.a!.stats().requests + world.mocks.b!.stats().requests).toBe(attempts);
    } finally {
      await world.close();
    }
  });

  it('recovery: when the outage ends, traffic is back on the primary after its 1 s cooldown, not the default 30 s', async () => {
    const cooldownMs = 1000;
    const world = await startWorld(
      { primary: { default: { status: 500 } }, backup: {} },
      {
        retry: FAST_RETRY,
        health: { cooldown_s: cooldownMs / 1000, failure_threshold: 3 },
        models: { chat: single('primary', { fallbacks: ['backup-chat'] }), 'backup-chat': single('backup') },
      },
    );
    try {
      const outage = await load(10, 1, () => send(world.client, 'chat', false));
      expect(outage.every((r) => r.ok && r.fallback)).toBe(true);
      world.mocks.primary!.setPlan({});
      const healedAt = performance.now();
      let backOnPrimaryAfter = Number.POSITIVE_INFINITY;
      const results = [...outage];
      while (performance.now() - healedAt < cooldownMs + SLACK_MS) {
        const r = await send(world.client, 'chat', false);
        results.push(r);
        if (r.ok && !r.fallback) {
          backOnPrimaryAfter = performance.now() - healedAt;
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      rows.push(summarize('recovery', results, world));
      expect(backOnPrimaryAfter).toBeLessThanOrEqual(cooldownMs + SLACK_MS);
    } finally {
      await world.close();
    }
  });

  it('latency strategy: a target with 300 ms first-byte delay gets ≤ 20 % of 500 requests', async () => {
    const world = await startWorld(
      { fast: {}, slow: { default: { latency_ms: 300 } } },
      {
        models: {
          chat: { strategy: 'latency', targets: [{ provider: 'fast', model: 'm' }, { provider: 'slow', model: 'm' }] },
        },
      },
    );
    try {
      const results = await load(500, 10, () => send(world.client, 'chat', false));
      rows.push(summarize('latency strategy', results, world));
      expect(results.every((r) => r.ok)).toBe(true);
      expect(world.mocks.slow!.stats().requests).toBeLessThanOrEqual(100);
    } finally {
      await world.close();
    }
  });
});
