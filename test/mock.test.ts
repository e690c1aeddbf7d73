import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, BadRequestError, RateLimitError } from 'openai';
import { describe, expect, it } from 'vitest';
import { type FaultPlan, FaultSchedule, type MockOptions, type MockServer, type MockStats, startMock, validatePlan } from '../src/mock/index.js';

async function withMock(options: MockOptions, run: (mock: MockServer) => Promise<void>): Promise<void> {
  const mock = await startMock(options);
  try {
    await run(mock);
  } finally {
    await mock.close();
  }
}

function client(mock: MockServer, extra: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}): OpenAI {
  return new OpenAI({ baseURL: mock.url, apiKey: 'sk-test', maxRetries: 0, logLevel: 'off', ...extra });
}

const MESSAGES = [{ role: 'user' as const, content: 'Say something nice about resilient systems.' }];
const CHAT = { model: 'gpt-4o', messages: MESSAGES };

function post(mock: MockServer, path: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${mock.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
}

interface ErrorShape {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

async function errorOf(res: Response): Promise<ErrorShape> {
  return ((await res.json()) as { error: ErrorShape }).error;
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 2));
}

/** The `data:` payloads of an SSE body. */
function dataOf(sse: string): string[] {
  return sse
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice('data: '.length));
}

const WEATHER_TOOL = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string' },
        days: { type: 'integer' },
        metric: { type: 'boolean' },
        unit: { type: 'string', enum: ['c', 'f'] },
        extra: { type: 'object' },
        note: { type: 'string' },
      },
      required: ['city', 'days', 'metric', 'unit', 'extra'],
    },
  },
};

