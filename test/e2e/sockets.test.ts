import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultMaxConnections, openFilesLimit } from '../../src/server/connections.js';
import { startStack, type Stack } from '../support/helpers.js';

/**
 * The gateway's own client-facing sockets, seen from raw node:net clients: idle and slow connections are let go
 * (fully: the server's descriptor is closed, not half-closed), `Expect: 100-continue` is checked before it is
 * granted, a half-closed client still gets its answer, a 413 reaches a client that is still uploading, and a
 * connection over the cap is answered 503 rather than reset. Timeouts are short in the config (a few hundred ms);
 * every bound on time is many times wider.
 */

const chat = '/v1/chat/completions';
const chatBody = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], ...extra });

interface Raw {
  socket: Socket;
  text(): string;
  /** The server ended its side (FIN). */
  ended: Promise<void>;
  closed: Promise<void>;
}

/** A raw client that never ends its own side unless told: the server must let go of the connection by itself. */
function raw(url: string): Promise<Raw> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), allowHalfOpen: true });
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      text += d;
    });
    socket.on('error', () => {}); // a reset after the answer is the server's right
    const ended = new Promise<void>((r) => socket.once('end', r));
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('connect', () => resolve({ socket, text: () => text, ended, closed }));
    socket.once('error', reject);
  });
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function within<T>(what: string, p: Promise<T>, ms = 10_000): Promise<T> {
  return Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms))]);
}

/** Status, headers (lower-cased) and body of the first response in `text`. */
function parse(text: string): { status: number; head: string; body: string } {
  const end = text.indexOf('\r\n\r\n');
  const head = end === -1 ? text : text.slice(0, end);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? -1);
  const rest = end === -1 ? '' : text.slice(end + 4);
  return { status, head: head.toLowerCase(), body: length >= 0 ? rest.slice(0, length) : rest };
}

/** The server let go of the connection: the client saw its FIN and the server's count of open connections fell. */
async function released(stack: Stack, client: Raw, before: number): Promise<void> {
  await within('the server ends the connection', client.ended);
  await until('the server closes its descriptor', () => stack.server.connections() <= before);
  client.socket.destroy();
}

describe('idle and slow client connections are let go', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      server: { header_timeout_ms: 400, body_timeout_ms: 600, keep_alive_timeout_ms: 400, linger_ms: 300 },
    });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('a connection that never sends a byte is answered 408 and closed', async () => {
    const before = stack.server.connections();
    const client = await raw(stack.server.url);
    await until('the server counts the connection', () => stack.server.connections() > before);
    await released(stack, client, before);
    const res = parse(client.text());
    expect(res.status).toBe(408);
    expect(res.head).toContain('connection: close');
    expect(JSON.parse(res.body).error.code).toBe('request_header_timeout');
  });

  it('headers that trickle in and never finish (slowloris): 408 and closed', async () => {
    const before = stack.server.connections();
    const client = await raw(stack.server.url);
    client.socket.write(`POST ${chat} HTTP/1.1\r\nhost: x\r\n`);
    const timer = setInterval(() => client.socket.writable && client.socket.write('x'), 100);
    try {
      await released(stack, client, before);
    } finally {
      clearInterval(timer);
    }
    expect(parse(client.text()).status).toBe(408);
  });

  it('a body that stops halfway: 408 in OpenAI shape (request_body_timeout), and the connection is closed', async () => {
    const before = stack.server.connections();
    const client = await raw(stack.server.url);
    const body = chatBody();
    client.socket.write(`POST ${chat} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`);
    client.socket.write(body.slice(0, 10));
    await released(stack, client, before);
    const res = parse(client.text());
    expect(res.status).toBe(408);
    expect(res.head).toContain('connection: close');
    const json = JSON.parse(res.body) as { error: Record<string, unknown> };
    expect(json.error.code).toBe('request_body_timeout');
    expect(json.error.type).toBe('invalid_request_error');
    expect(String(json.error.message)).toMatch(/600 ms/);
  });

  it('a body trickled a byte at a time (more often than any idle timeout): 408 in Anthropic shape on /v1/messages', async () => {
    const before = stack.server.connections();
    const client = await raw(stack.server.url);
    const body = JSON.stringify({ model: 'gpt-test', max_tokens: 10, messages: [{ role: 'user', content: 'x'.repeat(2000) }] });
    client.socket.write(`POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`);
    let sent = 0;
    const timer = setInterval(() => client.socket.writable && client.socket.write(body[sent++] ?? ''), 50);
    try {
      await released(stack, client, before);
    } finally {
      clearInterval(timer);
    }
    const res = parse(client.text());
    expect(res.status).toBe(408);
    const json = JSON.parse(res.body) as { type: string; error: { type: string; message: string } };
    expect(json.type).toBe('error');
    expect(json.error.message).toMatch(/body/);
  });

  it('an idle keep-alive connection is closed after keep_alive_timeout_ms', async () => {
    const before = stack.server.connections();
    const client = await raw(stack.server.url);
    client.socket.write('GET /health HTTP/1.1\r\nhost: x\r\n\r\n');
    await until('the answer', () => parse(client.text()).body.includes('ok'));
    expect(parse(client.text()).status).toBe(200);
    await released(stack, client, before);
    // and the gateway still serves
    const res = await stack.client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.choices[0]?.message.content).toBeTruthy();
  });
});

