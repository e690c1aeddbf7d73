// The official Anthropic SDK → lifeline serve (POST /v1/messages) → an OpenAI-dialect mock, over real sockets:
// any configured model answers an Anthropic client, with the same retries and failover as an OpenAI client.
import Anthropic, { APIError, NotFoundError, RateLimitError } from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { startMock } from '../../src/mock/index.js';
import { startServer } from '../../src/server/serve.js';
import { memoryLogger, PROVIDER_KEY, startStack, type Stack } from '../support/helpers.js';

const ANTHROPIC_CLIENT_KEY = 'sk-ant-client-key-not-for-upstream';
const MAX_TOKENS = 1024;
const messages = [{ role: 'user' as const, content: 'Say hello' }];
const weatherTool = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] },
};

let stack: Stack;
let client: Anthropic;
beforeAll(async () => {
  stack = await startStack({
    models: {
      'gpt-test': { targets: [{ provider: 'upstream', model: 'mock-gpt' }] },
      limited: { targets: [{ provider: 'upstream', model: 'mock-limited' }] },
    },
    // One attempt per request: an upstream error reaches the client as it was.
    extra: { retry: { max_attempts: 1 }, health: { failure_threshold: 1000, min_requests: 1000 } },
  });
  // The SDK appends /v1/messages to the base URL itself.
  client = new Anthropic({ baseURL: stack.server.url, apiKey: ANTHROPIC_CLIENT_KEY, maxRetries: 0, timeout: 20_000 });
});
afterAll(async () => {
  await stack.close();
});

/** The text the mock answers for the canonical request the gateway sends it. */
const answer = (extra: Record<string, unknown> = {}) => stack.mock.answerFor({ model: 'mock-gpt', messages, max_tokens: MAX_TOKENS, ...extra });

