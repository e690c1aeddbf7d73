// A world of named mocks (each a provider) behind one gateway, and the load that runs through it: shared by the
// chaos tests (test/chaos/) and the resilience end-to-end tests (test/e2e/resilience-*.test.ts).
import OpenAI from 'openai';
import { resolveConfig } from '../../src/config/index.js';
import { startMock, type FaultPlan, type MockServer } from '../../src/mock/index.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { memoryLogger } from './helpers.js';

/** One chaos scenario's world: named mocks (each a provider), a gateway over them, an SDK client. */
export interface World {
  mocks: Record<string, MockServer>;
  server: RunningServer;
  client: OpenAI;
  /** The gateway's log lines (JSON). */
  lines: string[];
  close(): Promise<void>;
}

export interface WorldOptions {
  /** Provider type per mock (default openai); e.g. deepseek for a prefill-capable upstream. */
  types?: Record<string, string>;
  /**
   * The mocks' answer: one text for all (a stream resumed elsewhere can be compared with the uncut answer), or
   * one per mock name (a reassembled answer shows who answered).
   */
  reply?: string | ((name: string) => string);
}

export async function startWorld(
  plans: Record<string, FaultPlan>,
  config: { models: Record<string, unknown>; [key: string]: unknown },
  options: WorldOptions = {},
): Promise<World> {
  const mocks: Record<string, MockServer> = {};
  for (const [name, plan] of Object.entries(plans)) {
    const reply = typeof options.reply === 'function' ? options.reply(name) : options.reply;
    mocks[name] = await startMock({ plan, seed: name.length * 7919, ...(reply ? { reply } : {}) });
  }
  const providers = Object.fromEntries(
    Object.entries(mocks).map(([name, mock]) => [name, { type: options.types?.[name] ?? 'openai', api_key: `sk-${name}-provider-key-0123456789`, base_url: mock.url }]),
  );
  // No synthetic probes unless a test asks: their listings would add to the mocks' request counts.
  const health = { probe_interval_s: 0, ...(config.health as Record<string, unknown> | undefined) };
  const resolved = resolveConfig({ server: { port: 0 }, ...config, health, providers });
  const { logger, lines } = memoryLogger();
  const server = await startServer(resolved, { logger });
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'chaos', maxRetries: 0, timeout: 60_000 });
  return {
    mocks,
    server,
    client,
    lines,
    async close() {
      await server.shutdown();
      await Promise.all(Object.values(mocks).map((m) => m.close()));
    },
  };
}

export interface Outcome {
  ok: boolean;
  ms: number;
  status?: number;
  retryAfter?: string | null;
  deployment?: string | null;
  attempts?: number;
  fallback?: string | null;
}

/** One request through the official SDK; never throws. */
export async function send(client: OpenAI, model: string, stream: boolean, headers: Record<string, string> = {}): Promise<Outcome> {
  const t0 = performance.now();
  const messages = [{ role: 'user' as const, content: 'chaos' }];
  try {
    if (stream) {
      const { data, response } = await client.chat.completions.create({ model, messages, stream: true }, { headers }).withResponse();
      let text = '';
      let finish: string | null = null;
      for await (const chunk of data) {
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      return { ok: text.length > 0 && finish === 'stop', ms: performance.now() - t0, ...meta(response) };
    }
    const { data, response } = await client.chat.completions.create({ model, messages }, { headers }).withResponse();
    return { ok: Boolean(data.choices[0]?.message.content), ms: performance.now() - t0, ...meta(response) };
  } catch (err) {
    const e = err as { status?: number; headers?: Headers };
    return {
      ok: false,
      ms: performance.now() - t0,
      ...(e.status === undefined ? {} : { status: e.status }),
      retryAfter: e.headers?.get?.('retry-after') ?? null,
    };
  }
}

function meta(response: Response) {
  return {
    status: response.status,
    deployment: response.headers.get('x-lifeline-deployment'),
    attempts: Number(response.headers.get('x-lifeline-attempts') ?? 0),
    fallback: response.headers.get('x-lifeline-fallback'),
  };
}

/** `count` requests at `concurrency`, in order of index. */
export async function load(count: number, concurrency: number, one: (i: number) => Promise<Outcome>): Promise<Outcome[]> {
  const results: Outcome[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await one(i);
      }
    }),
  );
  return results;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export interface Row {
  scenario: string;
  requests: number;
  ok: number;
  'upstream attempts': number;
  retries: number;
  fallbacks: number;
  'p50 ms': number;
  'p99 ms': number;
}

export function summarize(scenario: string, results: Outcome[], world: World): Row {
  const upstream = Object.values(world.mocks).reduce((sum, m) => sum + m.stats().requests, 0);
  const ms = results.map((r) => r.ms);
  return {
    scenario,
    requests: results.length,
    ok: results.filter((r) => r.ok).length,
    'upstream attempts': upstream,
    retries: Math.max(0, upstream - results.length),
    fallbacks: results.filter((r) => r.fallback).length,
    'p50 ms': Math.round(percentile(ms, 50)),
    'p99 ms': Math.round(percentile(ms, 99)),
  };
}
