// The Anthropic ingress dialect, without sockets: Messages requests → canonical, canonical answers and stream
// chunks → Messages shapes, and errors. Fixtures follow the wire shapes of both APIs.
import { describe, expect, it } from 'vitest';
import { type ErrorKind, GatewayError } from '../../../src/errors.js';
import { anthropicClientKey, anthropicMessages } from '../../../src/server/dialects/anthropic/dialect.js';

const dialect = anthropicMessages('req-test-1');
const parse = (body: Record<string, unknown>) => dialect.parse(body);
const base = { model: 'claude-test', max_tokens: 256 };

function badRequest(body: Record<string, unknown>): GatewayError {
  try {
    parse(body);
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).status).toBe(400);
    return err as GatewayError;
  }
  throw new Error('expected a 400');
}

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const pngBlock = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } };
const pngPart = { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } };
const weatherSchema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };

describe('parse: Messages request → canonical chat request', () => {
  it('translates a plain conversation with a system prompt and sampling fields', () => {
    const { model, stream, canonical } = parse({
      ...base,
      system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'Answer in English.' }],
      messages: [
        { role: 'user', content: 'Hello' },
        { role: 'assistant', content: [{ type: 'text', text: 'Hi.' }] },
        { role: 'user', content: [{ type: 'text', text: 'How are you?' }] },
      ],
      ...{ temperature: 0.2, top_p: 0.9, top_k: 40, stop_sequences: ['\n\nHuman:'], metadata: { user_id: 'user-42' } },
    });
    expect(model).toBe('claude-test');
    expect(stream).toBe(false);
    expect(canonical).toEqual({
      model: 'claude-test',
      max_tokens: 256,
      messages: [
        { role: 'system', content: 'You are terse.\nAnswer in English.' },
        { role: 'user', content: 'Hello' },
        { role: 'assistant', content: 'Hi.' },
        { role: 'user', content: 'How are you?' },
      ],
      ...{ temperature: 0.2, top_p: 0.9, stop: ['\n\nHuman:'], user: 'user-42' },
    });
  });

  it('streams when the client streams; usage is not its to ask for (every stream reports it, providers/adapter.ts)', () => {
    const { stream, canonical } = parse({ ...base, stream: true, system: 'Be brief.', messages: [{ role: 'user', content: 'Hi' }] });
    expect(stream).toBe(true);
    expect(canonical).toMatchObject({ stream: true });
    expect(canonical).not.toHaveProperty('stream_options');
    expect((canonical.messages as unknown[])[0]).toEqual({ role: 'system', content: 'Be brief.' });
  });

  it('turns base64 and url images into image_url parts, and text documents into text', () => {
    const { canonical } = parse({
      ...base,
      messages: [
        {
          role: 'user',
          content: [
            pngBlock,
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
            { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'The notes.' } },
            { type: 'text', text: 'What is in these?' },
          ],
        },
      ],
    });
    const parts = [pngPart, { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } }, { type: 'text', text: 'The notes.' }];
    expect(canonical.messages).toEqual([{ role: 'user', content: [...parts, { type: 'text', text: 'What is in these?' }] }]);
  });

  it('maps tool definitions, tool_use turns and tool_result turns (tool messages first, errors said in the text)', () => {
    const { canonical } = parse({
      ...base,
      tools: [
        { name: 'get_weather', description: 'Weather for a city', input_schema: weatherSchema },
        { name: 'get_time', input_schema: { type: 'object', properties: {} } },
      ],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      messages: [
        { role: 'user', content: 'Weather and time in Paris?' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'Two tools.', signature: 'sig' },
            { type: 'text', text: 'Checking.' },
            { type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { city: 'Paris' } },
            { type: 'tool_use', id: 'toolu_01B', name: 'get_time', input: {} },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_01A', content: [{ type: 'text', text: '18°C, cloudy' }] },
            { type: 'tool_result', tool_use_id: 'toolu_01B', content: 'clock unavailable', is_error: true },
            { type: 'text', text: 'Thanks!' },
          ],
        },
      ],
    });
    expect(canonical.tools).toEqual([
      { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: weatherSchema } },
      { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
    ]);
    expect(canonical.tool_choice).toBe('required');
    expect(canonical.parallel_tool_calls).toBe(false);
    expect(canonical.messages).toEqual([
      { role: 'user', content: 'Weather and time in Paris?' },
      {
        role: 'assistant',
        content: 'Checking.',
        tool_calls: [
          { id: 'toolu_01A', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'toolu_01B', type: 'function', function: { name: 'get_time', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_01A', content: '18°C, cloudy' },
      { role: 'tool', tool_call_id: 'toolu_01B', content: 'Error: clock unavailable' },
      { role: 'user', content: 'Thanks!' },
    ]);
  });

  it('maps every tool_choice', () => {
    const tools = [{ name: 'f', input_schema: { type: 'object' } }];
    const choice = (tool_choice: unknown) => parse({ ...base, tools, tool_choice, messages: [{ role: 'user', content: 'x' }] }).canonical.tool_choice;
    expect(choice({ type: 'auto' })).toBe('auto');
    expect(choice({ type: 'any' })).toBe('required');
    expect(choice({ type: 'none' })).toBe('none');
    expect(choice({ type: 'tool', name: 'f' })).toEqual({ type: 'function', function: { name: 'f' } });
    // Without tools, no tool_choice (OpenAI refuses one).
    expect(parse({ ...base, tools: [], tool_choice: { type: 'auto' }, messages: [{ role: 'user', content: 'x' }] }).canonical).not.toHaveProperty('tool_choice');
  });

  it('puts images a tool returned into a user message after the tool message', () => {
    const { canonical } = parse({
      ...base,
      messages: [
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'screenshot', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'Here it is.' }, pngBlock] }] },
      ],
    });
    expect(canonical.messages).toEqual([
      { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'screenshot', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'toolu_1', content: 'Here it is.' },
      { role: 'user', content: [pngPart] },
    ]);
  });

  const messages = [{ role: 'user', content: 'hi' }];
  const inUser = (block: unknown) => ({ ...base, messages: [{ role: 'user', content: [block] }] });
  it.each([
    [{ model: 'm', messages }, 'max_tokens', 'max_tokens: Field required'],
    [{ model: 'm', max_tokens: 0, messages }, 'max_tokens', 'positive integer'],
    [{ max_tokens: 5, messages }, 'model', 'model: Field required'],
    [{ ...base }, 'messages', 'Field required'],
    [{ ...base, messages: [] }, 'messages', 'at least one'],
    [{ ...base, messages: [{ role: 'user' }] }, 'messages.0.content', 'Field required'],
    [{ ...base, messages: [{ role: 'user', content: 5 }] }, 'messages.0.content', 'got a number'],
    [{ ...base, messages: [{ role: 'system', content: 'x' }] }, 'messages.0.role', '"system"'],
    [inUser({ type: 'text' }), 'messages.0.content.0.text', 'Field required'],
    [inUser({ type: 'tool_use', id: 'a', name: 'b', input: {} }), 'messages.0.content.0.type', 'not supported in user'],
    [inUser({ type: 'image', source: { type: 'file', file_id: 'f' } }), 'messages.0.content.0.source.type', '"file"'],
    [{ ...base, messages, tools: [{ type: 'web_search_20250305', name: 'web_search' }] }, 'tools.0.type', 'server tools'],
    [{ ...base, messages, tools: [{ name: 'f' }] }, 'tools.0.input_schema', 'must be an object'],
    [{ ...base, messages, temperature: 'hot' }, 'temperature', 'must be a number'],
    [{ ...base, messages, stream: 'yes' }, 'stream', 'must be a boolean'],
    [{ ...base, messages, system: [{ type: 'image' }] }, 'system.0.type', 'must be "text"'],
    [{ ...base, messages, stop_sequences: ['ok', 7] }, 'stop_sequences.1', 'must be a string'],
  ])('refuses %j with a 400 naming %s', (body, param, message) => {
    const err = badRequest(body as Record<string, unknown>);
    expect(err.param).toBe(param);
    expect(err.message).toContain(`${param}: `);
    expect(err.message).toContain(message);
  });
});

