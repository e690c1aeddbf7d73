import { describe, expect, it } from 'vitest';
import { ATTEMPT_OUTCOMES, LabelBounds, NONE, OTHER, statusLabel } from '../../../src/observability/metric-labels.js';
import { Metrics, type RequestFacts } from '../../../src/observability/metrics.js';

describe('LabelBounds', () => {
  const b = new LabelBounds();
  b.know(['chat', 'fast'], ['openai/gpt-4o']);

  it('keeps configured names, and turns anything else into other (none when there is no name)', () => {
    expect(b.model('chat')).toBe('chat');
    expect(b.model('gpt-4o')).toBe(OTHER);
    expect(b.model('')).toBe(OTHER);
    expect(b.model(undefined)).toBe(NONE);
    expect(b.deployment('openai/gpt-4o')).toBe('openai/gpt-4o');
    expect(b.deployment('openai/gpt-5')).toBe(OTHER);
  });

  it('a reload adds names; the old ones stay valid', () => {
    const r = new LabelBounds();
    r.know(['a'], []);
    r.know(['b'], []);
    expect([r.model('a'), r.model('b'), r.model('c')]).toEqual(['a', 'b', OTHER]);
  });

  it('outcomes: ok, each error kind, hedge_lost, cancelled; nothing else', () => {
    expect(b.outcome(undefined)).toBe('ok');
    for (const o of ['ok', 'server', 'rate_limited', 'timeout', 'hedge_lost', 'cancelled', 'internal']) expect(b.outcome(o)).toBe(o);
    expect(b.outcome('teapot')).toBe(OTHER);
    expect(ATTEMPT_OUTCOMES).toHaveLength(18);
  });

  it('status: three digits or 0', () => {
    expect([statusLabel(200), statusLabel(499), statusLabel(undefined), statusLabel(42), statusLabel(1e9)]).toEqual(['200', '499', '0', '0', '0']);
  });
});

/** The label sets of one metric's samples (counters and gauges; histograms by their _count). */
async function series(m: Metrics, name: string): Promise<Array<Record<string, string | number>>> {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  if (!metric) throw new Error(`no metric ${name}`);
  const values = metric.values as Array<{ labels: Record<string, string | number>; metricName?: string; value: number }>;
  return values.filter((v) => v.metricName === undefined || v.metricName === `${name}_count`).map((v) => ({ ...v.labels, value: v.value }));
}

function request(over: Partial<RequestFacts> = {}): RequestFacts {
  return { route: '/v1/chat/completions', model: 'chat', status: 200, ms: 120, attempts: [{ deployment: 'openai/gpt-4o', outcome: 'ok', ms: 100 }], ...over };
}

