import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../../src/errors.js';
import { decodeStream } from '../../../src/pipeline/sse.js';
import { bedrockProvider, buildBedrockRequest } from '../../../src/providers/bedrock/adapter.js';
import { awsErrorType } from '../../../src/providers/bedrock/errors.js';
import { crc32, EventStreamDecoder, encodeEventStreamMessage, eventStreamFrames, tableCrc32 } from '../../../src/providers/bedrock/eventstream.js';
import { toConverseRequest } from '../../../src/providers/bedrock/request.js';
import { regionFromHost, signRequest, toAmzDate } from '../../../src/providers/bedrock/sigv4.js';
import type { StreamEvent } from '../../../src/types.js';
import { deployment, providerConfig } from '../../support/fixtures.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const provider = providerConfig({
  ...{ name: 'aws-east', type: 'bedrock', api_key: undefined },
  base_url: 'https://bedrock-runtime.us-east-1.amazonaws.com',
  region: 'us-east-1',
  aws: { access_key_id: 'AKIDEXAMPLE', secret_access_key: SECRET, session_token: undefined },
});
const MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const d = deployment(provider, MODEL);

describe('bedrock SigV4 (aws4 through signRequest) against the AWS Signature Version 4 test suite', () => {
  const credentials = { access_key_id: 'AKIDEXAMPLE', secret_access_key: SECRET };
  const date = new Date('2015-08-30T12:36:00Z');
  const sign = (method: 'GET' | 'POST', url: string, creds: typeof credentials & { session_token?: string } = credentials) =>
    signRequest({ method, url, headers: {}, body: '', region: 'us-east-1', service: 'service', credentials: creds, date });
  const scope = 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date';

  it('get-vanilla', () => {
    const headers = sign('GET', 'https://example.amazonaws.com/');
    expect(headers.authorization).toBe(`${scope}, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31`);
    expect(headers['x-amz-date']).toBe('20150830T123600Z');
    expect(headers.host).toBe('example.amazonaws.com');
  });

  it.each([
    ['post-vanilla', '/', '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b'],
    ['post-vanilla-query', '/?Param1=value1', '28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11'],
  ])('%s', (_name, path, signature) => {
    expect(sign('POST', `https://example.amazonaws.com${path}`).authorization).toBe(`${scope}, Signature=${signature}`);
  });

  it('signs the session token header when there is one', () => {
    const headers = sign('POST', 'https://example.amazonaws.com/', { ...credentials, session_token: 'AQoDYXdzEXAMPLE' });
    expect(headers['x-amz-security-token']).toBe('AQoDYXdzEXAMPLE');
    expect(headers.authorization).toContain('SignedHeaders=host;x-amz-date;x-amz-security-token,');
  });

  it('formats dates and finds the region in Bedrock hosts', () => {
    expect(toAmzDate(new Date('2024-01-02T03:04:05.678Z'))).toBe('20240102T030405Z');
    expect(regionFromHost('bedrock-runtime.eu-west-3.amazonaws.com')).toBe('eu-west-3');
    expect(regionFromHost('bedrock-runtime-fips.us-gov-west-1.amazonaws.com')).toBe('us-gov-west-1');
    expect(regionFromHost('127.0.0.1')).toBeUndefined();
  });
});

