import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import type { Config } from '../../src/config/types.js';
import { startMock, type MockServer } from '../../src/mock/index.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { bedrockProvider } from '../../src/providers/bedrock/adapter.js';
import { eventStreamFrames } from '../../src/providers/bedrock/eventstream.js';
import { collectText, memoryLogger } from '../support/helpers.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1:0';

let mock: MockServer;
let config: Config;
let server: RunningServer;
let client: OpenAI;
let lines: string[];
/** Every body and header the client saw, to prove the secret never reached it. */
const seen: string[] = [];

beforeAll(async () => {
  mock = await startMock();
  config = resolveConfig({
    server: { port: 0 },
    retry: { base_delay_ms: 1, max_delay_ms: 5 },
    providers: {
      aws: { type: 'bedrock', region: 'us-east-1', access_key_id: 'AKIDEXAMPLE', secret_access_key: SECRET, base_url: mock.origin },
    },
    models: { claude: { targets: [{ provider: 'aws', model: MODEL }] } },
  });
  const logged = memoryLogger();
  lines = logged.lines;
  server = await startServer(config, { logger: logged.logger });
  const recordingFetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    seen.push(JSON.stringify([...res.headers]));
    const copy = res.clone();
    void copy.text().then((t) => seen.push(t));
    return res;
  };
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'sk-client', maxRetries: 0, timeout: 20_000, fetch: recordingFetch });
});

afterAll(async () => {
  await server?.shutdown();
  await mock?.close();
});

afterEach(() => mock.setPlan({}));

const messages = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Say hello' },
];
const weather = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

const SIGNATURE = /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/(\d{8})\/us-east-1\/bedrock\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$/;

describe('OpenAI SDK → lifeline → mock in the Bedrock dialect', () => {
  it('answers a chat completion through Converse, signed with SigV4', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'claude', messages }).withResponse();
    expect(data.choices[0]?.message.content).toBe(mock.answerFor({ model: MODEL, messages }));
    expect(data.choices[0]?.finish_reason).toBe('stop');
    expect(data.usage?.completion_tokens).toBeGreaterThan(0);
    expect(response.headers.get('x-lifeline-deployment')).toBe(`aws/${MODEL}`);

    const record = mock.stats().records.at(-1)!;
    expect(record.path).toBe(`/model/${encodeURIComponent(MODEL)}/converse`);
    const auth = SIGNATURE.exec(String(record.headers.authorization));
    expect(auth).not.toBeNull();
    expect(auth![2]!.split(';')).toEqual(expect.arrayContaining(['content-type', 'host', 'x-amz-date']));
    expect(String(record.headers['x-amz-date'])).toMatch(new RegExp(`^${auth![1]}T\\d{6}Z$`));
    expect(record.body).toMatchObject({ system: [{ text: 'You are terse.' }], messages: [{ role: 'user', content: [{ text: 'Say hello' }] }] });
  });

  it('streams over the binary event stream: text reassembles, finish_reason stop, usage arrives', async () => {
    const stream = await client.chat.completions.create({
      model: 'claude',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const { text, finish, usage, chunks } = await collectText(stream);
    expect(text).toBe(mock.answerFor({ model: MODEL, messages }));
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBeGreaterThan(0);
    expect(chunks).toBeGreaterThan(3);
    const record = mock.stats().records.at(-1)!;
    expect(record.path).toMatch(/\/converse-stream$/);
    expect(String(record.headers.authorization)).toMatch(SIGNATURE);
  });

  it('makes a tool call whose arguments parse, and carries the result back as a toolResult', async () => {
    const res = await client.chat.completions.create({ model: 'claude', messages, tools: [weather], tool_choice: 'required' });
    const call = res.choices[0]?.message.tool_calls?.[0];
    expect(res.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ city: 'mock' });

    const followUp = await client.chat.completions.create({
      model: 'claude',
      messages: [...messages, res.choices[0]!.message, { role: 'tool', tool_call_id: call!.id, content: '{"temp":21}' }],
      tools: [weather],
    });
    expect(followUp.choices[0]?.message.content).toBe(mock.answerFor({ model: MODEL, messages }));
    const sent = mock.stats().records.at(-1)!.body as { messages: Array<{ role: string; content: unknown[] }> };
    expect(sent.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(sent.messages[2]!.content).toEqual([{ toolResult: { toolUseId: call!.id, content: [{ text: '{"temp":21}' }] } }]);
  });

  it('streams a tool call whose argument pieces reassemble into JSON', async () => {
    const stream = await client.chat.completions.create({ model: 'claude', messages, tools: [weather], stream: true });
    let args = '';
    let name = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        const call = c.delta.tool_calls?.[0];
        if (call?.function?.name) name = call.function.name;
        args += call?.function?.arguments ?? '';
        finish = c.finish_reason ?? finish;
      }
    }
    expect(name).toBe('get_weather');
    expect(JSON.parse(args)).toEqual({ city: 'mock' });
    expect(finish).toBe('tool_calls');
  });

  it('retries a ThrottlingException, and an exception frame before the first token', async () => {
    mock.setPlan({ script: [{ status: 429, retry_after_ms: 10 }, {}] });
    const { data, response } = await client.chat.completions.create({ model: 'claude', messages }).withResponse();
    expect(data.choices[0]?.message.content).toBe(mock.answerFor({ model: MODEL, messages }));
    expect(response.headers.get('x-lifeline-attempts')).toBe('2');
    const throttled = mock.stats().records.at(-2)!;
    expect(throttled.status).toBe(429);

    mock.setPlan({ script: [{ error_event_after: 0, error_code: 'serviceUnavailableException' }, {}] });
    const stream = await client.chat.completions.create({ model: 'claude', messages, stream: true });
    const { text, finish } = await collectText(stream);
    expect(text).toBe(mock.answerFor({ model: MODEL, messages }));
    expect(finish).toBe('stop');
  });

  it('passes a ValidationException on as a 400 the client can act on', async () => {
    // Only a system message: Converse gets no messages, and Bedrock refuses that.
    const err = await client.chat.completions
      .create({ model: 'claude', messages: [{ role: 'system', content: 'alone' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(String((err as Error).message)).toMatch(/ValidationException|messages/);
  });

  it('never lets the secret key reach a response, the upstream headers or the logs', async () => {
    mock.setPlan({ script: [{ status: 403 }] });
    const err = await client.chat.completions.create({ model: 'claude', messages }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 502 });
    expect(String((err as Error).message)).toContain('AWS credentials');
    await new Promise((r) => setTimeout(r, 20));
    expect(seen.length).toBeGreaterThan(5);
    for (const text of seen) expect(text).not.toContain(SECRET);
    for (const r of mock.stats().records) {
      expect(JSON.stringify(r.headers)).not.toContain(SECRET);
      expect(JSON.stringify(r.body)).not.toContain(SECRET);
    }
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).not.toContain(SECRET);
  });
});

