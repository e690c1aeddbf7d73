// The anthropic provider end to end: the official OpenAI SDK → lifeline serve → the mock speaking Anthropic's
// Messages API (POST /v1/messages), over real sockets. The mock validates requests like the real API (max_tokens,
// alternation, tool_use/tool_result pairing), so a bad translation fails here as it would against Anthropic.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { type FaultPlan, type MockServer, startMock } from '../../src/mock/index.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { CLIENT_KEY, collectText, memoryLogger, PROVIDER_KEY } from '../support/helpers.js';

const OPENAI_KEY = 'sk-openai-primary-key-0123456789abcdef';

interface World {
  claude: MockServer;
  primary: MockServer;
  server: RunningServer;
  client: OpenAI;
  lines: string[];
  close(): Promise<void>;
}

/** Two mocks: `claude` (an anthropic-type provider) and `primary` (an openai-type one that gpt-test falls back from). */
async function startWorld(primaryPlan: FaultPlan = {}): Promise<World> {
  const claude = await startMock();
  const primary = await startMock({ plan: primaryPlan });
  const config = resolveConfig({
    server: { port: 0 },
    retry: { base_delay_ms: 5, max_delay_ms: 20 },
    providers: {
      anthropic: { type: 'anthropic', api_key: PROVIDER_KEY, base_url: claude.url },
      openai: { type: 'openai', api_key: OPENAI_KEY, base_url: primary.url },
    },
    models: {
      claude: { targets: [{ provider: 'anthropic', model: 'claude-mock-4' }] },
      'gpt-test': { targets: [{ provider: 'openai', model: 'mock-gpt' }], fallbacks: ['claude'] },
    },
  });
  const { logger, lines } = memoryLogger();
  const server = await startServer(config, { logger });
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0, timeout: 20_000 });
  return {
    claude,
    primary,
    server,
    client,
    lines,
    async close() {
      await server.shutdown();
      await Promise.all([claude.close(), primary.close()]);
    },
  };
}

const messages = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Say hello' },
];
const tools = [
  {
    type: 'function' as const,
    function: {
      name: 'get_weather',
      description: 'Weather for a city',
      parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city', 'days'] },
    },
  },
];

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world.close();
});

function lastRecord(mock: MockServer) {
  return mock.stats().records.at(-1)!;
}