describe('bedrock requests', () => {
  const body = {
    model: 'client-name',
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
      { role: 'user', content: [{ type: 'text', text: 'Look:' }, { type: 'image_url', image_url: { url: 'data:image/jpg;base64,AAAA' } }] },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
      { role: 'user', content: 'Thanks' },
    ],
    max_tokens: 100,
    temperature: 0.5,
    top_p: 0.9,
    stop: 'END',
    tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
    tool_choice: 'required',
    stream: false,
  };

  it('translates messages, system, inference config and tools; merges same-role turns', () => {
    expect(toConverseRequest(body)).toEqual({
      messages: [
        { role: 'user', content: [{ text: 'Hi' }, { text: 'Look:' }, { image: { format: 'jpeg', source: { bytes: 'AAAA' } } }] },
        { role: 'assistant', content: [{ toolUse: { toolUseId: 'call_1', name: 'get_weather', input: { city: 'Paris' } } }] },
        { role: 'user', content: [{ toolResult: { toolUseId: 'call_1', content: [{ text: '{"temp":21}' }] } }, { text: 'Thanks' }] },
      ],
      system: [{ text: 'Be brief.' }],
      inferenceConfig: { maxTokens: 100, temperature: 0.5, topP: 0.9, stopSequences: ['END'] },
      toolConfig: {
        tools: [{ toolSpec: { name: 'get_weather', description: 'Weather', inputSchema: { json: body.tools[0]!.function.parameters } } }],
        toolChoice: { any: {} },
      },
    });
  });

  it('maps tool_choice forms, and drops tools for "none" unless the history needs them', () => {
    const ask = { messages: [{ role: 'user', content: 'x' }], tools: body.tools };
    expect(toConverseRequest({ ...ask, tool_choice: 'auto' }).toolConfig?.toolChoice).toEqual({ auto: {} });
    expect(toConverseRequest({ ...ask, tool_choice: { type: 'function', function: { name: 'get_weather' } } }).toolConfig?.toolChoice).toEqual({ tool: { name: 'get_weather' } });
    expect(toConverseRequest(ask).toolConfig).toEqual({ tools: expect.any(Array) });
    expect(toConverseRequest({ ...ask, tool_choice: 'none' }).toolConfig).toBeUndefined();
    expect(toConverseRequest({ ...body, tool_choice: 'none' }).toolConfig?.toolChoice).toBeUndefined();
    expect(toConverseRequest({ ...body, tool_choice: 'none' }).toolConfig?.tools).toHaveLength(1);
  });

  it('refuses what Converse cannot carry with a clear bad_request', () => {
    const http = { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/cat.png' } }] }] };
    expect(() => toConverseRequest(http)).toThrow(/base64 data URLs/);
    const badArgs = { messages: [{ role: 'assistant', tool_calls: [{ id: 'c', function: { name: 'f', arguments: '{oops' } }] }] };
    expect(() => toConverseRequest(badArgs)).toThrow(GatewayError);
  });

  it('posts to /model/{id}/converse with a SigV4 signature over the exact body', () => {
    const now = Date.parse('2024-05-01T10:00:00Z');
    const req = buildBedrockRequest(body, d, now);
    expect(req.url).toBe('https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse');
    expect(req.method).toBe('POST');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['x-amz-date']).toBe('20240501T100000Z');
    expect(req.headers['x-amz-security-token']).toBeUndefined();
    expect(req.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20240501\/us-east-1\/bedrock\/aws4_request, SignedHeaders=[a-z0-9;-]*content-type;[a-z0-9;-]*host;x-amz-date, Signature=[0-9a-f]{64}$/,
    );
    expect(JSON.stringify(req)).not.toContain(SECRET);
    // Re-signing the body that is sent reproduces the signature; any other body does not.
    const headers = { 'content-type': 'application/json' };
    const resign = (body: string) =>
      signRequest({ method: 'POST', url: req.url, headers, body, region: 'us-east-1', service: 'bedrock', credentials: provider.aws!, date: new Date(now) }).authorization;
    expect(resign(req.body!)).toBe(req.headers.authorization);
    expect(resign(`${req.body!} `)).not.toBe(req.headers.authorization);
  });

  it('streams to /converse-stream, takes the region from the host, and sends a session token', () => {
    const p = { ...provider, region: undefined, base_url: 'https://bedrock-runtime.eu-central-1.amazonaws.com', aws: { ...provider.aws!, session_token: 'FwoGZXIvYXdzEXAMPLE' } };
    const req = bedrockProvider.buildRequest('chat', { ...body, stream: true }, { ...d, provider: p });
    expect(req.url).toMatch(/\/converse-stream$/);
    expect(req.headers.authorization).toContain('/eu-central-1/bedrock/aws4_request');
    expect(req.headers['x-amz-security-token']).toBe('FwoGZXIvYXdzEXAMPLE');
    expect(bedrockProvider.unsupported).toEqual(['embeddings', 'responses']);
  });
});

