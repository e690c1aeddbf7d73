import { describe, expect, it } from 'vitest';
import { Cancel } from '../../../src/cancel.js';
import type { GatewayError } from '../../../src/errors.js';
import { type AttemptRecord, attemptsSettled, type CommittedStream, settleLater } from '../../../src/pipeline/attempt.js';
import { Feed, toSink } from '../../../src/pipeline/stream-attempt.js';
import { carriesToken, decodeSSE } from '../../../src/pipeline/sse.js';
import { openaiProvider } from '../../../src/providers/openai/adapter.js';
import type { Deployment, StreamEvent } from '../../../src/types.js';
import type { StreamDecoder } from '../../../src/providers/adapter.js';
import { validateChat, validateEmbeddings } from '../../../src/server/validate.js';
import { Watchdog } from '../../../src/transport/watchdog.js';
import { RecordingSink } from '../../support/recording-sink.js';

const d = { id: 'p/m', provider: { name: 'p', api_key: undefined }, model: 'm' } as unknown as Deployment;

async function* bytes(parts: (string | Buffer)[]) {
  for (const p of parts) yield typeof p === 'string' ? Buffer.from(p) : p;
}

/** Every event's data as a chunk: for the SSE framing alone (the OpenAI decoder refuses data that is not a chunk). */
const raw: StreamDecoder = { decode: (frame) => [{ type: 'chunk', data: frame.data }] };

describe('decodeSSE', () => {
  it('parses events split anywhere, including inside a multi-byte character', async () => {
    const text = 'data: {"choices":[{"delta":{"content":"héllo"}}]}\n\ndata: [DONE]\n\n';
    const buf = Buffer.from(text);
    const cut = buf.indexOf(Buffer.from('é')) + 1; // between the two bytes of é
    const parts = [buf.subarray(0, 7), buf.subarray(7, cut), buf.subarray(cut)];
    const events = [];
    for await (const e of decodeSSE(bytes(parts), openaiProvider.createStreamDecoder(d))) events.push(e);
    expect(events).toHaveLength(2);
    expect(events[0]).toEqual({ type: 'chunk', data: '{"choices":[{"delta":{"content":"héllo"}}]}' });
    expect(events[1]).toEqual({ type: 'done' });
  });

  it('drops a byte order mark before the first event (split from it or not), and keeps one later on', async () => {
    const decode = async (parts: (string | Buffer)[]) => {
      const events = [];
      for await (const e of decodeSSE(bytes(parts), raw)) events.push(e);
      return events;
    };
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const first = 'data: {"a":1}\n\n';
    expect(await decode([Buffer.concat([bom, Buffer.from(first)])])).toEqual([{ type: 'chunk', data: '{"a":1}' }]);
    expect(await decode([bom.subarray(0, 2), Buffer.concat([bom.subarray(2), Buffer.from(first)])])).toEqual([{ type: 'chunk', data: '{"a":1}' }]);
    expect(await decode([first, Buffer.concat([Buffer.from('data: '), bom, Buffer.from('x\n\n')])])).toEqual([
      { type: 'chunk', data: '{"a":1}' },
      { type: 'chunk', data: '\ufeffx' },
    ]);
  });

  it('ignores comments and keeps multi-line data', async () => {
    const events = [];
    for await (const e of decodeSSE(bytes([': keep-alive\n\n', 'data: {"a":\ndata: 1}\n\n']), raw)) {
      events.push(e);
    }
    expect(events).toEqual([{ type: 'chunk', data: '{"a":\n1}' }]);
  });
});

describe('carriesToken (commit on first token)', () => {
  it('a role-only opening chunk does not commit; content, tool calls, finish and usage do', () => {
    expect(carriesToken('{"choices":[{"delta":{"role":"assistant","content":""}}]}')).toBe(false);
    expect(carriesToken('{"choices":[{"delta":{"content":"Hi"}}]}')).toBe(true);
    expect(carriesToken('{"choices":[{"delta":{"tool_calls":[{"index":0}]}}]}')).toBe(true);
    expect(carriesToken('{"choices":[{"delta":{},"finish_reason":"stop"}]}')).toBe(true);
    expect(carriesToken('{"choices":[],"usage":{"total_tokens":3}}')).toBe(true);
  });

  it("decides OpenAI's full chunk shape alike on the parse-free path", () => {
    const c = (delta: string, finish = 'null') =>
      `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finish}}],"usage":null}`;
    expect(carriesToken(c('{"content":"Hi"}'))).toBe(true);
    expect(carriesToken(c('{"content":""}'))).toBe(false);
    expect(carriesToken(c('{"content":"","refusal":"no"}'))).toBe(true);
    expect(carriesToken(c('{"content":""}', '"stop"'))).toBe(true);
    expect(carriesToken(c('{"content":"","tool_calls":[{"index":0}]}'))).toBe(true);
  });
});