describe('OpenAI SDK → lifeline → mock in the Anthropic dialect', () => {
  it('answers a chat completion with the mock text, a finish reason and usage', async () => {
    const { data, response } = await world.client.chat.completions.create({ model: 'claude', messages }).withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0]?.message.content).toBe(world.claude.answerFor({ model: 'claude-mock-4', messages }));
    expect(data.choices[0]?.finish_reason).toBe('stop');
    expect(data.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(data.usage?.completion_tokens).toBeGreaterThan(0);
    expect(response.headers.get('x-lifeline-deployment')).toBe('anthropic/claude-mock-4');
    const record = lastRecord(world.claude);
    expect(record.path).toBe('/v1/messages');
    expect(record.body).toMatchObject({ model: 'claude-mock-4', max_tokens: 4096, system: 'You are terse.', messages: [{ role: 'user', content: 'Say hello' }] });
  });

  it('streams: the text reassembles, finish_reason is stop, a usage chunk arrives with include_usage', async () => {
    const stream = await world.client.chat.completions.create({
      model: 'claude',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const { text, finish, usage, chunks } = await collectText(stream);
    expect(text).toBe(world.claude.answerFor({ model: 'claude-mock-4', messages }));
    expect(finish).toBe('stop');
    expect(usage?.prompt_tokens).toBeGreaterThan(0);
    expect(usage?.completion_tokens).toBe(text.trim().split(/\s+/).length);
    expect(chunks).toBeGreaterThan(5);
    expect(lastRecord(world.claude).body).toMatchObject({ stream: true });
  });

  it('embeddings on a model served only by Anthropic: a clear 400, and no upstream call', async () => {
    const before = world.claude.stats().requests;
    const err = await world.client.embeddings.create({ model: 'claude', input: 'x' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: 'unsupported_operation' });
    expect((err as Error).message).toMatch(/claude.*embeddings.*anthropic/);
    expect(world.claude.stats().requests).toBe(before);
  });

  it('streams without include_usage: no usage-only chunk reaches the client', async () => {
    const stream = await world.client.chat.completions.create({ model: 'claude', messages, stream: true });
    let usageOnly = 0;
    let text = '';
    for await (const chunk of stream) {
      if (chunk.choices.length === 0) usageOnly++;
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe(world.claude.answerFor({ model: 'claude-mock-4', messages }));
    expect(usageOnly).toBe(0);
  });

  it('calls a tool whose arguments parse, streamed or not, and takes the tool result back', async () => {
    const res = await world.client.chat.completions.create({ model: 'claude', messages, tools, tool_choice: 'required' });
    const call = res.choices[0]?.message.tool_calls?.[0];
    expect(res.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.type === 'function' && call.function.name).toBe('get_weather');
    expect(call?.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ city: 'mock', days: 1 });
    expect(lastRecord(world.claude).body).toMatchObject({ tool_choice: { type: 'any' }, tools: [{ name: 'get_weather' }] });

    const stream = await world.client.chat.completions.create({ model: 'claude', messages, tools, stream: true });
    let args = '';
    let id = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      for (const t of chunk.choices[0]?.delta.tool_calls ?? []) {
        id ||= t.id ?? '';
        args += t.function?.arguments ?? '';
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(JSON.parse(args)).toEqual({ city: 'mock', days: 1 });
    expect(finish).toBe('tool_calls');

    // The mock refuses a tool_result without its tool_use, so this round trip checks the pairing survives translation.
    const followUp = await world.client.chat.completions.create({
      model: 'claude',
      messages: [
        ...messages,
        { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: 'get_weather', arguments: args } }] },
        { role: 'tool', tool_call_id: id, content: 'Sunny, 21°C' },
      ],
      tools,
    });
    expect(followUp.choices[0]?.message.content).toBe(world.claude.answerFor({ model: 'claude-mock-4', messages }));
  });

  it('sends the provider key as x-api-key with anthropic-version, never the client key, and leaks it nowhere', async () => {
    const { response } = await world.client.chat.completions.create({ model: 'claude', messages }).withResponse();
    for (const r of world.claude.stats().records) {
      expect(r.headers['x-api-key']).toBe(PROVIDER_KEY);
      expect(r.headers['anthropic-version']).toBe('2023-06-01');
      expect(r.headers.authorization).toBeUndefined();
      expect(JSON.stringify(r.headers)).not.toContain(CLIENT_KEY);
    }
    expect(JSON.stringify([...response.headers])).not.toContain(PROVIDER_KEY);
    for (const line of world.lines) expect(line).not.toContain(PROVIDER_KEY);
  });

  it('maps an upstream 400 "prompt is too long" to a context-length error for the client', async () => {
    world.claude.setPlan({ script: [{ status: 400, error_code: 'context_length_exceeded' }] });
    try {
      const err = await world.client.chat.completions.create({ model: 'claude', messages }).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 400 });
      expect(String((err as Error).message)).toMatch(/prompt is too long/);
      expect(JSON.stringify(err)).not.toContain(PROVIDER_KEY);
    } finally {
      world.claude.setPlan({});
    }
  });
});