describe('Expect: 100-continue and half-closed clients', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  it('a 1 GB Content-Length with Expect: 100-continue gets the 413 and never a 100 Continue; a small one is let in', async () => {
    const client = await raw(stack.server.url);
    client.socket.write(
      `POST ${chat} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${1024 ** 3}\r\nexpect: 100-continue\r\n\r\n`,
    );
    await until('an answer', () => parse(client.text()).status !== 0);
    await new Promise((r) => setTimeout(r, 100)); // anything else the server sends arrives too
    expect(client.text()).not.toMatch(/100 Continue/i);
    const res = parse(client.text());
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error.code).toBe('request_too_large');
    client.socket.destroy();

    const small = await raw(stack.server.url);
    const body = chatBody();
    small.socket.write(
      `POST ${chat} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nexpect: 100-continue\r\n\r\n`,
    );
    await until('100 Continue', () => /^HTTP\/1\.1 100/.test(small.text()));
    small.socket.write(body);
    await until('the answer', () => /\r\n\r\nHTTP\/1\.1 200/.test(small.text()));
    small.socket.destroy();
  });

  // A one-shot client (Connection: close, or HTTP/1.0): its FIN says it is done sending. (A keep-alive client's FIN
  // while it waits is taken for the client leaving; gateway.test.ts has that case.)
  it('a client that half-closes after its request still gets the whole answer', async () => {
    const client = await raw(stack.server.url);
    const body = chatBody();
    client.socket.end(
      `POST ${chat} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
    await within('the server ends the connection', client.ended);
    const res = parse(client.text());
    expect(res.status).toBe(200);
    const json = JSON.parse(res.body) as { choices: { message: { content: string } }[] };
    expect(json.choices[0]?.message.content).toBeTruthy();
    client.socket.destroy();
  });

  it('… and a half-closed HTTP/1.0 streaming request gets the whole stream, to [DONE]', async () => {
    const client = await raw(stack.server.url);
    const body = chatBody({ stream: true });
    client.socket.end(`POST ${chat} HTTP/1.0\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    await within('the server ends the connection', client.ended);
    expect(client.text()).toMatch(/^HTTP\/1\.1 200/);
    expect(client.text()).toContain('data: [DONE]');
    client.socket.destroy();
  });
});

describe('a 413 reaches a client that is still uploading', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ server: { max_body_bytes: 1024 * 1024 } });
  });
  afterAll(async () => {
    await stack.close();
  });

  /**
   * Uploads `size` bytes the way many clients do (Python's requests, for one): the whole body first, then the
   * answer. A reset while it is still sending (EPIPE, ECONNRESET) loses the answer for such a client.
   */
  async function upload(size: number): Promise<{ error: string | undefined; status: number; body: string }> {
    const client = await raw(stack.server.url);
    const { socket } = client;
    let error: string | undefined;
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error ??= err.code ?? err.message;
    });
    socket.write(`POST ${chat} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${size}\r\n\r\n`);
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    const gone = new Promise<void>((r) => socket.once('close', () => r()));
    for (let sent = 0; sent < size && error === undefined && !socket.destroyed; ) {
      const n = Math.min(chunk.length, size - sent);
      sent += n;
      if (!socket.write(chunk.subarray(0, n))) await Promise.race([new Promise((r) => socket.once('drain', r)), gone]);
    }
    // Every byte handed to the kernel, then the answer (the server ends the connection after it).
    await Promise.race([new Promise<void>((r) => socket.write('', () => r())), gone]);
    await within('the server ends the connection', Promise.race([client.ended, gone]), 20_000);
    socket.destroy();
    const res = parse(client.text());
    return { error, status: res.status, body: res.body };
  }

  it('five uploads of 60 MB over the limit: each client sends its whole body and then reads the 413 (no reset, no EPIPE)', async () => {
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await upload(60 * 1024 * 1024));
    expect(outcomes.map((o) => o.error ?? o.status)).toEqual([413, 413, 413, 413, 413]);
    for (const o of outcomes) expect(JSON.parse(o.body).error.code).toBe('request_too_large');
    await until('every upload connection closed', () => stack.server.connections() === 0, 20_000);
    const ok = await stack.client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] });
    expect(ok.choices[0]?.message.content).toBeTruthy();
  });
});

