// GET /metrics: the series a request leaves behind, their labels, and their bound. Real server, real sockets, the
// official SDK against `lifeline mock`.
import { afterEach, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../support/helpers.js';

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition → samples (no escapes in our label values but `\"`, which is not used here). */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

async function scrape(s: Stack): Promise<Sample[]> {
  const res = await fetch(`${s.server.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return parse(await res.text());
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return hits.length === 0 ? undefined : hits.reduce((sum, s) => sum + s.value, 0);
}

const PRICED = {
  'gpt-test': { targets: [{ provider: 'upstream', model: 'mock-gpt', price: { input: 1, output: 2 } }] },
};
const CHAT = { model: 'gpt-test', messages: [{ role: 'user' as const, content: 'hi' }] };

describe('GET /metrics', () => {
  it('counts a JSON answer, a stream, a retried attempt and an unknown model, each under its labels', async () => {
    stack = await startStack({
      models: PRICED,
      plan: { script: [{ status: 500 }, { headers: { 'x-ratelimit-remaining-requests': '41', 'x-ratelimit-remaining-tokens': '9000' } }] },
      extra: { retry: { base_delay_ms: 1, max_delay_ms: 5 } },
    });
    const json = await stack.client.chat.completions.create(CHAT);
    expect(json.choices[0]?.message.content).toBeTruthy();
    const stream = await stack.client.chat.completions.create({ ...CHAT, stream: true });
    for await (const _ of stream);
    await expect(stack.client.chat.completions.create({ ...CHAT, model: 'no-such-model' })).rejects.toMatchObject({ status: 404 });

    const m = await scrape(stack);
    const route = '/v1/chat/completions';
    expect(value(m, 'lifeline_requests_total', { route, model: 'gpt-test', status: '200' })).toBe(2);
    expect(value(m, 'lifeline_requests_total', { route, model: 'other', status: '404' })).toBe(1);
    expect(m.some((s) => s.labels.model === 'no-such-model')).toBe(false);
    const d = 'upstream/mock-gpt';
    expect(value(m, 'lifeline_upstream_attempts_total', { deployment: d, outcome: 'server' })).toBe(1);
    expect(value(m, 'lifeline_upstream_attempts_total', { deployment: d, outcome: 'ok' })).toBe(2);
    expect(value(m, 'lifeline_retries_total', { model: 'gpt-test' })).toBe(1);
    expect(value(m, 'lifeline_upstream_duration_seconds_count', { deployment: d })).toBe(3);
    expect(value(m, 'lifeline_request_duration_seconds_count', { route, model: 'gpt-test' })).toBe(2);
    expect(value(m, 'lifeline_time_to_first_token_seconds_count', { model: 'gpt-test' })).toBe(1);
    expect(value(m, 'lifeline_overhead_seconds_count', { route })).toBe(3);
    // Tokens and cost, for the JSON answer as for the stream.
    const input = value(m, 'lifeline_tokens_total', { model: 'gpt-test', deployment: d, type: 'input' })!;
    const output = value(m, 'lifeline_tokens_total', { model: 'gpt-test', deployment: d, type: 'output' })!;
    expect(input).toBeGreaterThan(json.usage!.prompt_tokens);
    expect(output).toBeGreaterThan(json.usage!.completion_tokens);
    expect(value(m, 'lifeline_cost_usd_total', { model: 'gpt-test', deployment: d })).toBeCloseTo((input * 1 + output * 2) / 1e6, 12);
    // State gauges.
    expect(value(m, 'lifeline_breaker_state', { deployment: d })).toBe(0);
    expect(value(m, 'lifeline_deployment_cooldown_seconds', { deployment: d })).toBe(0);
    expect(value(m, 'lifeline_ratelimit_remaining', { deployment: d, kind: 'requests' })).toBe(41);
    expect(value(m, 'lifeline_ratelimit_remaining', { deployment: d, kind: 'tokens' })).toBe(9000);
    expect(value(m, 'lifeline_streams_open')).toBe(0);
    expect(value(m, 'lifeline_in_flight', { route: '/metrics' })).toBe(1); // the scrape itself
    expect(value(m, 'lifeline_in_flight', { route })).toBe(0);
    // The request lines: usage and cost for the JSON answer as for the stream; the stream's time to first token.
    const lines = stack.lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request' && l.path === route);
    const [jsonLine, streamLine] = lines;
    expect(jsonLine.usage).toEqual({ input_tokens: json.usage!.prompt_tokens, output_tokens: json.usage!.completion_tokens, total_tokens: json.usage!.total_tokens });
    expect(jsonLine.costUsd).toBeCloseTo((json.usage!.prompt_tokens + 2 * json.usage!.completion_tokens) / 1e6, 12);
    expect(jsonLine.attempts.map((a: { outcome: string }) => a.outcome)).toEqual(['server', 'ok']);
    expect(jsonLine.ttftMs).toBeUndefined();
    expect(streamLine.usage.output_tokens).toBeGreaterThan(0);
    expect(streamLine.ttftMs).toBeGreaterThan(0);
    expect(streamLine.ttftMs).toBeLessThanOrEqual(streamLine.ms);
    expect(lines[2]).toMatchObject({ model: 'no-such-model', route, status: 404, error: { kind: 'not_found', code: 'model_not_found' } });
    // Process metrics, once.
    expect(m.filter((s) => s.name === 'process_cpu_user_seconds_total')).toHaveLength(1);
  });

  it('an open breaker and its cooldown; the failed attempt and its upstream request id in the request line', async () => {
    stack = await startStack({ plan: { default: { status: 503 } }, extra: { health: { failure_threshold: 1, cooldown_s: 30 } } });
    await expect(stack.client.chat.completions.create(CHAT)).rejects.toMatchObject({ status: 503 });
    const m = await scrape(stack);
    const d = 'upstream/mock-gpt';
    expect(value(m, 'lifeline_breaker_state', { deployment: d })).toBe(2);
    expect(value(m, 'lifeline_deployment_cooldown_seconds', { deployment: d })).toBeGreaterThan(20);
    expect(value(m, 'lifeline_breaker_state', { deployment: 'upstream/mock-other' })).toBe(0);
    expect(value(m, 'lifeline_upstream_attempts_total', { deployment: d, outcome: 'overloaded' })).toBe(1);
    const line = stack.lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'request' && l.path === '/v1/chat/completions');
    expect(line.attempts).toEqual([expect.objectContaining({ deployment: d, outcome: 'overloaded', status: 503, upstreamRequestId: 'mock-req-1' })]);
    expect(line.route).toBe('/v1/chat/completions');
    // The breaker's opening is a log line of its own, at warn, written before the request's.
    const opened = stack.lines.map((l) => JSON.parse(l)).findIndex((l) => l.breaker === 'open' && l.deployment === d && l.level === 40);
    expect(opened).toBeGreaterThanOrEqual(0);
    expect(opened).toBeLessThan(stack.lines.findIndex((l) => l.includes('"msg":"request"') && l.includes('chat/completions')));
  });

  it('a client that leaves mid-attempt: its request counted as 499, its attempt as cancelled', async () => {
    stack = await startStack({ plan: { default: { hang: true } } });
    const ac = new AbortController();
    const pending = stack.client.chat.completions.create(CHAT, { signal: ac.signal }).catch(() => 'aborted');
    while (stack.mock.stats().requests === 0) await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    expect(await pending).toBe('aborted');
    let m = await scrape(stack);
    for (let i = 0; i < 200 && value(m, 'lifeline_requests_total', { model: 'gpt-test' }) === undefined; i++) {
      await new Promise((r) => setTimeout(r, 10));
      m = await scrape(stack);
    }
    expect(value(m, 'lifeline_requests_total', { route: '/v1/chat/completions', model: 'gpt-test', status: '499' })).toBe(1);
    expect(value(m, 'lifeline_upstream_attempts_total', { deployment: 'upstream/mock-gpt', outcome: 'cancelled' })).toBe(1);
    expect(value(m, 'lifeline_upstream_attempts_total', { outcome: 'connection' })).toBeUndefined();
  });

  it('10,000 requests naming 10,000 different unknown models leave the number of series unchanged', async () => {
    stack = await startStack();
    const url = `${stack.base}/chat/completions`;
    const send = (model: string) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, messages: [{ role: 'user', content: 'x' }] }) }).then(
        async (r) => {
          await r.arrayBuffer();
          return r.status;
        },
      );
    expect(await send('warm-up-model')).toBe(404);
    await fetch(`${stack.server.url}/no/such/path`).then((r) => r.arrayBuffer());
    await scrape(stack); // the scrape's own series exist from the second one on
    const before = (await scrape(stack)).filter((s) => s.name.startsWith('lifeline_')).length;
    let next = 0;
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < 10_000) statuses.push(await send(`junk-${next++}-${Math.random()}`));
      }),
    );
    for (let i = 0; i < 200; i++) await fetch(`${stack.server.url}/junk/${i}`).then((r) => r.arrayBuffer());
    expect(statuses.filter((s) => s === 404)).toHaveLength(10_000);
    const after = await scrape(stack);
    expect(after.filter((s) => s.name.startsWith('lifeline_')).length).toBe(before);
    expect(value(after, 'lifeline_requests_total', { route: '/v1/chat/completions', model: 'other', status: '404' })).toBe(10_001);
    expect(value(after, 'lifeline_requests_total', { route: 'other', model: 'none', status: '404' })).toBe(201);
  }, 60_000);
});
