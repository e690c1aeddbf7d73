import { createServer, type Server, type Socket } from 'node:net';
import { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/server/serve.js';
import { resolveConfig } from '../../src/config/index.js';
import { collectText, memoryLogger, startStack, type Stack } from '../support/helpers.js';
import { SLACK_MS } from '../support/timing.js';

// Each test proves which timer ended the request by its error code, and that it fired at its limit: never before
// it, and not so late that a busy machine could explain it (limit + SLACK_MS). total_ms stays far above the others
// plus the slack, so a request that did end before it was ended by its own timer.
const T = { connect_ms: 300, first_byte_ms: 400, idle_ms: 300, total_ms: 20_000 };
/** A first token that comes later than any bound below: a request that waited for it would fail them. */
const LATE_TOKEN_MS = 10_000;
const messages = [{ role: 'user' as const, content: 'hi' }];

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    timeouts: T,
    models: {
      'gpt-test': { targets: [{ provider: 'upstream', model: 'mock-gpt' }] },
      'short-total': { targets: [{ provider: 'upstream', model: 'mock-gpt' }], timeouts: { total_ms: 700, idle_ms: 5000 } },
    },
  });
});
afterAll(async () => {
  await stack.close();
});

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

describe('each timeout ends the request at its limit, with a clear error', () => {
  it('first byte: an upstream that hangs before its headers', async () => {
    stack.mock.setPlan({ default: { hang: true } });
    const { value: err, ms } = await timed(() =>
      stack.client.chat.completions.create({ model: 'gpt-test', messages }).catch((e: unknown) => e),
    );
    stack.mock.setPlan({});
    expect(err).toMatchObject({ status: 504, code: 'first_byte_timeout' });
    expect((err as Error).message).toMatch(/400 ms/);
    expect(ms).toBeGreaterThanOrEqual(T.first_byte_ms - 20);
    expect(ms).toBeLessThan(T.first_byte_ms + SLACK_MS);
  });

  it('first byte: headers arrive but the first stream chunk does not (the 200 is out: an error event ends the stream)', async () => {
    stack.mock.setPlan({ default: { first_token_ms: LATE_TOKEN_MS } });
    const { value: err, ms } = await timed(async () => {
      const stream = await stack.client.chat.completions.create({ model: 'gpt-test', messages, stream: true });
      return collectText(stream).catch((e: unknown) => e);
    });
    stack.mock.setPlan({});
    expect(err).toBeInstanceOf(APIError);
    expect(err).toMatchObject({ code: 'first_byte_timeout' });
    expect((err as Error).message).toMatch(/400 ms/);
    expect(ms).toBeLessThan(T.first_byte_ms + SLACK_MS);
  });

  it('first byte, with streaming.hold_headers: nothing was sent yet, so the client gets a 504', async () => {
    const held = await startStack({ timeouts: T, extra: { streaming: { hold_headers: true } } });
    try {
      held.mock.setPlan({ default: { first_token_ms: LATE_TOKEN_MS } });
      const { value: err, ms } = await timed(() =>
        held.client.chat.completions.create({ model: 'gpt-test', messages, stream: true }).catch((e: unknown) => e),
      );
      expect(err).toMatchObject({ status: 504, code: 'first_byte_timeout' });
      expect(ms).toBeLessThan(T.first_byte_ms + SLACK_MS);
    } finally {
      await held.close();
    }
  });

  it('idle: a stream that stalls after two chunks ends with an error event, not a clean end', async () => {
    stack.mock.setPlan({ default: { stall_after: 2 } });
    const stream = await stack.client.chat.completions.create({ model: 'gpt-test', messages, stream: true });
    let lastChunkAt = 0;
    let text = '';
    const err = await (async () => {
      for await (const chunk of stream) {
        lastChunkAt = performance.now();
        text += chunk.choices[0]?.delta.content ?? '';
      }
    })().catch((e: unknown) => e);
    stack.mock.setPlan({});
    expect(text.length).toBeGreaterThan(0);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/idle timeout/);
    const waited = performance.now() - lastChunkAt;
    expect(waited).toBeLessThan(T.idle_ms + SLACK_MS); // the stall itself never ends
  });

  it('total: a slow stream is cut at total_ms with an error event', async () => {
    stack.mock.setPlan({ default: { chunk_gap_ms: 150 } });
    const t0 = performance.now();
    const stream = await stack.client.chat.completions.create({ model: 'short-total', messages, stream: true });
    const err = await collectText(stream).catch((e: unknown) => e);
    const ms = performance.now() - t0;
    stack.mock.setPlan({});
    expect((err as Error).message).toMatch(/total timeout/);
    expect(ms).toBeGreaterThanOrEqual(700 - 20);
    expect(ms).toBeLessThan(700 + SLACK_MS);
  });

  it('connect: an upstream that accepts TCP but never completes the TLS handshake', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => {
      sockets.add(s);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const config = resolveConfig({
      server: { port: 0 },
      // The first-byte timer runs from the attempt's start, the connect timer from when the connection is opened, a
      // moment later: 100 ms apart (T) the first-byte one has won on a busy machine. Here it is out of reach.
      timeouts: { ...T, first_byte_ms: T.connect_ms + 2 * SLACK_MS },
      providers: { dead: { type: 'openai', api_key: 'k', base_url: `https://127.0.0.1:${port}/v1` } },
      models: { m: { targets: [{ provider: 'dead', model: 'x' }] } },
    });
    const server = await startServer(config, { logger: memoryLogger().logger });
    try {
      const { value: res, ms } = await timed(() =>
        fetch(`${server.url}/v1/chat/completions`, {
          method: 'POST',
          body: JSON.stringify({ model: 'm', messages }),
        }),
      );
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(res.status).toBe(504);
      expect(body.error.code).toBe('connect_timeout');
      expect(body.error.message).toMatch(/connect/);
      expect(ms).toBeLessThan(T.connect_ms + SLACK_MS); // the handshake itself never completes
    } finally {
      await server.shutdown();
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('a refused connection is a 502 naming the failure', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r)); // nothing listens there now
    const config = resolveConfig({
      server: { port: 0 },
      providers: { gone: { type: 'openai', base_url: `http://127.0.0.1:${port}/v1` } },
      models: { m: { targets: [{ provider: 'gone', model: 'x' }] } },
    });
    const server = await startServer(config, { logger: memoryLogger().logger });
    try {
      const res = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', messages }) });
      expect(res.status).toBe(502);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.message).toMatch(/ECONNREFUSED/);
    } finally {
      await server.shutdown();
    }
  });
});
