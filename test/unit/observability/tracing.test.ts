// The gateway's tracer provider on its own (observability/tracing.ts): off without an endpoint, the collector's URL,
// and what happens when exports fail: counted on the gateway's registry, one warning until they recover.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../../../src/config/index.js';
import { answerModel } from '../../../src/observability/trace-spans.js';
import { createTracing, tracesUrl } from '../../../src/observability/tracing.js';
import { memoryLogger } from '../../support/helpers.js';
import { deadEndpoint } from '../../support/otlp-receiver.js';

const CONFIG = { service_name: 'lifeline', sample_ratio: 1, forward_traceparent: false, export_timeout_ms: 500 };

async function counterValue(registry: Registry, name: string): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  return metric ? (await metric.get()).values[0]?.value : undefined;
}

/** Ends one request span (with no attempts) on `tracing`. */
function oneSpan(tracing: NonNullable<ReturnType<typeof createTracing>>, id: string): void {
  const trace = tracing.request('POST', '/v1/chat/completions', '/v1/chat/completions', {});
  trace?.end({ status: 200, requestId: id });
}

describe('tracing', () => {
  it('is off without otlp_endpoint: nothing is made, nothing registered', () => {
    const registry = new Registry();
    expect(createTracing({ ...CONFIG }, { logger: memoryLogger().logger, registry })).toBeUndefined();
    expect(registry.getMetricsAsArray()).toEqual([]);
  });

  it('sends to <otlp_endpoint>/v1/traces (kept when the endpoint names it already)', () => {
    expect(tracesUrl('http://collector:4318')).toBe('http://collector:4318/v1/traces');
    expect(tracesUrl('http://collector:4318/')).toBe('http://collector:4318/v1/traces');
    expect(tracesUrl('https://otel.example/v1/traces')).toBe('https://otel.example/v1/traces');
  });

  it('a collector that is down: failed exports and their spans are counted, one warning is logged until one succeeds', async () => {
    let status = 500;
    const collector = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(status, { 'content-type': 'application/json' }).end('{}'));
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const { logger, lines } = memoryLogger();
    const registry = new Registry();
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    const tracing = createTracing({ ...CONFIG, otlp_endpoint: endpoint }, { logger, registry })!;
    try {
      oneSpan(tracing, 'a');
      oneSpan(tracing, 'b');
      await tracing.forceFlush();
      oneSpan(tracing, 'c');
      await tracing.forceFlush();
      expect(await counterValue(registry, 'lifeline_trace_export_failures_total')).toBe(2);
      expect(await counterValue(registry, 'lifeline_trace_spans_dropped_total')).toBe(3);
      const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
      expect(logged.filter((l) => l.msg.startsWith('trace export failed'))).toHaveLength(1);
      status = 200;
      oneSpan(tracing, 'd');
      await tracing.forceFlush();
      expect(await counterValue(registry, 'lifeline_trace_export_failures_total')).toBe(2);
      expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toContain('trace export recovered');
    } finally {
      await tracing.shutdown();
      collector.closeAllConnections();
      collector.close();
    }
  });

  it('a second provider on the same registry (a reload that changed tracing) carries the counters on', async () => {
    const registry = new Registry();
    const deps = { logger: memoryLogger().logger, registry };
    const endpoint = await deadEndpoint();
    const first = createTracing({ ...CONFIG, otlp_endpoint: endpoint }, deps)!;
    oneSpan(first, 'a');
    await first.shutdown();
    const second = createTracing({ ...CONFIG, otlp_endpoint: endpoint, service_name: 'other' }, deps)!;
    oneSpan(second, 'b');
    await second.shutdown();
    expect(await counterValue(registry, 'lifeline_trace_export_failures_total')).toBe(2);
  });
});

describe('the tracing config', () => {
  const base = { providers: { p: { type: 'openai', api_key: 'k' } }, models: { m: { targets: [{ provider: 'p', model: 'x' }] } } };
  const issues = (tracing: unknown): string[] => {
    try {
      resolveConfig({ ...base, tracing });
    } catch (err) {
      if (err instanceof ConfigError) return err.issues;
      throw err;
    }
    return [];
  };

  it('defaults: off, service lifeline, every trace, nothing forwarded, 10 s exports', () => {
    expect(resolveConfig(base).tracing).toEqual({ service_name: 'lifeline', sample_ratio: 1, forward_traceparent: false, export_timeout_ms: 10_000 });
  });

  it('an empty endpoint (an unset ${VAR:-}) is off; a trailing slash is dropped', () => {
    expect(resolveConfig({ ...base, tracing: { otlp_endpoint: '${OTEL_ENDPOINT:-}' } }, {}).tracing.otlp_endpoint).toBeUndefined();
    expect(resolveConfig({ ...base, tracing: { otlp_endpoint: 'http://collector:4318/' } }).tracing.otlp_endpoint).toBe('http://collector:4318');
  });

  it('rejects what is not a URL, a ratio past 1, an unknown key', () => {
    expect(issues({ otlp_endpoint: 'collector:4318' }).join('\n')).toMatch(/tracing\.otlp_endpoint.*expected an http\(s\) URL/);
    expect(issues({ sample_ratio: 2 }).join('\n')).toMatch(/tracing\.sample_ratio.*from 0 to 1/);
    expect(issues({ sample_rate: 0.5 }).join('\n')).toMatch(/tracing\.sample_rate.*did you mean sample_ratio/);
  });
});

describe("an answer's model, for gen_ai.response.model (a scan, not a second parse)", () => {
  it("is the model key in a chat answer's head, whatever the content says", () => {
    const answer = JSON.stringify({
      id: 'chatcmpl-1',
      object: 'chat.completion',
      model: 'gpt-4o-mini-2024-07-18',
      choices: [{ index: 0, message: { role: 'assistant', content: `the JSON {"model": "not-this"} ${'x'.repeat(5000)}` } }],
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
    });
    expect(answerModel(answer)).toBe('gpt-4o-mini-2024-07-18');
  });

  it('is found in the tail when a long answer names it after its data (embeddings), and not inside a string', () => {
    const answer = JSON.stringify({
      object: 'list',
      data: [{ object: 'embedding', index: 0, embedding: Array.from({ length: 600 }, (_, i) => i / 600) }],
      model: 'text-embedding-3-small',
      usage: { prompt_tokens: 4, total_tokens: 4 },
    });
    expect(answer.length).toBeGreaterThan(2048);
    expect(answerModel(answer)).toBe('text-embedding-3-small');
    // A "model" key only inside a string value (escaped quotes) is no model.
    expect(answerModel(JSON.stringify({ content: '{"model": "fake"}' }))).toBeUndefined();
  });
});
