import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { type MockServer, startMock } from '../../src/mock/index.js';
import type { MockRequestRecord } from '../../src/mock/stats.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { collectText, memoryLogger } from '../support/helpers.js';

/**
 * What a misbehaving upstream STREAM can do, through the real gateway with the official SDK: an event that never
 * ends (an unterminated SSE line, a Bedrock frame claiming a huge length) and events that are not chunks. Before
 * the first token each is a malformed upstream, retried or failed over; after it, an explicit error event (or a
 * resume), never a clean end and never garbage relayed to the client.
 */
const REPLY = 'The quiet harbor guides steady lanterns across the silver river toward morning light.';
const messages = [{ role: 'user' as const, content: 'tell me' }];
const LIMIT = 64 * 1024;
/** Far past the limit, and not so big that buffering it all (the old behaviour) is slow. */
const LONG = 4 * 1024 * 1024;

let primary: MockServer;
let backup: MockServer;
let server: RunningServer;
let client: OpenAI;
let lines: string[];

beforeAll(async () => {
  primary = await startMock({ reply: REPLY });
  backup = await startMock({ reply: REPLY });
  const config = resolveConfig({
    server: { port: 0 },
    // An upstream that stops sending would end on this timeout anyway; these tests want the malformed kind first.
    timeouts: { idle_ms: 3000 },
    retry: { base_delay_ms: 10, max_delay_ms: 20 },
    health: { failure_threshold: 1000, min_requests: 1000 },
    streaming: { max_event_bytes: LIMIT },
    providers: {
      primary: { type: 'openai', api_key: 'k1', base_url: primary.url },
      backup: { type: 'openai', api_key: 'k2', base_url: backup.url },
      // deepseek continues a prefill (`prefix: true`), so a stream failed after its first token can be resumed
      'primary-ds': { type: 'deepseek', api_key: 'k3', base_url: primary.url },
      'backup-ds': { type: 'deepseek', api_key: 'k4', base_url: backup.url },
      'primary-bedrock': { type: 'bedrock', region: 'us-east-1', access_key_id: 'AKIDEXAMPLE', secret_access_key: 'secret', base_url: primary.origin },
    },
    models: {
      chat: { strategy: 'priority', targets: [{ provider: 'primary', model: 'gpt', priority: 1 }, { provider: 'backup', model: 'gpt', priority: 2 }] },
      resumable: { strategy: 'priority', targets: [{ provider: 'primary-ds', model: 'ds', priority: 1 }, { provider: 'backup-ds', model: 'ds', priority: 2 }] },
      'from-bedrock': {
        strategy: 'priority',
        targets: [{ provider: 'primary-bedrock', model: 'meta.llama3-3-70b-instruct-v1:0', priority: 1 }, { provider: 'backup', model: 'gpt', priority: 2 }],
      },
    },
  });
  const log = memoryLogger();
  lines = log.lines;
  server = await startServer(config, { logger: log.logger });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'c', maxRetries: 0, timeout: 20_000 });
});

afterAll(async () => {
  await server.shutdown();
  await Promise.all([primary.close(), backup.close()]);
});

beforeEach(() => {
  primary.reset();
  backup.reset();
});

function fault(f: Record<string, number | boolean>): void {
  primary.setPlan({ script: [f] });
}

interface LoggedAttempt {
  deployment: string;
  kind?: string;
}

