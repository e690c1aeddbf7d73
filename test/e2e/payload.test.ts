// Payload hygiene over real sockets: compressed request bodies (Content-Encoding gzip / br / deflate) are
// decoded as they arrive, with server.max_body_bytes applied after decompression (no zip bombs), and a
// per-model models.<name>.max_request_bytes. Errors come in the route's dialect.
import { Agent, request } from 'node:http';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway } from '../../src/index.js';
import { memoryLogger, PROVIDER_KEY, startStack, type Stack } from '../support/helpers.js';

const LIMIT = 16 * 1024;
const SMALL_LIMIT = 1024;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    server: { max_body_bytes: LIMIT },
    models: {
      'gpt-test': { targets: [{ provider: 'upstream', model: 'mock-gpt' }] },
      small: { targets: [{ provider: 'upstream', model: 'mock-small' }], max_request_bytes: SMALL_LIMIT },
    },
    extra: { retry: { max_attempts: 1 } },
  });
});
afterAll(async () => {
  await stack.close();
});

const chat = '/v1/chat/completions';
const chatBody = (content: string, model = 'gpt-test') => JSON.stringify({ model, messages: [{ role: 'user', content }] });
/** ~1 KB of gzip that inflates to 1 MiB of JSON: 64× the limit. */
const bombJson = chatBody(' '.repeat(1024 * 1024));

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown> & { error: Record<string, unknown> };
}

async function post(path: string, body: Uint8Array | string, encoding?: string, url = stack.server.url): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (encoding !== undefined) headers['content-encoding'] = encoding;
  const res = await fetch(`${url}${path}`, { method: 'POST', headers, body });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Answer['json'] };
}

function expectOpenAIError(json: Answer['json'], code: string) {
  expect(Object.keys(json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(json.error.code).toBe(code);
  expect(String(json.error.message)).not.toMatch(/\bat .*\.(js|ts):\d+/);
}

function lastUpstreamRequest() {
  const record = stack.mock.stats().records.at(-1);
  return { body: record?.body as { model: string; messages: { content: string }[] }, headers: record?.headers ?? {} };
}

async function goodRequestStillWorks() {
  const res = await stack.client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] });
  expect(res.choices[0]?.message.content).toBeTruthy();
}

/**
 * node:http over a keep-alive agent, so a test can tell whether the next request reused the connection. The
 * parts are written 50 ms apart; with `hold`, the request is never finished (the answer must not wait for it).
 */
function rawPost(agent: Agent, parts: Buffer[], headers: Record<string, string>, hold = false) {
  const length = hold ? LIMIT : parts.reduce((n, p) => n + p.length, 0);
  return new Promise<{ status: number; body: string; reused: boolean }>((resolve, reject) => {
    const req = request(`${stack.server.url}${chat}`, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': String(length), ...headers },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    void (async () => {
      for (const [i, part] of parts.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, 50));
        req.write(part);
      }
      if (!hold) req.end();
    })();
  });
}

describe('compressed request bodies are decoded', () => {
  it.each([
    ['gzip', gzipSync],
    ['x-gzip', gzipSync],
    ['br', brotliCompressSync],
    ['deflate', deflateSync],
    ['GZip', gzipSync],
    ['identity', (b: Buffer) => b],
  ])('Content-Encoding: %s', async (encoding, compress) => {
    const content = `hello via ${encoding} ${'é'.repeat(50)}`;
    const res = await post(chat, compress(Buffer.from(chatBody(content))), encoding);
    expect(res.status).toBe(200);
    const upstream = lastUpstreamRequest();
    expect(upstream.body.model).toBe('mock-gpt');
    expect(upstream.body.messages[0]?.content).toBe(content);
    // The gateway sends the upstream its own (uncompressed) body: the client's encoding is not passed on.
    expect(upstream.headers['content-encoding']).toBeUndefined();
  });

  it('a list of codings is undone in reverse order', async () => {
    const content = 'gzip, then br';
    const res = await post(chat, brotliCompressSync(gzipSync(chatBody(content))), 'gzip, br');
    expect(res.status).toBe(200);
    expect(lastUpstreamRequest().body.messages[0]?.content).toBe(content);
  });

  it('through gateway.fetch (no socket) too', async () => {
    const gateway = createGateway(
      {
        server: { max_body_bytes: LIMIT },
        providers: { upstream: { type: 'openai', api_key: PROVIDER_KEY, base_url: stack.mock.url } },
        models: { 'gpt-test': { targets: [{ provider: 'upstream', model: 'mock-gpt' }] } },
      },
      { logger: memoryLogger().logger },
    );
    try {
      const headers = { 'content-type': 'application/json', 'content-encoding': 'gzip' };
      const ok = await gateway.fetch(`http://lifeline.local${chat}`, { method: 'POST', headers, body: gzipSync(chatBody('in process')) });
      expect(ok.status).toBe(200);
      const bomb = await gateway.fetch(`http://lifeline.local${chat}`, { method: 'POST', headers, body: gzipSync(bombJson, { level: 9 }) });
      expect(bomb.status).toBe(413);
      expect(((await bomb.json()) as Answer['json']).error.code).toBe('request_too_large');
    } finally {
      await gateway.close();
    }
  });
});

