import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '../../src/index.js';
import { startMock, type MockServer } from '../../src/mock/index.js';
import { collectText, memoryLogger, PROVIDER_KEY } from '../support/helpers.js';
import { eventually } from '../support/timing.js';

let mock: MockServer;
let gateway: Gateway;
let client: OpenAI;
beforeAll(async () => {
  mock = await startMock();
  gateway = createGateway(
    {
      providers: { upstream: { type: 'openai', api_key: '${TEST_PROVIDER_KEY}', base_url: mock.url } },
      models: { 'gpt-test': { targets: [{ provider: 'upstream', model: 'mock-gpt' }] } },
    },
    { logger: memoryLogger().logger, env: { TEST_PROVIDER_KEY: PROVIDER_KEY } },
  );
  client = new OpenAI({ baseURL: 'http://lifeline.local/v1', apiKey: 'unused', fetch: gateway.fetch, maxRetries: 0 });
});
afterAll(async () => {
  await gateway.close();
  await mock.close();
});

const messages = [{ role: 'user' as const, content: 'Say hello' }];

describe('createGateway(): the same API through gateway.fetch, no server', () => {
  it('chat completion', async () => {
    const res = await client.chat.completions.create({ model: 'gpt-test', messages });
    expect(res.choices[0]?.message.content).toBe(mock.answerFor({ model: 'mock-gpt', messages }));
    expect(mock.stats().records.at(-1)?.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
  });

  it('streaming with usage', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-test',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const { text, finish, usage } = await collectText(stream);
    expect(text).toBe(mock.answerFor({ model: 'mock-gpt', messages }));
    expect(finish).toBe('stop');
    expect(usage?.total_tokens).toBeGreaterThan(0);
  });

  it('embeddings, models and errors in OpenAI shape', async () => {
    const emb = await client.embeddings.create({ model: 'gpt-test', input: 'x' });
    expect(emb.data[0]?.embedding.length).toBeGreaterThan(0);
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(['gpt-test']);
    const err = await client.chat.completions.create({ model: 'nope', messages }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 404, code: 'model_not_found' });
  });

  it('aborting a stream closes the upstream', async () => {
    mock.setPlan({ default: { chunk_gap_ms: 100 } });
    const ac = new AbortController();
    const stream = await client.chat.completions.create({ model: 'gpt-test', messages, stream: true }, { signal: ac.signal });
    let n = 0;
    await (async () => {
      for await (const _ of stream) if (++n === 2) ac.abort();
    })().catch(() => undefined);
    // Until the gateway closes the upstream, or the mock finishes the answer itself (it was not closed).
    const last = () => mock.stats().records.at(-1);
    await eventually(() => last()?.closedByClientAt !== undefined || last()?.finishedAt !== undefined);
    mock.setPlan({});
    expect(last()?.closedByClientAt).toBeDefined();
    expect(last()?.finishedAt).toBeUndefined();
  });
});
