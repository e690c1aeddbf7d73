// Synthetic probes end to end: lifeline serve probes each deployment of its config against the mocks, on real
// sockets. A deployment whose listing fails has its breaker opened by the probes before any client request reaches
// it, and closed by them once it recovers; a provider with a free list of models is probed only with that list
// (nothing billed); a key the upstream rejects takes the deployment out before a client meets it.
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { createGateway } from '../../src/index.js';
import { type FaultPlan, type MockServer, startMock } from '../../src/mock/index.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { memoryLogger } from '../support/helpers.js';
import { eventually } from '../support/timing.js';

const KEY = 'sk-probe-test-key-0123456789abcdef';
const messages = [{ role: 'user' as const, content: 'hi' }];

interface Row {
  id: string;
  state: string;
  cooldown_left_ms: number;
  probe: { ok: boolean; ms: number; error: { kind: string; status: number | null } | null } | null;
}

let mocks: MockServer[] = [];
let server: RunningServer | undefined;

afterEach(async () => {
  await server?.shutdown();
  server = undefined;
  await Promise.all(mocks.map((m) => m.close()));
  mocks = [];
});

async function mock(plan: FaultPlan = {}): Promise<MockServer> {
  const m = await startMock({ plan });
  mocks.push(m);
  return m;
}

async function serve(config: Record<string, unknown>): Promise<{ base: string; client: OpenAI }> {
  const { logger } = memoryLogger();
  server = await startServer(resolveConfig({ server: { port: 0 }, ...config }), { logger });
  return { base: server.url, client: new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'client', maxRetries: 0 }) };
}