describe('zip bombs: the limit applies after decompression', () => {
  it('a ~1 KB gzip body that inflates past server.max_body_bytes → 413, and the gateway keeps serving', async () => {
    const bomb = gzipSync(bombJson, { level: 9 });
    expect(bomb.length).toBeLessThan(1200);
    const res = await post(chat, bomb, 'gzip');
    expect(res.status).toBe(413);
    expect(res.headers.get('connection')).toBe('close');
    expectOpenAIError(res.json, 'request_too_large');
    expect(res.json.error.message).toMatch(new RegExp(`limit of ${LIMIT} bytes`));
    expect(res.json.error.message).toMatch(/after decompression/);
    await goodRequestStillWorks();
  });

  it('the 413 does not wait for the rest of the body', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // Content-Length promises the limit (16 KiB), ~1 KB of it is sent, and the request is never finished.
      const res = await rawPost(agent, [gzipSync(bombJson, { level: 9 })], { 'content-encoding': 'gzip' }, true);
      expect(res.status).toBe(413);
    } finally {
      agent.destroy();
    }
    await goodRequestStillWorks();
  });

  it('brotli and deflate bombs too', async () => {
    const br = await post(chat, brotliCompressSync(bombJson), 'br');
    expect(br.status).toBe(413);
    expectOpenAIError(br.json, 'request_too_large');
    const deflate = await post(chat, deflateSync(bombJson, { level: 9 }), 'deflate');
    expect(deflate.status).toBe(413);
    await goodRequestStillWorks();
  });

  it('a 1 GiB nested bomb (67 bytes) is refused at once, without the memory it would take', async () => {
    // br over 1024 gzip members of 1 MiB of zeros each: every layer is counted against the limit.
    const member = gzipSync(Buffer.alloc(1024 * 1024), { level: 9 });
    const bomb = brotliCompressSync(Buffer.concat(Array.from({ length: 1024 }, () => member)));
    expect(bomb.length).toBeLessThan(200);
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: 8 }, () => post(chat, bomb, 'gzip, br')));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(413));
    expect(performance.now() - started).toBeLessThan(5000);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(200 * 1024 * 1024);
    await goodRequestStillWorks();
  });

  it('the compressed bytes are limited too', async () => {
    const noise = Buffer.from(Array.from({ length: LIMIT * 2 }, (_, i) => (i * 7919 + (i >> 3) * 104729) % 251));
    const body = gzipSync(chatBody(noise.toString('base64')), { level: 0 });
    expect(body.length).toBeGreaterThan(LIMIT);
    const res = await post(chat, body, 'gzip');
    expect(res.status).toBe(413);
    expectOpenAIError(res.json, 'request_too_large');
    await goodRequestStillWorks();
  });
});

