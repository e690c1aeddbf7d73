import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../src/config/index.js';
import { PROVIDER_TYPES, type ProviderType } from '../../../src/config/provider-types.js';
import { startMock, type MockServer } from '../../../src/mock/index.js';
import { presetAdapter } from '../../../src/providers/presets/adapter.js';
import type { Deployment } from '../../../src/types.js';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import { deployment as deploymentOn, providerConfig } from '../../support/fixtures.js';
import { CLIENT_KEY, memoryLogger } from '../../support/helpers.js';

// Issue 20 item 8: each OpenAI-compatible preset sends only what its host's documented request schema takes.
// These build the request each preset sends and read it back, as the host would.

const PRESETS = (Object.keys(PROVIDER_TYPES) as ProviderType[]).filter(
  (t) => PROVIDER_TYPES[t].family === 'openai' && t !== 'openai',
);

function deployment(type: ProviderType, base_url: string = PROVIDER_TYPES[type].default_base_url ?? ''): Deployment {
  return deploymentOn(providerConfig({ name: type, type, api_key: 'k-0123456789abcdef', base_url }), 'm');
}

/** A streamed chat that asks for usage, as the OpenAI adapter asks every chat stream (openai/adapter.ts). */
function streamBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: 'client-name',
    messages: [{ role: 'user', content: 'hi' }],
    stream: true,
    stream_options: { include_usage: true },
    ...extra,
  };
}

function sent(type: ProviderType, body: Record<string, unknown>, raw?: string, base?: string) {
  const req = presetAdapter(type).buildRequest('chat', body, deployment(type, base), raw);
  return { url: req.url, text: req.body ?? '', body: JSON.parse(req.body ?? '{}') as Record<string, unknown> };
}

