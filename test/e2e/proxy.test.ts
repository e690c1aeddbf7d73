import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { startMock, type MockServer } from '../../src/mock/index.js';
import { startServer } from '../../src/server/serve.js';
import { connectProxy } from '../support/connect-proxy.js';
import { memoryLogger } from '../support/helpers.js';

let mock: MockServer;
beforeAll(async () => {
  mock = await startMock();
});
afterAll(async () => {
  await mock.close();
});

describe('egress proxy per provider', () => {
  it('sends upstream traffic through the configured proxy', async () => {
    const proxy = await connectProxy();
    const config = resolveConfig({
      server: { port: 0 },
      providers: { viaProxy: { type: 'openai', api_key: 'k-123456', base_url: mock.url, proxy: proxy.url } },
      models: { m: { targets: [{ provider: 'viaProxy', model: 'mock-gpt' }] } },
    });
    const server = await startServer(config, { logger: memoryLogger().logger });
    try {
      const res = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(200);
      const port = new URL(mock.url).port;
      expect(proxy.tunnels).toContain(`127.0.0.1:${port}`);
    } finally {
      await server.shutdown();
      await proxy.close();
    }
  });
});
