// `lifeline mock` faults, through the official OpenAI SDK and plain fetch over real sockets: error statuses with
// rate-limit hints, resets, hangs, cut and stalled streams, error events, malformed bodies, delays, and the
// fault schedule (script, default, seeded failure rate).
import { APIConnectionError, APIConnectionTimeoutError, APIError, BadRequestError, RateLimitError } from 'openai';
import { describe, expect, it } from 'vitest';
import { type FaultPlan, FaultSchedule, startMock, validatePlan } from '../../../src/mock/index.js';
import { StreamClock } from '../../../src/mock/deliver.js';
import { CHAT, client, dataOf, errorOf, post, withMock } from '../../support/mock.js';
import { eventually } from '../../support/timing.js';

describe('mock: faults', () => {
  it('answers a status fault with Retry-After, retry-after-ms and extra headers', async () => {
    const fault = { status: 429, retry_after: 3, retry_after_ms: 2500, headers: { 'x-ratelimit-remaining-requests': '0' } };
    await withMock({ plan: { script: [fault, fault, { status: 400, error_code: 'context_length_exceeded' }, { status: 503 }] } }, async (mock) => {
      const error = await client(mock).chat.completions.create(CHAT).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RateLimitError);
      expect((error as RateLimitError).code).toBe('rate_limit_exceeded');

      const res = await post(mock, '/chat/completions', CHAT);
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('3');
      expect(res.headers.get('retry-after-ms')).toBe('2500');
      expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('0');
      expect(await errorOf(res)).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });

      const context = await client(mock).chat.completions.create(CHAT).catch((e: unknown) => e);
      expect(context).toBeInstanceOf(BadRequestError);
      expect((context as BadRequestError).code).toBe('context_length_exceeded');
      const overloaded = await post(mock, '/chat/completions', CHAT);
      expect(overloaded.status).toBe(503);
      expect((await errorOf(overloaded)).type).toBe('server_error');
      expect(mock.stats().byOutcome.status).toBe(4);
    });
  });

  it('resets the connection without a response', async () => {
    await withMock({ plan: { default: { reset: true } } }, async (mock) => {
      const error = await client(mock).chat.completions.create(CHAT).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(APIConnectionError);
      expect(mock.stats().records[0]).toMatchObject({ outcome: 'reset', chunksSent: 0 });
      expect(mock.stats().records[0].status).toBeUndefined();
    });
  });

  it('hangs until the client times out, and records that the client left', async () => {
    await withMock({ plan: { script: [{ hang: true }] } }, async (mock) => {
      const started = Date.now();
      const error = await client(mock, { timeout: 150 }).chat.completions.create(CHAT).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(APIConnectionTimeoutError);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      await eventually(() => mock.stats().records[0]?.closedByClientAt !== undefined);
      const record = mock.stats().records[0];
      expect(record.outcome).toBe('hang');
      expect(record.closedByClientAt).toBeGreaterThanOrEqual(record.at);
      expect(record.finishedAt).toBeUndefined();
    });
  });

  it('cuts a stream after N content chunks, before [DONE]', async () => {
    await withMock({ plan: { script: [{ cut_after: 3 }, { cut_after: 2 }, { cut_after: 1 }] } }, async (mock) => {
      const stream = await client(mock).chat.completions.create({ ...CHAT, stream: true });
      const words: string[] = [];
      const error = await (async () => {
        for await (const chunk of stream) if (chunk.choices[0]?.delta.content) words.push(chunk.choices[0].delta.content);
      })().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(words.join('')).toBe(`${mock.answerFor(CHAT).split(' ').slice(0, 3).join(' ')} `);

      const res = await post(mock, '/chat/completions', { ...CHAT, stream: true });
      await expect(res.text()).rejects.toThrow();
      expect(mock.stats().records.slice(0, 2).map((r) => [r.outcome, r.chunksSent])).toEqual([
        ['cut', 3],
        ['cut', 2],
      ]);
      expect(mock.stats().records[0].closedByClientAt).toBeUndefined();
      // non-stream: half the body, then the connection drops
      await expect(client(mock).chat.completions.create(CHAT)).rejects.toThrow(/terminated/);
      expect(mock.stats().records[2]).toMatchObject({ outcome: 'cut', status: 200 });
    });
  });

  it('stalls a stream after N chunks and keeps the connection open', async () => {
    await withMock({ plan: { script: [{ stall_after: 2 }] } }, async (mock) => {
      const abort = new AbortController();
      const res = await post(mock, '/chat/completions', { ...CHAT, stream: true }, { signal: abort.signal });
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      while (dataOf(text).filter((d) => d.includes('"content":"')).length < 2) {
        const { value, done } = await reader.read();
        expect(done).toBe(false);
        text += decoder.decode(value);
      }
      const next = await Promise.race([reader.read().then(() => 'data'), new Promise((r) => setTimeout(r, 150, 'stalled'))]);
      expect(next).toBe('stalled');
      expect(mock.stats().records[0]).toMatchObject({ outcome: 'stall', chunksSent: 2, status: 200 });
      abort.abort();
      await eventually(() => mock.stats().records[0]?.closedByClientAt !== undefined);
      expect(mock.stats().records[0].closedByClientAt).toBeDefined();
    });
  });

  it('sends an error event mid-stream', async () => {
    await withMock({ plan: { script: [{ error_event_after: 2, error_code: 'content_filter' }] } }, async (mock) => {
      const stream = await client(mock).chat.completions.create({ ...CHAT, stream: true });
      let contentChunks = 0;
      const error = await (async () => {
        for await (const chunk of stream) if (chunk.choices[0]?.delta.content) contentChunks++;
      })().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(APIError);
      expect((error as APIError).message).toMatch(/content management policy/);
      expect(contentChunks).toBe(2);
      expect(mock.stats().records[0]).toMatchObject({ outcome: 'error_event', chunksSent: 2 });
    });
  });

  it('sends malformed bodies with status 200', async () => {
    await withMock({ plan: { default: { malformed: true } } }, async (mock) => {
      const res = await post(mock, '/chat/completions', CHAT);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text.startsWith('{')).toBe(true);
      expect(() => JSON.parse(text)).toThrow();
      const streamed = await post(mock, '/chat/completions', { ...CHAT, stream: true });
      const data = dataOf(await streamed.text());
      expect(data.length).toBeGreaterThan(0);
      expect(() => JSON.parse(data[0])).toThrow();
      await expect(client(mock).chat.completions.create(CHAT)).rejects.toThrow();
      expect(mock.stats().byOutcome.malformed).toBe(3);
    });
  });

  it('delays headers by latency_ms, the first byte by first_token_ms, chunks by chunk_gap_ms', async () => {
    // first_token_ms is long enough that the headers, sent at once, cannot be mistaken for ones held back with it.
    const firstTokenMs = 1000;
    await withMock({ plan: { script: [{ latency_ms: 80 }, { first_token_ms: firstTokenMs }, { chunk_gap_ms: 10 }] } }, async (mock) => {
      let started = Date.now();
      await client(mock).chat.completions.create(CHAT);
      expect(Date.now() - started).toBeGreaterThanOrEqual(78);

      const res = await post(mock, '/chat/completions', { ...CHAT, stream: true });
      // Timed from the request's arrival at the mock (its record), so a slow trip there does not count.
      const firstTokenAt = mock.stats().records.at(-1)!.at + firstTokenMs;
      expect(Date.now()).toBeLessThan(firstTokenAt); // the headers came first…
      await res.text();
      expect(Date.now()).toBeGreaterThanOrEqual(firstTokenAt - 2); // …the body waited first_token_ms

      started = Date.now();
      const stream = await client(mock).chat.completions.create({ ...CHAT, stream: true });
      let chunks = 0;
      for await (const _ of stream) chunks++;
      expect(Date.now() - started).toBeGreaterThanOrEqual((chunks - 1) * 10 - 2);
    });
  });

  it('with chunk_gap_ms, the tail after the finish chunk (usage, [DONE]) follows at once, as providers send it', async () => {
    const gap = 300; // "at once" is anything under half a gap: far more than a busy machine delays a read
    await withMock({ plan: { default: { chunk_gap_ms: gap } } }, async (mock) => {
      const body = { ...CHAT, stream: true, max_tokens: 3, stream_options: { include_usage: true } };
      const res = await post(mock, '/chat/completions', body);
      const reader = res.body!.getReader();
      const arrivals: Array<{ at: number; text: string }> = [];
      const t0 = performance.now();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        arrivals.push({ at: performance.now() - t0, text: new TextDecoder().decode(value) });
      }
      const whenSeen = (needle: string) => arrivals.find((a) => a.text.includes(needle))!.at;
      const finishAt = whenSeen('"finish_reason":"length"');
      expect(whenSeen('"usage":{')).toBeLessThan(finishAt + gap / 2);
      expect(whenSeen('[DONE]')).toBeLessThan(finishAt + gap / 2);
      // …while the content before it kept its gaps: the finish came at least a gap after the first chunk.
      expect(finishAt - arrivals[0]!.at).toBeGreaterThanOrEqual(gap - 5);
    });
  });

  it('plays the script in order, then the default', async () => {
    const plan: FaultPlan = { script: [{ status: 500 }, {}, { status: 502 }], default: { status: 418 } };
    await withMock({ plan }, async (mock) => {
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await post(mock, '/chat/completions', CHAT)).status);
      expect(statuses).toEqual([500, 200, 502, 418, 418]);
      expect(mock.stats().records.map((r) => r.fault?.status ?? null)).toEqual([500, null, 502, 418, 418]);
    });
  });

  it('fails at the seeded rate, reproducibly', async () => {
    const plan: FaultPlan = { failure_rate: 0.2, mix: [{ status: 500 }, { status: 503 }, { status: 429 }] };
    const run = async (seed: number, requests: number) => {
      const mock = await startMock({ seed, plan });
      try {
        const statuses: number[] = [];
        for (let i = 0; i < requests; i++) {
          const res = await post(mock, '/embeddings', { model: 'x', input: 'a' });
          await res.arrayBuffer();
          statuses.push(res.status);
        }
        return statuses;
      } finally {
        await mock.close();
      }
    };
    const [a, b, c] = await Promise.all([run(42, 1000), run(42, 300), run(43, 300)]);
    expect(b).toEqual(a.slice(0, 300));
    expect(c).not.toEqual(b);
    const failed = a.filter((s) => s !== 200).length;
    expect(failed).toBeGreaterThan(150);
    expect(failed).toBeLessThan(250);
    expect(new Set(a.filter((s) => s !== 200))).toEqual(new Set([500, 503, 429]));

    // The schedule alone is pure and gives the same answer without sockets.
    const schedule = new FaultSchedule(plan, 42);
    expect(a.map(() => schedule.next()?.status ?? 200)).toEqual(a);
  });
});