describe('request validation', () => {
  const msg = [{ role: 'user', content: 'x' }];
  it('accepts a normal request and reports stream', () => {
    expect(validateChat({ model: 'm', messages: msg, stream: true })).toEqual({ model: 'm', stream: true });
    expect(validateChat({ model: 'm', messages: [{ role: 'assistant', content: null, tool_calls: [] }] }).stream).toBe(false);
  });
  it.each([
    [{ messages: msg }, 'model'],
    [{ model: 3, messages: msg }, 'model'],
    [{ model: 'm' }, 'messages'],
    [{ model: 'm', messages: 'hi' }, 'messages'],
    [{ model: 'm', messages: [] }, 'messages'],
    [{ model: 'm', messages: ['hi'] }, 'messages[0]'],
    [{ model: 'm', messages: [{ content: 'x' }] }, 'messages[0].role'],
    [{ model: 'm', messages: [{ role: 'user', content: 5 }] }, 'messages[0].content'],
    [{ model: 'm', messages: [{ role: 'user' }] }, 'messages[0].content'],
    [{ model: 'm', messages: msg, stream: 'yes' }, 'stream'],
    [{ model: 'm', messages: msg, max_tokens: '10' }, 'max_tokens'],
    [{ model: 'm', messages: msg, tools: {} }, 'tools'],
  ])('%j → 400 naming %s', (body, param) => {
    expect(() => validateChat(body as Record<string, unknown>)).toThrow(expect.objectContaining({ status: 400, param }));
  });
  it('embeddings input', () => {
    expect(validateEmbeddings({ model: 'm', input: ['a', 'b'] })).toEqual({ model: 'm' });
    expect(validateEmbeddings({ model: 'm', input: [[1, 2]] })).toEqual({ model: 'm' });
    expect(() => validateEmbeddings({ model: 'm', input: [{}] })).toThrow(expect.objectContaining({ param: 'input' }));
  });
});

describe('Watchdog', () => {
  it('fires first-byte, then idle only while waiting', async () => {
    const fired: string[] = [];
    const dog = new Watchdog(50, 40, 'U', (e) => fired.push(e.code!));
    await new Promise((r) => setTimeout(r, 80));
    expect(fired).toEqual(['first_byte_timeout']);
    dog.stop();

    const idle: string[] = [];
    const dog2 = new Watchdog(50, 40, 'U', (e) => idle.push(e.code!));
    dog2.chunk(); // first byte arrived; consumer is busy (not waiting) for longer than idle_ms
    await new Promise((r) => setTimeout(r, 100));
    expect(idle).toEqual([]);
    dog2.wait();
    await new Promise((r) => setTimeout(r, 70));
    expect(idle).toEqual(['idle_timeout']);
    dog2.stop();
  });
});

describe('headerSafe', () => {
  it('keeps printable ASCII and encodes anything a header cannot carry', async () => {
    const { headerSafe } = await import('../../../src/server/app.js');
    expect(headerSafe('openai-east/gpt-4o')).toBe('openai-east/gpt-4o');
    expect(headerSafe('ollama/qwen2.5:7b-instruct')).toBe('ollama/qwen2.5:7b-instruct');
    expect(headerSafe('local/modèle\nx')).toBe('local%2Fmod%C3%A8le%0Ax');
  });
});

