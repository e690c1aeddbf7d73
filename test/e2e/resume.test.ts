import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { startMock, type MockServer } from '../../src/mock/index.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { collectText, memoryLogger } from '../support/helpers.js';
import { SLACK_MS } from '../support/timing.js';

/**
 * Mid-stream resume through the real server: the official SDKs as clients, two mocks as upstreams. The
 * primary is cut (or stalls, or sends an error event) after 2 content chunks; the answer must continue on a
 * prefill-capable deployment and reach the client as one uncut answer.
 */
const REPLY = 'The quiet harbor guides steady lanterns across the silver river toward morning light, without any hurry.';
const messages = [{ role: 'user' as const, content: 'tell me' }];

interface Gateway {
  server: RunningServer;
  client: OpenAI;
  lines: string[];
}

let primary: MockServer;
let backup: MockServer;
let on: Gateway;
let off: Gateway;

async function gateway(streaming: Record<string, unknown>): Promise<Gateway> {
  const config = resolveConfig({
    server: { port: 0 },
    timeouts: { idle_ms: 400 },
    retry: { base_delay_ms: 10, max_delay_ms: 20 },
    // every test cuts the primary once; its breaker must not open and hide it from the next test
    health: { failure_threshold: 1000, min_requests: 1000 },
    streaming,
    providers: {
      // deepseek continues a prefill through the `prefix: true` flag, which the mock honours
      primary: { type: 'deepseek', api_key: 'k1', base_url: primary.url },
      backup: { type: 'deepseek', api_key: 'k2', base_url: backup.url },
      'primary-openai': { type: 'openai', api_key: 'k5', base_url: primary.url },
      'backup-openai': { type: 'openai', api_key: 'k3', base_url: backup.url },
      'backup-claude': { type: 'anthropic', api_key: 'k4', base_url: `${backup.origin}/v1` },
      // No supports_prefill given: on Bedrock the catalog decides per model.
      'backup-bedrock': { type: 'bedrock', region: 'us-east-1', access_key_id: 'AKIDEXAMPLE', secret_access_key: 'secret', base_url: backup.origin },
    },
    models: {
      chat: { strategy: 'priority', targets: [{ provider: 'primary', model: 'ds', priority: 1 }, { provider: 'backup', model: 'ds', priority: 2 }] },
      'to-claude': {
        strategy: 'priority',
        targets: [{ provider: 'primary', model: 'ds', priority: 1 }, { provider: 'backup-claude', model: 'claude-x', priority: 2 }],
      },
      'to-bedrock-claude': {
        strategy: 'priority',
        targets: [{ provider: 'primary', model: 'ds', priority: 1 }, { provider: 'backup-bedrock', model: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0', priority: 2 }],
      },
      'to-bedrock-llama': {
        strategy: 'priority',
        targets: [{ provider: 'primary', model: 'ds', priority: 1 }, { provider: 'backup-bedrock', model: 'meta.llama3-3-70b-instruct-v1:0', priority: 2 }],
      },
      // The backup's window holds the question (~12 tokens) but not the question plus ten words of answer.
      'narrow-backup': {
        strategy: 'priority',
        targets: [{ provider: 'primary', model: 'ds', priority: 1 }, { provider: 'backup', model: 'ds', priority: 2, context_window: 20 }],
      },
      'openai-only': { targets: [{ provider: 'backup-openai', model: 'gpt' }] },
      'no-prefill': { targets: [{ provider: 'primary-openai', model: 'gpt' }], fallbacks: ['openai-only'] },
    },
  });
  const { logger, lines } = memoryLogger();
  const server = await startServer(config, { logger });
  return { server, lines, client: new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'c', maxRetries: 0, timeout: 20_000 }) };
}

beforeAll(async () => {
  primary = await startMock({ reply: REPLY });
  backup = await startMock({ reply: REPLY });
  on = await gateway({});
  off = await gateway({ resume: false });
});
afterAll(async () => {
  await Promise.all([on.server.shutdown(), off.server.shutdown()]);
  await Promise.all([primary.close(), backup.close()]);
});

function lastBody(mock: MockServer): { messages: Array<Record<string, unknown>> } {
  const record = mock.stats().records.at(-1);
  if (!record) throw new Error('the mock saw no request');
  return record.body as { messages: Array<Record<string, unknown>> };
}

function plan(fault: Record<string, number>) {
  primary.setPlan({ script: [fault] });
  backup.reset();
}

async function rawStream(base: string, model: string, extra: Record<string, unknown> = {}) {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages, stream: true, ...extra }),
  });
  return res.text();
}