/** The gateway's request log line for the last request (written when the response has ended). */
async function lastRequestLine(): Promise<{ attempts: LoggedAttempt[]; resumes?: Array<Record<string, string>> }> {
  for (let i = 0; i < 200; i++) {
    const line = lines.map((l) => JSON.parse(l)).findLast((l) => l.msg === 'request');
    if (line) return line;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('no request log line');
}

/** The primary's record of the faulty request, once the gateway has closed its connection. */
async function closedByGateway(): Promise<MockRequestRecord> {
  for (let i = 0; i < 400; i++) {
    const record = primary.stats().records[0];
    if (record?.closedByClientAt !== undefined) return record;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the gateway never closed the upstream stream: ${JSON.stringify(primary.stats().records[0]?.outcome)}`);
}

async function rawStream(model: string): Promise<string> {
  const res = await fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages, stream: true }),
  });
  expect(res.status).toBe(200);
  return res.text();
}

/** Reads a stream to its end; returns the text received and the error the SDK raised (the stream's error event). */
async function readUntilError(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
  let text = '';
  try {
    for await (const chunk of stream) for (const c of chunk.choices) text += c.delta?.content ?? '';
  } catch (err) {
    return { text, error: err };
  }
  return { text, error: undefined };
}

describe('an upstream event over streaming.max_event_bytes', () => {
  beforeEach(() => lines.splice(0));

  it('before the first token: abandoned as malformed (the upstream socket closed) and failed over; the client gets the good answer', async () => {
    fault({ long_line_bytes: LONG });
    const { text, finish } = await collectText(await client.chat.completions.create({ model: 'chat', messages, stream: true }));
    expect([text, finish]).toEqual([REPLY, 'stop']);
    const line = await lastRequestLine();
    expect(line.attempts.map((a) => [a.deployment, a.kind])).toEqual([
      ['primary/gpt', 'server'], // malformed, not a timeout after buffering the line
      ['backup/gpt', undefined],
    ]);
    const record = await closedByGateway();
    expect(record.outcome).toBe('long_line');
  });

  it('after the first token: the stream ends with an explicit error event (upstream_event_too_large), not a clean end', async () => {
    fault({ long_line_bytes: LONG, garbage_after: 2 });
    const { text, error } = await readUntilError(await client.chat.completions.create({ model: 'chat', messages, stream: true }));
    expect(text.length).toBeGreaterThan(0);
    expect(REPLY.startsWith(text)).toBe(true);
    expect(text).not.toBe(REPLY);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).code).toBe('upstream_event_too_large');
    await closedByGateway();
    expect(backup.stats().requests).toBe(0); // OpenAI cannot continue a partial answer: no resume
  });

  it('after the first token on a deployment that can be resumed: the answer continues elsewhere, exact', async () => {
    fault({ long_line_bytes: LONG, garbage_after: 2 });
    const { text, finish } = await collectText(await client.chat.completions.create({ model: 'resumable', messages, stream: true }));
    expect([text, finish]).toEqual([REPLY, 'stop']);
    const line = await lastRequestLine();
    expect(line.resumes).toEqual([{ from: 'primary-ds/ds', reason: 'upstream_event_too_large', to: 'backup-ds/ds' }]);
    await closedByGateway();
  });

  it('a Bedrock frame whose prelude claims more than the limit is refused at its prelude, and failed over', async () => {
    fault({ long_line_bytes: LONG });
    const { text, finish } = await collectText(await client.chat.completions.create({ model: 'from-bedrock', messages, stream: true }));
    expect([text, finish]).toEqual([REPLY, 'stop']);
    const line = await lastRequestLine();
    expect(line.attempts.map((a) => [a.deployment, a.kind])).toEqual([
      ['primary-bedrock/meta.llama3-3-70b-instruct-v1:0', 'server'],
      ['backup/gpt', undefined],
    ]);
    expect((await closedByGateway()).path).toMatch(/converse-stream$/);
  });
});

describe('upstream events that are not chunks', () => {
  beforeEach(() => lines.splice(0));

  it("the mock's malformed fault on a stream: failed over before the first token, nothing of it reaches the client", async () => {
    fault({ malformed: true });
    const raw = await rawStream('chat');
    expect(raw).not.toContain('chat.com"'); // the truncated event
    const chunks = raw.split('\n\n').filter((e) => e.startsWith('data: ') && e !== 'data: [DONE]');
    const text = chunks.map((e) => JSON.parse(e.slice(6)).choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe(REPLY);
    expect(raw.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const line = await lastRequestLine();
    expect(line.attempts.map((a) => a.kind)).toEqual(['server', undefined]);
  });

  it('invalid events before the first token (not JSON, not an object): retried or failed over, the client gets the good answer', async () => {
    fault({ invalid_events: 3 });
    const { text, finish } = await collectText(await client.chat.completions.create({ model: 'chat', messages, stream: true }));
    expect([text, finish]).toEqual([REPLY, 'stop']);
    const line = await lastRequestLine();
    expect(line.attempts.map((a) => [a.deployment, a.kind])).toEqual([
      ['primary/gpt', 'server'],
      ['backup/gpt', undefined],
    ]);
    expect(primary.stats().records[0]?.outcome).toBe('invalid_events');
  });

  it('invalid events after the first token, followed by [DONE]: an error event, never relayed, never a clean end', async () => {
    fault({ invalid_events: 3, garbage_after: 2 });
    const raw = await rawStream('chat');
    expect(raw).not.toContain('lifeline mock: invalid event');
    expect(raw).not.toContain('[DONE]');
    const last = raw.trimEnd().split('\n\n').at(-1)!;
    expect(JSON.parse(last.replace(/^data: /, ''))).toMatchObject({ error: { code: 'upstream_malformed_response' } });

    fault({ invalid_events: 3, garbage_after: 2 });
    const { text, error } = await readUntilError(await client.chat.completions.create({ model: 'chat', messages, stream: true }));
    expect(REPLY.startsWith(text) && text.length > 0).toBe(true);
    expect((error as APIError).code).toBe('upstream_malformed_response');
  });

  it('invalid events after the first token on a deployment that can be resumed: the answer continues elsewhere', async () => {
    fault({ invalid_events: 2, garbage_after: 3 });
    const { text, finish } = await collectText(await client.chat.completions.create({ model: 'resumable', messages, stream: true }));
    expect([text, finish]).toEqual([REPLY, 'stop']);
    const line = await lastRequestLine();
    expect(line.resumes).toEqual([{ from: 'primary-ds/ds', reason: 'upstream_malformed_response', to: 'backup-ds/ds' }]);
  });
});
