// The prober without sockets: which request each family's deployment is probed with, how a probe's outcome moves
// the breaker (a failure counts, a success closes it only once half-open), and the schedule (jittered, none at
// probe_interval_s: 0, nothing after stop).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resolveConfig } from '../../../src/config/index.js';
import { GatewayError } from '../../../src/errors.js';
import { Prober, probeRequestFor } from '../../../src/pipeline/probes.js';
import { Deployments } from '../../../src/routing/deployments.js';
import type { SendOptions, Upstream, UpstreamResponse } from '../../../src/types.js';
import { deployment, providerConfig } from '../../support/fixtures.js';

type Answer = number | 'connection';

/** An upstream answering each call with the next status of `answers` (the last repeats), recording the requests. */
function upstream(answers: Answer[]): Upstream & { sent: SendOptions[] } {
  const sent: SendOptions[] = [];
  return {
    sent,
    send(opts) {
      const a = answers[Math.min(sent.length, answers.length - 1)] ?? 200;
      sent.push(opts);
      if (a === 'connection') return Promise.reject(new GatewayError('connection', 'refused', { code: 'upstream_connection' }));
      const body = a < 300 ? '{"data":[]}' : JSON.stringify({ error: { message: `scripted ${a}`, type: 'x', code: null } });
      const res: UpstreamResponse = {
        status: a,
        headers: {},
        body: (async function* () {})(),
        text: () => Promise.resolve(body),
        discard: () => undefined,
      };
      return Promise.resolve(res);
    },
  };
}

function setup(answers: Answer[], health: Record<string, number> = {}) {
  const config = resolveConfig({
    health: { probe_interval_s: 1, failure_threshold: 2, cooldown_s: 10, ...health },
    providers: { up: { type: 'openai', api_key: 'k', base_url: 'http://127.0.0.1:9/v1' } },
    models: { m: { targets: [{ provider: 'up', model: 'x' }] }, n: { targets: [{ provider: 'up', model: 'x' }] } },
  });
  const deployments = new Deployments(config);
  const up = upstream(answers);
  const prober = new Prober({ config, upstream: up, deployments, rand: () => 0.5 });
  return { prober, up, health: deployments.health('up/x') };
}

describe('probeRequestFor', () => {
  it("asks each family's free list of models, with its auth", () => {
    const o = probeRequestFor(deployment(providerConfig({ api_key: 'sk-o' }), 'gpt-4o'))!;
    expect(o).toMatchObject({ method: 'GET', url: 'http://127.0.0.1:1/v1/models', body: undefined });
    expect(o.headers.authorization).toBe('Bearer sk-o');
    const a = probeRequestFor(deployment(providerConfig({ type: 'anthropic', base_url: 'https://api.anthropic.com/v1' })))!;
    expect(a).toMatchObject({ method: 'GET', url: 'https://api.anthropic.com/v1/models?limit=1' });
    expect(a.headers['x-api-key']).toBe('k-123456');
    expect(a.headers['anthropic-version']).toBeDefined();
    const g = probeRequestFor(deployment(providerConfig({ type: 'gemini', base_url: 'https://g.example/v1beta' })))!;
    expect(g).toMatchObject({ method: 'GET', url: 'https://g.example/v1beta/models?pageSize=1' });
    expect(g.headers['x-goog-api-key']).toBe('k-123456');
    const az = probeRequestFor(deployment(providerConfig({ type: 'azure', base_url: 'https://r.openai.azure.com', api_version: '2024-10-21' })))!;
    expect(az.url).toBe('https://r.openai.azure.com/openai/models?api-version=2024-10-21');
    expect(az.headers['api-key']).toBe('k-123456');
  });

  it('probes Bedrock only when asked, with a one-token chat; and nothing of a provider set to off', () => {
    const aws = { access_key_id: 'AKIDEXAMPLE', secret_access_key: 'secret', session_token: undefined };
    const bedrock = providerConfig({ type: 'bedrock', base_url: 'https://bedrock-runtime.us-east-1.amazonaws.com', region: 'us-east-1', aws });
    expect(probeRequestFor(deployment(bedrock, 'anthropic.claude-3-haiku'))).toBeUndefined();
    const chat = probeRequestFor(deployment({ ...bedrock, probe: 'chat' }, 'anthropic.claude-3-haiku'))!;
    expect(chat.method).toBe('POST');
    expect(chat.url).toContain('/converse');
    expect(JSON.parse(chat.body!).inferenceConfig.maxTokens).toBe(1);
    expect(probeRequestFor(deployment(providerConfig({ probe: 'off' })))).toBeUndefined();
  });
});