async function rejection(call: Promise<unknown>): Promise<APIError> {
  const error = await call.then(
    (value) => {
      throw new Error(`expected the request to fail, it answered ${JSON.stringify(value).slice(0, 200)}`);
    },
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(APIError);
  return error as APIError;
}

describe('Anthropic SDK → /v1/messages → OpenAI-dialect mock', () => {
  it('answers a message with text, stop_reason and usage', async () => {
    const { data, response } = await client.messages.create({ model: 'gpt-test', max_tokens: MAX_TOKENS, messages }).withResponse();
    expect(data.type).toBe('message');
    expect(data.role).toBe('assistant');
    const first = data.content[0];
    expect(first?.type === 'text' && first.text).toBe(answer());
    expect(answer()).not.toBe('');
    expect(data.stop_reason).toBe('end_turn');
    expect(data.usage.input_tokens).toBeGreaterThan(0);
    expect(data.usage.output_tokens).toBeGreaterThan(0);
    expect(response.headers.get('x-lifeline-deployment')).toBe('upstream/mock-gpt');
    const sent = stack.mock.stats().records.at(-1)!.body as Record<string, unknown>;
    expect(sent).toMatchObject({ model: 'mock-gpt', max_tokens: MAX_TOKENS, messages });
  });

  it('streams: text_delta events reassemble the answer, message_delta carries output_tokens, finalMessage works', async () => {
    const stream = client.messages.stream({ model: 'gpt-test', max_tokens: MAX_TOKENS, messages, system: 'Be kind.' });
    const types: string[] = [];
    let text = '';
    let outputTokens = 0;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
      if (event.type === 'message_delta') outputTokens = event.usage.output_tokens;
    }
    const expected = stack.mock.answerFor({
      model: 'mock-gpt',
      messages: [{ role: 'system', content: 'Be kind.' }, ...messages],
      max_tokens: MAX_TOKENS,
    });
    expect(text).toBe(expected);
    expect(types[0]).toBe('message_start');
    expect(types.at(-2)).toBe('message_delta');
    expect(types.at(-1)).toBe('message_stop');
    expect(types.filter((t) => t === 'content_block_delta').length).toBeGreaterThan(3);
    expect(outputTokens).toBeGreaterThan(0);
    const final = await stream.finalMessage();
    expect(final.content).toEqual([{ type: 'text', text: expected }]);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBe(outputTokens);
    expect(final.usage.input_tokens).toBeGreaterThan(0);
    // The gateway asked the upstream for the usage chunk on the client's behalf.
    const sent = stack.mock.stats().records.at(-1)!.body as Record<string, unknown>;
    expect(sent.stream_options).toEqual({ include_usage: true });
  });

  it('stops at max_tokens with stop_reason max_tokens, streaming too', async () => {
    const message = await client.messages.create({ model: 'gpt-test', max_tokens: 3, messages });
    expect(message.stop_reason).toBe('max_tokens');
    const streamed = await client.messages.stream({ model: 'gpt-test', max_tokens: 3, messages }).finalMessage();
    expect(streamed.stop_reason).toBe('max_tokens');
    expect(streamed.content).toEqual(message.content);
  });

  it('returns a tool_use block whose input is an object, and takes the tool_result back', async () => {
    const message = await client.messages.create({ model: 'gpt-test', max_tokens: MAX_TOKENS, messages, tools: [weatherTool] });
    expect(message.stop_reason).toBe('tool_use');
    const toolUse = message.content.find((b) => b.type === 'tool_use');
    expect(toolUse).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'mock' } });
    const sent = stack.mock.stats().records.at(-1)!.body as Record<string, unknown>;
    expect(sent.tools).toEqual([{ type: 'function', function: { name: 'get_weather', description: weatherTool.description, parameters: weatherTool.input_schema } }]);

    const streamed = await client.messages
      .stream({ model: 'gpt-test', max_tokens: MAX_TOKENS, messages, tools: [weatherTool], tool_choice: { type: 'tool', name: 'get_weather' } })
      .finalMessage();
    expect(streamed.stop_reason).toBe('tool_use');
    expect(streamed.content.find((b) => b.type === 'tool_use')).toMatchObject({ name: 'get_weather', input: { city: 'mock' } });

    const id = toolUse?.type === 'tool_use' ? toolUse.id : '';
    const followUp = await client.messages.create({
      model: 'gpt-test',
      max_tokens: MAX_TOKENS,
      tools: [weatherTool],
      messages: [
        ...messages,
        { role: 'assistant', content: message.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: '18°C' }] },
      ],
    });
    expect(followUp.stop_reason).toBe('end_turn');
    expect(followUp.content[0]?.type).toBe('text');
    const back = (stack.mock.stats().records.at(-1)!.body as { messages: unknown[] }).messages;
    expect(back.slice(1)).toEqual([
      { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: 'get_weather', arguments: '{"city":"mock"}' } }] },
      { role: 'tool', tool_call_id: id, content: '18°C' },
    ]);
  });

  it('answers an unknown model with 404 not_found_error in Anthropic shape', async () => {
    const err = await rejection(client.messages.create({ model: 'no-such-model', max_tokens: 10, messages }));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.status).toBe(404);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    expect(err.message).toContain('no-such-model');
    expect(err.requestID).toBeTruthy();
  });

  it('answers a missing max_tokens with a 400 naming it', async () => {
    const err = await rejection(client.messages.create({ model: 'gpt-test', messages } as unknown as Anthropic.MessageCreateParamsNonStreaming));
    expect(err.status).toBe(400);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(err.message).toContain('max_tokens');
  });

  it('passes an upstream 429 on (retries exhausted) as a RateLimitError with retry-after', async () => {
    stack.mock.setPlan({ script: [{ status: 429, retry_after: 2 }] });
    try {
      const err = await rejection(client.messages.create({ model: 'limited', max_tokens: 10, messages }));
      expect(err).toBeInstanceOf(RateLimitError);
      expect(err.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
      expect(err.headers?.get('retry-after')).toBe('2');
    } finally {
      stack.mock.setPlan({});
    }
  });

  it('ends a stream that fails after its first token with an Anthropic error event, which the SDK throws', async () => {
    stack.mock.setPlan({ script: [{ error_event_after: 2 }] });
    try {
      const stream = client.messages.stream({ model: 'gpt-test', max_tokens: MAX_TOKENS, messages });
      const types: string[] = [];
      const err = await rejection(
        (async () => {
          for await (const event of stream) types.push(event.type);
        })(),
      );
      expect(types).toEqual(['message_start', 'content_block_start', 'content_block_delta', 'content_block_delta']);
      expect(err.type).toBe('api_error');
      expect(err.message).toContain('mid-stream');
    } finally {
      stack.mock.setPlan({});
    }
  });

  it('renders body-level failures on this route in Anthropic shape; unknown paths stay OpenAI-shaped', async () => {
    const post = async (path: string, body: string) => {
      const res = await fetch(`${stack.server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
    };
    const bad = await post('/v1/messages', '{"model": "gpt-test", "messages": [');
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(bad.json.request_id).toBe(bad.headers.get('request-id'));
    const block = await post('/v1/messages', JSON.stringify({ model: 'gpt-test', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'text' }] }] }));
    expect(block.status).toBe(400);
    expect((block.json.error as { message: string }).message).toContain('messages.0.content.0.text');
    const unknown = await post('/v1/nope', '{}');
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ error: { code: 'unknown_url' } });
  });

  it('never forwards the client key (x-api-key or Bearer) or Anthropic headers upstream', async () => {
    const before = stack.mock.stats().records.length;
    await client.messages.create({ model: 'gpt-test', max_tokens: 10, messages });
    const bearer = new Anthropic({ baseURL: stack.server.url, apiKey: null, authToken: 'bearer-client-token-secret', maxRetries: 0 });
    const viaBearer = await bearer.messages.create({ model: 'gpt-test', max_tokens: MAX_TOKENS, messages });
    expect(viaBearer.content[0]).toEqual({ type: 'text', text: answer() });
    const records = stack.mock.stats().records.slice(before);
    expect(records).toHaveLength(2);
    for (const r of records) {
      expect(r.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
      expect(r.headers['x-api-key']).toBeUndefined();
      expect(r.headers['anthropic-version']).toBeUndefined();
      const all = JSON.stringify(r.headers);
      expect(all).not.toContain(ANTHROPIC_CLIENT_KEY);
      expect(all).not.toContain('bearer-client-token-secret');
    }
  });
});

describe('failover for an Anthropic client', () => {
  it('a fallback answers when the primary keeps failing, JSON and streaming', async () => {
    const east = await startMock({ plan: { default: { status: 500 } }, reply: 'The east mock answers.' });
    const west = await startMock({ plan: {}, reply: 'This answer comes from the west mock.' });
    const config = resolveConfig({
      server: { port: 0 },
      retry: { max_attempts: 2, base_delay_ms: 10, max_delay_ms: 50 },
      providers: {
        east: { type: 'openai', api_key: 'sk-east-provider-key-0123456789', base_url: east.url },
        west: { type: 'openai', api_key: 'sk-west-provider-key-0123456789', base_url: west.url },
      },
      models: {
        main: { targets: [{ provider: 'east', model: 'mock-main' }], fallbacks: ['backup'] },
        backup: { targets: [{ provider: 'west', model: 'mock-backup' }] },
      },
    });
    const server = await startServer(config, { logger: memoryLogger().logger });
    try {
      const anthropic = new Anthropic({ baseURL: server.url, apiKey: ANTHROPIC_CLIENT_KEY, maxRetries: 0, timeout: 20_000 });
      const { data, response } = await anthropic.messages.create({ model: 'main', max_tokens: MAX_TOKENS, messages }).withResponse();
      expect(data.content[0]).toEqual({ type: 'text', text: 'This answer comes from the west mock.' });
      expect(response.headers.get('x-lifeline-fallback')).toBe('backup');
      expect(east.stats().requests).toBeGreaterThanOrEqual(1);

      const streamed = await anthropic.messages.stream({ model: 'main', max_tokens: MAX_TOKENS, messages }).finalMessage();
      expect(streamed.content[0]).toEqual({ type: 'text', text: 'This answer comes from the west mock.' });
      expect(streamed.usage.output_tokens).toBeGreaterThan(0);
      expect(west.stats().requests).toBe(2);
    } finally {
      await server.shutdown();
      await Promise.all([east.close(), west.close()]);
    }
  });
});

describe('the /v1/messages route itself', () => {
  it('a wrong method gets a 405 in Anthropic error shape', async () => {
    const stack = await startStack();
    try {
      const res = await fetch(`${stack.server.url}/v1/messages`);
      expect(res.status).toBe(405);
      const body = (await res.json()) as { type: string; error: { type: string } };
      expect(body.type).toBe('error');
      expect(body.error.type).toBe('invalid_request_error');
    } finally {
      await stack.close();
    }
  });
});
