import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../../src/errors.js';
import { adapterFor } from '../../../src/providers/index.js';
import { guessMimeType } from '../../../src/providers/gemini/request.js';
import { toGeminiSchema } from '../../../src/providers/gemini/schema.js';
import type { StreamEvent } from '../../../src/types.js';
import { deployment, providerConfig } from '../../support/fixtures.js';

const KEY = 'AIzaSyD-test-0123456789abcdefghijklmnopq';
const provider = providerConfig({ name: 'google', type: 'gemini', api_key: KEY, base_url: 'https://generativelanguage.googleapis.com/v1beta' });
const d = deployment(provider, 'gemini-2.0-flash');
const gemini = adapterFor('gemini');

type Json = Record<string, unknown>;
interface Sent {
  contents: Array<{ role: string; parts: Json[] }>;
  [field: string]: unknown;
}
const build = (body: Json, op: 'chat' | 'embeddings' = 'chat') => {
  const req = gemini.buildRequest(op, body, d);
  return { req, sent: JSON.parse(req.body!) as Sent };
};
/** The GatewayError `fn` throws (anything else fails the test). */
function thrown(fn: () => unknown): GatewayError {
  const error = (() => { try { fn(); } catch (e) { return e; } return new Error('did not throw'); })();
  if (error instanceof GatewayError) return error;
  throw error;
}

const WEATHER_PROPERTIES = { city: { type: 'string' }, unit: { type: ['string', 'null'], enum: ['c', 'f'] } };
const WEATHER_TOOL = {
  type: 'function',
  function: {
    ...{ name: 'get_weather', description: 'Weather for a city' },
    parameters: { type: 'object', properties: WEATHER_PROPERTIES, required: ['city'], additionalProperties: false },
  },
};

