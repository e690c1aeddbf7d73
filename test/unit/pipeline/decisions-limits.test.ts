/**
 * The decision loop without sockets, its limits: retry and failover budgets, retry.max_attempts_per_request,
 * breakers, the deadline; each as a table. Same harness as decisions.test.ts: which deployments were called, in what
 * order, who answered, the error's kind and code; no wall-clock bounds.
 */
import { describe, expect, it } from 'vitest';
import { Harness, type Outcome, type Overrides, type RequestOptions, until } from '../../support/decision-loop.js';
import { OK, type Step } from '../../support/fake-upstream.js';

const E = 'east/m';
const W = 'west/m';
const S = 'spare/m';

const status = (code: number, headers: Record<string, string> = {}): Step => ({ status: code, headers });
const FAIL = [status(500)];

/** Several requests in a row through one gateway: what each one called, and how the last one ended. */
interface SequenceRow {
  name: string;
  model: 'solo' | 'pair';
  script: Record<string, Step[]>;
  over?: Overrides;
  opts?: RequestOptions;
  /** Per request, in order: the upstream calls it made. */
  calls: string[][];
  /** How the last request ended: the deployment that answered, or the error. */
  last: { answer: string; fallback?: string } | { error: { kind: string; code?: string } };
}

async function runSequence(row: SequenceRow): Promise<Outcome[]> {
  const h = new Harness(row.script, row.over);
  const outcomes: Outcome[] = [];
  for (let i = 0; i < row.calls.length; i++) outcomes.push(await h.send(row.model, row.opts));
  expect(outcomes.map((o) => o.calls)).toEqual(row.calls);
  const last = outcomes.at(-1)!;
  if ('answer' in row.last) {
    expect(last.error).toBeUndefined();
    expect({ answer: last.answer, fallback: last.fallback }).toEqual({ fallback: undefined, ...row.last });
  } else {
    expect(last.answer).toBeUndefined();
    expect(last.error).toMatchObject(row.last.error);
  }
  return outcomes;
}

const times = <T>(n: number, value: T): T[] => Array.from({ length: n }, () => value);

describe('budgets: spent budgets stop the extra attempts (the floor is 10 per 10 s window)', () => {
  const rows: SequenceRow[] = [
    {
      name: 'retry budget (budget_ratio 0): 5 requests spend its 10 retries, the 6th makes its first attempt only',
      model: 'solo',
      script: { [E]: FAIL },
      over: { retry: { budget_ratio: 0 } },
      calls: [...times(5, [E, E, E]), [E]],
      last: { error: { kind: 'server' } },
    },
    {
      name: 'retry budget (budget_ratio 0.5): first attempts earn retries, 7 requests retry in full before it is spent',
      model: 'solo',
      script: { [E]: FAIL },
      over: { retry: { budget_ratio: 0.5 } },
      calls: [...times(7, [E, E, E]), [E]],
      last: { error: { kind: 'server' } },
    },
    {
      name: 'failover budget (failover_budget_ratio 0): 10 failovers, then the request keeps to the deployment it tried',
      model: 'pair',
      script: { [E]: FAIL, [W]: FAIL },
      over: { retry: { failover_budget_ratio: 0 }, models: { pair: { retry: { max_attempts: 2 } } } },
      opts: { fallbacks: false },
      calls: [...times(10, [E, W]), [E, E]],
      last: { error: { kind: 'server' } },
    },
    {
      name: 'both budgets spent: one attempt per request, no failover, no retry',
      model: 'pair',
      script: { [E]: FAIL, [W]: FAIL },
      over: { retry: { budget_ratio: 0, failover_budget_ratio: 0 } },
      opts: { fallbacks: false },
      calls: [...times(10, [E, W, E]), [E]],
      last: { error: { kind: 'server' } },
    },
    {
      name: 'a spent failover budget still lets a healthy first choice answer',
      model: 'pair',
      script: { [E]: [...times(10, status(500)), OK], [W]: FAIL },
      over: { retry: { failover_budget_ratio: 0 }, models: { pair: { retry: { max_attempts: 2 } } } },
      opts: { fallbacks: false },
      calls: [...times(10, [E, W]), [E]],
      last: { answer: E },
    },
  ];
  for (const row of rows) it(row.name, () => runSequence(row).then(() => undefined));
});