async function rows(base: string): Promise<Map<string, Row>> {
  const res = await fetch(`${base}/admin/deployments`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { deployments: Row[] };
  return new Map(body.deployments.map((r) => [r.id, r]));
}

/** Polls /admin/deployments until `ok` holds for the row of `id`. */
async function until(base: string, id: string, ok: (r: Row) => boolean): Promise<Row> {
  let last: Row | undefined;
  let held = false;
  const deadline = Date.now() + 10_000;
  while (!held && Date.now() < deadline) {
    last = (await rows(base)).get(id);
    held = last !== undefined && ok(last);
    if (!held) await new Promise((r) => setTimeout(r, 25));
  }
  expect(last, `row ${id}`).toBeDefined();
  expect(held, `${id}: ${JSON.stringify(last)}`).toBe(true);
  return last!;
}

const chatCalls = (m: MockServer) => m.stats().records.filter((r) => r.method === 'POST');
const paths = (m: MockServer) => new Set(m.stats().records.map((r) => `${r.method} ${r.path}`));

describe('synthetic probes', () => {
  it("open a dead deployment's breaker before any client request goes there, and close it once it recovers", async () => {
    const healthy = await mock();
    const dead = await mock({ models: { status: 500 } });
    const { base, client } = await serve({
      health: { probe_interval_s: 0.1, failure_threshold: 2, cooldown_s: 1 },
      providers: {
        dead: { type: 'openai', api_key: KEY, base_url: dead.url },
        healthy: { type: 'openai', api_key: KEY, base_url: healthy.url },
      },
      // The priority strategy would send every request to `dead` first.
      models: {
        m: {
          strategy: 'priority',
          targets: [
            { provider: 'dead', model: 'mock-a', priority: 1 },
            { provider: 'healthy', model: 'mock-b', priority: 2 },
          ],
        },
      },
    });
    const open = await until(base, 'dead/mock-a', (r) => r.state === 'open');
    expect(open.probe).toMatchObject({ ok: false, error: { kind: 'server', status: 500 } });
    expect(open.cooldown_left_ms).toBeGreaterThan(0);

    const { response } = await client.chat.completions.create({ model: 'm', messages }).withResponse();
    expect(response.headers.get('x-lifeline-deployment')).toBe('healthy/mock-b');
    expect(response.headers.get('x-lifeline-attempts')).toBe('1');
    expect(chatCalls(dead)).toHaveLength(0);
    expect(paths(dead)).toEqual(new Set(['GET /v1/models']));

    // The upstream recovers: after the cooldown a probe finds it answering and closes the breaker, no client needed.
    dead.setPlan({});
    await until(base, 'dead/mock-a', (r) => r.state === 'healthy' && r.probe?.ok === true);
    expect(chatCalls(dead)).toHaveLength(0);
    const again = await client.chat.completions.create({ model: 'm', messages }).withResponse();
    expect(again.response.headers.get('x-lifeline-deployment')).toBe('dead/mock-a');
  });

  it('take a deployment whose upstream is down (connection refused) out of rotation', async () => {
    const healthy = await mock();
    const gone = await mock();
    const goneUrl = gone.url;
    await gone.close();
    const { base, client } = await serve({
      health: { probe_interval_s: 0.1, failure_threshold: 1, cooldown_s: 30 },
      providers: { gone: { type: 'openai', api_key: KEY, base_url: goneUrl }, healthy: { type: 'openai', api_key: KEY, base_url: healthy.url } },
      models: {
        m: { strategy: 'priority', targets: [{ provider: 'gone', model: 'x', priority: 1 }, { provider: 'healthy', model: 'y', priority: 2 }] },
      },
    });
    const row = await until(base, 'gone/x', (r) => r.state === 'open');
    expect(row.probe?.error?.kind).toBe('connection');
    const { response } = await client.chat.completions.create({ model: 'm', messages }).withResponse();
    expect(response.headers.get('x-lifeline-deployment')).toBe('healthy/y');
    expect(response.headers.get('x-lifeline-attempts')).toBe('1');
  });

  it('disable a deployment whose key the upstream rejects (401 on the listing) before a client meets it', async () => {
    const healthy = await mock();
    const rejecting = await mock({ models: { status: 401 } });
    const { base, client } = await serve({
      health: { probe_interval_s: 0.1 },
      providers: { bad: { type: 'openai', api_key: KEY, base_url: rejecting.url }, good: { type: 'openai', api_key: KEY, base_url: healthy.url } },
      models: { m: { strategy: 'priority', targets: [{ provider: 'bad', model: 'x', priority: 1 }, { provider: 'good', model: 'y', priority: 2 }] } },
    });
    await until(base, 'bad/x', (r) => r.state === 'disabled');
    const { response } = await client.chat.completions.create({ model: 'm', messages }).withResponse();
    expect(response.headers.get('x-lifeline-deployment')).toBe('good/y');
    expect(chatCalls(rejecting)).toHaveLength(0);
  });

  it('ask only the free list of models of OpenAI, Anthropic and Gemini upstreams, and export the results', async () => {
    const [o, a, g] = [await mock(), await mock(), await mock()];
    const { base } = await serve({
      health: { probe_interval_s: 0.05 },
      providers: {
        o: { type: 'openai', api_key: KEY, base_url: o.url },
        a: { type: 'anthropic', api_key: KEY, base_url: a.url },
        g: { type: 'gemini', api_key: KEY, base_url: `${g.origin}/v1beta` },
      },
      models: {
        mo: { targets: [{ provider: 'o', model: 'gpt-4o' }] },
        ma: { targets: [{ provider: 'a', model: 'claude-mock' }] },
        mg: { targets: [{ provider: 'g', model: 'gemini-mock' }] },
      },
    });
    for (const id of ['o/gpt-4o', 'a/claude-mock', 'g/gemini-mock']) await until(base, id, (r) => r.probe?.ok === true);
    // Two rounds at least, so the repeat is seen too.
    expect(await eventually(() => [o, a, g].every((m) => m.stats().requests >= 2))).toBe(true);
    expect(paths(o)).toEqual(new Set(['GET /v1/models']));
    expect(paths(a)).toEqual(new Set(['GET /v1/models']));
    expect(paths(g)).toEqual(new Set(['GET /v1beta/models']));
    for (const m of [o, a, g]) expect(m.stats().byOutcome.ok).toBe(m.stats().requests);
    // Each with its family's auth, as a real upstream would require.
    expect(o.stats().records[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(a.stats().records[0]!.headers['x-api-key']).toBe(KEY);
    expect(a.stats().records[0]!.headers['anthropic-version']).toBeDefined();
    expect(g.stats().records[0]!.headers['x-goog-api-key']).toBe(KEY);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('lifeline_probe_up{deployment="a/claude-mock"} 1');
    expect(metrics).toMatch(/lifeline_probe_latency_seconds\{deployment="g\/gemini-mock"\} \d/);
  });

  it('send a one-token chat where the provider asks for probe: chat', async () => {
    const m = await mock();
    const { base } = await serve({
      health: { probe_interval_s: 0.05 },
      providers: { p: { type: 'openai', api_key: KEY, base_url: m.url, probe: 'chat' } },
      models: { m: { targets: [{ provider: 'p', model: 'mock-x' }] } },
    });
    await until(base, 'p/mock-x', (r) => r.probe?.ok === true);
    expect(paths(m)).toEqual(new Set(['POST /v1/chat/completions']));
    expect(m.stats().records[0]!.body).toMatchObject({ model: 'mock-x', max_tokens: 1, messages: [{ role: 'user', content: 'ping' }] });
  });

  it('probe nothing of a provider set to probe: off', async () => {
    const m1 = await mock();
    const m2 = await mock();
    await serve({
      health: { probe_interval_s: 0.05 },
      providers: { off: { type: 'openai', api_key: KEY, base_url: m1.url, probe: 'off' }, on: { type: 'openai', api_key: KEY, base_url: m2.url } },
      models: { m: { targets: [{ provider: 'off', model: 'x' }, { provider: 'on', model: 'y' }] } },
    });
    // The other provider's probes are the clock: several rounds of them, and none of the one turned off.
    expect(await eventually(() => m2.stats().requests >= 3)).toBe(true);
    expect(m1.stats().requests).toBe(0);
  });

  it('stop with the engine a reload replaces, and with the gateway', async () => {
    const [a, b, clock] = [await mock(), await mock(), await mock()];
    const config = (m: MockServer) =>
      resolveConfig({
        server: { port: 0 },
        health: { probe_interval_s: 0.05 },
        providers: { p: { type: 'openai', api_key: KEY, base_url: m.url } },
        models: { m: { targets: [{ provider: 'p', model: 'x' }] } },
      });
    let next = config(b);
    server = await startServer(config(a), { logger: memoryLogger().logger, reloadFrom: () => next });
    expect(await eventually(() => a.stats().requests >= 2)).toBe(true);
    expect(server.reload().status).toBe('reloaded');
    // The new engine's probes are the clock: once they have run a few times, the old engine's are seen to have stopped.
    expect(await eventually(() => b.stats().requests >= 2)).toBe(true);
    const aAfterSwap = a.stats().requests;
    expect(await eventually(() => b.stats().requests >= 6)).toBe(true);
    expect(a.stats().requests).toBe(aAfterSwap);

    await server.shutdown();
    const bAfterClose = b.stats().requests;
    next = config(clock);
    server = await startServer(next, { logger: memoryLogger().logger });
    expect(await eventually(() => clock.stats().requests >= 4)).toBe(true);
    expect(b.stats().requests).toBe(bAfterClose);
  });

  it('run in a library gateway as configured, and stop with close()', async () => {
    const [lib, clock] = [await mock(), await mock()];
    const gateway = createGateway({
      health: { probe_interval_s: 0.05 },
      providers: { p: { type: 'openai', api_key: KEY, base_url: lib.url } },
      models: { m: { targets: [{ provider: 'p', model: 'x' }] } },
    });
    expect(await eventually(() => lib.stats().requests >= 2)).toBe(true);
    await gateway.close();
    const afterClose = lib.stats().requests;
    await serve({ health: { probe_interval_s: 0.05 }, providers: { p: { type: 'openai', api_key: KEY, base_url: clock.url } }, models: { m: { targets: [{ provider: 'p', model: 'x' }] } } });
    expect(await eventually(() => clock.stats().requests >= 4)).toBe(true);
    expect(lib.stats().requests).toBe(afterClose);
  });
});