describe('the lingering close is bounded (server.linger_ms, server.linger_bytes)', () => {
  let stack: Stack;
  const MiB = 1024 * 1024;
  beforeAll(async () => {
    stack = await startStack({ server: { max_body_bytes: MiB, linger_ms: 1_500, linger_bytes: 16 * MiB } });
  });
  afterAll(async () => {
    await stack.close();
  });

  const head = (length: number) =>
    `POST ${chat} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n`;

  it('reads and drops up to linger_bytes after the 413, then closes; a client that trickles on is closed after linger_ms', async () => {
    // A 60 MB upload, sent as fast as it goes: the gateway drops 16 MiB of it (more than the kernel's buffers
    // hold, so the client got that far because it was read), then resets the rest.
    const big = await raw(stack.server.url);
    let sent = 0;
    let failedAt = -1;
    big.socket.on('error', () => {
      if (failedAt < 0) failedAt = sent;
    });
    big.socket.write(head(60 * MiB));
    const chunk = Buffer.alloc(MiB, 0x20);
    while (sent < 60 * MiB && failedAt < 0 && !big.socket.destroyed) {
      sent += chunk.length;
      if (!big.socket.write(chunk)) await Promise.race([new Promise((r) => big.socket.once('drain', r)), big.closed]);
    }
    await within('the connection closes', big.closed);
    expect(parse(big.text()).status).toBe(413);
    expect(failedAt).toBeGreaterThan(16 * MiB);
    expect(failedAt).toBeLessThan(60 * MiB);

    // A client that goes on sending a byte now and then, and never closes: let go once linger_ms is over.
    const before = stack.server.connections();
    const slow = await raw(stack.server.url);
    slow.socket.write(head(60 * MiB));
    const timer = setInterval(() => slow.socket.writable && slow.socket.write(' '), 50);
    try {
      await until('the 413', () => parse(slow.text()).status === 413);
      await until('the server closes its descriptor', () => stack.server.connections() <= before);
    } finally {
      clearInterval(timer);
      slow.socket.destroy();
    }
  });
});

describe('server.max_connections', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ server: { max_connections: 5 } });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('a connection over the cap is answered 503 (JSON, connection: close) and closed; under it again, served', async () => {
    const held = await Promise.all(Array.from({ length: 5 }, () => raw(stack.server.url)));
    await until('5 connections open', () => stack.server.connections() === 5);

    const extra = await raw(stack.server.url);
    extra.socket.write('GET /health HTTP/1.1\r\nhost: x\r\n\r\n');
    await within('the server ends the connection over the cap', extra.ended);
    const res = parse(extra.text());
    expect(res.status).toBe(503);
    expect(res.head).toContain('connection: close');
    expect(res.head).toContain('content-type: application/json');
    const json = JSON.parse(res.body) as { error: Record<string, unknown> };
    expect(json.error.code).toBe('too_many_connections');
    extra.socket.destroy();
    await until('back to the 5 held', () => stack.server.connections() === 5);

    for (const h of held) h.socket.destroy();
    await until('all closed', () => stack.server.connections() === 0);
    const again = await raw(stack.server.url);
    again.socket.write('GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    await within('the answer', again.ended);
    expect(parse(again.text()).status).toBe(200);
    again.socket.destroy();
  });
});

describe('the default of server.max_connections', () => {
  it('is half the soft open-files limit (read from /proc/self/limits), at most 8,192; 8,192 when it cannot be read', () => {
    const limits = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n';
    expect(openFilesLimit(() => limits)).toBe(1024);
    expect(openFilesLimit(() => 'Max open files            unlimited            unlimited            files\n')).toBeUndefined();
    expect(
      openFilesLimit(() => {
        throw new Error('ENOENT');
      }),
    ).toBeUndefined();
    expect(defaultMaxConnections(1024)).toBe(512);
    expect(defaultMaxConnections(1_048_576)).toBe(8192);
    expect(defaultMaxConnections(undefined)).toBe(8192);
  });
});
