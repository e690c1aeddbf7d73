// `lifeline mock` answering healthily, through the official OpenAI SDK and plain fetch over real sockets: chat
// completions (plain, streamed, max_tokens, tool calls), embeddings, the model list and bad requests.
import { setTimeout as sleep } from 'node:timers/promises';
import { BadRequestError } from 'openai';
import { request as undiciRequest } from 'undici';
import { describe, expect, it } from 'vitest';
import { startMock } from '../../../src/mock/index.js';
import { fillIn, PIECE } from '../../../src/mock/dialects/openai/answers.js';
import { CHAT, client, dataOf, errorOf, MESSAGES, post, withMock } from '../../support/mock.js';

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

describe('mock: streamed chunks filled into one rendered template', () => {
  it('gives, byte for byte, what rendering each chunk would, whatever the piece holds', () => {
    const pieces = ['plain ', 'a "quote" ', 'back\\slash ', 'line\nbreak', 'é ünïcödé 🙂', '\u0000nul', '</script>', ''];
    // A model name holding the marker comes before the piece: the piece is still found.
    const render = (piece: string) =>
      `data: ${JSON.stringify({ id: 'x', model: PIECE, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }], usage: null })}\n\n`;
    const template = render(PIECE);
    expect(fillIn(template, pieces)).toEqual(pieces.map(render));
  });

  it('streams the same chunks with and without usage requested, through the SDK', async () => {
    await withMock({}, async (mock) => {
      const texts: string[] = [];
      for (const include_usage of [false, true]) {
        const stream = await client(mock).chat.completions.create({ ...CHAT, stream: true, stream_options: { include_usage } });
        let text = '';
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta?.content ?? '';
          if (include_usage && chunk.choices.length > 0) expect(chunk.usage).toBeNull();
        }
        texts.push(text);
      }
      expect(texts[0]).toBe(mock.answerFor(CHAT));
      expect(texts[1]).toBe(texts[0]);
    });
  });
});

describe('mock: a reader that is behind', () => {
  it('stops writing a gapped stream while the client reads nothing, and finishes it once the client reads', async () => {
    const words = 200;
    const word = `${'x'.repeat(64 * 1024 - 1)} `; // 200 chunks of 64 KiB: far more than loopback's socket buffers
    await withMock({ reply: word.repeat(words), plan: { default: { chunk_gap_ms: 1 } } }, async (mock) => {
      const res = await undiciRequest(`${mock.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
        body: JSON.stringify({ ...CHAT, stream: true }),
      });
      expect(res.statusCode).toBe(200);
      await sleep(600); // the clock would have sent every chunk by now; the client has read none
      const held = mock.stats().records.at(-1)!.chunksSent;
      expect(held).toBeLessThan(words);
      const text = await res.body.text();
      expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
      expect(mock.stats().records.at(-1)!.chunksSent).toBe(words);
    });
  });
});