describe('mock: healthy answers', () => {
  it('answers a chat completion with the text answerFor promises, in the real shape', async () => {
    await withMock({}, async (mock) => {
      const { data, response } = await client(mock).chat.completions.create(CHAT).withResponse();
      expect(data.choices[0].message.content).toBe(mock.answerFor(CHAT));
      expect(mock.answerFor(CHAT).split(' ').length).toBeGreaterThanOrEqual(10);
      expect(data).toMatchObject({ id: 'chatcmpl-mock-1', object: 'chat.completion', model: 'gpt-4o' });
      expect(data.choices[0].finish_reason).toBe('stop');
      expect(data.usage?.prompt_tokens).toBe(Math.ceil(MESSAGES[0].content.length / 4));
      expect(data.usage?.total_tokens).toBe((data.usage?.prompt_tokens ?? 0) + (data.usage?.completion_tokens ?? 0));
      expect(response.headers.get('x-request-id')).toBe('mock-req-1');
    });
  });

  it('uses the fixed reply, or a default that depends on the seed only', async () => {
    const a = await startMock({ seed: 7 });
    const b = await startMock({ seed: 7 });
    const c = await startMock({ seed: 8 });
    const d = await startMock({ reply: 'Fixed  reply\ttext ' });
    try {
      expect(a.answerFor(CHAT)).toBe(b.answerFor(CHAT));
      expect(a.answerFor(CHAT)).not.toBe(c.answerFor(CHAT));
      expect(a.answerFor(CHAT)).toBe(a.answerFor({ ...CHAT, messages: [{ role: 'user', content: 'other' }] }));
      expect(d.answerFor(CHAT)).toBe('Fixed  reply\ttext ');
      const streamed = await client(d).chat.completions.create({ ...CHAT, stream: true });
      let text = '';
      for await (const chunk of streamed) text += chunk.choices[0]?.delta.content ?? '';
      expect(text).toBe('Fixed  reply\ttext ');
    } finally {
      await Promise.all([a.close(), b.close(), c.close(), d.close()]);
    }
  });

  it('streams word deltas that reassemble to the answer, then finish, usage and [DONE]', async () => {
    await withMock({}, async (mock) => {
      const stream = await client(mock).chat.completions.create({
        ...CHAT,
        stream: true,
        stream_options: { include_usage: true },
      });
      const chunks = [];
      for await (const chunk of stream) chunks.push(chunk);
      const answer = mock.answerFor(CHAT);
      const words = answer.split(' ').length;
      expect(chunks[0].choices[0].delta.role).toBe('assistant');
      expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(answer);
      expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBe(words);
      expect(chunks.at(-2)?.choices[0].finish_reason).toBe('stop');
      const last = chunks.at(-1);
      expect(last?.choices).toEqual([]);
      expect(last?.usage?.completion_tokens).toBe(words);
      expect(chunks.every((c) => c.id === 'chatcmpl-mock-1' && c.object === 'chat.completion.chunk')).toBe(true);

      const res = await post(mock, '/chat/completions', { ...CHAT, stream: true });
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      expect(res.headers.get('x-request-id')).toBe('mock-req-2');
      const data = dataOf(await res.text());
      expect(data.at(-1)).toBe('[DONE]');
      expect(data.some((d) => d.includes('"usage"'))).toBe(false); // no include_usage, no usage field
    });
  });

  it('honours max_tokens with finish_reason "length"', async () => {
    await withMock({ reply: 'one two three four five' }, async (mock) => {
      const body = { ...CHAT, max_tokens: 2 };
      const completion = await client(mock).chat.completions.create(body);
      expect(completion.choices[0].message.content).toBe('one two ');
      expect(mock.answerFor(body)).toBe('one two ');
      expect(completion.choices[0].finish_reason).toBe('length');
    });
  });

  it('calls the first function with placeholder arguments', async () => {
    await withMock({}, async (mock) => {
      const openai = client(mock);
      const body = { ...CHAT, tools: [WEATHER_TOOL] };
      const completion = await openai.chat.completions.create(body);
      const choice = completion.choices[0];
      expect(choice.finish_reason).toBe('tool_calls');
      const call = choice.message.tool_calls?.[0];
      expect(call?.id).toBe('call_mock_1');
      expect(call?.type === 'function' && call.function.name).toBe('get_weather');
      const args = call?.type === 'function' ? JSON.parse(call.function.arguments) : null;
      expect(args).toEqual({ city: 'mock', days: 1, metric: true, unit: 'c', extra: null });
      expect(mock.answerFor(body)).toBe('');

      // Streamed: a header delta (id, name, empty arguments), then the arguments in 2+ pieces.
      const stream = await openai.chat.completions.create({ ...body, stream: true });
      const deltas = [];
      for await (const chunk of stream) deltas.push(...(chunk.choices[0]?.delta.tool_calls ?? []));
      expect(deltas[0]).toMatchObject({ index: 0, id: 'call_mock_2', type: 'function', function: { name: 'get_weather', arguments: '' } });
      expect(deltas.length).toBeGreaterThanOrEqual(3);
      expect(JSON.parse(deltas.map((d) => d.function?.arguments ?? '').join(''))).toEqual(args);

      // After the tool answered, or with tool_choice "none", the model talks.
      const after = await openai.chat.completions.create({
        ...body,
        messages: [
          ...MESSAGES,
          { role: 'assistant', content: null, tool_calls: [call!] },
          { role: 'tool', tool_call_id: call!.id, content: '{"temp": 21}' },
        ],
      });
      expect(after.choices[0].message.content).toBe(mock.answerFor(CHAT));
      const none = await openai.chat.completions.create({ ...body, tool_choice: 'none' });
      expect(none.choices[0].message.tool_calls).toBeUndefined();
    });
  });

  it('embeds deterministically with the requested dimensions', async () => {
    await withMock({}, async (mock) => {
      const openai = client(mock);
      const one = await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
      expect(one.data[0].embedding).toHaveLength(8);
      const many = await openai.embeddings.create({ model: 'text-embedding-3-small', input: ['hello', 'world'], dimensions: 32 });
      expect(many.data.map((d) => d.embedding.length)).toEqual([32, 32]);
      expect(many.usage.prompt_tokens).toBeGreaterThan(0);
      const again = await openai.embeddings.create({ model: 'x', input: 'hello' });
      expect(Array.from(again.data[0].embedding)).toEqual(Array.from(one.data[0].embedding));
      // float encoding carries the same numbers as the SDK-default base64; vectors are unit length
      const res = await post(mock, '/embeddings', { model: 'x', input: 'hello', encoding_format: 'float' });
      const floats = ((await res.json()) as { data: Array<{ embedding: number[] }> }).data[0].embedding;
      expect(floats).toEqual(Array.from(one.data[0].embedding));
      expect(Math.hypot(...floats)).toBeCloseTo(1, 5);
      expect(many.data[0].embedding.slice(0, 8)).not.toEqual(many.data[1].embedding.slice(0, 8));
    });
  });

  it('lists models and answers bad requests in the OpenAI error shape', async () => {
    await withMock({}, async (mock) => {
      const models = await client(mock).models.list();
      expect(models.data.length).toBeGreaterThan(0);
      const notFound = await post(mock, '/nope', {});
      expect(notFound.status).toBe(404);
      expect(await errorOf(notFound)).toMatchObject({ type: 'invalid_request_error', code: 'unknown_url' });
      const wrongMethod = await fetch(`${mock.url}/chat/completions`);
      expect(wrongMethod.status).toBe(405);
      const badJson = await post(mock, '/chat/completions', '{"model":');
      expect(badJson.status).toBe(400);
      expect((await errorOf(badJson)).type).toBe('invalid_request_error');
      await expect(client(mock).chat.completions.create({ model: 'x', messages: [] })).rejects.toBeInstanceOf(BadRequestError);
      const stats = mock.stats();
      expect(stats.records.map((r) => r.status)).toEqual([200, 404, 405, 400, 400]);
      expect(stats.records[3].body).toBe('{"model":');
    });
  });
});

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
      await new Promise((r) => setTimeout(r, 20));
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
      await new Promise((r) => setTimeout(r, 30));
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
    await withMock({ plan: { script: [{ latency_ms: 80 }, { first_token_ms: 100 }, { chunk_gap_ms: 10 }] } }, async (mock) => {
      let started = Date.now();
      await client(mock).chat.completions.create(CHAT);
      expect(Date.now() - started).toBeGreaterThanOrEqual(78);

      const res = await post(mock, '/chat/completions', { ...CHAT, stream: true });
      const headersAt = Date.now();
      await res.text();
      expect(Date.now() - headersAt).toBeGreaterThanOrEqual(50); // the body waited first_token_ms after headers

      started = Date.now();
      const stream = await client(mock).chat.completions.create({ ...CHAT, stream: true });
      let chunks = 0;
      for await (const _ of stream) chunks++;
      expect(Date.now() - started).toBeGreaterThanOrEqual((chunks - 1) * 10 - 2);
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

describe('mock: control and lifecycle', () => {
  it('replaces, validates, reports and resets over HTTP', async () => {
    await withMock({ plan: { default: { status: 500 } } }, async (mock) => {
      const root = mock.url.replace(/\/v1$/, '');
      const put = (plan: unknown) =>
        fetch(`${root}/_mock/plan`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(plan) });

      const bad = await put({ script: [{}, { status: 'x' }] });
      expect(bad.status).toBe(400);
      const badError = await errorOf(bad);
      expect(badError.param).toBe('script[1].status');
      expect(badError.message).toContain('plan.script[1].status');
      expect((await errorOf(await put({ script: [{ latency: 5 }] }))).param).toBe('script[0].latency');
      expect((await errorOf(await put({ failure_rate: 0.5 }))).param).toBe('mix');

      const ok = await put({ script: [{ status: 503 }] });
      expect(ok.status).toBe(200);
      expect((await post(mock, '/chat/completions', CHAT)).status).toBe(503);
      expect((await post(mock, '/chat/completions', CHAT)).status).toBe(200);

      const stats = (await (await fetch(`${root}/_mock/stats`)).json()) as MockStats;
      expect(stats.requests).toBe(2);
      expect(stats.byOutcome).toMatchObject({ status: 1, ok: 1 });
      expect(stats.records[0].headers.authorization).toBe('Bearer sk-test');
      expect(stats.records[0].body).toEqual(CHAT);

      expect((await fetch(`${root}/_mock/reset`, { method: 'POST' })).status).toBe(200);
      expect(mock.stats()).toMatchObject({ requests: 0, records: [] });
      expect((await post(mock, '/chat/completions', CHAT)).status).toBe(500); // back to the start plan
      expect((await fetch(`${root}/_mock/nope`)).status).toBe(404);
    });
  });

  it('offers the same control in-process and keeps maxRecords records', async () => {
    await withMock({ maxRecords: 2 }, async (mock) => {
      expect(() => mock.setPlan({ default: { cut_after: -1 } })).toThrow(/plan\.default\.cut_after/);
      mock.setPlan({ script: [{ status: 500 }] });
      for (let i = 0; i < 3; i++) await (await post(mock, '/chat/completions', CHAT)).arrayBuffer();
      const stats = mock.stats();
      expect(stats.requests).toBe(3);
      expect(stats.records.map((r) => r.n)).toEqual([2, 3]);
      expect(stats.byOutcome).toMatchObject({ status: 1, ok: 2, pending: 0 });
      mock.reset();
      expect(mock.stats().requests).toBe(0);
      expect(validatePlan({ mix: [{}] })).toEqual({ mix: [{}] });
    });
  });

  it('records when the client aborts a stream, and stops writing to it', async () => {
    await withMock({ plan: { default: { chunk_gap_ms: 30 } } }, async (mock) => {
      const stream = await client(mock).chat.completions.create({ ...CHAT, stream: true });
      let chunks = 0;
      for await (const _ of stream) {
        if (++chunks === 2) break; // the SDK aborts the request
      }
      await new Promise((r) => setTimeout(r, 50));
      const record = mock.stats().records[0];
      expect(record.closedByClientAt).toBeGreaterThanOrEqual(record.at);
      expect(record.finishedAt).toBeUndefined();
      const sent = record.chunksSent;
      await new Promise((r) => setTimeout(r, 80));
      expect(mock.stats().records[0].chunksSent).toBe(sent);
    });
  });

  it('clears a request’s timers when its client goes away', async () => {
    await withMock({ plan: { default: { latency_ms: 60_000 } } }, async (mock) => {
      const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      const before = timers();
      const abort = new AbortController();
      const pending = post(mock, '/chat/completions', CHAT, { signal: abort.signal }).catch(() => 'aborted');
      await new Promise((r) => setTimeout(r, 40));
      expect(timers()).toBeGreaterThan(before);
      abort.abort();
      expect(await pending).toBe('aborted');
      await new Promise((r) => setTimeout(r, 30));
      expect(timers()).toBeLessThanOrEqual(before);
      expect(mock.stats().records[0].closedByClientAt).toBeDefined();
    });
  });

  it('closes quickly with hung and stalled connections', async () => {
    const mock = await startMock({ plan: { script: [{ hang: true }, { stall_after: 1 }] } });
    const hung = client(mock).chat.completions.create(CHAT).catch((e: unknown) => e);
    await until(() => mock.stats().records.length === 1); // so the script hands out hang, then stall, in that order
    const stalled = await post(mock, '/chat/completions', { ...CHAT, stream: true });
    const stalledBody = stalled.text().catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 30));
    const started = Date.now();
    await mock.close();
    expect(Date.now() - started).toBeLessThan(500);
    expect(await hung).toBeInstanceOf(APIConnectionError);
    expect(await stalledBody).toBeInstanceOf(Error);
    expect(mock.stats().records[0].closedByClientAt).toBeUndefined(); // the mock closed it, not the client
    await mock.close(); // idempotent
  });
});
