import { describe, expect, it } from 'vitest';
import type { GatewayError } from '../../../src/errors.js';
import { decodeSSE, decodeStream } from '../../../src/pipeline/sse.js';
import { AnthropicStreamDecoder } from '../../../src/providers/anthropic/stream.js';
import { bedrockProvider } from '../../../src/providers/bedrock/adapter.js';
import { encodeEventStreamMessage, encodeEventStreamPrelude, EventStreamDecoder } from '../../../src/providers/bedrock/eventstream.js';
import { BedrockStreamDecoder } from '../../../src/providers/bedrock/stream.js';
import { openaiProvider } from '../../../src/providers/openai/adapter.js';
import type { Deployment, StreamEvent } from '../../../src/types.js';
import type { StreamDecoder } from '../../../src/providers/adapter.js';

/**
 * Decoding a misbehaving upstream stream: an event that never ends is bounded (`streaming.max_event_bytes`), and
 * events that are not what the provider's API promises are errors, while what providers send on purpose (comments,
 * keep-alives, unknown event types) is still skipped.
 */

const d = { id: 'p/m', provider: { name: 'p', type: 'openai', api_key: undefined }, model: 'm' } as unknown as Deployment;
const raw: StreamDecoder = { decode: (frame) => [{ type: 'chunk', data: frame.data }] };

/** `count` chunks of `size` bytes; counts how many were pulled, so a test can see the decoder stopped reading. */
function source(first: string, size: number, count: number) {
  const seen = { pulled: 0 };
  async function* body() {
    seen.pulled++;
    yield Buffer.from(first);
    const filler = Buffer.alloc(size, 'x');
    for (let i = 0; i < count; i++) {
      seen.pulled++;
      yield filler;
    }
  }
  return { body: body(), seen };
}

