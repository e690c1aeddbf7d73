// The provider key stays upstream: an upstream that echoes the key it was sent — whole, cut, padded — in every
// error field, in its x-request-id, in mid-stream error events and in its answers, behind the official OpenAI and
// Anthropic SDKs and raw fetch over real sockets. Nothing the client receives (body, headers) and no log line may
// hold the key or any 12-character piece of it; legitimate upstream codes still reach the client.
import Anthropic, { APIError as AnthropicAPIError } from '@anthropic-ai/sdk';
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import type { Fault } from '../../src/mock/faults.js';
import { type MockServer, startMock } from '../../src/mock/index.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { memoryLogger } from '../support/helpers.js';

/** 28 characters, as in the report: "a truncated key (26 of 28 characters) is shown". */
const OPENAI_KEY = 'sk-u8jzPde0IgxLd6GncfBAepfJB';
// A made-up key in the real shape, assembled so the tree holds nothing a secret scanner takes for a real key.
const ANTHROPIC_KEY = ['sk', 'ant', 'api03', 'hpChYgCfrL1spNxnyVmihA_2O76UMFxFkM_R5Kjp'].join('-');
const KEYS = [OPENAI_KEY, ANTHROPIC_KEY];
const FRAGMENT = 12;

type Upstream = 'openai' | 'anthropic';
const KEY_OF: Record<Upstream, string> = { openai: OPENAI_KEY, anthropic: ANTHROPIC_KEY };

/** How an upstream may echo a key: whole, cut at either end (26 of 28), or run into other text. */
function variants(key: string): Record<string, string> {
  return { whole: key, head: key.slice(0, key.length - 2), tail: key.slice(2), padded: `xx${key}yy` };
}

/** The first 12-character piece of any key that `text` holds, or undefined. */
function leak(text: string): string | undefined {
  for (const key of KEYS) {
    for (let i = 0; i + FRAGMENT <= key.length; i++) {
      const piece = key.slice(i, i + FRAGMENT);
      if (text.includes(piece)) return piece;
    }
  }
  return undefined;
}

function expectClean(text: string, where: string): void {
  expect(leak(text), `${where}: ${text.slice(0, 400)}`).toBeUndefined();
}

/** A fault whose error body carries `echo` in every field, and whose x-request-id is `echo` too. */
function echoing(echo: string, fault: Fault): Fault {
  return {
    ...fault,
    error_fields: { message: `Incorrect API key provided: ${echo}. You sent ${echo}.`, code: echo, param: echo, type: echo },
    headers: { 'x-request-id': echo },
  };
}

const POOL = 160;
const messages = [{ role: 'user' as const, content: 'Say hello' }];

interface World {
  mocks: Record<Upstream, MockServer>;
  server: RunningServer;
  openai: OpenAI;
  anthropic: Anthropic;
  lines: string[];
}

let world: World;
const used: Record<Upstream, number> = { openai: 0, anthropic: 0 };
let requests = 0;

/**
 * A model no request has used yet: an upstream 401 takes its deployment out of rotation and a 429 rate-limits it,
 * so every case gets a deployment of its own and reaches the upstream.
 */
function freshModel(upstream: Upstream): string {
  const n = used[upstream]++;
  if (n >= POOL) throw new Error('model pool exhausted');
  return `${upstream}-${n}`;
}

