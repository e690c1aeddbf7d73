import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '../../src/index.js';
import { startMock, type MockServer } from '../../src/mock/index.js';
import { connectProxy } from '../support/connect-proxy.js';
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

describe('createGateway(config, { env }): the environment it is given is the one it uses', () => {
  const chat = (gw: Gateway): Promise<Response> =>
    gw.fetch('http://lifeline.local/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-test', messages }),
    });
  const viaEnv = (env: Record<string, string>): Gateway =>
    createGateway(
      {
        providers: { upstream: { type: 'openai', api_key: '${TEST_PROVIDER_KEY}', base_url: mock.url } },
        models: { 'gpt-test': { targets: [{ provider: 'upstream', model: 'mock-gpt' }] } },
      },
      { logger: memoryLogger().logger, env: { TEST_PROVIDER_KEY: PROVIDER_KEY, ...env } },
    );

  it('its HTTP_PROXY carries the upstream requests (not only ${VAR}s)', async () => {
    const proxy = await connectProxy();
    const gw = viaEnv({ HTTP_PROXY: proxy.url });
    try {
      const res = await chat(gw);
      expect(res.status).toBe(200);
      expect(proxy.tunnels).toEqual([`127.0.0.1:${new URL(mock.url).port}`]);
    } finally {
      await gw.close();
      await proxy.close();
    }
  });

  it('its NO_PROXY exempts a host from that proxy', async () => {
    const proxy = await connectProxy();
    const gw = viaEnv({ HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' });
    try {
      const res = await chat(gw);
      expect(res.status).toBe(200);
      expect(proxy.tunnels).toEqual([]);
    } finally {
      await gw.close();
      await proxy.close();
    }
  });
});

describe('gateway.reload(): a new config for new requests, in-process', () => {
  const modelsOf = async (gw: Gateway): Promise<string[]> => {
    const res = await gw.fetch('http://lifeline.local/v1/models');
    return ((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id);
  };
  const yaml = (model: string): string =>
    `providers:\n  upstream: { type: openai, api_key: \${TEST_PROVIDER_KEY}, base_url: ${mock.url} }\n` +
    `models:\n  ${model}: { targets: [{ provider: upstream, model: mock-gpt }] }\n`;
  const env = { TEST_PROVIDER_KEY: PROVIDER_KEY };

  it('reads the file it was created from again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-library-'));
    const file = join(dir, 'lifeline.yaml');
    writeFileSync(file, yaml('first'));
    const gw = createGateway(file, { env });
    try {
      expect(await modelsOf(gw)).toEqual(['first']);
      writeFileSync(file, yaml('second'));
      const result = gw.reload();
      expect(result).toMatchObject({ status: 'reloaded', changes: { models: { added: ['second'], removed: ['first'] } } });
      expect(await modelsOf(gw)).toEqual(['second']);
      expect(Object.keys(gw.config.models)).toEqual(['second']);
      expect(gw.reload().status).toBe('unchanged');
    } finally {
      await gw.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes a config object (interpolated with its env); a bad one changes nothing', async () => {
    const config = (model: string) => ({
      providers: { upstream: { type: 'openai', api_key: '${TEST_PROVIDER_KEY}', base_url: mock.url } },
      models: { [model]: { targets: [{ provider: 'upstream', model: 'mock-gpt' }] } },
    });
    const gw = createGateway(config('first'), { env });
    try {
      // Made from an object, it has no file to read again.
      expect(gw.reload()).toMatchObject({ status: 'refused' });
      const bad = gw.reload({ models: { x: { targets: [{ provider: 'nowhere', model: 'y' }] } } });
      expect(bad.status).toBe('rejected');
      expect(await modelsOf(gw)).toEqual(['first']);
      expect(gw.reload(config('second')).status).toBe('reloaded');
      const res = await gw.fetch('http://lifeline.local/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'second', messages }),
      });
      expect(res.status).toBe(200);
      expect(mock.stats().records.at(-1)?.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
      // The server's admin route is not the library's.
      expect((await gw.fetch('http://lifeline.local/admin/reload', { method: 'POST' })).status).toBe(404);
    } finally {
      await gw.close();
    }
  });
});
