import Anthropic from '@anthropic-ai/sdk';
import { connect } from 'node:net';
import { APIError } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/helpers.js';

/**
 * Graceful shutdown as clients see it: a stream still open when `server.drain_timeout_ms` runs out ends with an
 * explicit error event (`server_shutting_down`, in the stream's own dialect), is logged as what it is (503, not a
 * client's 499), and a request pipelined behind another does not hold the drain open.
 */

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

interface RequestLine {
  msg: string;
  path: string;
  status: number;
  error?: { code?: string };
}

function requestLines(s: Stack): RequestLine[] {
  return s.lines.map((l) => JSON.parse(l) as RequestLine).filter((l) => l.msg === 'request');
}

/** Lines logged at error level or above (pino: 50): a shutdown is not an internal error. */
function errorLines(s: Stack): string[] {
  return s.lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50);
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('streams still open when the drain time runs out', () => {
  it('end with an OpenAI error event (server_shutting_down) the SDK raises as an APIError; logged 503, not 499', async () => {
    // Two words of the answer, then the upstream goes quiet (and stays connected).
    const s = await startStack({ server: { drain_timeout_ms: 300 }, plan: { default: { stall_after: 2 } } });
    stack = s;
    const stream = await s.client.chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'a long answer, slowly' }],
      stream: true,
    });
    let chunks = 0;
    const outcome = (async () => {
      for await (const _ of stream) chunks++;
    })().then(
      () => 'ended cleanly',
      (err: unknown) => err,
    );
    await until('the first words', () => chunks >= 2);
    await s.server.shutdown();
    const err = await outcome;
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).code).toBe('server_shutting_down');
    expect((err as APIError).message).toMatch(/shutting down/);

    const line = requestLines(s).find((l) => l.path === '/v1/chat/completions');
    expect(line?.status).toBe(503);
    expect(line?.error?.code).toBe('server_shutting_down');
    expect(errorLines(s)).toEqual([]);
  });

  it('end with an Anthropic `event: error` on /v1/messages (a stream whose headers are out, its first token not yet)', async () => {
    const s = await startStack({ server: { drain_timeout_ms: 300 }, plan: { default: { chunk_gap_ms: 30_000 } } });
    stack = s;
    const client = new Anthropic({ baseURL: s.server.url, apiKey: 'anything', maxRetries: 0, timeout: 20_000 });
    const stream = await client.messages.create({
      model: 'gpt-test',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'a long answer, slowly' }],
      stream: true,
    });
    const outcome = (async () => {
      for await (const _ of stream);
    })().then(
      () => 'ended cleanly',
      (err: unknown) => err,
    );
    await s.server.shutdown();
    const err = await outcome;
    expect(err).toBeInstanceOf(Anthropic.APIError);
    const body = (err as InstanceType<typeof Anthropic.APIError>).error as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('overloaded_error');
    expect(body.error.message).toMatch(/shutting down/);

    const line = requestLines(s).find((l) => l.path === '/v1/messages');
    expect(line?.status).toBe(503);
    expect(line?.error?.code).toBe('server_shutting_down');
    expect(errorLines(s)).toEqual([]);
  });
});

describe('a pipelined request queued behind a stream', () => {
  it('does not hold the drain open: the stream finishes, the queued request is answered 503 server_shutting_down', async () => {
    // The first stream takes ~1 s (a chunk every 100 ms); the request pipelined behind it would hang upstream.
    const drainMs = 25_000;
    const s = await startStack({ server: { drain_timeout_ms: drainMs }, plan: { script: [{ chunk_gap_ms: 100 }, { hang: true }] } });
    stack = s;
    const { hostname, port } = new URL(s.server.url);
    const socket = connect({ host: hostname, port: Number(port) });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
    });
    socket.on('error', () => {});
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    const post = (body: string) =>
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const streamBody = JSON.stringify({ model: 'gpt-test', messages: [{ role: 'user', content: 'first' }], stream: true });
    socket.write(post(streamBody));
    await until('the first stream is under way', () => text.includes('data: {'));
    socket.write(post(JSON.stringify({ model: 'gpt-test', messages: [{ role: 'user', content: 'second' }] })));
    await until('the pipelined request reached the upstream', () => s.mock.stats().records.length >= 2);

    const started = Date.now();
    await s.server.shutdown();
    const took = Date.now() - started;
    await closed;

    expect(took).toBeLessThan(drainMs - 5_000); // did not wait for the drain timeout
    const [first, second] = text.split(/(?=HTTP\/1\.1 )/);
    expect(first).toMatch(/^HTTP\/1\.1 200/);
    expect(first).toContain('data: [DONE]');
    expect(second).toMatch(/^HTTP\/1\.1 503/);
    expect(second?.toLowerCase()).toContain('connection: close');
    expect(JSON.parse(second?.slice(second.indexOf('\r\n\r\n') + 4) ?? '{}').error.code).toBe('server_shutting_down');
    const lines = requestLines(s);
    expect(lines.map((l) => l.status).sort()).toEqual([200, 503]);
  }, 40_000);
});
