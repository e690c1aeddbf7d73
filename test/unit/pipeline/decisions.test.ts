/**
 * The decision loop without sockets (pipeline/model-loop.ts, pipeline.ts): retries and failover, each as a table.
 * A real config and a real Pipeline over a scripted upstream (test/support/decision-loop.ts): what is asserted is
 * which deployments were called, in what order, who answered, and the error's kind, never how long anything took.
 * Budgets, breakers and deadlines: decisions-limits.test.ts.
 */
import { describe, expect, it, vi } from 'vitest';
import { Harness, type Outcome, type Overrides, type RequestOptions, until } from '../../support/decision-loop.js';
import { OK, type Step } from '../../support/fake-upstream.js';

const E = 'east/m';
const W = 'west/m';
const S = 'spare/m';

interface Row {
  name: string;
  model: 'solo' | 'pair';
  script: Record<string, Step[]>;
  over?: Overrides;
  opts?: RequestOptions;
  /** The upstream calls, in order (and the attempts the answer reports). */
  calls: string[];
  /** The deployment that answered; absent when the request fails with `error`. */
  answer?: string;
  fallback?: string;
  error?: { kind: string; code?: string; status?: number };
  /** Per attempt: whether it came after a wait (a backoff or the upstream's hint), or at once. */
  waited?: boolean[];
  /** Streams: the text the client got. */
  text?: string;
}

async function check(row: Row): Promise<Outcome> {
  const out = await new Harness(row.script, row.over).send(row.model, row.opts);
  expect(out.calls).toEqual(row.calls);
  expect(out.attempts.map((a) => a.deployment)).toEqual(row.calls);
  if (row.error) {
    expect(out.answer).toBeUndefined();
    expect(out.error).toMatchObject(row.error);
  } else {
    expect(out.error).toBeUndefined();
    expect(out.answer).toBe(row.answer);
    expect(out.fallback).toBe(row.fallback);
  }
  if (row.waited) expect(out.attempts.map((a) => (a.waitedMs ?? 0) > 0)).toEqual(row.waited);
  if (row.text !== undefined) expect(out.text).toBe(row.text);
  return out;
}

const status = (code: number, headers: Record<string, string> = {}): Step => ({ status: code, headers });