describe('mid-stream resume', () => {
  for (const fault of ['cut_after', 'error_event_after', 'stall_after'] as const) {
    it(`${fault}: 2 → the answer continues on the backup, exactly the uncut text, one role, one finish_reason`, async () => {
      plan({ [fault]: 2 });
      const t0 = performance.now();
      const stream = await on.client.chat.completions.create({ model: 'chat', messages, stream: true, stream_options: { include_usage: true } });
      const ids = new Set<string>();
      let roles = 0;
      let finishes = 0;
      let text = '';
      let usage: OpenAI.Completions.CompletionUsage | undefined;
      for await (const chunk of stream) {
        ids.add(chunk.id);
        if (chunk.usage) usage = chunk.usage;
        for (const c of chunk.choices) {
          if (c.delta.role) roles++;
          if (c.finish_reason) finishes++;
          text += c.delta.content ?? '';
        }
      }
      expect(text).toBe(REPLY);
      expect([ids.size, roles, finishes]).toEqual([1, 1, 1]);
      // The stall never ends: only the idle timer (400 ms) can have moved the answer on to the backup.
      if (fault === 'stall_after') expect(performance.now() - t0).toBeLessThan(400 + SLACK_MS);
      // the continuation asked the backup to go on from the partial answer
      const last = lastBody(backup).messages.at(-1);
      expect(last).toMatchObject({ role: 'assistant', prefix: true, content: 'The quiet' });
      // usage: the cut segment (counted) plus the continuation (reported)
      const continuation = backup.stats().records.at(-1)!;
      expect(continuation.stream).toBe(true);
      expect(usage!.completion_tokens).toBeGreaterThan(REPLY.split(' ').length - 2);
      expect(usage!.total_tokens).toBe(usage!.prompt_tokens + usage!.completion_tokens);
    });
  }

  it('the raw stream ends with a resume comment and [DONE]; the log line and /metrics record it', async () => {
    plan({ cut_after: 2 });
    const raw = await rawStream(on.server.url, 'chat');
    expect(raw).toMatch(/^: x-lifeline-resumed: 1; on=backup\/ds$/m);
    expect(raw.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(raw).not.toMatch(/"usage":\{/); // asked upstream, stripped for a client that did not ask
    expect(raw.match(/"role":"assistant"/g)).toHaveLength(1); // the continuation's opening chunk is dropped
    const line = on.lines.map((l) => JSON.parse(l)).findLast((l) => l.msg === 'request');
    expect(line.resumes).toEqual([{ from: 'primary/ds', reason: 'upstream_connection', to: 'backup/ds' }]);
    expect(line.usage.total_tokens).toBeGreaterThan(0);
    const metrics = await (await fetch(`${on.server.url}/metrics`)).text();
    expect(metrics).toMatch(/lifeline_stream_resumes_total\{model="chat",outcome="resumed"\} [1-9]/);
  });

  it('continues on an Anthropic upstream (prefill without its trailing whitespace) and reaches an Anthropic client', async () => {
    plan({ cut_after: 2 });
    const { text, finish } = await collectText(await on.client.chat.completions.create({ model: 'to-claude', messages, stream: true }));
    expect([text, finish]).toEqual([REPLY, 'stop']);
    const prefill = lastBody(backup).messages.at(-1);
    expect(prefill?.role).toBe('assistant');

    plan({ cut_after: 3 });
    const anthropic = new Anthropic({ baseURL: on.server.url, apiKey: 'c', maxRetries: 0 });
    const s = anthropic.messages.stream({ model: 'to-claude', max_tokens: 200, messages });
    const final = await s.finalMessage();
    expect(final.content.map((b) => (b.type === 'text' ? b.text : '')).join('')).toBe(REPLY);
    expect(final.stop_reason).toBe('end_turn');
  });

  it('continues on Claude on Bedrock (the catalog says it takes a prefill), not on Llama on Bedrock', async () => {
    plan({ cut_after: 2 });
    const { text, finish } = await collectText(await on.client.chat.completions.create({ model: 'to-bedrock-claude', messages, stream: true }));
    expect([text, finish]).toEqual([REPLY, 'stop']);
    expect(backup.stats().records.at(-1)?.path).toMatch(/\/model\/us\.anthropic\.claude-sonnet-4-5[^/]*\/converse-stream$/);

    plan({ cut_after: 2 });
    const raw = await rawStream(on.server.url, 'to-bedrock-llama');
    // Llama on Bedrock cannot continue it: the answer goes on where it started (the primary), not on the backup.
    expect(raw).toMatch(/x-lifeline-resumed: 1; on=primary\/ds/);
    expect(backup.stats().requests).toBe(0);
  });

  it('a continuation goes only where it fits: the answer so far counts against the window', async () => {
    plan({ cut_after: 10 });
    const raw = await rawStream(on.server.url, 'narrow-backup');
    expect(raw).toMatch(/x-lifeline-resumed: 1; on=primary\/ds/); // not the backup, whose window is too small now
    expect(raw).toContain('[DONE]');
    expect(backup.stats().requests).toBe(0);
  });

  it('with resume off, every cut stream ends with an error event the SDK raises', async () => {
    plan({ cut_after: 2 });
    const stream = await off.client.chat.completions.create({ model: 'chat', messages, stream: true });
    await expect(collectText(stream)).rejects.toThrow(/could not be resumed: streaming.resume is off/);
  });

  it('no prefill-capable deployment left → an explicit error event naming supports_prefill', async () => {
    plan({ cut_after: 2 });
    const raw = await rawStream(on.server.url, 'no-prefill');
    expect(raw).toMatch(/could not be resumed: no deployment could continue it/);
    expect(raw).toMatch(/supports_prefill/);
    expect(raw).not.toContain('[DONE]');
  });

  it('a tool call in progress is not resumed: error event', async () => {
    plan({ cut_after: 2 });
    const tools = [{ type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } } }];
    const stream = await on.client.chat.completions.create({ model: 'chat', messages, tools, stream: true });
    await expect(collectText(stream)).rejects.toThrow(/a tool call was in progress/);
    expect(backup.stats().requests).toBe(0);
  });
});