describe('renderJson: canonical chat.completion → Anthropic Message', () => {
  const completion = (message: Record<string, unknown>, finish_reason: string, usage?: Record<string, unknown>) =>
    JSON.stringify({
      id: 'chatcmpl-abc123',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'gpt-4o-2024-08-06',
      choices: [{ index: 0, message: { role: 'assistant', refusal: null, ...message }, logprobs: null, finish_reason }],
      usage: usage ?? { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 },
    });

  it('renders a text answer', () => {
    expect(JSON.parse(dialect.renderJson(completion({ content: 'Hello there.' }, 'stop')))).toEqual({
      id: 'msg_chatcmpl-abc123',
      type: 'message',
      role: 'assistant',
      model: 'gpt-4o-2024-08-06',
      content: [{ type: 'text', text: 'Hello there.' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 12, output_tokens: 7 },
    });
  });

  it('renders tool calls as tool_use blocks with parsed input, and cached prompt tokens apart', () => {
    const tool_calls = [
      { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"c"}' } },
      { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '' } },
    ];
    const usage = { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120, prompt_tokens_details: { cached_tokens: 64 } };
    const body = completion({ content: null, tool_calls }, 'tool_calls', usage);
    const message = JSON.parse(dialect.renderJson(body));
    expect(message.content).toEqual([
      { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris', unit: 'c' } },
      { type: 'tool_use', id: 'call_2', name: 'get_time', input: {} },
    ]);
    expect(message.stop_reason).toBe('tool_use');
    expect(message.usage).toEqual({ input_tokens: 36, output_tokens: 20, cache_read_input_tokens: 64 });
  });

  it('maps the other finish reasons and keeps an empty answer readable', () => {
    expect(JSON.parse(dialect.renderJson(completion({ content: 'Cut' }, 'length'))).stop_reason).toBe('max_tokens');
    const filtered = JSON.parse(dialect.renderJson(completion({ content: '' }, 'content_filter')));
    expect(filtered.stop_reason).toBe('refusal');
    expect(filtered.content).toEqual([{ type: 'text', text: '' }]);
  });
});

interface SseEvent {
  event: string;
  data: Record<string, unknown> & { type: string };
}

/** Frames must be exactly `event: <type>\ndata: <json with the same type>`. */
function parseSse(text: string): SseEvent[] {
  return text.split('\n\n').filter(Boolean).map((frame) => {
    const [, event = '', data = ''] = /^event: (\w+)\ndata: (.+)$/.exec(frame) ?? [];
    const parsed = JSON.parse(data);
    expect(parsed.type).toBe(event);
    return { event, data: parsed };
  });
}

const chunkBase = { id: 'chatcmpl-s1', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-4o', system_fingerprint: 'fp_x' };
const chunk = (delta: Record<string, unknown>, finish_reason: string | null = null) =>
  JSON.stringify({ ...chunkBase, choices: [{ index: 0, delta, logprobs: null, finish_reason }], usage: null });
const usageChunk = JSON.stringify({ ...chunkBase, choices: [], usage: { prompt_tokens: 30, completion_tokens: 9, total_tokens: 39 } });

function run(chunks: string[]): SseEvent[] {
  const writer = dialect.streamWriter();
  let out = '';
  for (const data of chunks) out += writer.chunk({ type: 'chunk', data });
  return parseSse(out + writer.done());
}

describe('streamWriter: canonical chunks → Anthropic SSE', () => {
  it('streams text then a tool call in the order the SDKs expect, holding message_delta for the usage chunk', () => {
    const events = run([
      chunk({ role: 'assistant', content: '', refusal: null }),
      chunk({ content: 'Let me ' }),
      chunk({ content: 'check.' }),
      chunk({ tool_calls: [{ index: 0, id: 'call_9', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
      chunk({}, 'tool_calls'),
      usageChunk,
    ]);
    const block = ['content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop'];
    expect(events.map((e) => e.event)).toEqual(['message_start', ...block, ...block, 'message_delta', 'message_stop']);
    expect(events[0]!.data.message).toMatchObject({ id: 'msg_chatcmpl-s1', role: 'assistant', model: 'gpt-4o', content: [], stop_reason: null });
    expect(events[1]!.data).toMatchObject({ index: 0, content_block: { type: 'text', text: '' } });
    expect(events[2]!.data).toMatchObject({ index: 0, delta: { type: 'text_delta', text: 'Let me ' } });
    expect(events[4]!.data).toMatchObject({ index: 0 });
    expect(events[5]!.data).toMatchObject({ index: 1, content_block: { type: 'tool_use', id: 'call_9', name: 'get_weather', input: {} } });
    const json = events.filter((e) => (e.data.delta as { type?: string })?.type === 'input_json_delta');
    expect(json.map((e) => (e.data.delta as { partial_json: string }).partial_json).join('')).toBe('{"city":"Paris"}');
    expect(events[8]!.data).toMatchObject({ index: 1 });
    const usage = { input_tokens: 30, output_tokens: 9 };
    expect(events[9]!.data).toEqual({ type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage });
  });

  it('sends message_delta as soon as finish and usage are both known, message_stop only at the end', () => {
    const writer = dialect.streamWriter();
    const first = parseSse(writer.chunk({ type: 'chunk', data: chunk({ role: 'assistant', content: 'Hi' }) }));
    expect(first.map((e) => e.event)).toEqual(['message_start', 'content_block_start', 'content_block_delta']);
    const finish = parseSse(writer.chunk({ type: 'chunk', data: chunk({}, 'stop') }));
    expect(finish.map((e) => e.event)).toEqual(['content_block_stop']);
    const usage = parseSse(writer.chunk({ type: 'chunk', data: usageChunk }));
    expect(usage.map((e) => e.event)).toEqual(['message_delta']);
    expect(usage[0]!.data.delta).toEqual({ stop_reason: 'end_turn', stop_sequence: null });
    expect(parseSse(writer.done()).map((e) => e.event)).toEqual(['message_stop']);
  });

  it('without a usage chunk, done() flushes message_delta with an estimate (never 0 output tokens for output)', () => {
    const events = run([chunk({ role: 'assistant', content: '' }), chunk({ content: 'A fairly short answer.' }), chunk({}, 'length')]);
    expect(events.map((e) => e.event).slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    const delta = events.at(-2)!.data as unknown as { delta: { stop_reason: string }; usage: { output_tokens: number } };
    expect(delta.delta.stop_reason).toBe('max_tokens');
    expect(delta.usage.output_tokens).toBeGreaterThan(0);
  });

  it('gives an answer with no content an empty text block', () => {
    const events = run([chunk({ role: 'assistant', content: '' }), chunk({}, 'stop'), usageChunk]);
    expect(events.map((e) => e.event)).toEqual(['message_start', 'content_block_start', 'content_block_stop', 'message_delta', 'message_stop']);
  });

  it('ends a failed stream with an error event in Anthropic shape, and carries the request id', () => {
    const writer = dialect.streamWriter();
    expect(writer.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(writer.headers['request-id']).toBe('req-test-1');
    writer.chunk({ type: 'chunk', data: chunk({ role: 'assistant', content: 'Hi' }) });
    const [e] = parseSse(writer.error(new GatewayError('overloaded', 'Upstream overloaded', { status: 529 })));
    expect(e!.data).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Upstream overloaded' }, request_id: 'req-test-1' });
  });
});

describe('errors in Anthropic shape', () => {
  it('picks the error type by status', () => {
    const typeFor = (kind: ErrorKind, status?: number) =>
      (JSON.parse(dialect.errorBody(new GatewayError(kind, 'x', { status }))) as { error: { type: string } }).error.type;
    expect(typeFor('bad_request')).toBe('invalid_request_error');
    expect(typeFor('context_length')).toBe('invalid_request_error');
    expect([typeFor('auth'), typeFor('auth', 403), typeFor('not_found')]).toEqual(['authentication_error', 'permission_error', 'not_found_error']);
    expect([typeFor('payload_too_large'), typeFor('rate_limited')]).toEqual(['request_too_large', 'rate_limit_error']);
    expect([typeFor('overloaded'), typeFor('overloaded', 529), typeFor('timeout')]).toEqual(['overloaded_error', 'overloaded_error', 'timeout_error']);
    expect([typeFor('server'), typeFor('internal')]).toEqual(['api_error', 'api_error']);
  });

  it('has the Anthropic body and headers: request-id always, retry-after when known', () => {
    const err = new GatewayError('rate_limited', 'Slow down', { retryAfterMs: 2500 });
    expect(JSON.parse(dialect.errorBody(err))).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: 'Slow down' }, request_id: 'req-test-1' });
    const headers = { 'content-type': 'application/json', 'request-id': 'req-test-1', 'retry-after': '3', 'retry-after-ms': '2500' };
    expect(dialect.errorHeaders(err)).toEqual(headers);
    expect(dialect.errorHeaders(new GatewayError('bad_request', 'x', { retryAfterMs: 1000 }))).not.toHaveProperty('retry-after');
  });

  it('reads the client key from x-api-key or a Bearer token from x-api-key or a Bearer token', () => {
    expect(anthropicClientKey({ 'x-api-key': 'sk-ant-1' })).toBe('sk-ant-1');
    expect(anthropicClientKey({ authorization: 'Bearer tok-2' })).toBe('tok-2');
    expect(anthropicClientKey({ 'x-api-key': 'sk-ant-1', authorization: 'Bearer tok-2' })).toBe('sk-ant-1');
    expect(anthropicClientKey({ authorization: 'Basic abc' })).toBeUndefined();
    expect(anthropicClientKey({})).toBeUndefined();
  });
});
