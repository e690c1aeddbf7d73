// Prompts and answers the tokenizer cannot split (one long run of a letter, CJK without punctuation), through the
// real gateway over real sockets, while GET /health is polled: the gateway must keep answering it. Before the
// counting was bounded, one such prompt held the event loop for its whole count (measured: 150 KB of `x` 13 s,
// 60,000 CJK characters 13.5 s, 220 KB on /v1/messages 34 s; an answer with no usage froze the stream's end the
// same way).
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { countTextTokens } from '../../src/context/index.js';
import { type MockServer, startMock } from '../../src/mock/index.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { probeHealth } from '../support/health-probe.js';
import { collectText, memoryLogger, PROVIDER_KEY } from '../support/helpers.js';

/**
 * The longest /health may go unanswered. With bounded counting the gateway's longest synchronous stretch here is
 * a few tens of milliseconds (a few hundred on a busy 2-core box); unbounded, each of these requests held it for
 * 10-35 s.
 */
const MAX_GAP_MS = 3_000;

const KB = 1024;
let seed = 3;
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const cjk = (n: number) => Array.from({ length: n }, () => String.fromCharCode(0x4e00 + Math.floor(rand() * 20_000))).join('');
/** The answer of the upstream that reports no usage: one unbroken run. */
const LONG_ANSWER = 'y'.repeat(160 * KB);

let mock: MockServer;
let silent: MockServer;
let server: RunningServer;
let openai: OpenAI;
beforeAll(async () => {
  mock = await startMock();
  silent = await startMock({ reply: LONG_ANSWER, plan: { default: { no_usage: true } } });
  // gpt-4o: a 128k window in the catalog, so a prompt over ~97 KB is too long for the byte bound and is counted.
  const config = resolveConfig({
    server: { port: 0 },
    providers: {
      upstream: { type: 'openai', api_key: PROVIDER_KEY, base_url: mock.url },
      silent: { type: 'openai', api_key: PROVIDER_KEY, base_url: silent.url },
    },
    models: {
      big: { targets: [{ provider: 'upstream', model: 'gpt-4o' }] },
      'no-usage': { targets: [{ provider: 'silent', model: 'gpt-4o' }] },
    },
  });
  server = await startServer(config, { logger: memoryLogger().logger });
  openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'client', maxRetries: 0, timeout: 120_000 });
});
afterAll(async () => {
  await server?.shutdown();
  await Promise.all([mock?.close(), silent?.close()]);
});

/** Runs `work` while /health is polled; returns its result once the probe is stopped and checked. */
async function whileProbing<T>(work: () => Promise<T>): Promise<T> {
  const probe = probeHealth(server.url);
  let result: T;
  try {
    result = await work();
  } finally {
    const { answers, maxGapMs } = await probe.stop();
    expect(answers).toBeGreaterThan(0);
    expect(maxGapMs, `/health went ${Math.round(maxGapMs)} ms without an answer`).toBeLessThan(MAX_GAP_MS);
  }
  return result;
}

const answerOf = (content: string) => mock.answerFor({ model: 'gpt-4o', messages: [{ role: 'user', content }] });

describe('prompts the tokenizer cannot split do not stop the gateway answering', () => {
  it('150 KB of one letter on /v1/chat/completions', async () => {
    const content = 'x'.repeat(150 * KB);
    const completion = await whileProbing(() => openai.chat.completions.create({ model: 'big', messages: [{ role: 'user', content }] }));
    expect(completion.choices[0]?.message.content).toBe(answerOf(content));
  });

  it('60,000 CJK characters without punctuation (180 KB) on /v1/chat/completions', async () => {
    const content = cjk(60_000);
    const completion = await whileProbing(() => openai.chat.completions.create({ model: 'big', messages: [{ role: 'user', content }] }));
    expect(completion.choices[0]?.message.content).toBe(answerOf(content));
  });

  it('75,000 CJK characters: counted over the 128k window, a 400 context_length_exceeded without a stall', async () => {
    const content = cjk(75_000); // ~140,000 tokens in o200k_base
    const error = await whileProbing(() => openai.chat.completions.create({ model: 'big', messages: [{ role: 'user', content }] }).then(
      () => undefined,
      (err: unknown) => err,
    ));
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('context_length_exceeded');
    expect(mock.stats().requests).toBe(2); // the two above; this one never went upstream
  });

  it('220 KB of one letter on /v1/messages (the Anthropic SDK)', async () => {
    const anthropic = new Anthropic({ baseURL: server.url, apiKey: 'client', maxRetries: 0, timeout: 120_000 });
    const content = 'x'.repeat(220 * KB);
    const message = await whileProbing(() => anthropic.messages.create({ model: 'big', max_tokens: 100, messages: [{ role: 'user', content }] }));
    const first = message.content[0];
    expect(first?.type === 'text' && first.text.length).toBeGreaterThan(0);
  });

  it('a stream whose upstream reports no usage, its answer one unbroken 160 KB run: the usage is counted at its end', async () => {
    const { text, finish, usage } = await whileProbing(async () =>
      collectText(
        await openai.chat.completions.create({
          model: 'no-usage',
          messages: [{ role: 'user', content: 'Write the letter y, many times.' }],
          stream: true,
          stream_options: { include_usage: true },
        }),
      ),
    );
    expect(text).toBe(LONG_ANSWER);
    expect(finish).toBe('stop');
    expect(silent.stats().requests).toBe(1);
    // Not the upstream's (it sent none): the gateway's own count of the answer.
    expect(usage?.completion_tokens).toBe(countTextTokens(LONG_ANSWER, 'gpt-4o'));
    expect(usage?.prompt_tokens).toBeGreaterThan(0);
  });
});
