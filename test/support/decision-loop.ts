/**
 * The decision loop without sockets: a real config (resolveConfig) and a real Pipeline over a FakeUpstream.
 *
 * Deployments: `east/m` (priority 1) and `west/m` (priority 2) serve model `pair`, whose fallback is `backup`
 * (`spare/m`); `solo` is `east/m` alone, no fallbacks. Backoffs are a few ms (rand is pinned to 0.5), breakers and
 * the resume tokenizer are off unless a test turns them on.
 */
import { Cancel } from '../../src/cancel.js';
import { resolveConfig } from '../../src/config/index.js';
import type { AttemptRecord } from '../../src/pipeline/attempt.js';
import { Pipeline, PipelineFailure } from '../../src/pipeline/pipeline.js';
import { buildRoutes } from '../../src/routing/routes.js';
import { FakeUpstream, type Step } from './fake-upstream.js';
import { RecordingSink } from './recording-sink.js';

export interface Overrides {
  retry?: Record<string, unknown>;
  health?: Record<string, unknown>;
  timeouts?: Record<string, unknown>;
  /** Merged into each model's own config, by model name. */
  models?: Record<string, Record<string, unknown>>;
}

const provider = (name: string) => ({ type: 'openai', base_url: `http://${name}.test/v1`, api_key: `key-${name}` });

function rawConfig(over: Overrides): Record<string, unknown> {
  const models: Record<string, Record<string, unknown>> = {
    pair: {
      strategy: 'priority',
      targets: [
        { provider: 'east', model: 'm', priority: 1 },
        { provider: 'west', model: 'm', priority: 2 },
      ],
      fallbacks: ['backup'],
    },
    backup: { targets: [{ provider: 'spare', model: 'm' }] },
    solo: { targets: [{ provider: 'east', model: 'm' }] },
  };
  for (const [name, extra] of Object.entries(over.models ?? {})) models[name] = { ...models[name], ...extra };
  return {
    providers: { east: provider('east'), west: provider('west'), spare: provider('spare') },
    retry: { max_attempts: 3, base_delay_ms: 2, max_delay_ms: 4, max_retry_after_ms: 500, ...over.retry },
    // Breakers off: a test about them sets its own threshold.
    health: { failure_threshold: 1000, failure_ratio: 1, min_requests: 1000, cooldown_s: 30, ...over.health },
    ...(over.timeouts ? { timeouts: over.timeouts } : {}),
    streaming: { resume: false },
    models,
  };
}

/** What one request came to: who answered, or the error; and what it cost. */
export interface Outcome {
  /** The deployment that answered, or undefined for an error. */
  answer?: string;
  fallback?: string;
  /** The streamed text, for a stream. */
  text?: string;
  error?: { kind: string; code?: string; status: number; retryAfterMs?: number; message: string };
  attempts: AttemptRecord[];
  /** The upstream calls this request made, in order. */
  calls: string[];
}

export interface RequestOptions {
  stream?: boolean;
  /** The client's x-lifeline-timeout-ms. */
  timeoutMs?: number;
  /** x-lifeline-fallbacks: off → false. */
  fallbacks?: boolean;
}

export class Harness {
  readonly upstream: FakeUpstream;
  readonly pipeline: Pipeline;
  private readonly routes;

  constructor(scripts: Record<string, readonly Step[]>, over: Overrides = {}) {
    const config = resolveConfig(rawConfig(over), {});
    this.routes = buildRoutes(config);
    this.upstream = new FakeUpstream(scripts);
    this.pipeline = new Pipeline(config, this.upstream, this.routes, { rand: () => 0.5 });
  }

  async send(model: string, opts: RequestOptions = {}): Promise<Outcome> {
    const route = this.routes.get(model);
    if (!route) throw new Error(`no model ${model}`);
    const before = this.upstream.calls.length;
    const calls = () => this.upstream.calls.slice(before);
    const sink = opts.stream ? new RecordingSink() : undefined;
    try {
      const result = await this.pipeline.run({
        op: 'chat',
        route,
        body: { model, messages: [{ role: 'user', content: 'hi' }], ...(opts.stream ? { stream: true } : {}) },
        stream: opts.stream ?? false,
        requestId: 'req-1',
        signal: new Cancel().signal,
        ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
        ...(opts.fallbacks !== undefined ? { fallbacks: opts.fallbacks } : {}),
        ...(sink ? { sink } : {}),
      });
      const { meta } = result;
      const base = { answer: meta.deployment, attempts: meta.attempts, ...(meta.fallback ? { fallback: meta.fallback } : {}) };
      if (!sink) return { ...base, calls: calls() };
      // A stream has been written to the sink in full by now; an error after its commit is its last event.
      const failed = sink.events.find((e) => e.type === 'error');
      if (failed) throw new PipelineFailure(failed.error, meta.attempts);
      return { ...base, text: sink.text(), calls: calls() };
    } catch (err) {
      if (!(err instanceof PipelineFailure)) throw err;
      const e = err.error;
      const error = {
        kind: e.kind,
        status: e.status,
        message: e.message,
        ...(e.code !== undefined ? { code: e.code } : {}),
        ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}),
      };
      return { error, attempts: err.attempts, calls: calls() };
    }
  }
}

/** Resolves once `condition` holds, checked on each turn of the event loop (setImmediate, which fake clocks leave alone). */
export async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}