describe('gemini: requests', () => {
  it('posts to :generateContent or :streamGenerateContent?alt=sse with the key in x-goog-api-key only', () => {
    const { req } = build({ model: 'x', messages: [{ role: 'user', content: 'hi' }] });
    expect(req.url).toBe('https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent');
    expect(req.headers['x-goog-api-key']).toBe(KEY);
    expect(req.headers.authorization).toBeUndefined();
    expect(req.url).not.toContain(KEY);
    const stream = build({ model: 'x', stream: true, messages: [{ role: 'user', content: 'hi' }] }).req;
    expect(stream.url).toBe('https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse');
    const prefixed = gemini.buildRequest('chat', { messages: [{ role: 'user', content: 'hi' }] }, { ...d, model: 'models/gemini-pro' });
    expect(prefixed.url).toMatch(/\/models\/gemini-pro:generateContent$/);
  });

  it('turns system/developer messages into systemInstruction and merges consecutive same-role turns', () => {
    const { sent } = build({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'user', content: 'Hello' },
        { role: 'user', content: 'Are you there?' },
        { role: 'assistant', content: 'Oui.' },
        { role: 'user', content: '' },
        { role: 'user', content: 'Bye' },
      ],
    });
    expect(sent.systemInstruction).toEqual({ parts: [{ text: 'Be brief.' }, { text: 'Answer in French.' }] });
    expect(sent.contents).toEqual([
      { role: 'user', parts: [{ text: 'Hello' }, { text: 'Are you there?' }] },
      { role: 'model', parts: [{ text: 'Oui.' }] },
      { role: 'user', parts: [{ text: 'Bye' }] },
    ]);
    const systemOnly = build({ messages: [{ role: 'system', content: 'Say hi' }] }).sent;
    expect(systemOnly).toEqual({ contents: [{ role: 'user', parts: [{ text: 'Say hi' }] }] });
  });

  it('sends data-URL images inline and http images by reference with a guessed MIME type', () => {
    const content = [
      { type: 'text', text: 'Compare' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.webp?size=2', detail: 'high' } },
    ];
    const { sent } = build({ messages: [{ role: 'user', content }] });
    expect(sent.contents[0].parts).toEqual([
      { text: 'Compare' },
      { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
      { fileData: { mimeType: 'image/webp', fileUri: 'https://example.com/cat.webp?size=2' } },
    ]);
    expect(guessMimeType('https://x/doc.PDF')).toBe('application/pdf');
    expect(guessMimeType('https://x/photo')).toBe('image/jpeg');
    const bad = thrown(() => build({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x' } }] }] }));
    expect(bad).toMatchObject({ kind: 'bad_request', status: 400 });
  });

  it('translates tools, tool_choice, assistant tool calls and tool results', () => {
    const { sent } = build({
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        { role: 'assistant', content: null, tool_calls: [
          { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_b__thought__c2ln', type: 'function', function: { name: 'get_time', arguments: '{"city":"Rome"}' } },
        ] },
        { role: 'tool', tool_call_id: 'call_a', content: '{"temp":21}' },
        { role: 'tool', tool_call_id: 'call_b__thought__c2ln', content: 'noon' },
      ],
      tools: [WEATHER_TOOL, { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } }],
      tool_choice: 'required',
    });
    expect(sent.contents[1]).toEqual({ role: 'model', parts: [
      { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
      { functionCall: { name: 'get_time', args: { city: 'Rome' } }, thoughtSignature: 'c2ln' },
    ] });
    // Parallel results are one user turn, each named by the call it answers.
    expect(sent.contents[2]).toEqual({ role: 'user', parts: [
      { functionResponse: { name: 'get_weather', response: { temp: 21 } } },
      { functionResponse: { name: 'get_time', response: { content: 'noon' } } },
    ] });
    const properties = { city: { type: 'string' }, unit: { type: 'string', nullable: true, enum: ['c', 'f'] } };
    expect(sent.tools).toEqual([{ functionDeclarations: [
      { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties, required: ['city'] } },
      { name: 'get_time' }, // Gemini rejects an OBJECT without properties
    ] }]);
    expect(sent.toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY' } });
    const named = build({ messages: [{ role: 'user', content: 'x' }], tools: [WEATHER_TOOL], tool_choice: { type: 'function', function: { name: 'get_weather' } } });
    expect(named.sent.toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] } });
    expect(build({ messages: [{ role: 'user', content: 'x' }], tool_choice: 'none' }).sent.toolConfig).toEqual({ functionCallingConfig: { mode: 'NONE' } });
  });

  it('refuses a tool result for an unknown call, and non-JSON arguments, as bad requests', () => {
    const orphan = thrown(() => build({ messages: [{ role: 'tool', tool_call_id: 'nope', content: 'x' }] }));
    expect(orphan).toMatchObject({ kind: 'bad_request', param: 'messages[0].tool_call_id' });
    const call = { id: 'c', type: 'function', function: { name: 'f', arguments: '{oops' } };
    expect(thrown(() => build({ messages: [{ role: 'assistant', tool_calls: [call] }] })).kind).toBe('bad_request');
  });

  it('maps sampling, limits, stops, n and JSON modes into generationConfig', () => {
    const schema = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'], additionalProperties: false };
    const { sent } = build({
      ...{ messages: [{ role: 'user', content: 'x' }], temperature: 0.2, top_p: 0.9, max_tokens: 50, max_completion_tokens: 64 },
      ...{ stop: 'END', n: 2, seed: 7, response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } } },
    });
    expect(sent.generationConfig).toEqual({
      ...{ temperature: 0.2, topP: 0.9, maxOutputTokens: 64, stopSequences: ['END'], candidateCount: 2, seed: 7 },
      responseMimeType: 'application/json',
      responseSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
    });
    const json = build({ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } }).sent;
    expect(json.generationConfig).toEqual({ responseMimeType: 'application/json' });
    const refSchema = { type: 'object', properties: { a: { $ref: '#/$defs/A' } }, $defs: { A: { type: 'string' } } };
    const complex = build({ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'r', schema: refSchema } } }).sent;
    expect(complex.generationConfig).toEqual({ responseMimeType: 'application/json', responseJsonSchema: refSchema });
    expect(toGeminiSchema({ type: 'object', additionalProperties: { type: 'string' } })).toBeUndefined();
  });

  it('builds batchEmbedContents with outputDimensionality and refuses token arrays', () => {
    const { req, sent } = build({ model: 'x', input: ['a', 'b'], dimensions: 256 }, 'embeddings');
    expect(req.url).toBe('https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:batchEmbedContents');
    const request = (text: string) => ({ model: 'models/gemini-2.0-flash', content: { parts: [{ text }] }, outputDimensionality: 256 });
    expect(sent).toEqual({ requests: [request('a'), request('b')] });
    expect(build({ input: 'one' }, 'embeddings').sent.requests as unknown[]).toHaveLength(1);
    expect(thrown(() => build({ input: [1, 2, 3] }, 'embeddings'))).toMatchObject({ kind: 'bad_request', param: 'input' });
    expect(thrown(() => build({ input: [[1, 2]] }, 'embeddings')).kind).toBe('bad_request');
    expect(gemini.unsupported).toContain('responses');
  });
});

