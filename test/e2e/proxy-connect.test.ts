import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import type { ProviderConfig } from '../../src/config/types.js';
import { GatewayError } from '../../src/errors.js';
import { startMock, type MockServer } from '../../src/mock/index.js';
import { startServer } from '../../src/server/serve.js';
import { Transport, type TransportOptions } from '../../src/transport/index.js';
import { providerConfig } from '../support/fixtures.js';
import { memoryLogger } from '../support/helpers.js';
import { eventually, SLACK_MS } from '../support/timing.js';

// Issue 20 item 4: connect_ms covers reaching the upstream through an egress proxy (TCP to the proxy, the proxy's
// answer to CONNECT, TLS inside the tunnel), so a proxy that never answers is a connect_timeout at connect_ms, not
// a first_byte_timeout at first_byte_ms. first_byte_ms is set far above connect_ms + SLACK_MS: a request that
// ended before it was ended by the connect timer, and its error code says so.
const T = { connect_ms: 300, first_byte_ms: 10_000, idle_ms: 10_000 };
const CHAT_BODY = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });

interface Listener {
  url: string;
  port: number;
  /** Sockets accepted so far, and how many of them have closed. */
  accepted: () => number;
  closed: () => number;
  close: () => Promise<void>;
}

function track(server: Server): Promise<Listener> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let closed = 0;
  server.on('connection', (s: Socket) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => closed++);
    s.resume(); // read (and drop) what comes, so the peer's close is seen
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        accepted: () => accepted,
        closed: () => closed,
        close: () => {
          for (const s of sockets) s.destroy();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}

/** Accepts TCP and never says a word: a proxy that never answers CONNECT, or an upstream that never does TLS. */
function silentListener(): Promise<Listener> {
  return track(createServer(() => {}));
}

/** A CONNECT proxy that waits `delayMs` before answering, then tunnels; records the tunnels it opened. */
async function slowProxy(delayMs: number): Promise<Listener & { tunnels: string[] }> {
  const tunnels: string[] = [];
  const server = createHttpServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    client.on('error', () => {});
    setTimeout(() => {
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect(Number(port), host, () => {
        tunnels.push(req.url ?? '');
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
    }, delayMs);
  });
  return { ...(await track(server as unknown as Server)), tunnels };
}

function provider(proxy: string | undefined): ProviderConfig {
  return providerConfig({ name: 'up', type: 'openai', api_key: 'k-123456', base_url: 'unused', proxy });
}

/** One chat completion through a fresh Transport; resolves to the status or rejects with the GatewayError. */
async function send(
  baseUrl: string,
  opts: { proxy?: string; transport?: TransportOptions; connect_ms?: number },
): Promise<{ status: number; ms: number }> {
  const transport = new Transport(opts.transport ?? { env: {} });
  const t0 = performance.now();
  try {
    const res = await transport.send({
      request: {
        url: `${baseUrl}/chat/completions`,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer k-123456' },
        body: CHAT_BODY,
      },
      provider: provider(opts.proxy),
      timeouts: { ...T, connect_ms: opts.connect_ms ?? T.connect_ms },
      signal: AbortSignal.timeout(60_000),
      label: 'Upstream up/m',
    });
    await res.text();
    return { status: res.status, ms: performance.now() - t0 };
  } finally {
    // Bounded: a connection attempt left waiting on a silent proxy would hold close() open (and fail the tests on
    // released sockets), not hang this one.
    await Promise.race([transport.close(), new Promise((r) => setTimeout(r, 2000))]);
  }
}

async function failure(p: Promise<unknown>): Promise<{ err: GatewayError; ms: number }> {
  const t0 = performance.now();
  const err = await p.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GatewayError);
  return { err: err as GatewayError, ms: performance.now() - t0 };
}

let mock: MockServer;
beforeAll(async () => {
  mock = await startMock();
});
afterAll(async () => {
  await mock.close();
});