describe('retry.max_attempts_per_request caps a request across deployments and fallback models', () => {
  const rows: { cap: number; calls: string[]; answer?: string }[] = [
    { cap: 1, calls: [E] },
    { cap: 2, calls: [E, W] },
    { cap: 3, calls: [E, W, E] },
    { cap: 4, calls: [E, W, E, S], answer: S },
  ];
  for (const row of rows) {
    const ending = row.answer ? `the fallback answers` : `the last upstream error, the rest never called`;
    it(`max_attempts_per_request: ${row.cap} → ${row.calls.length} calls, ${ending}`, async () => {
      const h = new Harness({ [E]: FAIL, [W]: FAIL }, { retry: { max_attempts_per_request: row.cap } });
      const out = await h.send('pair');
      expect(out.calls).toEqual(row.calls);
      expect(out.attempts).toHaveLength(row.calls.length);
      if (row.answer) expect(out).toMatchObject({ answer: row.answer, fallback: 'backup' });
      // Not "attempts_exhausted": the client hears what the upstream said.
      else expect(out.error).toMatchObject({ kind: 'server', status: 502 });
    });
  }
});

describe('breakers: consecutive failures open one, and the next request skips that deployment', () => {
  const rows: SequenceRow[] = [
    {
      name: 'failure_threshold 2 on the only deployment: the next request is answered 503 without a call',
      model: 'solo',
      script: { [E]: FAIL },
      over: { health: { failure_threshold: 2 } },
      calls: [[E, E], []],
      last: { error: { kind: 'unavailable', code: 'all_deployments_unavailable' } },
    },
    {
      name: 'failure_threshold 1: the next request goes straight to the other deployment',
      model: 'pair',
      script: { [E]: FAIL },
      over: { health: { failure_threshold: 1 } },
      calls: [[E, W], [W], [W]],
      last: { answer: W },
    },
    {
      name: 'both deployments open: the fallback model answers without a call to them',
      model: 'pair',
      script: { [E]: FAIL, [W]: FAIL },
      over: { health: { failure_threshold: 1 } },
      calls: [[E, W, S], [S]],
      last: { answer: S, fallback: 'backup' },
    },
    {
      name: 'every deployment of the chain open: one 503 naming them all, no call',
      model: 'pair',
      script: { [E]: FAIL, [W]: FAIL, [S]: FAIL },
      over: { health: { failure_threshold: 1 } },
      calls: [[E, W, S], []],
      last: { error: { kind: 'unavailable', code: 'all_deployments_unavailable' } },
    },
    {
      name: 'below the threshold nothing opens: successes reset the count',
      model: 'solo',
      script: { [E]: [status(500), OK, status(500), OK] },
      over: { health: { failure_threshold: 2 }, retry: { max_attempts: 2 } },
      calls: [[E, E], [E, E]],
      last: { answer: E },
    },
  ];
  for (const row of rows) it(row.name, () => runSequence(row).then(() => undefined));

  it('the 503 of an open breaker carries Retry-After (the breaker\'s cooldown) and says "circuit open"', async () => {
    const [, second] = await runSequence(rows[0]!);
    expect(second?.error?.status).toBe(503);
    expect(second?.error?.message).toContain('east/m circuit open');
    expect(second?.error?.retryAfterMs).toBeGreaterThan(0);
    expect(second?.error?.retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  it('the merged 503 names every deployment of the chain', async () => {
    const [, second] = await runSequence(rows[3]!);
    for (const id of [E, W, S]) expect(second?.error?.message).toContain(`${id} circuit open`);
    expect(second?.error?.retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  it('after the cooldown one probe goes through; its success closes the breaker', async () => {
    const h = new Harness({ [E]: [status(500), OK] }, { health: { failure_threshold: 1, cooldown_s: 0.05 } });
    expect((await h.send('solo')).calls).toEqual([E]);
    expect((await h.send('solo')).error).toMatchObject({ code: 'all_deployments_unavailable' });
    await new Promise((resolve) => setTimeout(resolve, 150)); // past the 50 ms cooldown
    const probe = await h.send('solo');
    expect(probe).toMatchObject({ answer: E, calls: [E] });
    expect(await h.send('solo')).toMatchObject({ answer: E, calls: [E] });
  });

  it('half-open: while the probe is out, another request gets the 503 without a call', async () => {
    const h = new Harness({ [E]: [status(500), { hang: true }] }, { health: { failure_threshold: 1, cooldown_s: 0.05 } });
    expect((await h.send('solo')).calls).toEqual([E]);
    await new Promise((resolve) => setTimeout(resolve, 150)); // past the 50 ms cooldown
    const probe = h.send('solo', { timeoutMs: 300 }); // the probe hangs until its deadline
    await until(() => h.upstream.calls.length === 2);
    const other = await h.send('solo');
    expect(other.calls).toEqual([]);
    expect(other.error).toMatchObject({ kind: 'unavailable', code: 'all_deployments_unavailable' });
    expect(other.error?.message).toContain('east/m probing after an outage');
    expect(await probe).toMatchObject({ calls: [E], error: { code: 'total_timeout' } });
  });
});

describe('deadline: x-lifeline-timeout-ms and timeouts.total_ms; nothing waits past it', () => {
  const rows: {
    name: string;
    script: Step[];
    over?: Overrides;
    opts?: RequestOptions;
    calls: string[];
    error: { kind: string; code?: string; status?: number };
    message?: string;
  }[] = [
    {
      name: 'x-lifeline-timeout-ms: 50 and a hung upstream: 504 total_timeout, no retry after it',
      script: [{ hang: true }, OK],
      opts: { timeoutMs: 50 },
      calls: [E],
      error: { kind: 'timeout', code: 'total_timeout', status: 504 },
      message: '50 ms',
    },
    {
      name: 'timeouts.total_ms: 50 on the model: the same',
      script: [{ hang: true }, OK],
      over: { models: { solo: { timeouts: { total_ms: 50 } } } },
      calls: [E],
      error: { kind: 'timeout', code: 'total_timeout' },
      message: '50 ms',
    },
    {
      name: 'a client timeout above total_ms does not raise it',
      script: [{ hang: true }, OK],
      over: { models: { solo: { timeouts: { total_ms: 50 } } } },
      opts: { timeoutMs: 60_000 },
      calls: [E],
      error: { kind: 'timeout', code: 'total_timeout' },
      message: '50 ms',
    },
    {
      name: 'a backoff longer than the time left is not slept: the upstream\'s error at once',
      script: [status(500), OK],
      over: { retry: { base_delay_ms: 10_000, max_delay_ms: 10_000 } },
      opts: { timeoutMs: 1_000 },
      calls: [E],
      error: { kind: 'server', status: 502 },
    },
    {
      name: 'a Retry-After longer than the time left is not waited for: the 429 at once',
      script: [status(429, { 'retry-after-ms': '400' }), OK],
      opts: { timeoutMs: 100 },
      calls: [E],
      error: { kind: 'rate_limited', status: 429 },
    },
  ];
  for (const row of rows) {
    it(row.name, async () => {
      const out = await new Harness({ [E]: row.script }, row.over).send('solo', row.opts);
      expect(out.calls).toEqual(row.calls);
      expect(out.error).toMatchObject(row.error);
      if (row.message) expect(out.error?.message).toContain(row.message);
    });
  }

  it('a cooldown another request is waiting out is not waited for past this request\'s deadline', async () => {
    const h = new Harness({ [E]: [status(429, { 'retry-after-ms': '300' }), OK] });
    const waiting = h.send('solo'); // its 429's hint (300 ms) is within max_retry_after_ms: it waits
    await until(() => h.upstream.calls.length === 1);
    const hurried = await h.send('solo', { timeoutMs: 100 });
    expect(hurried.calls).toEqual([]);
    expect(hurried.error).toMatchObject({ kind: 'rate_limited', code: 'all_deployments_rate_limited' });
    expect(await waiting).toMatchObject({ answer: E, calls: [E, E] });
  });
});