describe('retries: one deployment (model solo)', () => {
  const rows: Row[] = [
    {
      name: '500 then 200: the same deployment again, after a backoff',
      model: 'solo',
      script: { [E]: [status(500), OK] },
      calls: [E, E],
      answer: E,
      waited: [false, true],
    },
    {
      name: '502, 503 then 200: retried up to retry.max_attempts (3)',
      model: 'solo',
      script: { [E]: [status(502), status(503), OK] },
      calls: [E, E, E],
      answer: E,
      waited: [false, true, true],
    },
    {
      name: '500 every time: max_attempts (3) calls, then the upstream\'s error',
      model: 'solo',
      script: { [E]: [status(500)] },
      calls: [E, E, E],
      error: { kind: 'server', status: 502 },
    },
    {
      name: 'max_attempts: 1 on the model: one call, no retry',
      model: 'solo',
      script: { [E]: [status(500), OK] },
      over: { models: { solo: { retry: { max_attempts: 1 } } } },
      calls: [E],
      error: { kind: 'server' },
    },
    {
      name: '400: never retried, the client\'s error goes back as is',
      model: 'solo',
      script: { [E]: [status(400), OK] },
      calls: [E],
      error: { kind: 'bad_request', status: 400 },
    },
    {
      name: 'a 503 with x-should-retry: false: the upstream says no retry',
      model: 'solo',
      script: { [E]: [status(503, { 'x-should-retry': 'false' }), OK] },
      calls: [E],
      error: { kind: 'overloaded' },
    },
    {
      name: 'a connection failure then 200: retried',
      model: 'solo',
      script: { [E]: [{ fail: 'connection' }, OK] },
      calls: [E, E],
      answer: E,
      waited: [false, true],
    },
    {
      name: 'a first-byte timeout: that deployment is not tried again by the request',
      model: 'solo',
      script: { [E]: [{ fail: 'timeout' }, OK] },
      calls: [E],
      error: { kind: 'timeout', code: 'first_byte_timeout' },
    },
    {
      name: '429 with retry-after-ms: 20: the hint is waited for, then the same deployment',
      model: 'solo',
      script: { [E]: [status(429, { 'retry-after-ms': '20' }), OK] },
      calls: [E, E],
      answer: E,
      waited: [false, true],
    },
    {
      name: '429 without a hint: retried after a backoff',
      model: 'solo',
      script: { [E]: [status(429), OK] },
      calls: [E, E],
      answer: E,
      waited: [false, true],
    },
    {
      name: '429 with Retry-After: 30 (s), over max_retry_after_ms (500): not waited for, the 429 goes back',
      model: 'solo',
      script: { [E]: [status(429, { 'retry-after': '30' }), OK] },
      calls: [E],
      error: { kind: 'rate_limited', status: 429 },
    },
  ];
  for (const row of rows) it(row.name, () => check(row).then(() => undefined));

  it('the 429 that is not waited for keeps its Retry-After for the client', async () => {
    const out = await check(rows.find((r) => r.name.startsWith('429 with Retry-After: 30'))!);
    expect(out.error?.retryAfterMs).toBe(30_000);
  });

  it('the backoffs grow: the second retry waits longer than the first (full jitter, rand 0.5, base 2 ms)', async () => {
    const out = await check(rows[1]!);
    expect(out.attempts.map((a) => a.waitedMs)).toEqual([undefined, 1, 2]);
  });

  it('a retry waits out its backoff first: no second call until the backoff has passed (a fake clock)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const h = new Harness({ [E]: [status(500), OK] }, { retry: { base_delay_ms: 100, max_delay_ms: 100 } });
      const pending = h.send('solo');
      // The deadline's timer, then the backoff's: floor(0.5 × 100) = 50 ms.
      await until(() => vi.getTimerCount() === 2);
      expect(h.upstream.calls).toEqual([E]);
      await vi.advanceTimersByTimeAsync(49);
      expect(h.upstream.calls).toEqual([E]);
      await vi.advanceTimersByTimeAsync(1);
      await until(() => h.upstream.calls.length === 2);
      expect(await pending).toMatchObject({ answer: E, attempts: [{ deployment: E }, { deployment: E, waitedMs: 50 }] });
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('failover: another deployment, then the fallback model (model pair: east, west; fallback backup: spare)', () => {
  const rows: Row[] = [
    {
      name: 'a 500 fails over to the next deployment at once, without a backoff',
      model: 'pair',
      script: { [E]: [status(500)] },
      calls: [E, W],
      answer: W,
      waited: [false, false],
    },
    {
      name: 'a connection failure fails over too',
      model: 'pair',
      script: { [E]: [{ fail: 'connection' }] },
      calls: [E, W],
      answer: W,
    },
    {
      name: 'a first-byte timeout fails over, and the hung deployment is not retried',
      model: 'pair',
      script: { [E]: [{ fail: 'timeout' }], [W]: [status(500), OK] },
      calls: [E, W, W],
      answer: W,
      waited: [false, false, true],
    },
    {
      name: '429 over max_retry_after_ms: the other deployment at once',
      model: 'pair',
      script: { [E]: [status(429, { 'retry-after': '30' })] },
      calls: [E, W],
      answer: W,
    },
    {
      name: 'both deployments keep failing: a retry of the first, then the fallback model answers',
      model: 'pair',
      script: { [E]: [status(500)], [W]: [status(503)] },
      calls: [E, W, E, S],
      answer: S,
      fallback: 'backup',
      waited: [false, false, true, false],
    },
    {
      name: 'fallbacks off (x-lifeline-fallbacks: off): the model\'s last error, the fallback never called',
      model: 'pair',
      script: { [E]: [status(500)], [W]: [status(503)] },
      opts: { fallbacks: false },
      calls: [E, W, E],
      error: { kind: 'server' },
    },
    {
      name: 'retry.max_fallbacks: 0 on the model: the same',
      model: 'pair',
      script: { [E]: [status(500)], [W]: [status(503)] },
      over: { models: { pair: { retry: { max_fallbacks: 0 } } } },
      calls: [E, W, E],
      error: { kind: 'server' },
    },
    {
      name: 'the fallback fails too: its error is the answer, every attempt reported',
      model: 'pair',
      script: { [E]: [status(500)], [W]: [status(500)], [S]: [status(502)] },
      calls: [E, W, E, S, S, S],
      error: { kind: 'server' },
    },
    {
      name: 'a 400 is neither failed over nor sent to the fallback',
      model: 'pair',
      script: { [E]: [status(400)] },
      calls: [E],
      error: { kind: 'bad_request' },
    },
    {
      name: 'a 401: that key leaves the rotation, the other deployment answers',
      model: 'pair',
      script: { [E]: [status(401)] },
      calls: [E, W],
      answer: W,
    },
    {
      name: 'a stream fails over before its first token: the client sees only the answer\'s stream',
      model: 'pair',
      script: { [E]: [status(503)] },
      opts: { stream: true },
      calls: [E, W],
      answer: W,
      text: `from ${W}`,
    },
    {
      name: 'a stream whose deployments all fail goes to the fallback model',
      model: 'pair',
      script: { [E]: [{ fail: 'connection' }], [W]: [status(500)] },
      opts: { stream: true },
      calls: [E, W, E, S],
      answer: S,
      fallback: 'backup',
      text: `from ${S}`,
    },
  ];
  for (const row of rows) it(row.name, () => check(row).then(() => undefined));

  it('after a 401 the next request goes straight to the other deployment', async () => {
    const h = new Harness({ [E]: [status(401)] });
    expect((await h.send('pair')).calls).toEqual([E, W]);
    const next = await h.send('pair');
    expect(next.calls).toEqual([W]);
    expect(next.answer).toBe(W);
  });
});
