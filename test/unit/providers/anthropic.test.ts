import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../../src/errors.js';
import { anthropicProvider } from '../../../src/providers/anthropic/adapter.js';
import { adapterFor } from '../../../src/providers/index.js';
import type { Deployment, StreamEvent } from '../../../src/types.js';
import { deployment, providerConfig } from '../../support/fixtures.js';

const KEY = 'sk-ant-api03-secret0123456789abcdef';
const provider = providerConfig({
  ...{ name: 'claude', type: 'anthropic', api_key: KEY, base_url: 'https://api.anthropic.com/v1' },
  ...{ headers: { 'anthropic-beta': 'prompt-caching-2024-07-31' }, supports_prefill: true },
});
const d = deployment(provider, 'claude-sonnet-4-5');

type Json = Record<string, unknown>;
const build = (body: Json, dep: Deployment = d) => anthropicProvider.buildRequest('chat', body, dep);
const sent = (body: Json): Json => JSON.parse(build(body).body!);
function thrown(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (e) {
    return e as GatewayError;
  }
  throw new Error('expected a throw');
}

const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
const weatherTool = { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: schema } };

describe('anthropic provider: requests', () => {
  it('posts to {base_url}/messages with x-api-key, anthropic-version and the provider headers', () => {
    const req = build({ model: 'client-name', messages: [{ role: 'user', content: 'hi' }] });
    expect([req.method, req.url]).toEqual(['POST', 'https://api.anthropic.com/v1/messages']);
    const version = { 'anthropic-version': '2023-06-01' };
    expect(req.headers).toEqual({ 'content-type': 'application/json', ...version, 'anthropic-beta': 'prompt-caching-2024-07-31', 'x-api-key': KEY });
    expect(req.headers.authorization).toBeUndefined();
    const other = build({ messages: [{ role: 'user', content: 'hi' }] }, { ...d, provider: { ...provider, api_version: '2024-01-01', api_key: undefined } });
    expect(other.headers['anthropic-version']).toBe('2024-01-01');
    expect(other.headers['x-api-key']).toBeUndefined();
  });

  it('hoists system and developer messages, merges same-role runs, defaults max_tokens', () => {
    const body = sent({
      model: 'x',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in English.' }] },
        ...[{ role: 'user', content: 'one' }, { role: 'user', content: [{ type: 'text', text: 'two' }] }],
        ...[{ role: 'assistant', content: 'ok' }, { role: 'assistant', content: '' }, { role: 'user', content: 'three' }],
      ],
    });
    const merged = { role: 'user', content: [{ type: 'text', text: 'one' }, { type: 'text', text: 'two' }] };
    const messages = [merged, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'three' }];
    expect(body).toEqual({ model: 'claude-sonnet-4-5', max_tokens: 4096, system: 'Be brief.\n\nAnswer in English.', messages });
    // Anthropic wants the user to open the conversation; OpenAI does not.
    const greeting = sent({ messages: [{ role: 'system', content: 's' }, { role: 'assistant', content: 'Hi!' }, { role: 'user', content: 'x' }] });
    expect((greeting.messages as Json[]).map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
  });

  it('maps sampling fields, stop (string or array), stream, user; drops OpenAI-only fields', () => {
    const messages = [{ role: 'user', content: 'x' }];
    const sampling = { max_completion_tokens: 50, temperature: 1.5, top_p: 0.9, stop: ['END', 'STOP'], stream: true, user: 'u-1' };
    const openAIOnly = { stream_options: { include_usage: true }, seed: 3, frequency_penalty: 0.5, response_format: { type: 'json_object' }, logprobs: false };
    expect(sent({ model: 'x', messages, ...sampling, ...openAIOnly })).toEqual({
      ...{ model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'x' }] },
      temperature: 1, // clamped to Anthropic's range
      ...{ top_p: 0.9, stop_sequences: ['END', 'STOP'], stream: true, metadata: { user_id: 'u-1' } },
    });
    expect(sent({ messages, stop: 'END', max_tokens: 7 })).toMatchObject({ stop_sequences: ['END'], max_tokens: 7 });
    expect(sent({ messages, stop: null })).not.toHaveProperty('stop_sequences');
  });

  it('translates tools and every tool_choice form, and parallel_tool_calls: false', () => {
    const messages = [{ role: 'user', content: 'weather?' }];
    const body = sent({ messages, tools: [weatherTool, { type: 'function', function: { name: 'now' } }] });
    expect(body.tools).toEqual([
      { name: 'get_weather', description: 'Weather for a city', input_schema: schema },
      { name: 'now', input_schema: { type: 'object', properties: {} } },
    ]);
    expect(body).not.toHaveProperty('tool_choice');
    const choice = (tool_choice: unknown, extra: Json = {}) => sent({ messages, tools: [weatherTool], tool_choice, ...extra }).tool_choice;
    expect(choice('auto')).toEqual({ type: 'auto' });
    expect(choice('required')).toEqual({ type: 'any' });
    expect(choice('none')).toEqual({ type: 'none' });
    expect(choice({ type: 'function', function: { name: 'get_weather' } })).toEqual({ type: 'tool', name: 'get_weather' });
    expect(choice(undefined, { parallel_tool_calls: false })).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(choice('required', { parallel_tool_calls: false })).toEqual({ type: 'any', disable_parallel_tool_use: true });
    expect(choice('none', { parallel_tool_calls: false })).toEqual({ type: 'none' });
    // tool_choice without tools means nothing to Anthropic (which would reject it)
    expect(sent({ messages, tool_choice: 'auto' })).not.toHaveProperty('tool_choice');
  });

  it('turns assistant tool_calls into tool_use and tool messages into one user turn of tool_results, results first', () => {
    const body = sent({
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: 'Let me check.',
          tool_calls: [
            { id: 'toolu_01', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'toolu_02', type: 'function', function: { name: 'get_weather', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_01', content: '18°C' },
        { role: 'tool', tool_call_id: 'toolu_02', content: [{ type: 'text', text: '21°C' }] },
        { role: 'user', content: 'Thanks, and London?' },
      ],
      tools: [weatherTool],
    });
    expect(body.messages).toEqual([
      { role: 'user', content: 'Weather in Paris and Rome?' },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Let me check.' },
          { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_02', name: 'get_weather', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_01', content: '18°C' },
          { type: 'tool_result', tool_use_id: 'toolu_02', content: [{ type: 'text', text: '21°C' }] },
          { type: 'text', text: 'Thanks, and London?' },
        ],
      },
    ]);
    // An assistant turn of only tool calls (content null) has only tool_use blocks.
    const call = { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{}' } }] };
    const onlyCalls = sent({ messages: [{ role: 'user', content: 'x' }, call, { role: 'tool', tool_call_id: 't1', content: '' }] }).messages as Json[];
    expect(onlyCalls[1]).toEqual({ role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: {} }] });
    expect(onlyCalls[2]).toEqual({ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1' }] });
  });

  it('sends data-URL images as base64 and http(s) images as url sources', () => {
    const content = [
      { type: 'text', text: 'What is in these?' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'high' } },
    ];
    const body = sent({ messages: [{ role: 'user', content }] });
    expect((body.messages as Json[])[0]!.content).toEqual([
      { type: 'text', text: 'What is in these?' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ]);
  });

  it('refuses with a 400 what cannot be translated, naming the field; serves chat only', () => {
    const refused = (body: Json) => thrown(() => build(body));
    const user = (content: unknown) => ({ messages: [{ role: 'user', content }] });
    expect(refused(user([{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }]))).toMatchObject({
      kind: 'bad_request',
      status: 400,
      param: 'messages[0].content[0].type',
      deployment: d.id,
    });
    expect(refused(user([{ type: 'image_url', image_url: { url: 'ftp://x/y.png' } }])).param).toBe('messages[0].content[0].image_url');
    expect(refused({ ...user('x'), n: 2 }).param).toBe('n');
    expect(refused({ ...user('x'), tools: [{ type: 'custom', custom: { name: 'x' } }] }).param).toBe('tools[0]');
    const badArgs = { messages: [{ role: 'assistant', tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{oops' } }] }] };
    expect(refused(badArgs).param).toBe('messages[0].tool_calls[0].function.arguments');
    expect(() => anthropicProvider.buildRequest('embeddings', { input: 'x' }, d)).toThrow(/cannot serve embeddings/);
    expect(anthropicProvider.unsupported).toEqual(['embeddings', 'responses']);
    expect(adapterFor('anthropic')).toBe(anthropicProvider);
  });
});

describe('anthropic provider: responses', () => {
  const message = {
    id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5-20250929',
    content: [
      { type: 'thinking', thinking: 'The user wants…', signature: 'sig' },
      { type: 'text', text: 'Checking the weather ' },
      { type: 'text', text: 'now.' },
      { type: 'tool_use', id: 'toolu_01A09q90qw90lq917835lq9', name: 'get_weather', input: { city: 'Paris', unit: 'c' } },
    ],
    ...{ stop_reason: 'tool_use', stop_sequence: null },
    usage: { input_tokens: 100, output_tokens: 30, cache_creation_input_tokens: 20, cache_read_input_tokens: 500 },
  };

  it('becomes a chat.completion with text, tool_calls, finish reason and usage incl. cache tokens', () => {
    const out = JSON.parse(anthropicProvider.parseResponse('chat', JSON.stringify(message), d));
    const call = { id: 'toolu_01A09q90qw90lq917835lq9', type: 'function', function: { name: 'get_weather' } };
    expect(out).toMatchObject({
      ...{ id: 'msg_01XFDUDYJgAACzvnptvVoYEL', object: 'chat.completion', model: 'claude-sonnet-4-5-20250929' },
      choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: 'Checking the weather now.', tool_calls: [call] } }],
      usage: { prompt_tokens: 620, completion_tokens: 30, total_tokens: 650, prompt_tokens_details: { cached_tokens: 500 } },
    });
    expect(typeof out.created).toBe('number');
    expect(JSON.parse(out.choices[0].message.tool_calls[0].function.arguments)).toEqual({ city: 'Paris', unit: 'c' });
  });

  it.each([
    ...[['end_turn', 'stop'], ['stop_sequence', 'stop'], ['max_tokens', 'length']],
    ...[['tool_use', 'tool_calls'], ['refusal', 'content_filter'], ['pause_turn', 'stop']],
  ])('maps stop_reason %s to finish_reason %s', (stop, finish) => {
    const text = { ...message, content: [{ type: 'text', text: 'hi' }], stop_reason: stop };
    const out = JSON.parse(anthropicProvider.parseResponse('chat', JSON.stringify(text), d));
    expect(out.choices[0].finish_reason).toBe(finish);
    expect(out.choices[0].message.tool_calls).toBeUndefined();
  });

  it('rejects a malformed body as a retryable server error', () => {
    expect(() => anthropicProvider.parseResponse('chat', '<html>', d)).toThrow(/not JSON/);
    expect(() => anthropicProvider.parseResponse('chat', '{"type":"message"}', d)).toThrow(GatewayError);
    expect(thrown(() => anthropicProvider.parseResponse('chat', '{}', d))).toMatchObject({ kind: 'server', retryable: true, code: 'upstream_malformed_response' });
  });
});

