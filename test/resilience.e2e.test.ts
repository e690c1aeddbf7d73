// Resilience behaviours end to end: the official OpenAI SDK → lifeline serve → one or more mocks, over real sockets.
// The chaos suite (test/chaos.test.ts) covers behaviour at volume and timing; this file pins the individual
// decisions: which deployment or fallback answers, what the client sees, and what each upstream received.
import type OpenAI from 'openai';
import { APIError } from 'openai';
import type { AttemptRecord } from '../src/pipeline/index.js';
import { describe, expect, it } from 'vitest';
import type { FaultPlan } from '../src/mock/index.js';
import { startWorld, type World } from './chaos/harness.js';
import { collectText } from './helpers.js';

const messages = [{ role: 'user' as const, content: 'Say something resilient' }];
/** Quick retries, so a test that retries still runs in tens of milliseconds. */
const FAST_RETRY = { base_delay_ms: 20, max_delay_ms: 100 };

/** Runs `test` in a fresh world and always closes it: breakers and disabled keys never leak between tests. */
async function withWorld(
  plans: Record<string, FaultPlan>,
  config: { models: Record<string, unknown>; [key: string]: unknown },
  test: (world: World) => Promise<void>,
): Promise<void> {
  // Each mock answers a text naming itself, so a reassembled answer shows who answered.
  const world = await startWorld(plans, { retry: FAST_RETRY, ...config }, { reply: (name) => `This answer comes from the ${name} mock.` });
  try {
    await test(world);
  } finally {
    await world.close();
  }
}

const single = (provider: string, model: string, extra: Record<string, unknown> = {}) => ({ targets: [{ provider, model }], ...extra });

