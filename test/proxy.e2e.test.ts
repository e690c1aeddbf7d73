import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/index.js';
import { startMock, type MockServer } from '../src/mock/index.js';
import { startServer } from '../src/server/serve.js';
import { memoryLogger } from './helpers.js';

/** A minimal HTTP CONNECT proxy on loopback that counts the tunnels it opens. */
function connectProxy(): Promise<{ url: string; tunnels: string[]; close: () => Promise<void> }> {
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((_req, res) => {
    res.writeHead(405).end();
  });
  server.on('connect', (req, client: Socket, head: Buffer) => {
    tunnels.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(client).add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        url: `http://127.0.0.1:${port}`,
        tunnels,
        close: () => {
          for (const s of sockets) s.destroy();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}

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