describe('bad encodings', () => {
  it('corrupt or truncated gzip → 400 invalid_body_encoding, and the connection stays usable', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const gzip = { 'content-encoding': 'gzip' };
    try {
      const corrupt = await rawPost(agent, [Buffer.from(chatBody('not gzip at all'))], gzip);
      expect(corrupt.status).toBe(400);
      const json = JSON.parse(corrupt.body) as Answer['json'];
      expectOpenAIError(json, 'invalid_body_encoding');
      expect(json.error.message).toMatch(/could not be decoded \(Content-Encoding: gzip\)/);
      const gz = gzipSync(chatBody('cut short'));
      const truncated = await rawPost(agent, [gz.subarray(0, gz.length - 12)], gzip);
      expect(truncated.status).toBe(400);
      expect(truncated.reused).toBe(true);
      expect(JSON.parse(truncated.body).error.message).toMatch(/unexpected end of file/);
      // Found corrupt from its first bytes while the rest is still coming: the rest is read (and dropped) first.
      const early = await rawPost(agent, [Buffer.from('garbage!'), Buffer.alloc(LIMIT / 2, 1), Buffer.alloc(LIMIT / 4, 2)], gzip);
      expect(early.status).toBe(400);
      expect(early.reused).toBe(true);
      const ok = await rawPost(agent, [gzipSync(chatBody('same connection'))], gzip);
      expect(ok.status).toBe(200);
      expect(ok.reused).toBe(true);
      expect(lastUpstreamRequest().body.messages[0]?.content).toBe('same connection');
    } finally {
      agent.destroy();
    }
  });

  it('corrupt br → 400', async () => {
    const res = await post(chat, Buffer.from(chatBody('plain')), 'br');
    expect(res.status).toBe(400);
    expectOpenAIError(res.json, 'invalid_body_encoding');
  });

  it('an unsupported Content-Encoding → 415 naming the supported ones', async () => {
    const res = await post(chat, chatBody('hi'), 'compress');
    expect(res.status).toBe(415);
    expectOpenAIError(res.json, 'unsupported_content_encoding');
    expect(res.json.error.type).toBe('invalid_request_error');
    expect(res.json.error.message).toMatch(/"compress" is not supported/);
    expect(res.json.error.message).toMatch(/gzip, x-gzip, br, deflate, identity/);
    const stacked = await post(chat, chatBody('hi'), 'gzip, gzip, gzip, gzip');
    expect(stacked.status).toBe(415);
    await goodRequestStillWorks();
  });
});

describe('per-model models.<name>.max_request_bytes', () => {
  const body = chatBody('x'.repeat(2 * SMALL_LIMIT), 'small');
  const sameForOther = chatBody('x'.repeat(2 * SMALL_LIMIT), 'gpt-test');

  it('413 for that model, naming it and its limit; another model takes the same body', async () => {
    const before = stack.mock.stats().requests;
    const res = await post(chat, body);
    expect(res.status).toBe(413);
    expectOpenAIError(res.json, 'request_too_large');
    expect(res.json.error.message).toMatch(/model 'small'/);
    expect(res.json.error.message).toMatch(new RegExp(`limit of ${SMALL_LIMIT} bytes`));
    expect(stack.mock.stats().requests).toBe(before); // never sent upstream
    expect((await post(chat, sameForOther)).status).toBe(200);
    const small = await post(chat, chatBody('short', 'small'));
    expect(small.status).toBe(200);
  });

  it('measured after decompression', async () => {
    const compressed = gzipSync(body);
    expect(compressed.length).toBeLessThan(SMALL_LIMIT);
    const res = await post(chat, compressed, 'gzip');
    expect(res.status).toBe(413);
    expect(res.json.error.message).toMatch(/model 'small'/);
    expect((await post(chat, gzipSync(sameForOther), 'gzip')).status).toBe(200);
  });
});

describe('the Anthropic route answers in Anthropic shape', () => {
  const messages = '/v1/messages';
  const anthropicBody = (content: string, model = 'gpt-test') =>
    JSON.stringify({ model, max_tokens: 64, messages: [{ role: 'user', content }] });

  function expectAnthropicError(json: Answer['json'], type: string) {
    expect(json.type).toBe('error');
    expect(json.error.type).toBe(type);
    expect(typeof json.error.message).toBe('string');
  }

  it('a gzip body is served', async () => {
    const res = await post(messages, gzipSync(anthropicBody('anthropic gzip')), 'gzip');
    expect(res.status).toBe(200);
    expect(res.json.type).toBe('message');
    expect(lastUpstreamRequest().body.messages.at(-1)?.content).toBe('anthropic gzip');
  });

  it('bomb → 413 request_too_large, corrupt → 400, compress → 415, per-model → 413', async () => {
    const bomb = await post(messages, gzipSync(anthropicBody(' '.repeat(1024 * 1024)), { level: 9 }), 'gzip');
    expect(bomb.status).toBe(413);
    expectAnthropicError(bomb.json, 'request_too_large');
    expect(bomb.json.error.message).toMatch(/after decompression/);
    const corrupt = await post(messages, anthropicBody('x'), 'gzip');
    expect(corrupt.status).toBe(400);
    expectAnthropicError(corrupt.json, 'invalid_request_error');
    const unsupported = await post(messages, anthropicBody('x'), 'compress');
    expect(unsupported.status).toBe(415);
    expectAnthropicError(unsupported.json, 'invalid_request_error');
    const small = await post(messages, anthropicBody('x'.repeat(2 * SMALL_LIMIT), 'small'));
    expect(small.status).toBe(413);
    expectAnthropicError(small.json, 'request_too_large');
    expect(small.json.error.message).toMatch(/model 'small'/);
    await goodRequestStillWorks();
  });
});