describe('connect_ms through a per-provider proxy', () => {
  it('a proxy that never answers CONNECT (http upstream): connect_timeout at connect_ms, its socket released', async () => {
    const proxy = await silentListener();
    try {
      const { err, ms } = await failure(send(mock.url, { proxy: proxy.url }));
      expect(err).toMatchObject({ kind: 'timeout', code: 'connect_timeout' });
      expect(ms).toBeGreaterThanOrEqual(T.connect_ms - 20);
      expect(ms).toBeLessThan(T.connect_ms + SLACK_MS);
      expect(proxy.accepted()).toBe(1);
      // The attempt is given up, not left hanging on the proxy.
      expect(await eventually(() => proxy.closed() === proxy.accepted())).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('a proxy that never answers CONNECT (https upstream): connect_timeout at connect_ms', async () => {
    const proxy = await silentListener();
    try {
      const { err, ms } = await failure(send('https://127.0.0.1:9/v1', { proxy: proxy.url }));
      expect(err).toMatchObject({ kind: 'timeout', code: 'connect_timeout' });
      expect(ms).toBeLessThan(T.connect_ms + SLACK_MS);
      expect(await eventually(() => proxy.closed() === proxy.accepted())).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('TLS inside the tunnel counts too: an upstream that never completes the handshake is a connect_timeout', async () => {
    const proxy = await slowProxy(0);
    const silent = await silentListener();
    try {
      const { err, ms } = await failure(send(`https://127.0.0.1:${silent.port}/v1`, { proxy: proxy.url }));
      expect(err).toMatchObject({ kind: 'timeout', code: 'connect_timeout' });
      expect(ms).toBeLessThan(T.connect_ms + SLACK_MS);
      expect(proxy.tunnels).toEqual([`127.0.0.1:${silent.port}`]);
      expect(await eventually(() => silent.accepted() === 1 && silent.closed() === 1)).toBe(true);
    } finally {
      await Promise.all([proxy.close(), silent.close()]);
    }
  });

  it('a proxy that answers CONNECT late, but within connect_ms, still works', async () => {
    const proxy = await slowProxy(300);
    try {
      const res = await send(mock.url, { proxy: proxy.url, connect_ms: 10_000 });
      expect(res.status).toBe(200);
      expect(proxy.tunnels).toEqual([`127.0.0.1:${new URL(mock.url).port}`]);
    } finally {
      await proxy.close();
    }
  });

  it('the same holds for a proxy from the environment (HTTP_PROXY)', async () => {
    const proxy = await silentListener();
    try {
      const { err, ms } = await failure(send(mock.url, { transport: { env: { HTTP_PROXY: proxy.url } } }));
      expect(err).toMatchObject({ kind: 'timeout', code: 'connect_timeout' });
      expect(ms).toBeLessThan(T.connect_ms + SLACK_MS);
    } finally {
      await proxy.close();
    }
  });
});

describe('through the gateway', () => {
  it('a client hears 504 connect_timeout, long before first_byte_ms', async () => {
    const proxy = await silentListener();
    const config = resolveConfig({
      server: { port: 0, drain_timeout_ms: 2000 },
      timeouts: { ...T, total_ms: 60_000 },
      retry: { max_attempts: 1 },
      providers: { viaProxy: { type: 'openai', api_key: 'k-123456', base_url: mock.url, proxy: proxy.url } },
      models: { m: { targets: [{ provider: 'viaProxy', model: 'mock-gpt' }] } },
    });
    const server = await startServer(config, { logger: memoryLogger().logger });
    try {
      const t0 = performance.now();
      const res = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', body: CHAT_BODY });
      const body = (await res.json()) as { error: { code: string; message: string } };
      const ms = performance.now() - t0;
      expect(res.status).toBe(504);
      expect(body.error.code).toBe('connect_timeout');
      expect(ms).toBeLessThan(T.connect_ms + SLACK_MS);
    } finally {
      await Promise.race([server.shutdown(), new Promise((r) => setTimeout(r, 3000))]);
      await proxy.close();
    }
  });
});