describe('mock: stream clock', () => {
  it("keeps each stream's gaps on its own clock: a late turn is caught up, a stream far behind starts afresh", () => {
    let t = 1000;
    const clock = new StreamClock(20, () => t);
    t = 1001; // the first event took 1 ms to write
    expect(clock.next()).toBe(19);
    t = 1026; // the timer fired 6 ms late (a busy turn): the next event keeps the stream's phase
    expect(clock.next()).toBe(14);
    t = 1100; // far behind (a slow reader): no burst of catch-up events, a new clock from now
    expect(clock.next()).toBe(0);
    t = 1101;
    expect(clock.next()).toBe(19);
  });
});

describe('mock: a plan for a while (for_ms)', () => {
  it('holds for requests within for_ms of the first one, then every request is healthy', () => {
    const schedule = new FaultSchedule({ default: { status: 429, retry_after: 2 }, for_ms: 2000 }, 1);
    const t0 = 1_000_000;
    expect([t0, t0 + 10, t0 + 1999, t0 + 2000, t0 + 5000].map((t) => schedule.next(t)?.status ?? 200)).toEqual([429, 429, 429, 200, 200]);
    expect(() => validatePlan({ for_ms: -1 })).toThrow(/plan\.for_ms must be a non-negative number/);
    expect(validatePlan({ script: [{ status: 500 }], for_ms: 50 })).toEqual({ script: [{ status: 500 }], for_ms: 50 });
  });
});