describe('the mock speaks Bedrock', () => {
  const converse = (stream: boolean, body: unknown) =>
    fetch(`${mock.origin}/model/${encodeURIComponent(MODEL)}/${stream ? 'converse-stream' : 'converse'}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const ok = { messages: [{ role: 'user', content: [{ text: 'Hi' }] }] };

  async function framesOf(res: Response) {
    const body = Buffer.from(await res.arrayBuffer());
    async function* once() {
      yield body;
    }
    const out = [];
    for await (const f of eventStreamFrames(once())) out.push(f);
    return out;
  }

  it.each([
    [429, 'ThrottlingException', 'rate_limited'],
    [503, 'ServiceUnavailableException', 'overloaded'],
    [500, 'InternalServerException', 'server'],
    [400, 'ValidationException', 'bad_request'],
  ])('renders a %i fault as %s with x-amzn-errortype', async (status, type, kind) => {
    mock.setPlan({ script: [{ status }] });
    const res = await converse(false, ok);
    expect(res.status).toBe(status);
    expect(res.headers.get('x-amzn-errortype')).toMatch(new RegExp(`^${type}:`));
    const text = await res.text();
    expect(JSON.parse(text).message).toEqual(expect.any(String));
    const headers = Object.fromEntries(res.headers);
    const d = { id: `aws/${MODEL}`, model: MODEL, provider: config.providers.aws! };
    expect(bedrockProvider.classifyError(status, headers, text, d).kind).toBe(kind);
  });

  it('validates like Bedrock: messages required, roles alternate, tool blocks need a toolConfig', async () => {
    for (const body of [{}, { messages: [] }, { messages: [ok.messages[0], ok.messages[0]] }, { messages: [{ role: 'user', content: [{ toolResult: { toolUseId: 't', content: [] } }] }] }]) {
      const res = await converse(false, body);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ message: expect.any(String), __type: 'ValidationException' });
    }
  });

  it('streams binary event-stream frames, one word per delta, and a mid-stream exception frame on cue', async () => {
    const res = await converse(true, ok);
    expect(res.headers.get('content-type')).toBe('application/vnd.amazon.eventstream');
    const events = (await framesOf(res)).map((f) => f.event);
    const words = mock.answerFor({ messages: [{ role: 'user', content: 'Hi' }] }).split(' ').length;
    expect(events).toEqual(['messageStart', ...Array(words).fill('contentBlockDelta'), 'contentBlockStop', 'messageStop', 'metadata']);

    mock.setPlan({ script: [{ error_event_after: 2 }] });
    const cut = await framesOf(await converse(true, ok));
    expect(cut.map((f) => f.event)).toEqual(['messageStart', 'contentBlockDelta', 'contentBlockDelta', 'modelStreamErrorException']);
    expect(JSON.parse(cut.at(-1)!.data).message).toMatch(/scripted fault/);
  });
});