async function collect(events: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

function errorOf(events: StreamEvent[]): GatewayError | undefined {
  const e = events.find((x) => x.type === 'error');
  return e?.type === 'error' ? e.error : undefined;
}

describe('an SSE event over max_event_bytes', () => {
  it('a line that never ends: an error event of the malformed kind, and the body is read no further', async () => {
    const { body, seen } = source('data: {"choices":[]}\n\ndata: ', 16 * 1024, 1024); // 16 MiB, no line end
    const events = await collect(decodeSSE(body, raw, { maxEventBytes: 64 * 1024, deployment: 'p/m' }));
    expect(events[0]).toEqual({ type: 'chunk', data: '{"choices":[]}' });
    expect(events).toHaveLength(2);
    expect(errorOf(events)).toMatchObject({ kind: 'server', retryable: true, code: 'upstream_event_too_large', deployment: 'p/m' });
    expect(errorOf(events)?.message).toMatch(/65536 bytes/);
    expect(seen.pulled).toBeLessThan(10); // ~64 KiB of 16 KiB chunks, not the 16 MiB
  });

  it('an event of many short data lines that never ends: the same', async () => {
    async function* body() {
      for (let i = 0; i < 10_000; i++) yield Buffer.from(`data: ${'y'.repeat(100)}\n`);
    }
    const events = await collect(decodeSSE(body(), raw, { maxEventBytes: 64 * 1024 }));
    expect(events.map((e) => e.type)).toEqual(['error']);
    expect(errorOf(events)?.code).toBe('upstream_event_too_large');
  });

  it('an event of exactly the limit, split anywhere, passes; one byte more does not', async () => {
    const limit = 50_000;
    const event = (n: number) => Buffer.from(`data: ${'z'.repeat(n)}\r\n\r\n`);
    const pieces = (buf: Buffer) => Array.from({ length: Math.ceil(buf.length / 777) }, (_, i) => buf.subarray(i * 777, (i + 1) * 777));
    async function* body(buf: Buffer) {
      yield* pieces(buf);
    }
    const ok = await collect(decodeSSE(body(event(limit)), raw, { maxEventBytes: limit }));
    expect(ok).toEqual([{ type: 'chunk', data: 'z'.repeat(limit) }]);
    const over = await collect(decodeSSE(body(Buffer.concat([event(limit + 1024), Buffer.from('data: later\n\n')])), raw, { maxEventBytes: limit }));
    expect(over.map((e) => e.type)).toEqual(['error']);
  });

  it('without a limit given, the default bounds it too (4 MiB)', async () => {
    const { body, seen } = source('data: ', 64 * 1024, 256); // 16 MiB
    const events = await collect(decodeSSE(body, raw));
    expect(errorOf(events)?.code).toBe('upstream_event_too_large');
    expect(seen.pulled).toBeLessThan(80);
  });
});

describe('a Bedrock event-stream message over max_event_bytes', () => {
  it('is refused at its prelude (nothing of it is buffered); one under the limit decodes whole from many pieces', () => {
    const payload = JSON.stringify({ delta: { text: 'a'.repeat(100_000) }, contentBlockIndex: 0 });
    const message = encodeEventStreamMessage({ ':event-type': 'contentBlockDelta', ':message-type': 'event' }, payload);
    const decoder = new EventStreamDecoder(128 * 1024);
    const out = [];
    for (let at = 0; at < message.length; at += 1000) out.push(...decoder.push(message.subarray(at, at + 1000)));
    expect(out.map((m) => m.payload.toString())).toEqual([payload]);
    expect(decoder.pending).toBe(0);
    expect(() => decoder.push(encodeEventStreamPrelude(8 * 1024 * 1024, 0))).toThrow(
      expect.objectContaining({ kind: 'server', code: 'upstream_event_too_large' }),
    );
  });

  it('through the Bedrock adapter: the stream fails with the malformed kind, the rest unread', async () => {
    const first = encodeEventStreamMessage({ ':event-type': 'messageStart', ':message-type': 'event' }, '{"role":"assistant"}');
    const seen = { pulled: 0 };
    async function* body() {
      seen.pulled++;
      yield Buffer.concat([first, encodeEventStreamPrelude(12 * 1024 * 1024, 0)]);
      for (let i = 0; i < 192; i++) {
        seen.pulled++;
        yield Buffer.alloc(64 * 1024);
      }
    }
    const events = decodeStream(body(), bedrockProvider, new BedrockStreamDecoder(d), { maxEventBytes: 64 * 1024 });
    expect((await events.next()).value).toMatchObject({ type: 'chunk' });
    await expect(events.next()).rejects.toMatchObject({ kind: 'server', code: 'upstream_event_too_large' });
    expect(seen.pulled).toBe(1);
  });
});

describe('OpenAI stream events that are not chunks', () => {
  const decode = (...data: string[]) => {
    const dec = openaiProvider.createStreamDecoder(d);
    return data.flatMap((x) => dec.decode({ data: x }));
  };

  it.each([
    ['text that is not JSON', 'lifeline mock: invalid event 1', /not JSON/],
    ['a truncated chunk', '{"id":"chatcmpl-1","object":"chat.com', /not JSON/],
    ['a JSON array', '[1,2]', /not a JSON object/],
    ['a number', '42', /not a JSON object/],
    ['null', 'null', /not a JSON object/],
    ['a string', '"hello"', /not a JSON object/],
    ['an object without choices', '{"id":"x","object":"chat.completion.chunk"}', /without a "choices" array/],
    ['choices that are not an array', '{"choices":{"0":{}}}', /without a "choices" array/],
  ])('%s is a malformed upstream (retryable)', (_name, data, message) => {
    const [e] = decode(data);
    expect(e?.type).toBe('error');
    const error = (e as { error: GatewayError }).error;
    expect(error).toMatchObject({ kind: 'server', retryable: true, code: 'upstream_malformed_response', deployment: 'p/m' });
    expect(error.message).toMatch(message);
  });

  it('chunks, usage-only chunks, an empty keep-alive event and [DONE] are fine', () => {
    const chunk = '{"id":"1","choices":[{"index":0,"delta":{"content":"Hi"}}]}';
    const azureFilter = '{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0}]}';
    const usage = '{"id":"1","usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}';
    expect(decode(azureFilter, chunk, '', usage, '[DONE]')).toEqual([
      { type: 'chunk', data: azureFilter },
      { type: 'chunk', data: chunk },
      { type: 'chunk', data: usage },
      { type: 'done' },
    ]);
  });

  it('after good chunks of the same shape, a chunk that only looks like them is still caught', () => {
    const c = (text: string) => `{"id":"1","choices":[{"index":0,"delta":{"content":"${text}"}}],"obfuscation":"q${text.length}"}`;
    const good = [c('Hello'), c(' wor'), c('ld \\"quoted\\" \\u00e9\\n')];
    expect(decode(...good).map((e) => e.type)).toEqual(['chunk', 'chunk', 'chunk']);
    for (const bad of [c('raw\nnewline'), c('bad \\x escape'), c('bad \\u12 escape'), c('a"b'), c('x').replace('"choices"', '"chooses"'), `${c('x')}x`, c('x').slice(0, -1)]) {
      const events = decode(...good, bad);
      expect(events.at(-1)?.type, bad).toBe('error');
    }
  });

  it('Responses API events: unknown names pass, data that is not a JSON object does not', () => {
    const dec = openaiProvider.createStreamDecoder(d);
    expect(dec.decode({ event: 'response.some_future_event', data: '{"type":"response.some_future_event"}' })[0]?.type).toBe('chunk');
    expect(dec.decode({ event: 'response.output_text.delta', data: 'garbage' })[0]?.type).toBe('error');
    expect(dec.decode({ event: 'response.output_text.delta', data: '[]' })[0]?.type).toBe('error');
  });

  it('through the SSE decoder: comments and unknown fields are skipped, garbage is not', async () => {
    async function* body() {
      yield Buffer.from(': OPENROUTER PROCESSING\n\nid: 7\nretry: soon\nfoo: bar\ndata: {"choices":[]}\n\n');
      yield Buffer.from('data: <html>Bad Gateway</html>\n\n');
    }
    const events = await collect(decodeSSE(body(), openaiProvider.createStreamDecoder(d)));
    expect(events.map((e) => e.type)).toEqual(['chunk', 'error']);
  });
});

describe('other providers: a stream event that is not a JSON object', () => {
  it('Anthropic: an array is malformed; unknown event types are still skipped', () => {
    const dec = new AnthropicStreamDecoder(d);
    expect(dec.decode({ event: 'some_new_event', data: '{"type":"some_new_event"}' })).toEqual([]);
    expect(dec.decode({ event: 'ping', data: '{"type":"ping"}' })).toEqual([]);
    expect(dec.decode({ event: 'content_block_delta', data: '[1]' })).toMatchObject([{ type: 'error', error: { code: 'upstream_malformed_response' } }]);
  });

  it('Bedrock: a payload that is not an object is malformed; unknown event types are still skipped', () => {
    const dec = new BedrockStreamDecoder(d);
    expect(dec.decode({ event: 'someNewEvent', data: '{"x":1}' })).toEqual([]);
    expect(dec.decode({ event: 'contentBlockDelta', data: '[2]' })).toMatchObject([{ type: 'error', error: { code: 'upstream_malformed_response' } }]);
    expect(new BedrockStreamDecoder(d).decode({ event: 'messageStart', data: 'null' })).toMatchObject([{ type: 'error' }]);
  });
});