/** A real-shape Anthropic stream: text, then a tool call whose input arrives in pieces. */
const STREAM: Array<[string, Json]> = [
  ['message_start', { type: 'message_start', message: { id: 'msg_014p7gG3wDgGV9EUtLvnow3U', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5-20250929', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 472, output_tokens: 2, cache_read_input_tokens: 100, cache_creation_input_tokens: 0 } } }],
  ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
  ['ping', { type: 'ping' }],
  ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Okay, let me ' } }],
  ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'check.' } }],
  ['content_block_stop', { type: 'content_block_stop', index: 0 }],
  ['content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', name: 'get_weather', input: {} } }],
  ['content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '' } }],
  ['content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"city": "San' } }],
  ['content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: ' Francisco, CA", "unit": "fah' } }],
  ['content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: 'renheit"}' } }],
  ['content_block_stop', { type: 'content_block_stop', index: 1 }],
  ['content_block_start', { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'toolu_02', name: 'now', input: {} } }],
  ['content_block_stop', { type: 'content_block_stop', index: 2 }],
  ['message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 89 } }],
  ['message_stop', { type: 'message_stop' }],
];

function decodeAll(frames: Array<[string | undefined, Json]>): StreamEvent[] {
  const decoder = anthropicProvider.createStreamDecoder(d);
  return frames.flatMap(([event, data]) => decoder.decode({ event, data: JSON.stringify(data) }));
}

describe('anthropic provider: stream decoding', () => {
  const events = decodeAll(STREAM);
  const chunks = events.filter((e) => e.type === 'chunk').map((e) => JSON.parse(e.data));

  it('opens with a role chunk, keeps id/model/created, ends with finish, usage, done', () => {
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    for (const c of chunks) {
      expect(c).toMatchObject({ id: 'msg_014p7gG3wDgGV9EUtLvnow3U', object: 'chat.completion.chunk', model: 'claude-sonnet-4-5-20250929', created: chunks[0].created });
    }
    expect(events.at(-1)).toEqual({ type: 'done' });
    expect(chunks.at(-1).choices).toEqual([]);
    expect(chunks.at(-1).usage).toEqual({ prompt_tokens: 572, completion_tokens: 89, total_tokens: 661, prompt_tokens_details: { cached_tokens: 100 } });
    expect(chunks.at(-2).choices[0]).toMatchObject({ delta: {}, finish_reason: 'tool_calls' });
  });

  it('streams text as content and tool input as argument pieces that reassemble to valid JSON', () => {
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Okay, let me check.');
    const calls = new Map<number, { id?: string; name?: string; args: string }>();
    for (const c of chunks) {
      for (const t of c.choices[0]?.delta.tool_calls ?? []) {
        const call = calls.get(t.index) ?? { args: '' };
        if (t.id) Object.assign(call, { id: t.id, name: t.function.name });
        call.args += t.function.arguments ?? '';
        calls.set(t.index, call);
      }
    }
    expect(calls.get(0)).toMatchObject({ id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', name: 'get_weather' });
    expect(JSON.parse(calls.get(0)!.args)).toEqual({ city: 'San Francisco, CA', unit: 'fahrenheit' });
    // a tool without input streams no JSON: its arguments become "{}", which OpenAI clients can parse
    expect(calls.get(1)).toMatchObject({ id: 'toolu_02', name: 'now', args: '{}' });
  });

  it('reads the type from the data when the frame has no event name', () => {
    const unnamed = decodeAll(STREAM.map(([, data]) => [undefined, data]));
    expect(unnamed).toEqual(events.map((e) => (e.type === 'chunk' ? { ...e, data: expect.any(String) } : e)));
  });

  it('reports usage at the end of every stream, even one without message_delta (the gateway accounts for each)', () => {
    const start = STREAM[0] as [string, Json];
    const text: [string, Json] = ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } }];
    const out = decodeAll([start, text, ['message_stop', { type: 'message_stop' }]]);
    const tail = out.slice(-3).map((e) => (e.type === 'chunk' ? JSON.parse(e.data) : e));
    expect(tail[0].choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    expect(tail[1]).toMatchObject({ choices: [], usage: { prompt_tokens: 572, completion_tokens: 2 } });
    expect(tail[2]).toEqual({ type: 'done' });
    expect(out.filter((e) => e.type === 'chunk' && JSON.parse(e.data).usage)).toHaveLength(1);
  });

  it('turns an error event into a classified error, and a non-JSON event into a retryable one', () => {
    const [overloaded] = decodeAll([['error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }]]);
    expect(overloaded).toMatchObject({ type: 'error', error: { kind: 'overloaded', retryable: true, code: 'overloaded_error' } });
    const [tooLong] = decodeAll([['error', { type: 'error', error: { type: 'invalid_request_error', message: 'prompt is too long: 1 > 0' } }]]);
    expect(tooLong).toMatchObject({ type: 'error', error: { kind: 'context_length', retryable: false } });
    const [limited] = decodeAll([['error', { type: 'error', error: { type: 'rate_limit_error', message: `key ${KEY} limited` } }]]);
    expect(limited).toMatchObject({ type: 'error', error: { kind: 'rate_limited', upstreamStatus: undefined } });
    expect((limited as { error: Error }).error.message).not.toContain(KEY);
    const broken = anthropicProvider.createStreamDecoder(d).decode({ event: 'message_start', data: '{"type":"message_start","mess' });
    expect(broken[0]).toMatchObject({ type: 'error', error: { kind: 'server', retryable: true } });
  });

  it('closes a stream that stops without message_delta with a finish chunk', () => {
    const short = decodeAll([STREAM[0]!, STREAM[1]!, STREAM[3]!, ['message_stop', { type: 'message_stop' }]]);
    const finish = short.filter((e) => e.type === 'chunk').map((e) => JSON.parse(e.data)).find((c) => c.choices[0]?.finish_reason);
    expect(finish.choices[0].finish_reason).toBe('stop');
  });
});

describe('anthropic provider: errors', () => {
  const wire = (type: string, message: string) => JSON.stringify({ type: 'error', error: { type, message } });
  const classify = (status: number, body: string, headers: Record<string, string> = {}) =>
    anthropicProvider.classifyError(status, headers, body, d);

  it.each([
    [529, 'overloaded_error', 'Overloaded', 'overloaded', 503, true],
    [429, 'rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit', 'rate_limited', 429, true],
    [400, 'invalid_request_error', 'prompt is too long: 215000 tokens > 200000 maximum', 'context_length', 400, false],
    [400, 'invalid_request_error', 'messages: roles must alternate', 'bad_request', 400, false],
    [401, 'authentication_error', 'invalid x-api-key', 'auth', 502, false],
    [403, 'permission_error', 'no access', 'auth', 502, false],
    [404, 'not_found_error', 'model: claude-nope', 'not_found', 502, false],
    [413, 'request_too_large', 'Request exceeds the maximum allowed number of bytes.', 'bad_request', 413, false],
    [500, 'api_error', 'Internal server error', 'server', 502, true],
  ])('%i %s → %s (client status %i)', (status, type, message, kind, clientStatus, retryable) => {
    const e = classify(status, wire(type, message), { 'request-id': 'req_018EeWyXxfu5pfWkrYcMdjWG' });
    expect(e).toMatchObject({ kind, status: clientStatus, retryable, code: type, upstreamStatus: status, deployment: d.id });
    expect(e.upstreamRequestId).toBe('req_018EeWyXxfu5pfWkrYcMdjWG');
  });

  it('never shows the provider key, even when the upstream echoes it', () => {
    const e = classify(401, wire('authentication_error', `invalid x-api-key ${KEY}`));
    expect(e.message).toMatch(/credentials/);
    expect(e.message + classify(400, wire('invalid_request_error', `bad key ${KEY}`)).message).not.toContain(KEY);
  });

  it('reads retry-after and the anthropic-ratelimit reset headers', () => {
    expect(classify(429, wire('rate_limit_error', 'slow down'), { 'retry-after': '7' }).retryAfterMs).toBe(7000);
    const reset = new Date(Date.now() + 30_000).toISOString();
    const limits = { 'anthropic-ratelimit-tokens-remaining': '0', 'anthropic-ratelimit-requests-remaining': '10' };
    const e = classify(429, wire('rate_limit_error', 'slow down'), { ...limits, 'anthropic-ratelimit-tokens-reset': reset });
    expect(Math.round((e.retryAfterMs ?? 0) / 1000)).toBe(30);
    expect(classify(529, wire('overloaded_error', 'Overloaded'), { 'x-should-retry': 'false' }).retryable).toBe(false);
  });

  it('classifies a non-JSON error page by its status', () => {
    expect(classify(502, '<html>bad gateway</html>')).toMatchObject({ kind: 'server', status: 502, retryable: true });
  });
});