beforeAll(async () => {
  const mocks: Record<Upstream, MockServer> = {
    // Each upstream answers with its own key in the text: whole, and run into other text.
    openai: await startMock({ reply: `Your key is ${OPENAI_KEY} or rather x${OPENAI_KEY}y, done.` }),
    anthropic: await startMock({ reply: `Your key is ${ANTHROPIC_KEY} or rather x${ANTHROPIC_KEY}y, done.` }),
  };
  const models: Record<string, unknown> = {};
  for (const upstream of ['openai', 'anthropic'] as const) {
    for (let n = 0; n < POOL; n++) models[`${upstream}-${n}`] = { targets: [{ provider: upstream, model: `mock-${n}` }] };
  }
  const config = resolveConfig({
    server: { port: 0 },
    // One attempt: an upstream error reaches the client as it was. A stream that fails mid-answer on an anthropic
    // deployment is resumed (on itself: the only one) and fails again, quickly.
    retry: { max_attempts: 1, base_delay_ms: 5, max_delay_ms: 20 },
    providers: {
      openai: { type: 'openai', api_key: OPENAI_KEY, base_url: mocks.openai.url },
      anthropic: { type: 'anthropic', api_key: ANTHROPIC_KEY, base_url: mocks.anthropic.url },
    },
    models,
  });
  const { logger, lines } = memoryLogger();
  const server = await startServer(config, { logger });
  world = {
    mocks,
    server,
    lines,
    openai: new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'client-key', maxRetries: 0, timeout: 20_000 }),
    anthropic: new Anthropic({ baseURL: server.url, apiKey: 'client-key', maxRetries: 0, timeout: 20_000 }),
  };
});

afterAll(async () => {
  await world.server.shutdown();
  await Promise.all(Object.values(world.mocks).map((m) => m.close()));
});

function plan(upstream: Upstream, fault: Fault | undefined): void {
  world.mocks[upstream].setPlan(fault ? { default: fault } : {});
}

function requestId(): string {
  return `secrets-${++requests}`;
}