describe('accounting that finishes after its attempt', () => {
  it('is awaited through attemptsSettled until the record is filled in, and is nothing to await once done or failed', async () => {
    const a: AttemptRecord = { deployment: 'a', ms: 1 };
    const b: AttemptRecord = { deployment: 'b', ms: 1 };
    expect(attemptsSettled([a, b])).toBeUndefined();
    let fill!: () => void;
    const counted = new Promise<void>((resolve) => {
      fill = resolve;
    });
    settleLater(
      a,
      counted.then(() => {
        a.usage = { prompt_tokens: 5, completion_tokens: 0 };
      }),
    );
    settleLater(b, Promise.reject(new Error('count failed')));
    const settling = attemptsSettled([a, b]);
    expect(settling).toBeInstanceOf(Promise);
    let settled = false;
    void settling?.then(() => {
      settled = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false); // a's count is still out
    fill();
    await settling;
    expect(a.usage).toEqual({ prompt_tokens: 5, completion_tokens: 0 });
    expect(attemptsSettled([a, b])).toBeUndefined();
  });
});

describe('Feed', () => {
  const chunkEvent = (n: number): StreamEvent => ({ type: 'chunk', data: `{"n":${n}}` });
  function committed(rest: StreamEvent[], head: StreamEvent[] = [chunkEvent(-1), chunkEvent(0)]): { stream: CommittedStream; discarded: () => number; read: () => number } {
    let discarded = 0;
    let i = 0;
    const stream = {
      head,
      rest: { next: async (): Promise<IteratorResult<StreamEvent>> => (i < rest.length ? { value: rest[i++] as StreamEvent, done: false } : { value: undefined, done: true }) },
      response: { discard: () => void discarded++ },
    } as unknown as CommittedStream;
    return { stream, discarded: () => discarded, read: () => i };
  }

  it('toSink: the first of a pair to commit tells the sink who answers and writes its head at once, the token with now; the second has lost', () => {
    const sink = new RecordingSink();
    const attempts = [{}, {}];
    const hooks = toSink(sink, attempts);
    hooks.onAccepted?.('p/m');
    expect(hooks.onCommit?.(d, [chunkEvent(-1), chunkEvent(0)])).toBe(true);
    expect(hooks.onCommit?.({ ...d, id: 'q/m' }, [chunkEvent(9)])).toBe(false);
    expect(sink.log).toEqual(['accepted p/m', 'commit p/m', 'chunk', 'chunk!']);
    expect(sink.commits).toEqual([{ deployment: 'p/m', attempts: 2 }]);
    expect(sink.events).toEqual([chunkEvent(-1), chunkEvent(0)]);
  });

  it('pump writes the rest (the head was written at commit), each event once; a request that ends frees the upstream and ends the attempt once, without error', async () => {
    const { stream, discarded } = committed([chunkEvent(1), chunkEvent(2), chunkEvent(3)]);
    const ends: unknown[] = [];
    const sink = new RecordingSink();
    const stop = new Cancel();
    const feed = new Feed(stream, d, (e) => ends.push(e));
    const write = sink.write.bind(sink);
    sink.write = (e, now) => {
      if (e.type === 'chunk' && e.data === '{"n":1}') stop.abort(); // the client leaves after this one
      return write(e, now);
    };
    expect(await feed.pump(sink, stop.signal)).toBe('stopped');
    expect(sink.events).toEqual([chunkEvent(1)]);
    expect([discarded(), ends]).toEqual([1, [undefined]]);
    feed.cancel();
    expect([discarded(), ends.length]).toEqual([1, 1]);
  });

  it('done: returned, not written; the rest of the body is read (the connection is reused), then the attempt ends once', async () => {
    const { stream, discarded } = committed([chunkEvent(1), { type: 'done' }]);
    const ends: unknown[] = [];
    const sink = new RecordingSink();
    const feed = new Feed(stream, d, (e) => ends.push(e));
    expect(await feed.pump(sink, new Cancel().signal)).toBe('done');
    expect(sink.log).toEqual(['chunk']);
    await new Promise((r) => setImmediate(r));
    expect(ends).toEqual([undefined]);
    expect(discarded()).toBe(1); // after the drain
  });

  it('a done in the head (the upstream sent no token) ends the pump at once, nothing written', async () => {
    const { stream } = committed([chunkEvent(1)], [chunkEvent(0), { type: 'done' }]);
    const sink = new RecordingSink();
    const ends: unknown[] = [];
    const feed = new Feed(stream, d, (e) => ends.push(e));
    expect(await feed.pump(sink, new Cancel().signal)).toBe('done');
    expect(sink.log).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(ends).toEqual([undefined]);
  });

  it('a body that ends without [DONE] is the failure it returns (a resumed answer decides what follows), and the attempt ends with it', async () => {
    const { stream, discarded } = committed([chunkEvent(1)]);
    const ends: Array<GatewayError | undefined> = [];
    const sink = new RecordingSink();
    const feed = new Feed(stream, d, (e) => ends.push(e));
    const end = await feed.pump(sink, new Cancel().signal);
    expect(end).toMatchObject({ code: 'upstream_stream_truncated', deployment: 'p/m' });
    expect(sink.events).toEqual([chunkEvent(1)]); // no error event: the caller writes it
    expect(ends).toHaveLength(1);
    expect(ends[0]?.code).toBe('upstream_stream_truncated');
    expect(discarded()).toBe(1);
  });

  it('a client that is behind pauses the upstream read until it has drained', async () => {
    const { stream, read } = committed([chunkEvent(1), chunkEvent(2), { type: 'done' }]);
    const sink = new RecordingSink();
    const feed = new Feed(stream, d, () => undefined);
    sink.behind();
    const pumped = feed.pump(sink, new Cancel().signal);
    await new Promise((r) => setImmediate(r));
    expect(read()).toBe(1); // chunk 1 written, the sink said it is behind: chunk 2 not read
    expect(sink.log).toEqual(['chunk', 'waiting']);
    sink.catchUp();
    expect(await pumped).toBe('done');
    expect(sink.log).toEqual(['chunk', 'waiting', 'chunk']);
  });
});
