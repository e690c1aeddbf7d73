import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { startMock, type MockServer } from '../../src/mock/index.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { CLIENT_KEY, collectText, memoryLogger } from '../support/helpers.js';

const GOOGLE_KEY = 'AIzaSyD-e2e-0123456789abcdefghijklmnopq';

let mock: MockServer;
let server: RunningServer;
let client: OpenAI;
let lines: string[];

beforeAll(async () => {
  mock = await startMock();
  const config = resolveConfig({
    server: { port: 0 },
    retry: { max_attempts: 3, base_delay_ms: 10, max_delay_ms: 20 },
    providers: { google: { type: 'gemini', api_key: GOOGLE_KEY, base_url: `${mock.origin}/v1beta` } },
    models: {
      gem: { targets: [{ provider: 'google', model: 'gemini-2.0-flash' }] },
      'gem-embed': { targets: [{ provider: 'google', model: 'text-embedding-004' }] },
    },
  });
  const logged = memoryLogger();
  lines = logged.lines;
  server = await startServer(config, { logger: logged.logger });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0, timeout: 20_000 });
});
afterAll(async () => {
  await server?.shutdown();
  await mock?.close();
});

const messages = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Say hello' },
];
const lastRecord = () => mock.stats().records.at(-1)!;

describe('OpenAI SDK → lifeline → mock in the Gemini dialect', () => {
  it('answers a chat completion with the mock text, over generateContent', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'gem', messages }).withResponse();
    expect(data.choices[0]?.message.content).toBe(mock.answerFor({ model: 'gemini-2.0-flash', messages }));
    expect(data.choices[0]?.finish_reason).toBe('stop');
    expect(data.usage?.total_tokens).toBeGreaterThan(0);
    expect(response.headers.get('x-lifeline-deployment')).toBe('google/gemini-2.0-flash');
    const record = lastRecord();
    expect(record.path).toBe('/v1beta/models/gemini-2.0-flash:generateContent');
    const sent = record.body as Record<string, unknown>;
    expect(sent.systemInstruction).toEqual({ parts: [{ text: 'You are terse.' }] });
    expect(sent.contents).toEqual([{ role: 'user', parts: [{ text: 'Say hello' }] }]);
  });

  it('streams: the text reassembles, finish_reason is stop, usage arrives', async () => {
    const stream = await client.chat.completions.create({ model: 'gem', messages, stream: true, stream_options: { include_usage: true } });
    const { text, finish, usage, chunks } = await collectText(stream);
    expect(text).toBe(mock.answerFor({ model: 'gemini-2.0-flash', messages }));
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBeGreaterThan(0);
    expect(usage?.total_tokens).toBe((usage?.prompt_tokens ?? 0) + (usage?.completion_tokens ?? 0));
    expect(chunks).toBeGreaterThan(3);
    expect(lastRecord().path).toBe('/v1beta/models/gemini-2.0-flash:streamGenerateContent');
    expect(lastRecord().stream).toBe(true);
  });

  it('makes a tool call whose arguments parse, and sends the result back as a functionResponse', async () => {
    const tools = [
      {
        type: 'function' as const,
        function: {
          name: 'get_weather',
          description: 'Weather for a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
        },
      },
    ];
    const first = await client.chat.completions.create({ model: 'gem', messages, tools, tool_choice: 'auto' });
    const call = first.choices[0]?.message.tool_calls?.[0];
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ city: 'mock' });
    const second = await client.chat.completions.create({
      model: 'gem',
      tools,
      messages: [...messages, first.choices[0]!.message, { role: 'tool', tool_call_id: call!.id, content: '{"temp":21}' }],
    });
    expect(second.choices[0]?.message.content).toBe(mock.answerFor({ model: 'x', messages: [{ role: 'user', content: 'x' }] }));
    const sent = lastRecord().body as { contents: Array<{ role: string; parts: unknown[] }> };
    expect(sent.contents.at(-1)).toEqual({ role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temp: 21 } } }] });
  });

  it('streams a tool call as a whole tool_calls delta', async () => {
    const stream = await client.chat.completions.create({
      model: 'gem',
      messages,
      stream: true,
      tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } } }],
    });
    let args = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        args += c.delta.tool_calls?.map((t) => t.function?.arguments ?? '').join('') ?? '';
        finish = c.finish_reason ?? finish;
      }
    }
    expect(JSON.parse(args)).toEqual({ q: 'mock' });
    expect(finish).toBe('tool_calls');
  });

  it('creates embeddings with the requested dimensions over batchEmbedContents', async () => {
    // The SDK asks for base64 unless told otherwise; Gemini returns floats (see the report on encoding_format).
    const res = await client.embeddings.create({ model: 'gem-embed', input: ['a', 'b'], dimensions: 16, encoding_format: 'float' });
    expect(res.data).toHaveLength(2);
    expect(res.data[0]?.embedding).toHaveLength(16);
    expect(res.data[0]?.embedding).not.toEqual(res.data[1]?.embedding);
    const record = lastRecord();
    expect(record.path).toBe('/v1beta/models/text-embedding-004:batchEmbedContents');
    expect((record.body as { requests: unknown[] }).requests[0]).toEqual({
      model: 'models/text-embedding-004',
      content: { parts: [{ text: 'a' }] },
      outputDimensionality: 16,
    });
  });

  it('answers the SDK default (base64) with the same vectors, and estimates usage', async () => {
    const floats = await client.embeddings.create({ model: 'gem-embed', input: 'hello world', dimensions: 8, encoding_format: 'float' });
    const byDefault = await client.embeddings.create({ model: 'gem-embed', input: 'hello world', dimensions: 8 });
    expect(byDefault.data[0]?.embedding).toHaveLength(8);
    for (let i = 0; i < 8; i++) expect(byDefault.data[0]!.embedding[i]).toBeCloseTo(floats.data[0]!.embedding[i]!, 5);
    expect(byDefault.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it('retries a 503 UNAVAILABLE in Google’s error shape and answers from the next attempt', async () => {
    mock.setPlan({ script: [{ status: 503 }] });
    try {
      const { data, response } = await client.chat.completions.create({ model: 'gem', messages }).withResponse();
      expect(data.choices[0]?.message.content).toBe(mock.answerFor({ model: 'x', messages }));
      expect(response.headers.get('x-lifeline-attempts')).toBe('2');
    } finally {
      mock.setPlan({});
    }
  });

  it('sends the key as x-goog-api-key, never in the URL, and leaks it nowhere', async () => {
    const records = mock.stats().records;
    expect(records.length).toBeGreaterThan(0);
    for (const r of records) {
      expect(r.headers['x-goog-api-key']).toBe(GOOGLE_KEY);
      expect(r.headers.authorization).toBeUndefined();
      expect(r.path).not.toContain(GOOGLE_KEY);
      expect(JSON.stringify(r.headers)).not.toContain(CLIENT_KEY);
    }
    for (const line of lines) expect(line).not.toContain(GOOGLE_KEY);
  });
});

describe('OpenAI SDK → lifeline → Gemini faults', () => {
  it('ends a committed stream with an error when Gemini sends an error event mid-stream', async () => {
    mock.setPlan({ script: [{ error_event_after: 2 }] });
    try {
      const stream = await client.chat.completions.create({ model: 'gem', messages, stream: true });
      const err = await collectText(stream).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(String((err as Error).message)).toMatch(/mid-stream/);
    } finally {
      mock.setPlan({});
    }
  });

  it('retries a stream cut before its finish reason (no terminal event is not a clean end)', async () => {
    mock.setPlan({ script: [{ cut_after: 0 }] });
    try {
      const stream = await client.chat.completions.create({ model: 'gem', messages, stream: true });
      const { text, finish } = await collectText(stream);
      expect(text).toBe(mock.answerFor({ model: 'x', messages }));
      expect(finish).toBe('stop');
      expect(mock.stats().records.slice(-2).map((r) => r.outcome)).toEqual(['cut', 'ok']);
    } finally {
      mock.setPlan({});
    }
  });

  it('fails a committed stream that ends without a finish reason instead of passing it off as complete', async () => {
    mock.setPlan({ script: [{ cut_after: 100 }] });
    try {
      const stream = await client.chat.completions.create({ model: 'gem', messages, stream: true });
      let text = '';
      const err = await (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      })().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(text.length).toBeGreaterThan(0);
      expect(mock.answerFor({ model: 'x', messages }).startsWith(text)).toBe(true);
      expect(text).not.toBe(mock.answerFor({ model: 'x', messages }));
    } finally {
      mock.setPlan({});
    }
  });

  it('answers a context-length fault as a 400 the client can act on, without retrying', async () => {
    mock.setPlan({ script: [{ status: 400, error_code: 'context_length_exceeded' }] });
    try {
      const before = mock.stats().requests;
      const err = await client.chat.completions.create({ model: 'gem', messages }).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 400, code: 'context_length_exceeded' });
      expect(mock.stats().requests).toBe(before + 1);
    } finally {
      mock.setPlan({});
    }
  });
});

