// Chaos: a burst of "429 Retry-After: 2" (issue 20). The upstream refuses everything for 2 s from its first request,
// as an exhausted rate limit does, while 50 requests arrive at once. `npm run chaos` runs it and prints the table.
// The bounds asserted are the acceptance figures: every request answered, none waiting more than ~2.5 s
// (the gateway's own logged waits, exactly; the wall clock with SLACK_MS for a busy machine), upstream attempts
// ≤ requests × 1.2.
import { afterAll, describe, expect, it } from 'vitest';
import { load, type Outcome, percentile, send, startWorld, type World } from '../support/world.js';
import { eventually, SLACK_MS } from '../support/timing.js';

interface Row {
  scenario: string;
  requests: number;
  ok: number;
  '429 + Retry-After': number;
  'upstream attempts': number;
  'max wait ms': number;
  'p50 ms': number;
  'p99 ms': number;
  'max ms': number;
}
const rows: Row[] = [];
afterAll(() => {
  console.log('\nchaos suite: rate-limit burst');
  console.table(rows);
});

const BURST = { default: { status: 429, retry_after: 2 }, for_ms: 2000 };
const REQUESTS = 50;
const MAX_WAIT_MS = 2500;
const MAX_AMPLIFICATION = 1.2;

/** The gateway's total wait per request (backoffs and cooldowns), from its request log lines. */
async function waits(world: World, ids: string[]): Promise<number[]> {
  const logged = () => {
    const byId = new Map<string, number>();
    for (const l of world.lines) {
      const line = JSON.parse(l) as { msg?: string; requestId?: string; attempts?: Array<{ waitedMs?: number }> };
      if (line.msg !== 'request' || !line.requestId || !ids.includes(line.requestId)) continue;
      byId.set(line.requestId, (line.attempts ?? []).reduce((sum, a) => sum + (a.waitedMs ?? 0), 0));
    }
    return byId;
  };
  if (!(await eventually(() => logged().size === ids.length))) throw new Error('request log lines missing');
  const byId = logged();
  return ids.map((id) => byId.get(id)!);
}

async function burst(world: World, scenario: string): Promise<{ results: Outcome[]; waited: number[]; upstream: number }> {
  const ids = Array.from({ length: REQUESTS }, (_, i) => `${scenario.replace(/\W+/g, '-')}-${i}`);
  const results = await load(REQUESTS, REQUESTS, (i) => send(world.client, 'chat', false, { 'x-request-id': ids[i]! }));
  const waited = await waits(world, ids);
  const upstream = Object.values(world.mocks).reduce((n, m) => n + m.stats().requests, 0);
  const ms = results.map((r) => r.ms);
  rows.push({
    scenario,
    requests: results.length,
    ok: results.filter((r) => r.ok).length,
    '429 + Retry-After': results.filter((r) => r.status === 429 && Number(r.retryAfter) >= 1).length,
    'upstream attempts': upstream,
    'max wait ms': Math.max(...waited),
    'p50 ms': Math.round(percentile(ms, 50)),
    'p99 ms': Math.round(percentile(ms, 99)),
    'max ms': Math.round(Math.max(...ms)),
  });
  return { results, waited, upstream };
}

describe('chaos: rate-limit burst', () => {
  it(`${REQUESTS} concurrent requests into a "429 Retry-After: 2" burst on one of two deployments: all answered, none waits > 2.5 s, attempts ≤ requests × 1.2`, async () => {
    const world = await startWorld(
      { limited: BURST, spare: {} },
      { models: { chat: { targets: [{ provider: 'limited', model: 'm' }, { provider: 'spare', model: 'm' }] } } },
    );
    try {
      const { results, waited, upstream } = await burst(world, 'burst on 1 of 2');
      expect(results.filter((r) => !r.ok)).toEqual([]);
      expect(Math.max(...waited)).toBeLessThanOrEqual(MAX_WAIT_MS);
      expect(Math.max(...results.map((r) => r.ms))).toBeLessThan(MAX_WAIT_MS + SLACK_MS);
      expect(upstream).toBeLessThanOrEqual(REQUESTS * MAX_AMPLIFICATION);
    } finally {
      await world.close();
    }
  });

  it(`${REQUESTS} concurrent requests into the burst on the only deployment: the retry budget's share waits one cooldown and succeeds, the rest hear 429 + Retry-After at once`, async () => {
    const world = await startWorld({ limited: BURST }, { models: { chat: { targets: [{ provider: 'limited', model: 'm' }] } } });
    try {
      const { results, waited, upstream } = await burst(world, 'burst on the only one');
      // Every request is answered: a success, or the upstream's own verdict with its Retry-After (no 5xx, no hang).
      expect(results.filter((r) => !(r.ok || (r.status === 429 && Number(r.retryAfter) >= 1)))).toEqual([]);
      // The budget's floor (10 retries per window) at least: the waiters were released together when the cooldown
      // ended, and the upstream answered them.
      expect(results.filter((r) => r.ok).length).toBeGreaterThanOrEqual(10);
      expect(Math.max(...waited)).toBeLessThanOrEqual(MAX_WAIT_MS);
      expect(Math.max(...results.map((r) => r.ms))).toBeLessThan(MAX_WAIT_MS + SLACK_MS);
      expect(upstream).toBeLessThanOrEqual(REQUESTS * MAX_AMPLIFICATION);
    } finally {
      await world.close();
    }
  });
});
