// The client's request bytes reach an OpenAI-compatible upstream as sent, with only the model name swapped (and
// stream_options added for streams), instead of being parsed and re-serialised; anything that would make that
// inexact (a repeated key, a body the gateway changed) falls back to serialising the parsed body.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/helpers.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    models: {
      alias: { targets: [{ provider: 'upstream', model: 'mock-gpt' }] },
      'mock-gpt': { targets: [{ provider: 'upstream', model: 'mock-gpt' }] },
    },
  });
});
afterAll(async () => {
  await stack.close();
});

async function send(body: string): Promise<{ status: number; text: string; upstream: string | undefined }> {
  const res = await fetch(`${stack.base}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await res.text();
  return { status: res.status, text, upstream: stack.mock.stats().records.at(-1)?.text };
}

describe('request pass-through', () => {
  it('sends the client bytes with only the model value swapped', async () => {
    const body = '{ "messages" : [ {"role":"user", "content":"keep   my \\"spacing\\" and \\u00e9scapes"} ],\n "model" : "alias", "seed":7 }';
    const r = await send(body);
    expect(r.status).toBe(200);
    expect(r.upstream).toBe(body.replace('"alias"', '"mock-gpt"'));
  });

  it('sends them untouched apart from the model when the alias is the upstream name', async () => {
    const body = '{"model":"mock-gpt",   "messages":[{"role":"user","content":"x"}]}';
    expect((await send(body)).upstream).toBe(body);
  });

  it('adds stream_options as the last member of a stream request', async () => {
    const body = '{"model":"alias","stream":true,"messages":[{"role":"user","content":"x"}] }';
    const r = await send(body);
    expect(r.status).toBe(200);
    expect(r.text).toContain('data: [DONE]');
    expect(r.upstream).toBe('{"model":"mock-gpt","stream":true,"messages":[{"role":"user","content":"x"}] ,"stream_options":{"include_usage":true}}');
  });

  it('keeps a client stream_options that already asks for usage as sent', async () => {
    const body = '{"model":"alias","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}';
    expect((await send(body)).upstream).toBe(body.replace('"alias"', '"mock-gpt"'));
  });

  it('re-serialises a body with a repeated key, so the upstream sees what the gateway routed', async () => {
    const r = await send('{"model":"expensive-upstream-model","model":"alias","messages":[{"role":"user","content":"x"}]}');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.upstream as string)).toEqual({ model: 'mock-gpt', messages: [{ role: 'user', content: 'x' }] });
    expect(r.upstream).not.toContain('expensive');
  });
});

describe('request bodies that arrive with their headers, or later', () => {
  /** Sends headers, then the body in `parts` separated by `gapMs`, on a raw socket; resolves with the status line. */
  function rawPost(body: string, parts: number, gapMs: number): Promise<string> {
    const url = new URL(stack.base);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, async () => {
        socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n`);
        const size = Math.ceil(body.length / parts);
        for (let i = 0; i < body.length; i += size) {
          await new Promise((r) => setTimeout(r, gapMs));
          socket.write(body.slice(i, i + size));
        }
      });
      let answer = '';
      socket.on('data', (d) => {
        answer += d;
      });
      socket.on('end', () => resolve(answer.split('\r\n')[0] ?? ''));
      socket.on('error', reject);
    });
  }
  const body = '{"model":"alias","messages":[{"role":"user","content":"slow upload"}]}';

  it('reads a body sent after the headers, in pieces', async () => {
    expect(await rawPost(body, 3, 30)).toBe('HTTP/1.1 200 OK');
    expect(stack.mock.stats().records.at(-1)?.text).toBe(body.replace('"alias"', '"mock-gpt"'));
  });

  it('reads a body that follows the headers at once', async () => {
    expect(await rawPost(body, 1, 0)).toBe('HTTP/1.1 200 OK');
  });
});
