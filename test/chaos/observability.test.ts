// Observability under chaos: after 1,000 requests against a primary with 30 % mixed faults (and a healthy fallback),
// the gateway's metrics agree with the client's count and the mock's, and every failed upstream attempt that got an
// answer has its upstream request id in a request line.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { type MockServer, startMock } from '../../src/mock/index.js';
import { startServer } from '../../src/server/serve.js';
import { memoryLogger } from '../support/helpers.js';
import { load, send } from '../support/world.js';

const REQUESTS = 1000;

function sum(text: string, name: string, match: (labels: string) => boolean = () => true): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name && match(m[2] ?? '')) total += Number(m[3]);
  }
  return total;
}

describe('observability under chaos', () => {
  it(`30% mixed faults, ${REQUESTS} requests (half streamed): requests, attempts and failed attempts' ids all accounted for`, async () => {
    // faults.test.ts's mix, but its 429 without Retry-After: a 1 s hold would keep most requests off the primary.
    const mix = [{ status: 500 }, { status: 502 }, { status: 503 }, { status: 429 }, { reset: true }];
    const primary = await startMock({ plan: { failure_rate: 0.3, mix }, seed: 7, maxRecords: 10_000 });
    const backup = await startMock({ seed: 11, maxRecords: 10_000 });
    const mocks: Record<string, MockServer> = { primary, backup };
    const providers = Object.fromEntries(
      Object.entries(mocks).map(([name, mock]) => [name, { type: 'openai', api_key: `sk-${name}-provider-key-0123456789`, base_url: mock.url }]),
    );
    const config = resolveConfig({
      server: { port: 0 },
      retry: { base_delay_ms: 50, max_delay_ms: 500 },
      // The breaker stays closed, so that the primary goes on meeting its faults (a 429's Retry-After still holds it).
      health: { failure_threshold: 100_000, min_requests: 100_000 },
      providers,
      models: {
        chat: { targets: [{ provider: 'primary', model: 'm' }], fallbacks: ['backup-chat'] },
        'backup-chat': { targets: [{ provider: 'backup', model: 'm' }] },
      },
    });
    const { logger, lines } = memoryLogger();
    const server = await startServer(config, { logger });
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'chaos', maxRetries: 0, timeout: 60_000 });
    try {
      const results = await load(REQUESTS, 20, (i) => send(client, 'chat', i % 2 === 1));
      const text = await (await fetch(`${server.url}/metrics`)).text();

      // One lifeline_requests_total per client request (the scrape above is the only other request).
      expect(sum(text, 'lifeline_requests_total', (l) => l.includes('route="/v1/chat/completions"'))).toBe(results.length);
      expect(sum(text, 'lifeline_requests_total', (l) => l.includes('status="200"') && l.includes('model="chat"'))).toBe(results.filter((r) => r.ok).length);
      // One lifeline_upstream_attempts_total per request the mocks received, per deployment and by outcome.
      const attempts = (deployment: string, outcome?: (o: string) => boolean) =>
        sum(text, 'lifeline_upstream_attempts_total', (l) => l.includes(`deployment="${deployment}"`) && (!outcome || outcome(/outcome="(\w+)"/.exec(l)![1]!)));
      const [p, b] = [primary.stats(), backup.stats()];
      expect(attempts('primary/m')).toBe(p.requests);
      expect(attempts('backup/m')).toBe(b.requests);
      expect(attempts('primary/m', (o) => o !== 'ok')).toBe(p.byOutcome.status! + p.byOutcome.reset!);
      expect(attempts('primary/m', (o) => o === 'connection')).toBe(p.byOutcome.reset);
      expect(p.byOutcome.status).toBeGreaterThan(100);

      // Every failed attempt that got an answer: its upstream request id, on its deployment, in a request line.
      const logged = new Set<string>();
      for (const line of lines) {
        const l = JSON.parse(line) as { msg: string; attempts?: { deployment: string; outcome: string; upstreamRequestId?: string }[] };
        if (l.msg !== 'request') continue;
        for (const a of l.attempts ?? []) if (a.outcome !== 'ok' && a.upstreamRequestId) logged.add(`${a.deployment} ${a.upstreamRequestId}`);
      }
      const failed = p.records.filter((r) => r.outcome === 'status');
      expect(failed).toHaveLength(p.byOutcome.status!);
      expect(failed.filter((r) => !logged.has(`primary/m mock-req-${r.n}`)).map((r) => r.n)).toEqual([]);
    } finally {
      await server.shutdown();
      await Promise.all(Object.values(mocks).map((m) => m.close()));
    }
  }, 60_000);
});
