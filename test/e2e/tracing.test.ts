// OpenTelemetry traces end to end: the official OpenAI SDK → lifeline serve → the mock, with the gateway exporting
// OTLP/HTTP JSON to a small receiver (test/support/otlp-receiver.ts) that decodes the real spans. The server's
// shutdown flushes the gateway's tracer provider, so every test reads its spans after `stack.close()`: no waits.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { resolveConfig } from '../../src/config/index.js';
import { createGateway } from '../../src/index.js';
import { type MockRequestRecord, startMock } from '../../src/mock/index.js';
import { startServer } from '../../src/server/serve.js';
import { memoryLogger, PROVIDER_KEY, startStack, type Stack } from '../support/helpers.js';
import { deadEndpoint, type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '../support/otlp-receiver.js';
import { FAST_RETRY } from '../support/resilience.js';
import { eventually } from '../support/timing.js';

const SERVER = 2;
const CLIENT = 3;
const messages = [{ role: 'user' as const, content: 'Trace me' }];

let receiver: OtlpReceiver;
beforeEach(async () => {
  receiver = await startOtlpReceiver();
});
afterEach(async () => {
  await receiver.close();
});

async function traced(tracing: Record<string, unknown>, plan: Parameters<typeof startStack>[0] = {}): Promise<Stack> {
  return startStack({ ...plan, extra: { retry: FAST_RETRY, tracing: { otlp_endpoint: receiver.url, ...tracing }, ...plan.extra } });
}

/** The server span of one request (by its x-request-id) and its attempt spans, in the order they started. */
function requestSpans(requestId: string): { server: ReceivedSpan; attempts: ReceivedSpan[] } {
  const server = receiver.spans.find((s) => s.kind === SERVER && s.attributes['lifeline.request_id'] === requestId);
  if (!server) throw new Error(`no server span for ${requestId} among ${receiver.spans.length} spans`);
  const attempts = receiver.spans.filter((s) => s.parentSpanId === server.spanId).sort((a, b) => (a.startNs < b.startNs ? -1 : 1));
  return { server, attempts };
}

const chatRecords = (stack: Stack): MockRequestRecord[] => stack.mock.stats().records.filter((r) => r.path.endsWith('/chat/completions'));

describe('tracing', () => {
  it('a retried request: one server span, and a client span per attempt under it, each saying what it was', async () => {
    const stack = await traced({}, { plan: { script: [{ status: 502 }, {}] } });
    try {
      const { response } = await stack.client.chat.completions.create({ model: 'gpt-test', messages }, { headers: { 'x-request-id': 'trace-retry' } }).withResponse();
      expect(response.headers.get('x-lifeline-attempts')).toBe('2');
    } finally {
      await stack.close();
    }
    expect(receiver.requests[0]?.path).toBe('/v1/traces');
    expect(receiver.requests[0]?.headers['content-type']).toBe('application/json');
    const { server, attempts } = requestSpans('trace-retry');
    expect(server).toMatchObject({ name: 'POST /v1/chat/completions', parentSpanId: '' });
    expect(server.resource['service.name']).toBe('lifeline');
    expect(server.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/v1/chat/completions',
      'http.response.status_code': 200,
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-test',
      'gen_ai.response.model': 'mock-gpt',
      'lifeline.deployment': 'upstream/mock-gpt',
      'lifeline.attempts': 2,
    });
    expect(server.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    expect(server.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);

    expect(attempts).toHaveLength(2);
    const [first, retry] = attempts as [ReceivedSpan, ReceivedSpan];
    for (const span of attempts) {
      expect(span).toMatchObject({ traceId: server.traceId, kind: CLIENT, name: 'chat mock-gpt' });
      expect(span.attributes).toMatchObject({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.system': 'openai',
        'gen_ai.request.model': 'mock-gpt',
        'lifeline.deployment': 'upstream/mock-gpt',
        'lifeline.provider': 'upstream',
        'lifeline.model': 'gpt-test',
        'lifeline.stream': false,
      });
    }
    expect(first.attributes).toMatchObject({
      'lifeline.attempt.kind': 'first',
      'lifeline.attempt.number': 1,
      'lifeline.attempt.outcome': 'error',
      'error.type': 'server',
      'http.response.status_code': 502,
      'lifeline.upstream.request_id': 'mock-req-1',
    });
    expect(first.status.code).toBe(2);
    expect(retry.attributes).toMatchObject({
      'lifeline.attempt.kind': 'retry',
      'lifeline.attempt.number': 2,
      'lifeline.attempt.outcome': 'ok',
      'http.response.status_code': 200,
      'lifeline.upstream.request_id': 'mock-req-2',
      'gen_ai.response.model': 'mock-gpt',
    });
    expect(retry.attributes['error.type']).toBeUndefined();
    expect(retry.attributes['gen_ai.usage.output_tokens']).toBe(server.attributes['gen_ai.usage.output_tokens']);
    expect(retry.status.code).toBe(0);
    // One after the other: the retry starts after the first attempt has ended.
    expect(retry.startNs >= first.endNs).toBe(true);
  });

  it("continues the client's traceparent, and does not send it (or the gateway's) upstream by default", async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const clientSpan = 'b7ad6b7169203331';
    const stack = await traced({});
    try {
      await stack.client.chat.completions.create(
        { model: 'gpt-test', messages },
        { headers: { 'x-request-id': 'trace-continued', traceparent: `00-${traceId}-${clientSpan}-01` } },
      );
      const records = chatRecords(stack);
      expect(records).toHaveLength(1);
      expect(records[0]?.headers.traceparent).toBeUndefined();
    } finally {
      await stack.close();
    }
    const { server, attempts } = requestSpans('trace-continued');
    expect(server.traceId).toBe(traceId);
    expect(server.parentSpanId).toBe(clientSpan);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]?.traceId).toBe(traceId);
  });

  it("forward_traceparent: each attempt sends its own span's context upstream", async () => {
    const stack = await traced({ forward_traceparent: true }, { plan: { script: [{ status: 503 }, {}] } });
    let sent: unknown[];
    try {
      await stack.client.chat.completions.create({ model: 'gpt-test', messages }, { headers: { 'x-request-id': 'trace-forward' } });
      sent = chatRecords(stack).map((r) => r.headers.traceparent);
    } finally {
      await stack.close();
    }
    const { server, attempts } = requestSpans('trace-forward');
    expect(attempts).toHaveLength(2);
    expect(sent).toEqual(attempts.map((a) => `00-${server.traceId}-${a.spanId}-01`));
  });

  it('sample_ratio 0 records no new trace; a client that sampled its trace still gets it', async () => {
    const stack = await traced({ sample_ratio: 0 });
    try {
      await stack.client.chat.completions.create({ model: 'gpt-test', messages }, { headers: { 'x-request-id': 'trace-unsampled' } });
      await stack.client.chat.completions.create(
        { model: 'gpt-test', messages },
        { headers: { 'x-request-id': 'trace-client-sampled', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } },
      );
    } finally {
      await stack.close();
    }
    expect(receiver.spans.some((s) => s.attributes['lifeline.request_id'] === 'trace-unsampled')).toBe(false);
    const { server, attempts } = requestSpans('trace-client-sampled');
    expect(server.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(attempts).toHaveLength(1);
    expect(receiver.spans).toHaveLength(2);
  });

  it('a stream: its attempt span ends with the stream, with its time to first token', async () => {
    const stack = await traced({});
    try {
      const stream = await stack.client.chat.completions.create({ model: 'gpt-test', messages, stream: true }, { headers: { 'x-request-id': 'trace-stream' } });
      for await (const _ of stream) {
        // read to the end
      }
    } finally {
      await stack.close();
    }
    const { server, attempts } = requestSpans('trace-stream');
    expect(server.attributes['http.response.status_code']).toBe(200);
    expect(server.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
    expect(attempts).toHaveLength(1);
    const [attempt] = attempts as [ReceivedSpan];
    expect(attempt.attributes).toMatchObject({ 'lifeline.stream': true, 'lifeline.attempt.outcome': 'ok', 'lifeline.attempt.kind': 'first' });
    expect(attempt.attributes['lifeline.attempt.first_token_ms']).toBeGreaterThanOrEqual(0);
    expect(attempt.endNs <= server.endNs).toBe(true);
  });

  it('a stream cut mid-answer: the cut attempt ends as an error, the resumed one is a resume', async () => {
    // deepseek continues a prefill (the mock honours its `prefix: true`): the answer resumes on the same deployment.
    const mock = await startMock({ plan: { script: [{ cut_after: 2 }, {}] } });
    const config = resolveConfig({
      server: { port: 0 },
      retry: FAST_RETRY,
      providers: { upstream: { type: 'deepseek', api_key: PROVIDER_KEY, base_url: mock.url } },
      models: { chat: { targets: [{ provider: 'upstream', model: 'ds' }] } },
      tracing: { otlp_endpoint: receiver.url },
    });
    const server = await startServer(config, { logger: memoryLogger().logger });
    try {
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const stream = await client.chat.completions.create({ model: 'chat', messages, stream: true }, { headers: { 'x-request-id': 'trace-resume' } });
      for await (const _ of stream) {
        // read to the end
      }
    } finally {
      await server.shutdown();
      await mock.close();
    }
    const { server: span, attempts } = requestSpans('trace-resume');
    expect(span.attributes['lifeline.resumes']).toBe(1);
    expect(attempts.map((a) => [a.attributes['lifeline.attempt.kind'], a.attributes['lifeline.attempt.outcome'], a.attributes['error.type']])).toEqual([
      ['first', 'error', 'connection'],
      ['resume', 'ok', undefined],
    ]);
  });

  it('a collector that is down fails no request, and does not hold the shutdown', async () => {
    const stack = await startStack({ extra: { tracing: { otlp_endpoint: await deadEndpoint(), export_timeout_ms: 500 } } });
    try {
      const answer = await stack.client.chat.completions.create({ model: 'gpt-test', messages });
      expect(answer.choices[0]?.message.content).toBeTruthy();
    } finally {
      await stack.close(); // flushes into the dead collector: bounded by export_timeout_ms
    }
  });

  it('a failover and a hedge: each attempt span says which it was, and a hedge loser says it lost', async () => {
    // Two deployments by priority: the first fails (failover); then a stream whose first deployment is slow to its
    // first token is hedged on the second, which wins.
    const models = {
      pair: {
        strategy: 'priority',
        targets: [
          { provider: 'upstream', model: 'mock-a', priority: 1 },
          { provider: 'upstream', model: 'mock-b', priority: 2 },
        ],
        hedge: { after_ms: 50 },
      },
    };
    const stack = await traced({}, { models, plan: { script: [{ status: 500 }, {}, { first_token_ms: 3000 }, {}] } });
    try {
      await stack.client.chat.completions.create({ model: 'pair', messages }, { headers: { 'x-request-id': 'trace-failover' } });
      const stream = await stack.client.chat.completions.create({ model: 'pair', messages, stream: true }, { headers: { 'x-request-id': 'trace-hedge' } });
      for await (const _ of stream) {
        // read to the end
      }
    } finally {
      await stack.close();
    }
    const failover = requestSpans('trace-failover').attempts.map((a) => [a.attributes['lifeline.attempt.kind'], a.attributes['lifeline.deployment'], a.attributes['lifeline.attempt.outcome']]);
    expect(failover).toEqual([
      ['first', 'upstream/mock-a', 'error'],
      ['failover', 'upstream/mock-b', 'ok'],
    ]);
    const hedged = requestSpans('trace-hedge').attempts.map((a) => [a.attributes['lifeline.attempt.kind'], a.attributes['lifeline.deployment'], a.attributes['lifeline.attempt.outcome']]);
    expect(hedged).toEqual([
      ['first', 'upstream/mock-a', 'hedge_lost'],
      ['hedge', 'upstream/mock-b', 'ok'],
    ]);
  });

  it('a fallback model: its first attempt is a fallback, under the same request span', async () => {
    const models = {
      primary: { targets: [{ provider: 'upstream', model: 'mock-a' }], retry: { max_attempts: 1 }, fallbacks: ['backup'] },
      backup: { targets: [{ provider: 'upstream', model: 'mock-b' }] },
    };
    const stack = await traced({}, { models, plan: { script: [{ status: 500 }, {}] } });
    try {
      await stack.client.chat.completions.create({ model: 'primary', messages }, { headers: { 'x-request-id': 'trace-fallback' } });
    } finally {
      await stack.close();
    }
    const { server, attempts } = requestSpans('trace-fallback');
    expect(server.attributes).toMatchObject({ 'gen_ai.request.model': 'primary', 'lifeline.fallback': 'backup', 'lifeline.deployment': 'upstream/mock-b' });
    expect(attempts.map((a) => [a.attributes['lifeline.attempt.kind'], a.attributes['lifeline.model'], a.attributes['lifeline.attempt.outcome']])).toEqual([
      ['first', 'primary', 'error'],
      ['fallback', 'backup', 'ok'],
    ]);
  });

  it('a reload keeps the tracer provider while `tracing` is unchanged, and replaces it (flushing the old one) when it changes', async () => {
    const mock = await startMock();
    const config = (model: string, service: string) => ({
      providers: { upstream: { type: 'openai', api_key: PROVIDER_KEY, base_url: mock.url } },
      models: { [model]: { targets: [{ provider: 'upstream', model: 'mock-gpt' }] } },
      tracing: { otlp_endpoint: receiver.url, service_name: service },
    });
    const ask = (model: string, id: string) =>
      gw.fetch('http://lifeline.local/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': id },
        body: JSON.stringify({ model, messages }),
      });
    const gw = createGateway(config('first', 'one'));
    const serviceOf = (id: string) => receiver.spans.find((s) => s.attributes['lifeline.request_id'] === id)?.resource['service.name'];
    try {
      expect((await ask('first', 'before-reload')).status).toBe(200);
      expect(gw.reload(config('second', 'one')).status).toBe('reloaded');
      expect((await ask('second', 'kept')).status).toBe(200);
      expect(gw.reload(config('second', 'two')).status).toBe('reloaded');
      // The replaced provider had nothing in flight: it is flushed now, not at close.
      expect(await eventually(() => serviceOf('kept') !== undefined)).toBe(true);
      expect((await ask('second', 'replaced')).status).toBe(200);
    } finally {
      await gw.close();
      await mock.close();
    }
    expect([serviceOf('before-reload'), serviceOf('kept'), serviceOf('replaced')]).toEqual(['one', 'one', 'two']);
  });
});