describe('Metrics.record', () => {
  const make = () => {
    const m = new Metrics();
    m.know(['chat', 'backup'], ['openai/gpt-4o', 'anthropic/claude']);
    return m;
  };

  it('lifeline_requests_total and the request histograms: route, bounded model, status', async () => {
    const m = make();
    m.started('/v1/chat/completions');
    m.record(request({ model: 'not-configured', status: 404, attempts: [] }));
    m.record(request({ ttftMs: 50, overheadMs: 2 }));
    expect(await series(m, 'lifeline_requests_total')).toEqual([
      { route: '/v1/chat/completions', model: 'other', status: '404', value: 1 },
      { route: '/v1/chat/completions', model: 'chat', status: '200', value: 1 },
    ]);
    expect(await series(m, 'lifeline_request_duration_seconds')).toEqual([
      { route: '/v1/chat/completions', model: 'other', value: 1 },
      { route: '/v1/chat/completions', model: 'chat', value: 1 },
    ]);
    expect(await series(m, 'lifeline_time_to_first_token_seconds')).toEqual([{ model: 'chat', value: 1 }]);
    expect(await series(m, 'lifeline_overhead_seconds')).toEqual([{ route: '/v1/chat/completions', value: 1 }]);
    expect(await series(m, 'lifeline_in_flight')).toEqual([{ route: '/v1/chat/completions', value: 0 }]);
  });

  it('attempts by deployment and outcome; retries by model (hedges are not retries)', async () => {
    const m = make();
    m.record(
      request({
        attempts: [
          { deployment: 'openai/gpt-4o', outcome: 'server', ms: 10 },
          { deployment: 'openai/gpt-4o', outcome: 'hedge_lost', ms: 10 },
          { deployment: 'anthropic/claude', outcome: 'ok', ms: 10, hedge: true, input: 7 },
          { deployment: 'elsewhere/x', outcome: 'weird', ms: 10 },
        ],
      }),
    );
    expect(await series(m, 'lifeline_upstream_attempts_total')).toEqual([
      { deployment: 'openai/gpt-4o', outcome: 'server', value: 1 },
      { deployment: 'openai/gpt-4o', outcome: 'hedge_lost', value: 1 },
      { deployment: 'anthropic/claude', outcome: 'ok', value: 1 },
      { deployment: 'other', outcome: 'other', value: 1 },
    ]);
    expect(await series(m, 'lifeline_retries_total')).toEqual([{ model: 'chat', value: 2 }]);
    expect(await series(m, 'lifeline_upstream_duration_seconds')).toHaveLength(3);
    expect(await series(m, 'lifeline_tokens_total')).toEqual([{ model: 'chat', deployment: 'anthropic/claude', type: 'input', value: 7 }]);
  });

  it('tokens by type and cost, at the deployment that answered', async () => {
    const m = make();
    m.record(request({ deployment: 'openai/gpt-4o', usage: { input: 100, output: 20, cached: 60 }, costUsd: 0.5, extraCost: new Map([['anthropic/claude', 0.25]]) }));
    expect(await series(m, 'lifeline_tokens_total')).toEqual([
      { model: 'chat', deployment: 'openai/gpt-4o', type: 'input', value: 100 },
      { model: 'chat', deployment: 'openai/gpt-4o', type: 'output', value: 20 },
      { model: 'chat', deployment: 'openai/gpt-4o', type: 'cached_input', value: 60 },
    ]);
    expect(await series(m, 'lifeline_cost_usd_total')).toEqual([
      { model: 'chat', deployment: 'anthropic/claude', value: 0.25 },
      { model: 'chat', deployment: 'openai/gpt-4o', value: 0.5 },
    ]);
  });

  it('fallbacks from, to; rate-limit headers by deployment and kind', async () => {
    const m = make();
    m.fallback('chat', 'backup');
    m.fallback('chat', 'unknown');
    expect(await series(m, 'lifeline_fallbacks_total')).toEqual([
      { from: 'chat', to: 'backup', value: 1 },
      { from: 'chat', to: 'other', value: 1 },
    ]);
    m.rateLimits('openai/gpt-4o', { 'x-ratelimit-remaining-requests': '99', 'x-ratelimit-remaining-tokens': 'n/a' });
    m.rateLimits('anthropic/claude', { 'anthropic-ratelimit-output-tokens-remaining': '500', 'anthropic-ratelimit-tokens-remaining': '800' });
    m.rateLimits('openai/gpt-4o', { 'x-ratelimit-remaining-requests': '98' });
    expect(await series(m, 'lifeline_ratelimit_remaining')).toEqual([
      { deployment: 'openai/gpt-4o', kind: 'requests', value: 98 },
      { deployment: 'anthropic/claude', kind: 'tokens', value: 800 },
      { deployment: 'anthropic/claude', kind: 'output_tokens', value: 500 },
    ]);
  });

  it('breaker and cooldown gauges read the deployments when scraped; every configured deployment has a series', async () => {
    const m = make();
    let now = 0;
    const deployments = (t: number) => {
      now = t;
      return [
        { id: 'openai/gpt-4o', state: 'open', until: t + 30_000 },
        { id: 'gone/x', state: 'open' },
      ];
    };
    m.watch({ deployments, streams: { open: 3 } });
    expect(await series(m, 'lifeline_breaker_state')).toEqual([
      { deployment: 'openai/gpt-4o', value: 2 },
      { deployment: 'anthropic/claude', value: 0 },
    ]);
    const cooldown = await series(m, 'lifeline_deployment_cooldown_seconds');
    expect(now).toBeGreaterThan(0);
    expect(cooldown[0]!.value).toBeCloseTo(30, 0);
    expect(cooldown[1]).toEqual({ deployment: 'anthropic/claude', value: 0 });
    m.watch({ deployments: () => [{ id: 'anthropic/claude', state: 'half_open' }] });
    expect(await series(m, 'lifeline_breaker_state')).toEqual([
      { deployment: 'openai/gpt-4o', value: 0 },
      { deployment: 'anthropic/claude', value: 1 },
    ]);
    expect(await series(m, 'lifeline_streams_open')).toEqual([{ value: 3 }]);
  });

  it('histograms in the text format: cumulative buckets, +Inf, sum and count per label set', async () => {
    const m = make();
    m.record(request({ ms: 30 }));
    m.record(request({ ms: 700 }));
    m.record(request({ ms: 1_000_000 }));
    const text = await m.render();
    const lines = text.split('\n').filter((l) => l.startsWith('lifeline_request_duration_seconds'));
    expect(lines).toContain('lifeline_request_duration_seconds_bucket{route="/v1/chat/completions",model="chat",le="0.025"} 0');
    expect(lines).toContain('lifeline_request_duration_seconds_bucket{route="/v1/chat/completions",model="chat",le="0.05"} 1');
    expect(lines).toContain('lifeline_request_duration_seconds_bucket{route="/v1/chat/completions",model="chat",le="1"} 2');
    expect(lines).toContain('lifeline_request_duration_seconds_bucket{route="/v1/chat/completions",model="chat",le="300"} 2');
    expect(lines).toContain('lifeline_request_duration_seconds_bucket{route="/v1/chat/completions",model="chat",le="+Inf"} 3');
    expect(lines).toContain('lifeline_request_duration_seconds_sum{route="/v1/chat/completions",model="chat"} 1000.73');
    expect(lines).toContain('lifeline_request_duration_seconds_count{route="/v1/chat/completions",model="chat"} 3');
    expect(text).toContain('# TYPE lifeline_request_duration_seconds histogram');
    expect(text).toContain('# TYPE lifeline_requests_total counter');
  });

  it('two gateways in one process: separate series, one set of process metrics', async () => {
    const a = make();
    const b = make();
    a.record(request());
    const [ta, tb] = [await a.render(), await b.render()];
    expect(ta).toContain('lifeline_requests_total{route="/v1/chat/completions",model="chat",status="200"} 1');
    expect(tb).not.toContain('lifeline_requests_total{');
    for (const t of [ta, tb]) expect(t.match(/^process_cpu_user_seconds_total /gm)).toHaveLength(1);
  });
});
