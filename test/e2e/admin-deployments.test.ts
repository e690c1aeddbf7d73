// GET /admin/deployments end to end: what the gateway learned of each deployment from real requests through it to
// the mock (its breaker, last error with the upstream's request id, error ratios, averages, the upstream's remaining
// rate limits), and that it is served only on a loopback listener, like POST /admin/reload.
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { type MockServer, startMock } from '../../src/mock/index.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { collectText, memoryLogger } from '../support/helpers.js';

const KEY = 'sk-admin-test-key-0123456789abcdef';
const messages = [{ role: 'user' as const, content: 'hi' }];

let mock: MockServer | undefined;
let server: RunningServer | undefined;

afterEach(async () => {
  await server?.shutdown();
  await mock?.close();
  server = undefined;
  mock = undefined;
});

async function serve(host = '127.0.0.1') {
  mock = await startMock({
    plan: {
      // The first request fails (a 500 with the mock's x-request-id); the rest succeed and report their limits.
      script: [{ status: 500 }],
      default: { headers: { 'x-ratelimit-remaining-requests': '42', 'x-ratelimit-remaining-tokens': '9000' } },
    },
  });
  const config = resolveConfig({
    server: { host, port: 0 },
    health: { probe_interval_s: 0 },
    retry: { max_attempts: 1 },
    providers: { up: { type: 'openai', api_key: KEY, base_url: mock.url } },
    models: {
      a: { targets: [{ provider: 'up', model: 'mock-a' }] },
      b: { targets: [{ provider: 'up', model: 'mock-a' }] },
    },
  });
  server = await startServer(config, { logger: memoryLogger().logger });
  const base = server.url.replace('0.0.0.0', '127.0.0.1');
  return { base, client: new OpenAI({ baseURL: `${base}/v1`, apiKey: 'client', maxRetries: 0 }) };
}

describe('GET /admin/deployments', () => {
  it("reports each deployment's state, last error, error ratio, averages and remaining quota", async () => {
    const { base, client } = await serve();
    const before = (await (await fetch(`${base}/admin/deployments`)).json()) as { deployments: Record<string, unknown>[] };
    expect(before.deployments).toEqual([
      expect.objectContaining({ id: 'up/mock-a', provider: 'up', model: 'mock-a', models: ['a', 'b'], state: 'healthy', last_error: null, probe: null }),
    ]);

    await expect(client.chat.completions.create({ model: 'a', messages })).rejects.toMatchObject({ status: 502 });
    await client.chat.completions.create({ model: 'a', messages });
    await collectText(await client.chat.completions.create({ model: 'b', messages, stream: true }));

    const res = await fetch(`${base}/admin/deployments`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    const [row] = ((await res.json()) as { deployments: Record<string, unknown>[] }).deployments;
    expect(row).toMatchObject({
      id: 'up/mock-a',
      state: 'healthy',
      available: true,
      cooldown_left_ms: 0,
      inflight: 0,
      last_error: { kind: 'server', status: 500, upstream_request_id: 'mock-req-1' },
      error_ratio: { '1m': 0.333, '5m': 0.333 },
      attempts: { '1m': 3, '5m': 3 },
      quota: { requests: 42, tokens: 9000 },
    });
    expect(Date.parse((row!.last_error as { at: string }).at)).toBeGreaterThan(Date.now() - 60_000);
    expect(row!.latency_ms).toEqual(expect.any(Number));
    expect(row!.ttft_ms).toEqual(expect.any(Number));
  });

  it('is refused (403 admin_loopback_only) when the gateway listens beyond loopback', async () => {
    const { base } = await serve('0.0.0.0');
    const res = await fetch(`${base}/admin/deployments`);
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('admin_loopback_only');
    expect(body.error.message).toContain('GET /admin/deployments');
  });
});