describe('bedrock responses', () => {
  const parse = (r: unknown) => JSON.parse(bedrockProvider.parseResponse('chat', JSON.stringify(r), d));

  it('turns text, stop reason and usage (cache reads included) into a chat.completion', () => {
    const out = parse({
      output: { message: { role: 'assistant', content: [{ text: 'Hello ' }, { text: 'there' }] } },
      stopReason: 'end_turn',
      usage: { inputTokens: 10, outputTokens: 2, totalTokens: 16, cacheReadInputTokens: 4 },
      metrics: { latencyMs: 120 },
    });
    expect(out).toMatchObject({ object: 'chat.completion', model: MODEL });
    expect(out.id).toMatch(/^chatcmpl-/);
    expect(out.choices[0]).toMatchObject({ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Hello there' } });
    expect(out.usage).toEqual({ prompt_tokens: 14, completion_tokens: 2, total_tokens: 16, prompt_tokens_details: { cached_tokens: 4 } });
  });

  it('turns toolUse blocks into tool_calls with JSON arguments', () => {
    const out = parse({
      output: { message: { role: 'assistant', content: [{ toolUse: { toolUseId: 'tooluse_1', name: 'get_weather', input: { city: 'Paris' } } }] } },
      stopReason: 'tool_use',
      usage: { inputTokens: 5, outputTokens: 7, totalTokens: 12 },
    });
    const message = out.choices[0].message;
    expect(message.content).toBeNull();
    expect(message.tool_calls).toEqual([{ id: 'tooluse_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]);
    expect(out.choices[0].finish_reason).toBe('tool_calls');
  });

  it.each([
    ['max_tokens', 'length'], ['stop_sequence', 'stop'], ['guardrail_intervened', 'content_filter'], ['content_filtered', 'content_filter'],
  ])('maps stopReason %s to %s', (stopReason, finish) => {
    expect(parse({ output: { message: { content: [{ text: 'x' }] } }, stopReason }).choices[0].finish_reason).toBe(finish);
  });

  it('rejects a body that is not a Converse response as a retryable server error', () => {
    expect(() => bedrockProvider.parseResponse('chat', '{"foo":1}', d)).toThrow(
      expect.objectContaining({ kind: 'server', code: 'upstream_malformed_response', retryable: true }),
    );
  });
});

const EVENT = { ':content-type': 'application/json', ':message-type': 'event' };
const frame = (type: string, payload: unknown) => encodeEventStreamMessage({ ':event-type': type, ...EVENT }, JSON.stringify(payload));

async function* chunksOf(bytes: Buffer, sizes: number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    yield bytes.subarray(at, at + size);
    at += size;
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('AWS event-stream codec', () => {
  it('computes the standard CRC-32', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    // The fallback for Node versions without zlib.crc32 agrees with it.
    expect(tableCrc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    const random = Buffer.from(Array.from({ length: 999 }, (_, i) => (i * 7919) % 256));
    expect(tableCrc32(random)).toBe(crc32(random));
  });

  it('round-trips messages split anywhere across chunks, even one byte at a time', async () => {
    const bytes = Buffer.concat([frame('messageStart', { role: 'assistant' }), frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'héllo' } })]);
    for (const sizes of [[1], [3, 7], [13], [bytes.length]]) {
      const frames = await collect(eventStreamFrames(chunksOf(bytes, sizes)));
      expect(frames).toEqual([
        { event: 'messageStart', data: '{"role":"assistant"}' },
        { event: 'contentBlockDelta', data: '{"contentBlockIndex":0,"delta":{"text":"héllo"}}' },
      ]);
    }
  });

  it('reads non-string header types by their width', () => {
    const headers = Buffer.from([3, 0x61, 0x62, 0x63, 4, 0, 0, 1, 0, 1, 0x62, 0]); // "abc" = int32 256, "b" = true
    const total = 12 + headers.length + 2 + 4;
    const raw = Buffer.alloc(total);
    raw.writeUInt32BE(total, 0);
    raw.writeUInt32BE(headers.length, 4);
    raw.writeUInt32BE(crc32(raw.subarray(0, 8)), 8);
    headers.copy(raw, 12);
    raw.write('{}', 12 + headers.length);
    raw.writeUInt32BE(crc32(raw.subarray(0, total - 4)), total - 4);
    const decoder = new EventStreamDecoder();
    expect(decoder.push(raw)[0]!.headers).toEqual({ abc: 256, b: true });
    expect(decoder.pending).toBe(0);
  });

  it('throws on a bad message CRC and on a bad prelude CRC', async () => {
    const good = frame('messageStart', { role: 'assistant' });
    const badMessage = Buffer.from(good);
    badMessage[badMessage.length - 6]! ^= 0xff; // flip a payload byte
    await expect(collect(eventStreamFrames(chunksOf(badMessage, [5])))).rejects.toMatchObject({ kind: 'server', message: /message CRC/ });
    const badPrelude = Buffer.from(good);
    badPrelude[3]! ^= 0x01;
    await expect(collect(eventStreamFrames(chunksOf(badPrelude, [64])))).rejects.toThrow(/prelude CRC/);
  });
});

async function decode(frames: Buffer[], sizes = [17]): Promise<StreamEvent[]> {
  return collect(decodeStream(chunksOf(Buffer.concat(frames), sizes), bedrockProvider, bedrockProvider.createStreamDecoder(d)));
}

const chunkOf = (e: StreamEvent) => (e.type === 'chunk' ? JSON.parse(e.data) : e.type);

describe('bedrock stream decoding', () => {
  it('turns a text stream into role, content, finish and usage chunks, then done', async () => {
    const events = await decode([
      frame('messageStart', { role: 'assistant', p: 'abc' }),
      frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hello' } }),
      frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: ' world' } }),
      frame('contentBlockStop', { contentBlockIndex: 0 }),
      frame('messageStop', { stopReason: 'end_turn' }),
      frame('metadata', { usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 }, metrics: { latencyMs: 9 } }),
    ]);
    const out = events.map(chunkOf);
    expect(out[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(out.slice(1, 3).map((c) => c.choices[0].delta.content)).toEqual(['Hello', ' world']);
    expect(out[3].choices[0].finish_reason).toBe('stop');
    expect(out[4]).toMatchObject({ object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } });
    expect(out[5]).toBe('done');
    expect(new Set(out.slice(0, 5).map((c) => c.id)).size).toBe(1);
  });

  it('streams tool calls: header with id and name, then argument pieces, indexed per tool', async () => {
    const events = await decode([
      frame('messageStart', { role: 'assistant' }),
      frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Let me check.' } }),
      frame('contentBlockStop', { contentBlockIndex: 0 }),
      frame('contentBlockStart', { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'tooluse_9', name: 'get_weather' } } }),
      frame('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '{"city":' } } }),
      frame('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '"Paris"}' } } }),
      frame('contentBlockStop', { contentBlockIndex: 1 }),
      frame('messageStop', { stopReason: 'tool_use' }),
    ], [1, 50]);
    const out = events.map(chunkOf);
    expect(out[2].choices[0].delta.tool_calls).toEqual([{ index: 0, id: 'tooluse_9', type: 'function', function: { name: 'get_weather', arguments: '' } }]);
    const args = out.slice(3, 5).map((c) => c.choices[0].delta.tool_calls[0]);
    expect(args.every((a) => a.index === 0)).toBe(true);
    expect(JSON.parse(args.map((a) => a.function.arguments).join(''))).toEqual({ city: 'Paris' });
    expect(out[5].choices[0].finish_reason).toBe('tool_calls');
    expect(out.at(-1)).toBe('done'); // from end(): messageStop came, metadata never did
  });

  it('emits nothing at the end of a stream cut before messageStop', async () => {
    const events = await decode([frame('messageStart', { role: 'assistant' }), frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hi' } })]);
    expect(events.map((e) => e.type)).toEqual(['chunk', 'chunk']);
  });

  it.each([
    ['throttlingException', 'rate_limited'], ['serviceUnavailableException', 'overloaded'], ['modelStreamErrorException', 'server'],
    ['internalServerException', 'server'], ['validationException', 'bad_request'],
  ])('turns a %s frame into a %s error event', async (type, kind) => {
    const exception = encodeEventStreamMessage({ ':exception-type': type, ':message-type': 'exception' }, '{"message":"boom"}');
    const last = (await decode([frame('messageStart', { role: 'assistant' }), exception])).at(-1)!;
    expect(last.type === 'error' && last.error).toMatchObject({ kind, code: type, deployment: d.id });
  });

  it('turns a payload that is not JSON into an error event', async () => {
    const events = await decode([encodeEventStreamMessage({ ':event-type': 'messageStart', ...EVENT }, '{"role":')]);
    expect(events[0]!.type === 'error' && events[0]!.error.code).toBe('upstream_malformed_response');
  });
});

describe('bedrock errors', () => {
  const headers = (type: string) => ({ 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`, 'x-amzn-requestid': 'req-1' });
  const classify = (status: number, type: string, message: string) =>
    bedrockProvider.classifyError(status, headers(type), JSON.stringify({ message }), d);

  it.each([
    [429, 'ThrottlingException', 'rate_limited', 429, true],
    [503, 'ServiceUnavailableException', 'overloaded', 503, true],
    [408, 'ModelTimeoutException', 'timeout', 504, true],
    [500, 'InternalServerException', 'server', 502, true],
    [400, 'ValidationException', 'bad_request', 400, false],
    [403, 'AccessDeniedException', 'auth', 502, false],
    [403, 'UnrecognizedClientException', 'auth', 502, false],
    [404, 'ResourceNotFoundException', 'not_found', 502, false],
  ] as const)('%i %s → %s (client status %i)', (status, type, kind, clientStatus, retryable) => {
    const err = classify(status, type, 'something happened');
    expect(err).toMatchObject({ kind, status: clientStatus, retryable, code: type, upstreamStatus: status, upstreamRequestId: 'req-1', deployment: d.id });
  });

  it('spots a prompt that does not fit', () => {
    expect(classify(400, 'ValidationException', 'Input is too long for requested model.').kind).toBe('context_length');
    expect(classify(400, 'ValidationException', 'The model returned the following errors: prompt is too long: 250000 tokens > 200000 maximum').kind).toBe('context_length');
    expect(classify(400, 'ValidationException', 'Malformed input request: expected maxLength: 10').kind).toBe('bad_request');
  });

  it('falls back to the body __type, then to the status', () => {
    const err = bedrockProvider.classifyError(400, {}, '{"__type":"com.amazon.coral#ThrottlingException","message":"x"}', d);
    expect(err.kind).toBe('rate_limited');
    expect(bedrockProvider.classifyError(503, {}, '<html>', d).kind).toBe('overloaded');
    expect(awsErrorType('aws.protocols#ValidationException:http://x')).toBe('ValidationException');
  });

  it('never echoes credentials, and redacts them from other messages', () => {
    const auth = classify(403, 'InvalidSignatureException', `Signature mismatch for AKIDEXAMPLE ${SECRET}`);
    expect(auth.message).toContain('AWS credentials configured for provider "aws-east"');
    expect(auth.message).not.toContain('AKIDEXAMPLE');
    expect(classify(400, 'ValidationException', `bad ${SECRET}`).message).not.toContain(SECRET);
  });
});