interface GoogleErrorBody {
  error: { code: number; message: string; status: string; details?: unknown[] };
}

describe('mock: the Gemini dialect on the wire', () => {
  const post = (path: string, body: unknown) =>
    fetch(`${mock.origin}/v1beta/models/gemini-2.0-flash:${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-goog-api-key': GOOGLE_KEY },
      body: JSON.stringify(body),
    });
  const hello = { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] };

  it('validates like the real API, in Google’s error shape', async () => {
    const missing = await post('generateContent', {});
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as GoogleErrorBody).error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT', message: expect.stringMatching(/contents is not specified/) });
    const unknown = await post('generateContent', { ...hello, messages: [] });
    expect(((await unknown.json()) as GoogleErrorBody).error.message).toMatch(/Unknown name "messages"/);
    const role = await post('generateContent', { contents: [{ role: 'assistant', parts: [{ text: 'x' }] }] });
    expect(((await role.json()) as GoogleErrorBody).error.message).toMatch(/valid role: user, model/);
    const schema = await post('generateContent', {
      ...hello,
      tools: [{ functionDeclarations: [{ name: 'f', parameters: { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false } }] }],
    });
    expect(((await schema.json()) as GoogleErrorBody).error.message).toMatch(/Unknown name "additionalProperties"/);
  });

  it('streams SSE events one word each with alt=sse, and a JSON array without it', async () => {
    const sse = await post('streamGenerateContent?alt=sse', hello);
    expect(sse.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = (await sse.text()).split('\r\n\r\n').filter(Boolean).map((e) => JSON.parse(e.replace(/^data: /, '')));
    expect(events.map((e) => e.candidates[0].content.parts[0].text).join('')).toBe(mock.answerFor({ messages: [] }));
    expect(events.at(-1)).toMatchObject({ candidates: [{ finishReason: 'STOP' }], usageMetadata: { totalTokenCount: expect.any(Number) } });
    expect(events.slice(0, -1).every((e) => e.candidates[0].finishReason === undefined)).toBe(true);
    const array = await post('streamGenerateContent', hello);
    expect(await array.json()).toHaveLength(events.length);
  });

  it('renders a 429 fault as RESOURCE_EXHAUSTED with a RetryInfo delay', async () => {
    mock.setPlan({ script: [{ status: 429, retry_after: 7 }] });
    try {
      const res = await post('generateContent', hello);
      expect(res.status).toBe(429);
      const { error } = (await res.json()) as GoogleErrorBody;
      expect(error).toMatchObject({ code: 429, status: 'RESOURCE_EXHAUSTED' });
      expect(error.details).toContainEqual({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '7s' });
    } finally {
      mock.setPlan({});
    }
  });

  it('sends a Google error event mid-stream', async () => {
    mock.setPlan({ script: [{ error_event_after: 1, error_code: 'UNAVAILABLE' }] });
    try {
      const res = await post('streamGenerateContent?alt=sse', hello);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text.startsWith('data: ')).toBe(true);
      const last = JSON.parse(text.trim().split('\n').at(-1)!.replace(/^data: /, ''));
      expect(last.error).toMatchObject({ code: 503, status: 'UNAVAILABLE' });
    } finally {
      mock.setPlan({});
    }
  });
});