/** The request's log line (written once the response is out), waited for. */
async function loggedLine(id: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const line = world.lines.find((l) => l.includes(`"requestId":"${id}"`) && l.includes('"msg":"request"'));
    if (line) return line;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no request line for ${id}`);
}

type Path = 'chat' | 'messages';

/** A raw request: the exact status, headers and body the client gets. */
async function raw(path: Path, model: string, stream: boolean) {
  const id = requestId();
  const body =
    path === 'chat' ? { model, messages, stream } : { model, messages, max_tokens: 64, stream };
  const res = await fetch(`${world.server.url}/v1/${path === 'chat' ? 'chat/completions' : 'messages'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': id, 'x-api-key': 'client-key' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const where = `${path} ${model}${stream ? ' (stream)' : ''}`;
  expectClean(text, `${where} body`);
  expectClean(JSON.stringify([...res.headers]), `${where} headers`);
  expectClean(await loggedLine(id), `${where} log line`);
  return { status: res.status, text };
}

/** The error an SDK call fails with, everything it exposes checked. */
async function sdkError(call: () => Promise<unknown>, where: string): Promise<APIError | AnthropicAPIError> {
  const err = await call().then(
    () => {
      throw new Error(`${where}: expected an error`);
    },
    (e: unknown) => e,
  );
  expect(err instanceof APIError || err instanceof AnthropicAPIError, `${where}: ${String(err)}`).toBe(true);
  const e = err as APIError;
  expectClean(JSON.stringify({ message: e.message, error: e.error, status: e.status }), `${where} SDK error`);
  expectClean(JSON.stringify([...(e.headers as unknown as Headers ?? [])]), `${where} SDK error headers`);
  return e;
}

const STATUSES: Array<[number, number]> = [
  [400, 400],
  [401, 502],
  [403, 502],
  [404, 502],
  [429, 429],
  [500, 502],
];

describe.each(['openai', 'anthropic'] as const)('an %s upstream that echoes its key', (upstream) => {
  const key = KEY_OF[upstream];

  it.each(STATUSES)('in every error field of a %i: never shown, never logged (raw)', async (status, clientStatus) => {
    for (const [name, echo] of Object.entries(variants(key))) {
      plan(upstream, echoing(echo, { status }));
      for (const path of ['chat', 'messages'] as const) {
        const res = await raw(path, freshModel(upstream), false);
        expect(res.status, `${name} ${path}`).toBe(clientStatus);
        JSON.parse(res.text); // still an error body in the client's shape
      }
    }
  });

  it.each(STATUSES)('in every error field of a %i: the SDKs see a clean error', async (status, clientStatus) => {
    for (const [name, echo] of Object.entries(variants(key))) {
      plan(upstream, echoing(echo, { status }));
      const e = await sdkError(() => world.openai.chat.completions.create({ model: freshModel(upstream), messages }), `openai SDK ${name}`);
      expect(e.status).toBe(clientStatus);
      const a = await sdkError(
        () => world.anthropic.messages.create({ model: freshModel(upstream), max_tokens: 64, messages }),
        `anthropic SDK ${name}`,
      );
      expect(a.status).toBe(clientStatus);
    }
  });

  it('in a mid-stream error event: the stream ends in a clean error', async () => {
    for (const [name, echo] of Object.entries(variants(key))) {
      plan(upstream, echoing(echo, { error_event_after: 1 }));
      for (const path of ['chat', 'messages'] as const) {
        const res = await raw(path, freshModel(upstream), true);
        expect(res.status, `${name} ${path}`).toBe(200);
        expect(res.text).toContain('error');
      }
      const stream = await world.openai.chat.completions.create({ model: freshModel(upstream), messages, stream: true });
      await sdkError(async () => {
        for await (const chunk of stream) expectClean(JSON.stringify(chunk), `openai SDK stream chunk ${name}`);
      }, `openai SDK stream ${name}`);
      const messagesStream = await world.anthropic.messages.create({ model: freshModel(upstream), max_tokens: 64, messages, stream: true });
      await sdkError(async () => {
        for await (const event of messagesStream) expectClean(JSON.stringify(event), `anthropic SDK stream event ${name}`);
      }, `anthropic SDK stream ${name}`);
    }
  });

  it('in its answers, JSON and streamed: the key is redacted', async () => {
    plan(upstream, { headers: { 'x-request-id': key } });
    for (const path of ['chat', 'messages'] as const) {
      for (const stream of [false, true]) {
        const res = await raw(path, freshModel(upstream), stream);
        expect(res.status).toBe(200);
        expect(res.text).toContain('[redacted]');
      }
    }
    const completion = await world.openai.chat.completions.create({ model: freshModel(upstream), messages });
    expect(completion.choices[0]?.message.content).toBe('Your key is [redacted] or rather x[redacted]y, done.');
    let text = '';
    for await (const chunk of await world.openai.chat.completions.create({ model: freshModel(upstream), messages, stream: true })) {
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe('Your key is [redacted] or rather x[redacted]y, done.');
    const message = await world.anthropic.messages.create({ model: freshModel(upstream), max_tokens: 64, messages });
    expect(message.content[0]?.type === 'text' && message.content[0].text).toBe('Your key is [redacted] or rather x[redacted]y, done.');
    plan(upstream, undefined);
  });
});

describe('legitimate upstream codes', () => {
  it('context_length_exceeded, rate_limit_exceeded and a param still reach an OpenAI client', async () => {
    plan('openai', { status: 400, error_code: 'context_length_exceeded', error_fields: { param: 'messages' } });
    const context = await sdkError(() => world.openai.chat.completions.create({ model: freshModel('openai'), messages }), 'context');
    expect(context).toMatchObject({ status: 400, code: 'context_length_exceeded', param: 'messages' });
    expect(context.message).toContain('maximum context length');
    plan('openai', { status: 429, error_code: 'rate_limit_exceeded' });
    const limited = await sdkError(() => world.openai.chat.completions.create({ model: freshModel('openai'), messages }), 'rate limit');
    expect(limited).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    expect(limited.message).toContain('Rate limit reached');
    plan('openai', undefined);
  });

  it("an Anthropic upstream's error type is the code", async () => {
    plan('anthropic', { status: 429 });
    const limited = await sdkError(() => world.openai.chat.completions.create({ model: freshModel('anthropic'), messages }), 'anthropic 429');
    expect(limited).toMatchObject({ status: 429, code: 'rate_limit_error' });
    plan('anthropic', undefined);
  });
});

describe('the log', () => {
  it('holds no piece of a key in any line', async () => {
    expect(world.lines.length).toBeGreaterThan(20);
    for (const line of world.lines) expectClean(line, 'log');
  });
});