/** The SDK's error for a call that must fail (fails the test if it succeeds). */
async function apiError(call: Promise<unknown>): Promise<APIError> {
  const result = await call.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (result.ok) throw new Error(`expected the request to fail, it answered ${JSON.stringify(result.value).slice(0, 200)}`);
  expect(result.error).toBeInstanceOf(APIError);
  return result.error as APIError;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

type LoggedAttempt = AttemptRecord;

/** The gateway's access-log line for a request (written just after the response ends, so poll briefly). */
async function requestLine(lines: string[], requestId: string): Promise<{ status: number; attempts: LoggedAttempt[]; [k: string]: unknown }> {
  for (let i = 0; i < 100; i++) {
    for (const l of lines) {
      const parsed = JSON.parse(l) as { msg?: string; requestId?: string };
      if (parsed.msg === 'request' && parsed.requestId === requestId) return parsed as never;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no request log line for ${requestId}`);
}

const chat = (client: OpenAI, model: string, headers: Record<string, string> = {}) =>
  client.chat.completions.create({ model, messages }, { headers }).withResponse();

// ---------------------------------------------------------------------------------------------------------

describe('fallback chains', () => {
  const dead = { east: { default: { status: 500 } }, west: {} };
  const chain = {
    models: {
      main: single('east', 'mock-main', { fallbacks: ['backup'], retry: { max_attempts: 2 } }),
      backup: single('west', 'mock-backup'),
    },
  };

  it('a fallback answers when the primary keeps failing, and the headers say so', async () => {
    await withWorld(dead, chain, async ({ client, mocks }) => {
      const { data, response } = await chat(client, 'main');
      expect(data.choices[0]?.message.content).toBe(mocks.west!.answerFor({ model: 'mock-backup', messages }));
      expect(response.headers.get('x-lifeline-fallback')).toBe('backup');
      expect(response.headers.get('x-lifeline-deployment')).toBe('west/mock-backup');
      // The primary's retry.max_attempts (2), then the fallback's one.
      expect(response.headers.get('x-lifeline-attempts')).toBe('3');
      expect(mocks.east!.stats().requests).toBe(2);
      expect(mocks.west!.stats().requests).toBe(1);
      expect((mocks.west!.stats().records[0]!.body as { model: string }).model).toBe('mock-backup');
    });
  });

  it('x-lifeline-fallbacks: off returns the primary\'s error and never touches the fallback', async () => {
    await withWorld(dead, chain, async ({ client, mocks }) => {
      const err = await apiError(chat(client, 'main', { 'x-lifeline-fallbacks': 'off' }));
      // The upstream's own 5xx is passed through (providers/openai.ts: only auth, not_found, timeout are remapped).
      expect(err.status).toBe(502);
      expect(err.message).toContain('Upstream east/mock-main answered 500');
      expect(err.headers?.get('x-lifeline-deployment')).toBe('east/mock-main');
      expect(err.headers?.get('x-lifeline-attempts')).toBe('2');
      expect(err.headers?.get('x-lifeline-fallback')).toBeNull();
      expect(mocks.east!.stats().requests).toBe(2);
      expect(mocks.west!.stats().requests).toBe(0);
    });
  });

  it('a 400 from the upstream is neither retried nor failed over: it goes back to the client', async () => {
    await withWorld({ east: { default: { status: 400 } }, west: {} }, { ...chain, retry: { ...FAST_RETRY, max_attempts: 3 } }, async ({ client, mocks }) => {
      const err = await apiError(chat(client, 'main'));
      expect(err.status).toBe(400);
      expect(err.headers?.get('x-lifeline-attempts')).toBe('1');
      expect(mocks.east!.stats().requests).toBe(1);
      expect(mocks.west!.stats().requests).toBe(0);
    });
  });

  const special = {
    primary: {},
    generic: {},
    big: {},
    safe: {},
  };
  const specialConfig = {
    models: {
      main: single('primary', 'mock-main', {
        fallbacks: ['generic-model'],
        context_window_fallbacks: ['big-model'],
        content_policy_fallbacks: ['safe-model'],
      }),
      // Only general fallbacks: a prompt that does not fit must not go to them.
      plain: single('primary', 'mock-plain', { fallbacks: ['generic-model'] }),
      'generic-model': single('generic', 'mock-generic'),
      'big-model': single('big', 'mock-big'),
      'safe-model': single('safe', 'mock-safe'),
    },
  };

  for (const [label, code, answerer, model] of [
    ['context_length_exceeded goes to context_window_fallbacks', 'context_length_exceeded', 'big', 'big-model'],
    ['content_filter goes to content_policy_fallbacks', 'content_filter', 'safe', 'safe-model'],
  ] as const) {
    it(`a 400 ${label}, not to fallbacks`, async () => {
      const plans = { ...special, primary: { script: [{ status: 400, error_code: code }] } };
      await withWorld(plans, specialConfig, async ({ client, mocks }) => {
        const { data, response } = await chat(client, 'main');
        expect(data.choices[0]?.message.content).toBe(mocks[answerer]!.answerFor({ model: `mock-${answerer}`, messages }));
        expect(response.headers.get('x-lifeline-fallback')).toBe(model);
        expect(response.headers.get('x-lifeline-deployment')).toBe(`${answerer}/mock-${answerer}`);
        expect(response.headers.get('x-lifeline-attempts')).toBe('2');
        expect(mocks.primary!.stats().requests).toBe(1); // not retried
        expect(mocks[answerer]!.stats().requests).toBe(1);
        for (const other of ['generic', 'big', 'safe'].filter((n) => n !== answerer)) {
          expect(mocks[other]!.stats().requests, other).toBe(0);
        }
      });
    });
  }

  it('a context_length error on a model without context_window_fallbacks goes back to the client as 400', async () => {
    const plans = { ...special, primary: { script: [{ status: 400, error_code: 'context_length_exceeded' }] } };
    await withWorld(plans, specialConfig, async ({ client, mocks }) => {
      const err = await apiError(chat(client, 'plain'));
      expect(err.status).toBe(400);
      expect(err.code).toBe('context_length_exceeded');
      expect(mocks.generic!.stats().requests).toBe(0);
    });
  });
});

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
    const hint = 400;
    const config = { models: { solo: single('only', 'mock-solo') } };
    await withWorld({ only: { script: [{ status: 503, retry_after_ms: hint }, {}] } }, config, async ({ client, mocks, lines }) => {
      const { response } = await chat(client, 'solo', { 'x-request-id': 'retry-hint-1' });
      expect(response.headers.get('x-lifeline-attempts')).toBe('2');
      const [first, second] = mocks.only!.stats().records;
      const gap = second!.at - first!.finishedAt!;
      expect(gap).toBeGreaterThanOrEqual(hint - 5);
      expect(gap).toBeLessThan(hint + 300); // waiting the hint twice would be ≥ 800 ms
      const line = await requestLine(lines, 'retry-hint-1');
      expect(line.attempts[1]?.waitedMs).toBeGreaterThanOrEqual(hint - 5) // measured from the failure, so a few ms of processing come off;
      expect(line.attempts[1]!.waitedMs!).toBeGreaterThanOrEqual(gap - 100); // the log accounts for the wait
    });
  });

  it('fails over to the next deployment at once, without a backoff', async () => {
    // A backoff drawn from [0, 5000) ms would show in the elapsed time (and as waitedMs) nearly always.
    const config = {
      retry: { base_delay_ms: 5000, max_delay_ms: 5000 },
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
      expect(ms).toBeLessThan(1000);
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
    const exhausted: FaultPlan = { default: { headers: { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '2s' } } };
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
      expect(Date.now() - exhaustedAt).toBeLessThan(2000); // the ten requests above all fell inside the reset window
      expect(mocks.a!.stats().requests).toBe(1);
      expect(mocks.b!.stats().requests).toBe(10);
      // After the reset A is back.
      await new Promise((r) => setTimeout(r, Math.max(0, exhaustedAt + 2300 - Date.now())));
      const { response: after } = await chat(client, 'spread');
      expect(after.headers.get('x-lifeline-deployment')).toBe('a/mock-s');
      expect(mocks.a!.stats().requests).toBe(2);
    });
  });
});

describe('streaming', () => {
  for (const [label, fault] of [
    ['503', { status: 503 }],
    ['connection reset', { reset: true }],
  ] as const) {
    it(`fails over before the first token (${label}): the client sees only the fallback's stream`, async () => {
      const config = {
        models: {
          main: single('primary', 'mock-main', { fallbacks: ['backup'] }),
          backup: single('fallback', 'mock-backup'),
        },
      };
      await withWorld({ primary: { default: fault }, fallback: {} }, config, async ({ client, mocks }) => {
        const { data, response } = await client.chat.completions.create({ model: 'main', messages, stream: true }).withResponse();
        expect(response.status).toBe(200);
        expect(response.headers.get('x-lifeline-fallback')).toBe('backup');
        expect(response.headers.get('x-lifeline-deployment')).toBe('fallback/mock-backup');
        const { text, finish } = await collectText(data);
        expect(text).toBe(mocks.fallback!.answerFor({ model: 'mock-backup', messages }));
        expect(text).toContain('fallback mock');
        expect(finish).toBe('stop');
        expect(mocks.primary!.stats().requests).toBeGreaterThanOrEqual(1);
        expect(mocks.fallback!.stats().requests).toBe(1);
      });
    });
  }
});

