import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createSecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { startMock, type MockServer } from '../../src/mock/index.js';
import { Transport, type TransportOptions } from '../../src/transport/index.js';
import { connectProxy } from '../support/connect-proxy.js';
import { providerConfig } from '../support/fixtures.js';

const TIMEOUTS = { connect_ms: 2000, first_byte_ms: 5000, idle_ms: 5000 };
const CHAT_BODY = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });

interface Listening {
  /** Base URL including `/v1`. */
  url: string;
  port: number;
  close: () => Promise<void>;
}

/** Sends one chat completion with a fresh Transport and returns the status and body. */
async function chat(
  baseUrl: string,
  options: TransportOptions,
  proxy?: string,
): Promise<{ status: number; body: string }> {
  const transport = new Transport(options);
  const provider = providerConfig({ name: 'up', type: 'openai', api_key: 'k-123456', base_url: baseUrl, proxy });
  try {
    const res = await transport.send({
      request: {
        url: `${baseUrl}/chat/completions`,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer k-123456' },
        body: CHAT_BODY,
      },
      provider,
      timeouts: TIMEOUTS,
      signal: AbortSignal.timeout(10_000),
      label: 'Upstream up/m',
    });
    return { status: res.status, body: await res.text() };
  } finally {
    await transport.close();
  }
}


/** A throwaway self-signed certificate for 127.0.0.1, written to a temp dir that is removed afterwards. */
function selfSignedCert(): { key: Buffer; cert: Buffer; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-tls-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1',
    '-keyout', keyPath, '-out', certPath,
  ], { stdio: 'ignore' });
  const pair = { key: readFileSync(keyPath), cert: readFileSync(certPath) };
  return { ...pair, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Answers POST /v1/chat/completions with a minimal chat.completion and records each request's HTTP version. */
function chatHandler(versions: string[]) {
  return (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void => {
    versions.push(req.httpVersion);
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404).end();
      return;
    }
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'chatcmpl-tls',
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: 'm',
          choices: [{ index: 0, message: { role: 'assistant', content: 'hello' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        }),
      );
    });
  };
}

function listen(server: Server | ReturnType<typeof createSecureServer>): Promise<Listening> {
  const sessions = new Set<{ destroy: () => void }>();
  server.on('connection', (s: Socket) => sessions.add(s));
  server.on('session', (s: { destroy: () => void }) => sessions.add(s));
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        url: `https://127.0.0.1:${port}/v1`,
        port,
        close: () => {
          for (const s of sessions) s.destroy();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}

describe('HTTP/2 over TLS', () => {
  let cert: ReturnType<typeof selfSignedCert>;
  let h2: Listening;
  let h1: Listening;
  const h2Versions: string[] = [];
  const h1Versions: string[] = [];

  beforeAll(async () => {
    cert = selfSignedCert();
    h2 = await listen(createSecureServer({ allowHTTP1: true, key: cert.key, cert: cert.cert }, chatHandler(h2Versions)));
    // Node's https server offers only http/1.1 over ALPN.
    h1 = await listen(createHttpsServer({ key: cert.key, cert: cert.cert }, chatHandler(h1Versions)));
  });
  afterAll(async () => {
    await Promise.all([h2?.close(), h1?.close()]);
    cert?.cleanup();
  });

  it('speaks h2 to an https upstream that offers it', async () => {
    h2Versions.length = 0;
    const res = await chat(h2.url, { env: {}, tls: { ca: cert.cert } });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ object: 'chat.completion', choices: [{ message: { content: 'hello' } }] });
    expect(h2Versions).toEqual(['2.0']);
  });

  it('falls back to HTTP/1.1 when the upstream offers only http/1.1', async () => {
    h1Versions.length = 0;
    const res = await chat(h1.url, { env: {}, tls: { ca: cert.cert.toString('utf8') } });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ object: 'chat.completion' });
    expect(h1Versions).toEqual(['1.1']);
  });

  it('keeps h2 inside a proxy tunnel', async () => {
    const proxy = await connectProxy();
    h2Versions.length = 0;
    try {
      const res = await chat(h2.url, { env: { HTTPS_PROXY: proxy.url }, tls: { ca: cert.cert } });
      expect(res.status).toBe(200);
      expect(proxy.tunnels).toEqual([`127.0.0.1:${h2.port}`]);
      expect(h2Versions).toEqual(['2.0']);
    } finally {
      await proxy.close();
    }
  });

  it('refuses the self-signed certificate without the CA option', async () => {
    h2Versions.length = 0;
    const err = await chat(h2.url, { env: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ kind: 'connection' });
    expect(h2Versions).toEqual([]);
  });
});

describe('egress proxy from the environment given to the Transport', () => {
  let mock: MockServer;
  let target: string;
  beforeAll(async () => {
    mock = await startMock();
    target = `127.0.0.1:${new URL(mock.url).port}`;
  });
  afterAll(async () => {
    await mock.close();
  });

  it('HTTP_PROXY sends an http upstream through the proxy', async () => {
    const proxy = await connectProxy();
    try {
      const res = await chat(mock.url, { env: { HTTP_PROXY: proxy.url } });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ object: 'chat.completion' });
      expect(proxy.tunnels).toEqual([target]);
    } finally {
      await proxy.close();
    }
  });

  it('the lower-case name works too, and the upper-case one wins over it', async () => {
    const lower = await connectProxy();
    const upper = await connectProxy();
    try {
      expect((await chat(mock.url, { env: { http_proxy: lower.url } })).status).toBe(200);
      expect(lower.tunnels).toEqual([target]);
      lower.tunnels.length = 0;

      expect((await chat(mock.url, { env: { http_proxy: lower.url, HTTP_PROXY: upper.url } })).status).toBe(200);
      expect(upper.tunnels).toEqual([target]);
      expect(lower.tunnels).toEqual([]);
    } finally {
      await Promise.all([lower.close(), upper.close()]);
    }
  });

  it('HTTPS_PROXY alone leaves an http upstream direct', async () => {
    const proxy = await connectProxy();
    try {
      expect((await chat(mock.url, { env: { HTTPS_PROXY: proxy.url } })).status).toBe(200);
      expect(proxy.tunnels).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('NO_PROXY sends a matching host direct', async () => {
    const proxy = await connectProxy();
    try {
      const res = await chat(mock.url, { env: { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' } });
      expect(res.status).toBe(200);
      expect(proxy.tunnels).toEqual([]);

      const lower = await chat(mock.url, { env: { HTTP_PROXY: proxy.url, no_proxy: 'localhost,127.0.0.1' } });
      expect(lower.status).toBe(200);
      expect(proxy.tunnels).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it("a provider's own proxy wins over the environment", async () => {
    const fromEnv = await connectProxy();
    const fromProvider = await connectProxy();
    try {
      const res = await chat(mock.url, { env: { HTTP_PROXY: fromEnv.url, NO_PROXY: '127.0.0.1' } }, fromProvider.url);
      expect(res.status).toBe(200);
      expect(fromProvider.tunnels).toEqual([target]);
      expect(fromEnv.tunnels).toEqual([]);
    } finally {
      await Promise.all([fromEnv.close(), fromProvider.close()]);
    }
  });
});
