import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { type MockServer, startMock } from '../../src/mock/index.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { memoryLogger, PROVIDER_KEY, startStack, type Stack } from '../support/helpers.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    server: { max_body_bytes: 64 * 1024 },
    // One attempt per request: these tests are about how a single upstream answer reaches the client.
    extra: { retry: { max_attempts: 1 }, health: { failure_threshold: 1000, min_requests: 1000 } },
  });
});
afterAll(async () => {
  await stack.close();
});

async function post(path: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${stack.server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as { error: Record<string, unknown> } };
}

async function goodRequestStillWorks() {
  const res = await stack.client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] });
  expect(res.choices[0]?.message.content).toBeTruthy();
}

function expectOpenAIError(json: { error: Record<string, unknown> }) {
  expect(Object.keys(json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(typeof json.error.message).toBe('string');
  expect(String(json.error.message)).not.toMatch(/\bat .*\.(js|ts):\d+/); // no stack traces
}

const chat = '/v1/chat/completions';

describe('bad input gets a clear error in OpenAI shape, and the gateway keeps serving', () => {
  it('413 for a declared body over the limit, without reading it', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${stack.server.url}${chat}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write('{"model":"gpt-test",'); // a sliver of the promised 10 MiB, then wait for the verdict
    });
    expect(status).toBe(413);
    await goodRequestStillWorks();
  });

  it('413 for a chunked body that grows past the limit', async () => {
    const big = JSON.stringify({ model: 'gpt-test', messages: [{ role: 'user', content: 'x'.repeat(100_000) }] });
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(big));
        c.close();
      },
    });
    const res = await fetch(`${stack.server.url}${chat}`, {
      method: 'POST',
      body: stream,
      duplex: 'half',
      headers: { 'content-type': 'application/json' },
    } as RequestInit);
    expect(res.status).toBe(413);
    const json = (await res.json()) as { error: Record<string, unknown> };
    expectOpenAIError(json);
    expect(json.error.code).toBe('request_too_large');
    await goodRequestStillWorks();
  });

  it('an error before a chunked body is read closes the connection instead of reading an endless body', async () => {
    const url = new URL(stack.server.url);
    const { head, sentAfter } = await new Promise<{ head: string; sentAfter: number }>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname);
      let head = '';
      let sent = 0;
      let answeredAt = -1;
      const chunk = `${'x'.repeat(16 * 1024).length.toString(16)}\r\n${'x'.repeat(16 * 1024)}\r\n`;
      const timer = setInterval(() => {
        if (socket.destroyed || !socket.writable) return;
        socket.write(chunk);
        sent++;
      }, 5);
      const give = setTimeout(() => {
        clearInterval(timer);
        socket.destroy();
        reject(new Error(`the gateway kept the connection open (sent ${sent} chunks)`));
      }, 5000);
      socket.on('data', (d) => {
        head += d;
        if (answeredAt < 0) answeredAt = sent;
      });
      socket.on('error', () => {}); // a reset once the gateway closes is fine
      socket.on('close', () => {
        clearInterval(timer);
        clearTimeout(give);
        resolve({ head, sentAfter: sent - answeredAt });
      });
      socket.write('POST /v1/nothing-here HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n');
    });
    expect(head).toMatch(/^HTTP\/1\.1 404/);
    expect(head.toLowerCase()).toContain('connection: close');
    expect(sentAfter).toBeLessThan(200); // closed soon after the answer, not read to the end of an endless body
    await goodRequestStillWorks();
  });

  it('400 for malformed JSON', async () => {
    const { status, json } = await post(chat, '{"model": "gpt-test", "messages": [');
    expect(status).toBe(400);
    expectOpenAIError(json);
    expect(json.error.type).toBe('invalid_request_error');
    expect(json.error.message).toMatch(/not valid JSON/);
    await goodRequestStillWorks();
  });

  it('400 naming a missing field', async () => {
    const { status, json } = await post(chat, JSON.stringify({ model: 'gpt-test' }));
    expect(status).toBe(400);
    expectOpenAIError(json);
    expect(json.error.param).toBe('messages');
    expect(json.error.message).toMatch(/messages/);
    await goodRequestStillWorks();
  });

  it('400 naming a mistyped field', async () => {
    const body = { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], temperature: 'hot' };
    const { status, json } = await post(chat, JSON.stringify(body));
    expect(status).toBe(400);
    expect(json.error.param).toBe('temperature');
    const bad = await post(chat, JSON.stringify({ model: 'gpt-test', messages: [{ role: 'robot', content: 'x' }] }));
    expect(bad.status).toBe(400);
    expect(bad.json.error.param).toBe('messages[0].role');
    expect(bad.json.error.message).toMatch(/robot/);
    const noInput = await post('/v1/embeddings', JSON.stringify({ model: 'gpt-test' }));
    expect(noInput.status).toBe(400);
    expect(noInput.json.error.param).toBe('input');
    await goodRequestStillWorks();
  });

  it('404 model_not_found naming the model and the known ones, through the SDK too', async () => {
    const { status, json } = await post(chat, JSON.stringify({ model: 'gpt-9', messages: [{ role: 'user', content: 'x' }] }));
    expect(status).toBe(404);
    expectOpenAIError(json);
    expect(json.error.code).toBe('model_not_found');
    expect(json.error.message).toMatch(/gpt-9/);
    expect(json.error.message).toMatch(/gpt-test, other-model/);
    const err = await stack.client.chat.completions
      .create({ model: 'gpt-9', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 404, code: 'model_not_found' });
    expect(stack.mock.stats().records.every((r) => (r.body as { model?: string }).model !== 'gpt-9')).toBe(true);
    await goodRequestStillWorks();
  });

  it('405 for a wrong method, 404 for an unknown path', async () => {
    const wrong = await fetch(`${stack.server.url}${chat}`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    expectOpenAIError((await wrong.json()) as { error: Record<string, unknown> });
    const unknown = await fetch(`${stack.server.url}/v1/nothing-here`, { method: 'POST', body: '{}' });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('x-request-id')).toBeTruthy();
    expectOpenAIError((await unknown.json()) as { error: Record<string, unknown> });
    await goodRequestStillWorks();
  });

  it('an upstream 400 comes back as 400 with its message; a 429 keeps its Retry-After', async () => {
    stack.mock.setPlan({ script: [{ status: 400 }, { status: 429, retry_after: 7 }] });
    try {
      const bad = await post(chat, JSON.stringify({ model: 'gpt-test', messages: [{ role: 'user', content: 'x' }] }));
      expect(bad.status).toBe(400);
      expectOpenAIError(bad.json);
      // other-model has its own deployment: its 7 s cooldown must not hold up the other tests.
      const limited = await post(chat, JSON.stringify({ model: 'other-model', messages: [{ role: 'user', content: 'x' }] }));
      expect(limited.status).toBe(429);
      expect(limited.json.error.type).toBe('rate_limit_error');
      expect(limited.headers.get('retry-after')).toBe('7');
    } finally {
      stack.mock.setPlan({});
    }
    await goodRequestStillWorks();
  });

  it('a malformed upstream body is a 502, not garbage passed on', async () => {
    stack.mock.setPlan({ script: [{ malformed: true }] });
    try {
      const res = await post(chat, JSON.stringify({ model: 'gpt-test', messages: [{ role: 'user', content: 'x' }] }));
      expect(res.status).toBe(502);
      expect(res.json.error.code).toBe('upstream_malformed_response');
    } finally {
      stack.mock.setPlan({});
    }
    await goodRequestStillWorks();
  });
});

