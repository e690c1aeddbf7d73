import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_KEY, collectText, PROVIDER_KEY, startStack, type Stack } from '../support/helpers.js';
import { eventually } from '../support/timing.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack.close();
});

const messages = [{ role: 'user' as const, content: 'Say hello' }];

describe('OpenAI SDK → lifeline serve → mock', () => {
  it('answers a chat completion', async () => {
    const { data, response } = await stack.client.chat.completions.create({ model: 'gpt-test', messages }).withResponse();
    expect(data.choices[0]?.message.content).toBe(stack.mock.answerFor({ model: 'mock-gpt', messages }));
    expect(data.choices[0]?.finish_reason).toBe('stop');
    expect(data.usage?.total_tokens).toBeGreaterThan(0);
    expect(response.headers.get('x-request-id')).toBeTruthy();
    expect(response.headers.get('x-lifeline-deployment')).toBe('upstream/mock-gpt');
    expect(response.headers.get('x-lifeline-attempts')).toBe('1');
    const last = stack.mock.stats().records.at(-1)!;
    expect((last.body as { model: string }).model).toBe('mock-gpt');
  });

  it('streams with include_usage: the text reassembles, a usage chunk arrives, finish_reason is stop', async () => {
    const stream = await stack.client.chat.completions.create({
      model: 'gpt-test',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const { text, finish, usage, chunks } = await collectText(stream);
    expect(text).toBe(stack.mock.answerFor({ model: 'mock-gpt', messages }));
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBeGreaterThan(0);
    expect(chunks).toBeGreaterThan(3);
  });

  it('creates embeddings', async () => {
    const res = await stack.client.embeddings.create({ model: 'gpt-test', input: ['a', 'b'], dimensions: 16 });
    expect(res.data).toHaveLength(2);
    expect(res.data[0]?.embedding).toHaveLength(16);
  });

  it('lists the client-facing models', async () => {
    const list = await stack.client.models.list();
    expect(list.data.map((m) => m.id).sort()).toEqual(['gpt-test', 'other-model']);
    const one = await stack.client.models.retrieve('other-model');
    expect(one.id).toBe('other-model');
  });

  it('passes tool and other unknown fields upstream untouched, with the target model name', async () => {
    const tools = [
      {
        type: 'function' as const,
        function: {
          name: 'get_weather',
          description: 'Weather for a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      },
    ];
    const res = await stack.client.chat.completions.create({
      model: 'gpt-test',
      messages,
      tools,
      tool_choice: 'auto',
      seed: 7,
      response_format: { type: 'text' },
      logprobs: false,
      user: 'u-1',
    });
    const call = res.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ city: 'mock' });
    const sent = stack.mock.stats().records.at(-1)!.body as Record<string, unknown>;
    expect(sent.tools).toEqual(tools);
    expect(sent.tool_choice).toBe('auto');
    expect(sent.seed).toBe(7);
    expect(sent.response_format).toEqual({ type: 'text' });
    expect(sent.logprobs).toBe(false);
    expect(sent.user).toBe('u-1');
    expect(sent.model).toBe('mock-gpt');
  });

  it('sends the provider key upstream, never the client key, and leaks it nowhere', async () => {
    const { response } = await stack.client.chat.completions.create({ model: 'gpt-test', messages }).withResponse();
    const raw = await fetch(`${stack.base}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'nope', messages }),
    });
    const errorText = await raw.text();
    for (const r of stack.mock.stats().records) {
      expect(r.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
      expect(JSON.stringify(r.headers)).not.toContain(CLIENT_KEY);
    }
    expect(JSON.stringify([...response.headers])).not.toContain(PROVIDER_KEY);
    expect(errorText).not.toContain(PROVIDER_KEY);
    expect(stack.lines.length).toBeGreaterThan(0);
    for (const line of stack.lines) expect(line).not.toContain(PROVIDER_KEY);
  });

  it('redacts the provider key from an upstream auth error, and takes that deployment out of rotation loudly', async () => {
    // other-model has its own deployment, so disabling it leaves gpt-test alone.
    stack.mock.setPlan({ script: [{ status: 401 }] });
    try {
      const err = await stack.client.chat.completions.create({ model: 'other-model', messages }).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 502 });
      expect(JSON.stringify(err)).not.toContain(PROVIDER_KEY);
      expect(String((err as Error).message)).toContain('credentials');
      const before = stack.mock.stats().requests;
      const again = await stack.client.chat.completions.create({ model: 'other-model', messages }).catch((e: unknown) => e);
      expect(again).toMatchObject({ status: 503 });
      expect(String((again as Error).message)).toMatch(/upstream\/mock-other disabled/);
      expect(stack.mock.stats().requests).toBe(before); // no upstream call for a disabled key
      expect(stack.lines.some((l) => l.includes('"level":50') && l.includes('upstream/mock-other'))).toBe(true);
    } finally {
      stack.mock.setPlan({});
    }
  });

  it('a JSON answer and an error carry their byte length instead of chunked framing', async () => {
    const ok = await fetch(`${stack.base}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-test', messages: [{ role: 'user', content: 'héllo wörld' }] }),
    });
    const text = await ok.text();
    expect(ok.status).toBe(200);
    expect(ok.headers.get('transfer-encoding')).toBeNull();
    expect(Number(ok.headers.get('content-length'))).toBe(Buffer.byteLength(text));
    const bad = await fetch(`${stack.base}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"nope","messages":[{"role":"user","content":"hi"}]}' });
    const error = await bad.text();
    expect(bad.status).toBe(404);
    expect(Number(bad.headers.get('content-length'))).toBe(Buffer.byteLength(error));
    expect(JSON.parse(error).error.code).toBe('model_not_found');
  });

  it('echoes a sane client x-request-id and replaces an insane one', async () => {
    const sane = await fetch(`${stack.server.url}/health`, { headers: { 'x-request-id': 'abc-123' } });
    expect(sane.headers.get('x-request-id')).toBe('abc-123');
    const insane = await fetch(`${stack.server.url}/health`, { headers: { 'x-request-id': 'a b <script>' } });
    expect(insane.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const ready = await fetch(`${stack.server.url}/ready`);
    expect(ready.status).toBe(200);
  });

  it('logs one line per request with the upstream attempt', async () => {
    await stack.client.chat.completions.create({ model: 'gpt-test', messages }, { headers: { 'x-request-id': 'log-me-1' } });
    const find = () => stack.lines.map((l) => JSON.parse(l)).find((l) => l.requestId === 'log-me-1');
    await eventually(() => find() !== undefined); // written just after the response ends
    const line = find();
    expect(line).toMatchObject({ msg: 'request', status: 200, model: 'gpt-test', deployment: 'upstream/mock-gpt' });
    expect(line.attempts[0]).toMatchObject({ deployment: 'upstream/mock-gpt', status: 200 });
    expect(line.attempts[0].upstreamRequestId).toMatch(/^mock-req-/);
  });

  it('logs a client that leaves mid-upload or while waiting as 499, and keeps serving', async () => {
    const url = new URL(stack.server.url);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(
          'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n' +
            `authorization: Bearer ${CLIENT_KEY}\r\nx-request-id: log-me-upload\r\ncontent-length: 500\r\n\r\n{"model":"gpt-test",`,
        );
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 50);
      });
      socket.on('error', reject);
    });
    stack.mock.setPlan({ default: { latency_ms: 10_000 } });
    try {
      const waiting = new AbortController();
      const upstreamBefore = stack.mock.stats().requests;
      const pending = stack.client.chat.completions.create({ model: 'gpt-test', messages }, { headers: { 'x-request-id': 'log-me-wait' }, signal: waiting.signal, maxRetries: 0 });
      // The client leaves while the gateway waits on the upstream (which answers only after 10 s).
      await eventually(() => stack.mock.stats().requests > upstreamBefore);
      waiting.abort();
      await expect(pending).rejects.toThrow();
    } finally {
      stack.mock.setPlan({});
    }
    const seen = async (id: string) => {
      const find = () => stack.lines.map((l) => JSON.parse(l)).find((l) => l.requestId === id);
      await eventually(() => find() !== undefined);
      return find();
    };
    expect(await seen('log-me-upload')).toMatchObject({ msg: 'request', status: 499, error: { code: 'client_closed' } });
    // A client that goes away is not the gateway's fault: no error-level line for it.
    expect(stack.lines.filter((l) => l.includes('log-me-') && JSON.parse(l).level >= 50)).toEqual([]);
    expect(await seen('log-me-wait')).toMatchObject({ msg: 'request', status: 499, model: 'gpt-test' });
    const ok = await stack.client.chat.completions.create({ model: 'gpt-test', messages });
    expect(ok.choices[0]?.message.content).toBeTruthy();
  });
});