describe('the request each preset builds', () => {
  it('mistral: no stream_options (its schema forbids it; usage comes in the final chunk unasked)', () => {
    const out = sent('mistral', streamBody());
    expect(out.body.stream_options).toBeUndefined();
    expect(out.body).toMatchObject({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] });
  });

  it('every preset asks a chat stream for usage whatever the client asked, but Mistral (usage unasked, field refused)', () => {
    const { stream_options: _, ...unasked } = streamBody();
    for (const type of PRESETS) {
      const options = sent(type, unasked).body.stream_options;
      expect(options, type).toEqual(type === 'mistral' ? undefined : { include_usage: true });
    }
  });

  it('mistral: OpenAI names renamed to Mistral’s, fields outside its schema dropped, the rest kept', () => {
    const out = sent('mistral', {
      model: 'x',
      messages: [
        { role: 'system', content: 's', name: 'sys' },
        { role: 'user', content: 'q', name: 'ann' },
        { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', content: 'r', tool_call_id: 't1', name: 'f' },
        { role: 'assistant', content: 'The ans', prefix: true },
      ],
      seed: 7,
      max_completion_tokens: 50,
      user: 'end-user-1',
      logprobs: true,
      top_logprobs: 2,
      logit_bias: { 1: 1 },
      service_tier: 'auto',
      store: false,
      temperature: 0.2,
      top_p: 0.9,
      n: 1,
      stop: ['\n'],
      response_format: { type: 'json_object' },
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      tool_choice: 'auto',
      parallel_tool_calls: false,
      presence_penalty: 0.1,
      frequency_penalty: 0.1,
    });
    expect(out.body).toEqual({
      model: 'm',
      messages: [
        { role: 'system', content: 's' },
        { role: 'user', content: 'q' },
        { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', content: 'r', tool_call_id: 't1', name: 'f' },
        { role: 'assistant', content: 'The ans', prefix: true },
      ],
      random_seed: 7,
      max_tokens: 50,
      temperature: 0.2,
      top_p: 0.9,
      n: 1,
      stop: ['\n'],
      response_format: { type: 'json_object' },
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      tool_choice: 'auto',
      parallel_tool_calls: false,
      presence_penalty: 0.1,
      frequency_penalty: 0.1,
    });
  });

  it("a value the client gave under the host's own name wins over the OpenAI name", () => {
    const out = sent('mistral', { model: 'x', messages: [], seed: 1, random_seed: 2, max_tokens: 10, max_completion_tokens: 20 });
    expect(out.body).toEqual({ model: 'm', messages: [], random_seed: 2, max_tokens: 10 });
  });

  it('groq: the fields its docs say it answers 400 to are dropped, messages[].name included', () => {
    const out = sent(
      'groq',
      streamBody({ logprobs: true, top_logprobs: 2, logit_bias: { 1: 1 }, messages: [{ role: 'user', content: 'hi', name: 'ann' }] }),
    );
    expect(out.body).toEqual({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('deepseek: max_completion_tokens goes as max_tokens; stream_options.include_usage kept (documented)', () => {
    const out = sent('deepseek', streamBody({ max_completion_tokens: 64 }));
    expect(out.body).toEqual({ ...streamBody(), model: 'm', max_tokens: 64 });
    expect(out.url).toBe('https://api.deepseek.com/v1/chat/completions');
  });

  it('deepseek: a prefill continuation (prefix: true) goes to the beta base URL its docs require', () => {
    const messages = [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'Hel', prefix: true },
    ];
    expect(sent('deepseek', streamBody({ messages })).url).toBe('https://api.deepseek.com/beta/chat/completions');
    expect(sent('deepseek', streamBody({ messages }), undefined, 'https://api.deepseek.com').url).toBe(
      'https://api.deepseek.com/beta/chat/completions',
    );
    // Someone else's host (a proxy, a self-hosted DeepSeek): its URL is the operator's business.
    expect(sent('deepseek', streamBody({ messages }), undefined, 'https://llm.internal/v1').url).toBe(
      'https://llm.internal/v1/chat/completions',
    );
    // An assistant message without the flag is not a continuation.
    const plain = [messages[0], { role: 'assistant', content: 'Hel' }];
    expect(sent('deepseek', streamBody({ messages: plain })).url).toBe('https://api.deepseek.com/v1/chat/completions');
  });

  it('ollama and lmstudio: max_completion_tokens goes as max_tokens (the field their docs list)', () => {
    for (const type of ['ollama', 'lmstudio'] as const) {
      expect(sent(type, { model: 'x', messages: [], max_completion_tokens: 9 }).body).toEqual({ model: 'm', messages: [], max_tokens: 9 });
    }
  });

  it('a request with nothing to change goes as the client wrote it (only the model swapped)', () => {
    const raw = '{"model":"client-name", "messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}';
    const body = JSON.parse(raw) as Record<string, unknown>;
    for (const type of PRESETS.filter((t) => t !== 'mistral')) {
      expect(sent(type, body, raw).text, type).toBe(raw.replace('"client-name"', '"m"'));
    }
    const plain = '{"model":"client-name", "messages":[{"role":"user","content":"hi"}]}';
    expect(sent('mistral', JSON.parse(plain), plain).text).toBe(plain.replace('"client-name"', '"m"'));
  });

  it('the presets without documented quirks send OpenAI’s request unchanged', () => {
    const body = streamBody({ seed: 3, user: 'u', logprobs: true, max_completion_tokens: 5, parallel_tool_calls: true, n: 1 });
    for (const type of ['together', 'fireworks', 'openrouter', 'xai', 'perplexity', 'cerebras', 'vllm'] as const) {
      expect(sent(type, body).body, type).toEqual({ ...body, model: 'm' });
    }
  });

  it('embeddings are left alone', () => {
    const body = { model: 'x', input: 'a', user: 'u' };
    for (const type of PRESETS) {
      const req = presetAdapter(type).buildRequest('embeddings', body, deployment(type));
      expect(JSON.parse(req.body ?? '{}'), type).toEqual({ ...body, model: 'm' });
    }
  });
});

describe('a Mistral-preset stream through the gateway (mock speaking Mistral)', () => {
  let mock: MockServer;
  let server: RunningServer;
  let client: OpenAI;

  beforeAll(async () => {
    mock = await startMock();
    const config = resolveConfig({
      server: { port: 0 },
      providers: { mistral: { type: 'mistral', api_key: 'k-0123456789abcdef', base_url: mock.url.replace(/\/v1$/, '/mistral/v1') } },
      models: { small: { targets: [{ provider: 'mistral', model: 'mistral-small-latest' }] } },
    });
    server = await startServer(config, { logger: memoryLogger().logger });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await server?.shutdown();
    await mock?.close();
  });

  it('is accepted, and a client that asked for usage gets the upstream’s own usage', async () => {
    const stream = await client.chat.completions.create({
      model: 'small',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
      seed: 4,
    });
    let text = '';
    let usage: OpenAI.Completions.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text.length).toBeGreaterThan(0);
    const record = mock.stats().records.at(-1);
    expect(record).toMatchObject({ path: '/mistral/v1/chat/completions', status: 200 });
    expect(record?.body).not.toHaveProperty('stream_options');
    expect(record?.body).toMatchObject({ random_seed: 4 });
    // The same request straight to the mock: its final chunk's usage is what the client must have got (the
    // upstream's own numbers, not an estimate the gateway makes when an upstream reports none).
    const direct = await fetch(`${mock.origin}/mistral/v1/chat/completions`, { method: 'POST', body: record?.text });
    const events = (await direct.text()).split('\n\n').filter((e) => e.startsWith('data: {'));
    const last = JSON.parse(events.at(-1)?.slice('data: '.length) ?? '{}') as { usage?: unknown; choices?: unknown[] };
    expect(last.choices).toHaveLength(1); // usage rides on the finish chunk, as Mistral sends it
    expect(usage).toEqual(last.usage);
  });
});