/** `{"a":{"a":…1…}}`, `levels` objects deep (the outer object counts as one). */
function nested(levels: number): string {
  return `${'{"a":'.repeat(levels - 1)}1${'}'.repeat(levels - 1)}`;
}

async function get(path: string) {
  const res = await fetch(`${stack.server.url}${path}`);
  return { status: res.status, json: (await res.json()) as { error: Record<string, unknown> } };
}

describe('input the gateway once answered with a 500 (issue 18, the fuzz test) is a 400 that says what to fix', () => {
  const deep = nested(5000);

  it('JSON nested past the depth limit: 400 json_too_deep naming the limit, wherever the body would be re-serialised', async () => {
    const msgs = '[{"role":"user","content":"hi"}]';
    const bodies = [
      // a repeated top-level key: the raw text cannot be edited in place, so the parsed body is serialised
      `{"model":"gpt-test","model":"gpt-test","messages":${msgs},"metadata":${deep}}`,
      // the limit holds whatever the route would do with the body (these two would pass through as text today,
      // and fail once a fallback to another provider's shape, or a transform, serialised them)
      `{"model":"gpt-test","messages":${msgs},"tools":[{"type":"function","function":{"name":"f","parameters":${deep}}}]}`,
      `{"x":${'['.repeat(6000)}${']'.repeat(6000)},"model":"gpt-test","messages":${msgs}}`,
    ];
    const answers = await Promise.all(bodies.map((body) => post(chat, body)));
    expect(answers.map((a) => a.status)).toEqual([400, 400, 400]);
    for (const { json } of answers) {
      expectOpenAIError(json);
      expect(json.error.code).toBe('json_too_deep');
      expect(json.error.message).toMatch(/128/);
    }
    await goodRequestStillWorks();
  });

  it('the depth limit in Anthropic shape on /v1/messages (tool input is serialised into arguments)', async () => {
    const body = `{"model":"gpt-test","max_tokens":10,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":${deep}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}]}`;
    const res = await fetch(`${stack.server.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(400);
    const json = (await res.json()) as { type: string; error: { type: string; message: string } };
    expect(json.type).toBe('error');
    expect(json.error.type).toBe('invalid_request_error');
    expect(json.error.message).toMatch(/nested.*128/);
  });

  it('JSON as deep as the limit is accepted; brackets inside strings do not count', async () => {
    const atLimit = `{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"metadata":${nested(126)}}`;
    expect((await post(chat, atLimit)).status).toBe(200);
    const inText = JSON.stringify({ model: 'gpt-test', messages: [{ role: 'user', content: `${'[{'.repeat(500)}"\\` }] });
    expect((await post(chat, inText)).status).toBe(200);
  });

  it('a path with bad percent-encoding: 400, not 500', async () => {
    for (const path of ['/v1/models/%E0%A4%A', '/v1/models/%', '/v1/models/%ZZ', '/v1/models/%C0%80']) {
      const { status, json } = await get(path);
      expect(status, path).toBe(400);
      expectOpenAIError(json);
      expect(json.error.code).toBe('invalid_path');
      expect(json.error.message).toMatch(/percent-encod/);
    }
    expect((await get('/v1/models/gpt%2Dtest')).status).toBe(200);
  });
});

describe('JSON text inside a string that a provider translation parses (found by test/e2e/fuzz.test.ts)', () => {
  let mock: MockServer;
  let server: RunningServer;
  beforeAll(async () => {
    mock = await startMock();
    const config = resolveConfig({
      server: { port: 0 },
      retry: { max_attempts: 1 },
      providers: {
        anthropic: { type: 'anthropic', api_key: PROVIDER_KEY, base_url: mock.url },
        google: { type: 'gemini', api_key: PROVIDER_KEY, base_url: `${mock.origin}/v1beta` },
        aws: { type: 'bedrock', region: 'us-east-1', access_key_id: 'AKIDEXAMPLE', secret_access_key: PROVIDER_KEY, base_url: mock.origin },
      },
      models: {
        claude: { targets: [{ provider: 'anthropic', model: 'claude-mock-4' }] },
        gem: { targets: [{ provider: 'google', model: 'gemini-2.0-flash' }] },
        bed: { targets: [{ provider: 'aws', model: 'anthropic.claude-3-5-sonnet-20240620-v1:0' }] },
      },
    });
    server = await startServer(config, { logger: memoryLogger().logger });
  });
  afterAll(async () => {
    await server?.shutdown();
    await mock?.close();
  });

  const tool = { type: 'function', function: { name: 'f', parameters: { type: 'object' } } };
  const turns = (args: string, result: string) => [
    { role: 'user', content: 'hi' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: args } }] },
    { role: 'tool', tool_call_id: 'call_1', content: result },
  ];
  const chatTo = async (model: string, messages: unknown[]) => {
    const res = await fetch(`${server.url}${chat}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages, tools: [tool] }),
    });
    return { status: res.status, json: (await res.json()) as { error: Record<string, unknown> } };
  };
  // Deeper than JSON.stringify can follow once parsed: the translated request could not be written.
  const deepArgs = `{"a":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;

  it('tool call arguments nested past the limit: 400 json_too_deep naming the field, for every provider that parses them', async () => {
    for (const model of ['claude', 'gem', 'bed']) {
      const { status, json } = await chatTo(model, turns(deepArgs, 'ok'));
      expect(status, model).toBe(400);
      expectOpenAIError(json);
      expect(json.error.code).toBe('json_too_deep');
      expect(json.error.param).toMatch(/^messages\[1\]\.tool_calls/);
      expect(json.error.message).toMatch(/128/);
    }
  });

  it('a tool result too deep to read as JSON goes to Gemini as text, as any other text result does', async () => {
    const { status } = await chatTo('gem', turns('{"a":1}', deepArgs));
    expect(status).toBe(200);
    const sent = mock.stats().records.at(-1)!.body as { contents: { parts: { functionResponse?: { response: unknown } }[] }[] };
    const response = sent.contents.flatMap((c) => c.parts).find((p) => p.functionResponse)?.functionResponse?.response;
    expect(response).toEqual({ content: deepArgs });
  });
});
