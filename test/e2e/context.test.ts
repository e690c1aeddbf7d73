import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { countChatPromptTokens } from '../../src/context/index.js';
import { startMock, type MockServer } from '../../src/mock/index.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { memoryLogger } from '../support/helpers.js';

/**
 * The pre-call context check through the real server: a prompt that cannot fit a deployment never reaches it;
 * it goes to a context_window_fallback, is trimmed (middle-out) when asked, or gets a 400 that names the counts.
 */
let small: MockServer;
let big: MockServer;
let server: RunningServer;
let client: OpenAI;

beforeAll(async () => {
  small = await startMock({});
  big = await startMock({});
  const config = resolveConfig({
    server: { port: 0 },
    providers: { small: { type: 'openai', api_key: 'k', base_url: small.url }, big: { type: 'openai', api_key: 'k', base_url: big.url } },
    models: {
      chat: { targets: [{ provider: 'small', model: 'gpt-4o', context_window: 128_000 }], context_window_fallbacks: ['long'] },
      long: { targets: [{ provider: 'big', model: 'gpt-4.1', context_window: 1_000_000 }] },
      narrow: { targets: [{ provider: 'small', model: 'gpt-4o', context_window: 8_000, max_output_tokens: 4_000 }] },
      // The catalog's GPT-5: a 400,000-token window, of which at most 272,000 for the prompt.
      five: { targets: [{ provider: 'small', model: 'gpt-5' }], context_window_fallbacks: ['long'] },
      'five-alone': { targets: [{ provider: 'small', model: 'gpt-5' }] },
      trimmed: { targets: [{ provider: 'small', model: 'gpt-4o', context_window: 8_000, max_output_tokens: 4_000 }], transforms: ['middle-out'] },
    },
  });
  server = await startServer(config, { logger: memoryLogger().logger });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'c', maxRetries: 0, timeout: 30_000 });
});
afterAll(async () => {
  await server.shutdown();
  await Promise.all([small.close(), big.close()]);
});

/** ~200k tokens: "hello world " is two tokens in o200k. */
const HUGE = 'hello world '.repeat(100_000);

function conversation(turns: number) {
  const messages: Array<{ role: 'system' | 'user' | 'assistant'; content: string }> = [
    { role: 'system', content: 'SYSTEM: be brief.' },
    { role: 'user', content: 'FIRST: the task.' },
  ];
  for (let i = 0; i < turns; i++) messages.push({ role: i % 2 ? 'user' : 'assistant', content: `turn ${i}: ${'some words here '.repeat(12)}` });
  messages.push({ role: 'user', content: 'LAST: the question.' });
  return messages;
}

describe('context window fit', () => {
  it('a ~200k-token prompt for a 128k target is served by the 1M-window fallback; the small deployment is never called', async () => {
    small.reset();
    big.reset();
    const messages = [{ role: 'user' as const, content: HUGE }];
    expect(countChatPromptTokens({ messages }, 'gpt-4o')).toBeGreaterThan(190_000);
    const { data, response } = await client.chat.completions.create({ model: 'chat', messages }).withResponse();
    expect(data.choices[0]?.message.content).toBeTruthy();
    expect(response.headers.get('x-lifeline-fallback')).toBe('long');
    expect(small.stats().requests).toBe(0);
    expect(big.stats().requests).toBe(1);
  });

  it("a prompt within GPT-5's window but over its 272k input cap goes to the fallback, or gets a 400 naming the cap", async () => {
    small.reset();
    big.reset();
    const messages = [{ role: 'user' as const, content: 'hello world '.repeat(150_000) }]; // ~300k tokens
    const { response } = await client.chat.completions.create({ model: 'five', messages }).withResponse();
    expect(response.headers.get('x-lifeline-fallback')).toBe('long');
    expect(small.stats().requests).toBe(0);
    const err = await client.chat.completions.create({ model: 'five-alone', messages }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.message).toMatch(/takes as input \(272,000 tokens of its 400,000-token window\)/);
    expect(small.stats().requests).toBe(0);
    // Under the cap it is GPT-5's: ~200k tokens.
    await client.chat.completions.create({ model: 'five', messages: [{ role: 'user', content: HUGE }] });
    expect(small.stats().requests).toBe(1);
  });

  it('nothing fits → 400 context_length_exceeded naming both numbers, and no upstream request', async () => {
    small.reset();
    const err = await client.chat.completions.create({ model: 'narrow', messages: [{ role: 'user', content: 'hello world '.repeat(5000) }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.code).toBe('context_length_exceeded');
    expect(err.message).toMatch(/needs about 10,0\d\d tokens .*context window of model "narrow" \(8,000 tokens\)/);
    expect(small.stats().requests).toBe(0);
  });

  it('max_tokens past the window: a 400 without transforms; clamped with x-lifeline-transforms: middle-out', async () => {
    small.reset();
    const messages = [{ role: 'user' as const, content: 'hello world '.repeat(2000) }]; // ~4k tokens
    const err = await client.chat.completions.create({ model: 'narrow', messages, max_tokens: 6000 }).catch((e) => e);
    expect(err.status).toBe(400);
    expect(small.stats().requests).toBe(0);
    const { response } = await client.chat.completions
      .create({ model: 'narrow', messages, max_tokens: 6000 }, { headers: { 'x-lifeline-transforms': 'middle-out' } })
      .withResponse();
    const sent = small.stats().records.at(-1)?.body as { max_tokens: number };
    const prompt = countChatPromptTokens({ messages }, 'gpt-4o');
    expect(sent.max_tokens).toBe(Math.min(4000, 8000 - prompt));
    expect(response.headers.get('x-lifeline-transformed')).toMatch(/max_tokens clamped/);
  });

  it('middle-out on a 300-message conversation: fits the window, keeps system, first and last messages', async () => {
    small.reset();
    const messages = conversation(300);
    expect(countChatPromptTokens({ messages }, 'gpt-4o')).toBeGreaterThan(8_000);
    for (const model of ['trimmed', 'narrow']) {
      const headers = model === 'narrow' ? { 'x-lifeline-transforms': 'middle-out' } : {};
      const { data, response } = await client.chat.completions.create({ model, messages, stream: true }, { headers }).withResponse();
      let text = '';
      for await (const chunk of data) text += chunk.choices[0]?.delta.content ?? '';
      expect(text.length).toBeGreaterThan(0);
      expect(response.headers.get('x-lifeline-transformed')).toMatch(/middle-out removed \d+ message/);
      const sent = (small.stats().records.at(-1)?.body as { messages?: Array<{ role: string; content: string }> } | undefined)?.messages ?? [];
      expect(countChatPromptTokens({ messages: sent }, 'gpt-4o') + 4000).toBeLessThanOrEqual(8_000);
      expect(sent[0]?.content).toBe('SYSTEM: be brief.');
      expect(sent[1]?.content).toBe('FIRST: the task.');
      expect(sent.at(-1)?.content).toBe('LAST: the question.');
      expect(sent.some((m) => m.content.includes('middle-out'))).toBe(true);
    }
  });

  it('an unknown transform in the header is a 400 naming the valid ones', async () => {
    const err = await client.chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-lifeline-transforms': 'squash' } })
      .catch((e) => e);
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/unknown transform "squash" \(valid: middle-out\)/);
  });
});