describe('deadlines', () => {
  const config = { timeouts: { first_byte_ms: 5000 }, models: { slow: single('hung', 'mock-slow') } };

  it('x-lifeline-timeout-ms lowers the deadline: a hung upstream ends in 504 total_timeout on time', async () => {
    await withWorld({ hung: { default: { hang: true } } }, config, async ({ client }) => {
      const { value: err, ms } = await timed(() => apiError(chat(client, 'slow', { 'x-lifeline-timeout-ms': '300' })));
      expect(err.status).toBe(504);
      expect(err.code).toBe('total_timeout');
      expect(err.message).toContain('300 ms');
      expect(ms).toBeGreaterThanOrEqual(290);
      expect(ms).toBeLessThan(300 + 500);
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
      health: { failure_threshold: 2, cooldown_s: 5 },
      models: { solo: single('down', 'mock-down') },
    };
    await withWorld({ down: { default: { status: 500 } } }, config, async ({ client, mocks }) => {
      for (let i = 0; i < 2; i++) expect((await apiError(chat(client, 'solo'))).status).toBe(502);
      expect(mocks.down!.stats().requests).toBe(2); // the breaker is open now
      const { value: err, ms } = await timed(() => apiError(chat(client, 'solo')));
      // One comparison, so a failure shows status, latency and upstream traffic together.
      expect({ status: err.status, atOnce: ms < 500, upstreamRequests: mocks.down!.stats().requests }).toEqual({
        status: 503,
        atOnce: true, // not after sleeping through the 5 s cooldown
        upstreamRequests: 2, // this request reached no upstream
      });
      const retryAfter = Number(err.headers?.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(5);
      expect(err.message).toContain('down/mock-down');
      expect(err.message).toContain('circuit open');
    });
  });

  it('every deployment rate-limited: 429 at once with Retry-After close to the upstream\'s 30 s', async () => {
    const limited: FaultPlan = { default: { status: 429, retry_after: 30 } };
    const config = {
      // A 30 s hint is longer than this request may wait for, so it is not slept through.
      retry: { ...FAST_RETRY, max_retry_after_ms: 5000 },
      models: { both: { targets: [{ provider: 'r1', model: 'mock-r' }, { provider: 'r2', model: 'mock-r' }] } },
    };
    await withWorld({ r1: limited, r2: limited }, config, async ({ client, mocks }) => {
      const first = await timed(() => apiError(chat(client, 'both')));
      expect(first.value.status).toBe(429);
      expect(first.ms).toBeLessThan(1000);
      expect(mocks.r1!.stats().requests + mocks.r2!.stats().requests).toBe(2); // each tried once, neither retried
      for (const { value: err, ms } of [first, await timed(() => apiError(chat(client, 'both')))]) {
        expect(err.status).toBe(429);
        const retryAfter = Number(err.headers?.get('retry-after'));
        expect(retryAfter).toBeGreaterThanOrEqual(28);
        expect(retryAfter).toBeLessThanOrEqual(30);
        expect(ms).toBeLessThan(1000);
      }
      expect(mocks.r1!.stats().requests + mocks.r2!.stats().requests).toBe(2); // the second went nowhere
    });
  });
});