const TEXT_RESPONSE = {
  candidates: [
    {
      content: { parts: [{ text: 'Hello! ' }, { text: 'How can I help?' }], role: 'model' },
      ...{ finishReason: 'STOP', avgLogprobs: -0.0412, index: 0 },
      safetyRatings: [{ category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'NEGLIGIBLE' }],
    },
  ],
  usageMetadata: {
    ...{ promptTokenCount: 4, candidatesTokenCount: 8, totalTokenCount: 12, cachedContentTokenCount: 2 },
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: 4 }],
  },
  ...{ modelVersion: 'gemini-2.0-flash', responseId: 'mXyqZ8nBLqLk1PIP' },
};

const CALL_PARTS = [
  { text: 'thinking out loud', thought: true },
  { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'CiQBVKhc' },
];
const CALL_RESPONSE = {
  candidates: [{ content: { parts: CALL_PARTS, role: 'model' }, finishReason: 'STOP', index: 0 }],
  usageMetadata: { promptTokenCount: 50, candidatesTokenCount: 5, thoughtsTokenCount: 25, totalTokenCount: 80 },
  ...{ modelVersion: 'gemini-2.5-flash', responseId: 'r2' },
};

describe('gemini: responses', () => {
  it('joins text parts and maps usage, finish reason and id', () => {
    const out = JSON.parse(gemini.parseResponse('chat', JSON.stringify(TEXT_RESPONSE), d));
    expect(out).toMatchObject({
      id: 'chatcmpl-mXyqZ8nBLqLk1PIP',
      object: 'chat.completion',
      model: 'gemini-2.0-flash',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help?' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 4, completion_tokens: 8, total_tokens: 12, prompt_tokens_details: { cached_tokens: 2 } },
    });
  });

  it('turns function calls into tool_calls with JSON arguments; the thought signature rides in the id', () => {
    const out = JSON.parse(gemini.parseResponse('chat', JSON.stringify(CALL_RESPONSE), d));
    const choice = out.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls[0];
    expect(call).toMatchObject({ type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } });
    expect(call.id).toMatch(/^call_[0-9a-f]{12}_0__thought__CiQBVKhc$/);
    expect(out.usage).toEqual({ prompt_tokens: 50, completion_tokens: 30, total_tokens: 80, completion_tokens_details: { reasoning_tokens: 25 } });
    // The id goes back as is on the next turn, and the signature with it.
    const next = build({ messages: [{ role: 'assistant', tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: 'sunny' }] });
    expect(next.sent.contents[0]!.parts[0]!.thoughtSignature).toBe('CiQBVKhc');
    expect(next.sent.contents[1]!.parts[0]).toEqual({ functionResponse: { name: 'get_weather', response: { content: 'sunny' } } });
  });

  it.each([['MAX_TOKENS', 'length'], ['SAFETY', 'content_filter'], ['RECITATION', 'content_filter'], ['OTHER', 'stop'],
    ['PROHIBITED_CONTENT', 'content_filter'], ['BLOCKLIST', 'content_filter'], ['SPII', 'content_filter']])('maps finishReason %s to %s', (reason, expected) => {
    const body = { candidates: [{ finishReason: reason, index: 0, safetyRatings: [] }], usageMetadata: { promptTokenCount: 3, totalTokenCount: 3 } };
    const out = JSON.parse(gemini.parseResponse('chat', JSON.stringify(body), d));
    expect(out.choices[0]).toMatchObject({ finish_reason: expected, message: { content: '' } });
  });

  it('answers a blocked prompt with content_policy, and a body without candidates with a retryable server error', () => {
    const blocked = {
      promptFeedback: { blockReason: 'SAFETY', safetyRatings: [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH' }] },
      ...{ usageMetadata: { promptTokenCount: 8, totalTokenCount: 8 }, modelVersion: 'gemini-2.0-flash' },
    };
    const err = thrown(() => gemini.parseResponse('chat', JSON.stringify(blocked), d));
    expect(err).toMatchObject({ kind: 'content_policy', status: 400, retryable: false, code: 'content_filter' });
    expect(thrown(() => gemini.parseResponse('chat', '{}', d))).toMatchObject({ kind: 'server', retryable: true });
    expect(thrown(() => gemini.parseResponse('chat', '<html>', d))).toMatchObject({ kind: 'server' });
  });

  it('turns batchEmbedContents vectors into an OpenAI embeddings list', () => {
    const body = JSON.stringify({ embeddings: [{ values: [0.1, -0.2] }, { values: [0.3, 0.4] }] });
    const out = JSON.parse(gemini.parseResponse('embeddings', body, d));
    const data = [{ object: 'embedding', index: 0, embedding: [0.1, -0.2] }, { object: 'embedding', index: 1, embedding: [0.3, 0.4] }];
    expect(out).toEqual({ object: 'list', data, model: 'gemini-2.0-flash', usage: { prompt_tokens: 0, total_tokens: 0 } });
    expect(thrown(() => gemini.parseResponse('embeddings', '{"predictions":[]}', d)).kind).toBe('server');
  });
});

function decodeAll(events: unknown[]): StreamEvent[] {
  const decoder = gemini.createStreamDecoder(d);
  const out = events.flatMap((e) => decoder.decode({ data: typeof e === 'string' ? e : JSON.stringify(e) }));
  return [...out, ...(decoder.end?.() ?? [])];
}
const chunks = (events: StreamEvent[]) => events.filter((e) => e.type === 'chunk').map((e) => JSON.parse((e as { data: string }).data));

const piece = (text: string, extra: Record<string, unknown> = {}, total = 1) => ({
  candidates: [{ content: { parts: [{ text }], role: 'model' }, index: 0, ...extra }],
  usageMetadata: { promptTokenCount: 5, candidatesTokenCount: total, totalTokenCount: 5 + total },
  ...{ modelVersion: 'gemini-2.0-flash', responseId: 'sse-1' },
});

describe('gemini: stream decoding', () => {
  it('emits a role chunk, text deltas, then from end(): finish, usage and done', () => {
    const events = decodeAll([piece('The '), piece('quiet ', {}, 2), piece('harbor.', { finishReason: 'STOP' }, 3)]);
    const data = chunks(events);
    expect(data[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(data.slice(1, 4).map((c) => c.choices[0].delta.content)).toEqual(['The ', 'quiet ', 'harbor.']);
    expect(data[4].choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    expect(data[5]).toMatchObject({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 } });
    expect(data.every((c) => c.id === 'chatcmpl-sse-1' && c.object === 'chat.completion.chunk')).toBe(true);
    expect(events.at(-1)).toEqual({ type: 'done' });
  });

  it('emits nothing from end() when no finish reason came: the stream was cut', () => {
    const decoder = gemini.createStreamDecoder(d);
    decoder.decode({ data: JSON.stringify(piece('The ')) });
    expect(decoder.end?.()).toEqual([]);
  });

  it('sends function calls as whole tool_calls deltas and finishes with tool_calls', () => {
    const data = chunks(decodeAll([CALL_RESPONSE]));
    const delta = data[1].choices[0].delta;
    expect(delta.tool_calls[0]).toMatchObject({ index: 0, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } });
    expect(data[2].choices[0].finish_reason).toBe('tool_calls');
  });

  it('turns a blocked prompt into a content_policy error event, and an error event into its kind', () => {
    const blocked = decodeAll([{ promptFeedback: { blockReason: 'PROHIBITED_CONTENT' }, usageMetadata: { promptTokenCount: 3 } }]);
    expect(blocked).toHaveLength(1);
    expect(blocked[0]).toMatchObject({ type: 'error', error: { kind: 'content_policy' } });
    const overloaded = decodeAll([piece('a'), { error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } }]);
    expect(overloaded.at(-1)).toMatchObject({ type: 'error', error: { kind: 'overloaded', retryable: true } });
    const garbage = decodeAll(['{"candidates":[{"con']);
    expect(garbage[0]).toMatchObject({ type: 'error', error: { kind: 'server', code: 'upstream_malformed_response' } });
  });

  it('finishes a safety stop mid-answer with content_filter', () => {
    const data = chunks(decodeAll([piece('Sure, '), { candidates: [{ finishReason: 'SAFETY', index: 0 }] }]));
    expect(data.find((c) => c.choices[0]?.finish_reason)?.choices[0].finish_reason).toBe('content_filter');
  });
});

const googleError = (code: number, status: string, message: string, details?: unknown[]) =>
  JSON.stringify({ error: { code, message, status, ...(details ? { details } : {}) } });

describe('gemini: errors', () => {
  it('reads RetryInfo.retryDelay on RESOURCE_EXHAUSTED, and prefers a retry-after header', () => {
    const body = googleError(429, 'RESOURCE_EXHAUSTED', 'You exceeded your current quota.', [
      { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaMetric: 'generate_content_free_tier_requests' }] },
      { '@type': 'type.googleapis.com/google.rpc.Help', links: [{ url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }] },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '33.5s' },
    ]);
    const err = gemini.classifyError(429, {}, body, d);
    expect(err).toMatchObject({ kind: 'rate_limited', status: 429, retryable: true, retryAfterMs: 33_500, code: 'resource_exhausted' });
    expect(gemini.classifyError(429, { 'retry-after': '2' }, body, d).retryAfterMs).toBe(2000);
  });

  it.each([
    [503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.', 'overloaded', 503],
    [500, 'INTERNAL', 'An internal error has occurred.', 'server', 502],
    [504, 'DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.', 'timeout', 504],
    [400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.', 'bad_request', 400],
    [400, 'INVALID_ARGUMENT', 'The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).', 'context_length', 400],
    [400, 'FAILED_PRECONDITION', 'User location is not supported for the API use.', 'bad_request', 400],
    [403, 'PERMISSION_DENIED', 'Your API key was reported as leaked.', 'auth', 502],
    [401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.', 'auth', 502],
    [404, 'NOT_FOUND', 'models/gemini-9 is not found for API version v1beta.', 'not_found', 502],
  ])('%i %s → %s', (status, name, message, kind, clientStatus) => {
    const err = gemini.classifyError(status, {}, googleError(status, name, message), d);
    expect(err).toMatchObject({ kind, status: clientStatus, upstreamStatus: status, deployment: d.id });
  });

  it('reads a bad API key (400 with ErrorInfo API_KEY_INVALID) as auth, and never shows a key', () => {
    const body = googleError(400, 'INVALID_ARGUMENT', `API key not valid. Please pass a valid API key. (${KEY})`, [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' },
    ]);
    const err = gemini.classifyError(400, {}, body, d);
    expect(err).toMatchObject({ kind: 'auth', status: 502 });
    expect(err.message).not.toContain(KEY);
    const other = gemini.classifyError(400, {}, googleError(400, 'INVALID_ARGUMENT', 'bad field near AIzaSyA0123456789abcdefghijklmnopqrstuvw'), d);
    expect(other.message).toContain('[redacted]');
  });

  it('reads the array form of the streaming endpoint and falls back to the HTTP status', () => {
    const arrayBody = `[${googleError(429, 'RESOURCE_EXHAUSTED', 'Resource exhausted.')}]`;
    expect(gemini.classifyError(429, {}, arrayBody, d).kind).toBe('rate_limited');
    expect(gemini.classifyError(502, {}, '<html>Bad Gateway</html>', d)).toMatchObject({ kind: 'server', status: 502 });
    expect(gemini.classifyError(503, {}, '', d).kind).toBe('overloaded');
  });
});
