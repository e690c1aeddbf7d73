import { Writable } from 'node:stream';
import OpenAI from 'openai';
import { pino, type Logger } from 'pino';
import { resolveConfig } from '../../src/config/index.js';
import type { Config } from '../../src/config/types.js';
import { startMock, type FaultPlan, type MockServer } from '../../src/mock/index.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';

export const PROVIDER_KEY = 'sk-provider-secret-0123456789abcdefghij';
export const CLIENT_KEY = 'sk-client-key-not-for-upstream';

/** A pino logger that keeps every line in memory, to assert on what was (not) logged. */
export function memoryLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

export interface Stack {
  mock: MockServer;
  server: RunningServer;
  config: Config;
  client: OpenAI;
  lines: string[];
  /** The gateway's base URL including /v1. */
  base: string;
  close(): Promise<void>;
}

export interface StackOptions {
  plan?: FaultPlan;
  timeouts?: Record<string, number>;
  server?: Record<string, unknown>;
  /** Replaces the default models (all on provider `upstream`, the mock). */
  models?: Record<string, unknown>;
  /** Extra config merged at the top level. */
  extra?: Record<string, unknown>;
}

/** Mock upstream + the gateway on real sockets, and an official OpenAI SDK client pointed at the gateway. */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const mock = await startMock({ plan: opts.plan ?? {} });
  const config = resolveConfig({
    server: { port: 0, ...opts.server },
    ...(opts.timeouts ? { timeouts: opts.timeouts } : {}),
    providers: { upstream: { type: 'openai', api_key: PROVIDER_KEY, base_url: mock.url } },
    models: opts.models ?? {
      'gpt-test': { targets: [{ provider: 'upstream', model: 'mock-gpt' }] },
      'other-model': { targets: [{ provider: 'upstream', model: 'mock-other' }] },
    },
    ...opts.extra,
    // No synthetic probes unless a test asks: their listings would add to the mock's request counts.
    health: { probe_interval_s: 0, ...(opts.extra?.health as Record<string, unknown> | undefined) },
  });
  const { logger, lines } = memoryLogger();
  const server = await startServer(config, { logger });
  const base = `${server.url}/v1`;
  const client = new OpenAI({ baseURL: base, apiKey: CLIENT_KEY, maxRetries: 0, timeout: 20_000 });
  return {
    mock,
    server,
    config,
    client,
    lines,
    base,
    async close() {
      await server.shutdown();
      await mock.close();
    },
  };
}

export async function collectText(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
  let text = '';
  let finish: string | null = null;
  let usage: OpenAI.Completions.CompletionUsage | undefined;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta?.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  return { text, finish, usage, chunks };
}