describe('fallback chain openai → anthropic while streaming', () => {
  it('answers from the anthropic fallback when the OpenAI primary fails with 503 before the first token', async () => {
    const w = await startWorld({ default: { status: 503 } });
    try {
      const stream = await w.client.chat.completions
        .create({ model: 'gpt-test', messages, stream: true, stream_options: { include_usage: true } })
        .withResponse();
      expect(stream.response.headers.get('x-lifeline-fallback')).toBe('claude');
      expect(stream.response.headers.get('x-lifeline-deployment')).toBe('anthropic/claude-mock-4');
      const { text, finish, usage } = await collectText(stream.data);
      expect(text).toBe(w.claude.answerFor({ model: 'claude-mock-4', messages }));
      expect(finish).toBe('stop');
      expect(usage?.completion_tokens).toBeGreaterThan(0);
      expect(w.primary.stats().byOutcome.status).toBeGreaterThan(0);
      expect(w.primary.stats().records.every((r) => r.path === '/v1/chat/completions')).toBe(true);
      expect(w.claude.stats().records.map((r) => r.path)).toEqual(['/v1/messages']);
    } finally {
      await w.close();
    }
  });

  it('retries before the first token when the anthropic upstream is overloaded (529, or an error event)', async () => {
    const w = await startWorld();
    w.claude.setPlan({ script: [{ status: 529 }, { error_event_after: 0 }] });
    try {
      const stream = await w.client.chat.completions.create({ model: 'claude', messages, stream: true });
      const { text } = await collectText(stream);
      expect(text).toBe(w.claude.answerFor({ model: 'claude-mock-4', messages }));
      expect(w.claude.stats().records.map((r) => r.outcome)).toEqual(['status', 'error_event', 'ok']);
    } finally {
      await w.close();
    }
  });
});

describe('the mock in the Anthropic dialect', () => {
  const post = (body: unknown) =>
    fetch(`${world.claude.url}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const user = { role: 'user', content: 'Hi' };

  it.each([
    [{ model: 'm', messages: [user] }, /max_tokens: Field required/],
    [{ max_tokens: 5, messages: [user] }, /model: Field required/],
    [{ model: 'm', max_tokens: 5, messages: [] }, /at least one message/],
    [{ model: 'm', max_tokens: 5, messages: [user, user] }, /roles must alternate/],
    [{ model: 'm', max_tokens: 5, messages: [{ role: 'assistant', content: 'Hi' }, user] }, /first message must use the "user" role/],
    [{ model: 'm', max_tokens: 5, messages: [{ role: 'system', content: 'x' }] }, /Input should be 'user' or 'assistant'/],
    [{ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'text', text: '' }] }] }, /non-empty/],
    [
      { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_x' }] }] },
      /corresponding `tool_use` block/,
    ],
  ])('refuses an invalid request in Anthropic\'s error shape (%#)', async (body, message) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    const error = (await res.json()) as { error: { message: string } };
    expect(error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(error.error.message).toMatch(message);
  });

  it('renders faults as Anthropic errors', async () => {
    world.claude.setPlan({ script: [{ status: 429, retry_after: 3 }, { status: 529 }, { status: 500 }] });
    try {
      const body = { model: 'm', max_tokens: 5, messages: [user] };
      const types: unknown[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await post(body);
        const { error } = (await res.json()) as { error: { type: string } };
        types.push([res.status, error.type, res.headers.get('retry-after')]);
      }
      expect(types).toEqual([
        [429, 'rate_limit_error', '3'],
        [529, 'overloaded_error', null],
        [500, 'api_error', null],
      ]);
    } finally {
      world.claude.setPlan({});
    }
  });

  it('streams the real event sequence, one word per text delta, and an error event when scripted', async () => {
    const body = { model: 'm', max_tokens: 100, messages: [user], stream: true };
    const names = (text: string) => [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    const words = world.claude.answerFor(body).trim().split(/\s+/).length;
    const ok = await (await post(body)).text();
    expect(names(ok)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      ...Array(words).fill('content_block_delta'),
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(ok).toContain(`"usage":{"output_tokens":${words}}`);
    world.claude.setPlan({ script: [{ error_event_after: 2 }] });
    try {
      const failed = await (await post(body)).text();
      expect(names(failed).slice(-3)).toEqual(['content_block_delta', 'content_block_delta', 'error']);
      expect(failed).toContain('"type":"overloaded_error"');
    } finally {
      world.claude.setPlan({});
    }
  });
});
