import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { startMock, type MockServer } from '../../src/mock/index.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { memoryLogger } from '../support/helpers.js';

// The OpenAI family beyond plain OpenAI: the Responses API passthrough, Azure deployments, presets.
let mock: MockServer;
let server: RunningServer;
let client: OpenAI;
const AZURE_KEY = 'azure-key-0123456789abcdef';

beforeAll(async () => {
  mock = await startMock();
  const config = resolveConfig({
    server: { port: 0 },
    retry: { base_delay_ms: 10, max_delay_ms: 50 },
    providers: {
      openai: { type: 'openai', api_key: 'sk-openai-0123456789', base_url: mock.url },
      azure: { type: 'azure', api_key: AZURE_KEY, base_url: mock.origin, api_version: '2024-10-21' },
      groq: { type: 'groq', api_key: 'gsk-0123456789', base_url: mock.url },
    },
    models: {
      gpt: { targets: [{ provider: 'openai', model: 'gpt-4o' }] },
      'azure-gpt': { targets: [{ provider: 'azure', model: 'my-gpt4o-deployment' }] },
      llama: { targets: [{ provider: 'groq', model: 'llama-3.3-70b' }] },
      accented: { targets: [{ provider: 'openai', model: 'modèle-1' }] },
    },
  });
  server = await startServer(config, { logger: memoryLogger().logger });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'client', maxRetries: 0 });
});
afterAll(async () => {
  await server.shutdown();
  await mock.close();
});

const reply = () => mock.answerFor({ model: 'x', messages: [{ role: 'user', content: 'x' }] });

describe('POST /v1/responses (OpenAI Responses API, passed through)', () => {
  it('answers through the official SDK', async () => {
    const res = await client.responses.create({ model: 'gpt', input: 'Say hello' });
    expect(res.output_text).toBe(reply());
    const sent = mock.stats().records.at(-1)!;
    expect(sent.path).toBe('/v1/responses');
    expect((sent.body as { model: string }).model).toBe('gpt-4o');
  });

  it('streams named events, retried before the first token like any request', async () => {
    mock.setPlan({ script: [{ status: 503 }] });
    const stream = await client.responses.create({ model: 'gpt', input: 'Say hello', stream: true });
    let text = '';
    const types: string[] = [];
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'response.output_text.delta') text += event.delta;
    }
    mock.setPlan({});
    expect(text).toBe(reply());
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');
    expect(mock.stats().records.slice(-2).map((r) => r.status)).toEqual([503, 200]);
  });

  it('a model without an OpenAI-type deployment gets a clear 400', async () => {
    const err = await client.responses.create({ model: 'llama', input: 'x' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: 'unsupported_operation' });
    expect((err as Error).message).toMatch(/llama.*groq/);
  });

  it('a missing input is a 400 naming it', async () => {
    const res = await fetch(`${server.url}/v1/responses`, { method: 'POST', body: JSON.stringify({ model: 'gpt' }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('input');
  });
});

describe('azure', () => {
  it('calls the deployment URL with api-version and the api-key header', async () => {
    const res = await client.chat.completions.create({ model: 'azure-gpt', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.choices[0]?.message.content).toBe(reply());
    const sent = mock.stats().records.at(-1)!;
    expect(sent.path).toBe('/openai/deployments/my-gpt4o-deployment/chat/completions');
    expect(sent.headers['api-key']).toBe(AZURE_KEY);
    expect(sent.headers.authorization).toBeUndefined();
    const emb = await client.embeddings.create({ model: 'azure-gpt', input: 'x' });
    expect(emb.data).toHaveLength(1);
  });

  it('a content-filter refusal is a 400 content policy error', async () => {
    mock.setPlan({ script: [{ status: 400, error_code: 'content_filter' }] });
    const err = await client.chat.completions.create({ model: 'azure-gpt', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    mock.setPlan({});
    expect(err).toMatchObject({ status: 400, code: 'content_filter' });
  });
});

describe('OpenAI-compatible presets', () => {
  it('a groq provider speaks OpenAI with its own key', async () => {
    const stream = await client.chat.completions.create({ model: 'llama', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe(reply());
    expect(mock.stats().records.at(-1)!.headers.authorization).toBe('Bearer gsk-0123456789');
  });
});

describe('preset quirks', () => {
  it('groq: fields Groq rejects are dropped before the request leaves', async () => {
    await client.chat.completions.create({
      model: 'llama',
      messages: [{ role: 'user', content: 'hi' }],
      logprobs: true,
      top_logprobs: 2,
      logit_bias: { '50256': -100 },
      seed: 3,
    });
    const sent = mock.stats().records.at(-1)!.body as Record<string, unknown>;
    expect(sent.logprobs).toBeUndefined();
    expect(sent.top_logprobs).toBeUndefined();
    expect(sent.logit_bias).toBeUndefined();
    expect(sent.seed).toBe(3);
  });
});

describe('names a header cannot carry', () => {
  it('a target model with non-ASCII characters still answers, with a %-encoded deployment header', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'accented', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe(reply());
    expect(response.headers.get('x-lifeline-deployment')).toBe('openai%2Fmod%C3%A8le-1');
  });
});