describe('Prober', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => vi.useRealTimers());

  it('probes a deployment once however many models route to it', () => {
    const { prober } = setup([200]);
    expect(prober.targets.map((t) => t.d.id)).toEqual(['up/x']);
  });

  it('opens the breaker on failed probes, ignores a success during the cooldown, and closes it once half-open', async () => {
    const { prober, health } = setup([500, 'connection', 200]);
    const [target] = prober.targets;
    expect((await prober.probe(target!))?.error).toMatchObject({ kind: 'server', status: 500 });
    expect(health.availability(Date.now()).state).toBe('healthy');
    expect((await prober.probe(target!))?.error?.kind).toBe('connection');
    expect(health.availability(Date.now()).state).toBe('open');
    // A success inside the cooldown proves nothing yet.
    vi.setSystemTime(Date.now() + 5_000);
    expect((await prober.probe(target!))?.ok).toBe(true);
    expect(health.availability(Date.now()).state).toBe('open');
    vi.setSystemTime(Date.now() + 6_000);
    expect(health.availability(Date.now()).state).toBe('half_open');
    expect((await prober.probe(target!))?.ok).toBe(true);
    expect(health.availability(Date.now()).state).toBe('healthy');
    // Probes are not traffic: no error ratio from them.
    expect(health.stats.errorRatio(Date.now(), 300)).toEqual({ ratio: null, attempts: 0 });
  });

  it('holds the half-open trial slot while it probes', async () => {
    const { prober, health } = setup([500, 500, 200]);
    const [target] = prober.targets;
    await prober.probe(target!);
    await prober.probe(target!);
    vi.setSystemTime(Date.now() + 11_000);
    const pending = prober.probe(target!);
    expect(health.tryAcquire(Date.now())).toBe(false);
    await pending;
    expect(health.inflight).toBe(0);
    expect(health.tryAcquire(Date.now())).toBe(true);
  });

  it('skips a deployment under an upstream hold or with a rejected key', async () => {
    const { prober, up, health } = setup([401]);
    const [target] = prober.targets;
    await prober.probe(target!);
    expect(health.availability(Date.now()).state).toBe('disabled');
    expect(await prober.probe(target!)).toBeUndefined();
    expect(up.sent).toHaveLength(1);
  });

  it('schedules each deployment between half an interval and one, then every interval with jitter; stop ends it', async () => {
    const { prober, up } = setup([200]);
    prober.start();
    await vi.advanceTimersByTimeAsync(740);
    expect(up.sent).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(20); // 0.5 + 0.5 * 0.5 of a 1 s interval
    expect(up.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000); // 1 s ± 10 %, at rand 0.5: 1 s
    expect(up.sent).toHaveLength(2);
    expect(up.sent[0]!.timeouts.first_byte_ms).toBeLessThanOrEqual(10_000);
    prober.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(up.sent).toHaveLength(2);
  });

  it("keeps a deployment's health when a reload changes only the probe interval", () => {
    const { health } = setup([200]);
    expect(health.withPolicy({ ...health.policy, probe_interval_s: 5 } as typeof health.policy)).toBe(health);
    expect(health.withPolicy({ ...health.policy, cooldown_s: 5 })).not.toBe(health);
  });

  it('sets no timer at probe_interval_s: 0', async () => {
    const { prober, up } = setup([200], { probe_interval_s: 0 });
    prober.start();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(up.sent).toHaveLength(0);
  });
});
