// `lifeline mock` control and lifecycle: replacing the plan, stats and reset over HTTP and in-process, what it
// records when a client goes away, and closing quickly with hung and stalled connections.
import { createHook } from 'node:async_hooks';
import { APIConnectionError } from 'openai';
import { describe, expect, it } from 'vitest';
import { type MockStats, startMock, validatePlan } from '../../../src/mock/index.js';
import { CHAT, client, errorOf, post, withMock } from '../../support/mock.js';
import { eventually, SLACK_MS } from '../../support/timing.js';

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 2));
}

describe('mock: control and lifecycle', () => {
  it('replaces, validates, reports and resets over HTTP', async () => {
    await withMock({ plan: { default: { status: 500 } } }, async (mock) => {
      const root = mock.url.replace(/\/v1$/, '');
      const put = (plan: unknown) =>
        fetch(`${root}/_mock/plan`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(plan) });

      const bad = await put({ script: [{}, { status: 'x' }] });
      expect(bad.status).toBe(400);
      const badError = await errorOf(bad);
      expect(badError.param).toBe('script[1].status');
      expect(badError.message).toContain('plan.script[1].status');
      expect((await errorOf(await put({ script: [{ latency: 5 }] }))).param).toBe('script[0].latency');
      expect((await errorOf(await put({ failure_rate: 0.5 }))).param).toBe('mix');

      const ok = await put({ script: [{ status: 503 }] });
      expect(ok.status).toBe(200);
      expect((await post(mock, '/chat/completions', CHAT)).status).toBe(503);
      expect((await post(mock, '/chat/completions', CHAT)).status).toBe(200);

      const stats = (await (await fetch(`${root}/_mock/stats`)).json()) as MockStats;
      expect(stats.requests).toBe(2);
      expect(stats.byOutcome).toMatchObject({ status: 1, ok: 1 });
      expect(stats.records[0].headers.authorization).toBe('Bearer sk-test');
      expect(stats.records[0].body).toEqual(CHAT);

      expect((await fetch(`${root}/_mock/reset`, { method: 'POST' })).status).toBe(200);
      expect(mock.stats()).toMatchObject({ requests: 0, records: [] });
      expect((await post(mock, '/chat/completions', CHAT)).status).toBe(500); // back to the start plan
      expect((await fetch(`${root}/_mock/nope`)).status).toBe(404);
    });
  });

  it('offers the same control in-process and keeps maxRecords records', async () => {
    await withMock({ maxRecords: 2 }, async (mock) => {
      expect(() => mock.setPlan({ default: { cut_after: -1 } })).toThrow(/plan\.default\.cut_after/);
      mock.setPlan({ script: [{ status: 500 }] });
      for (let i = 0; i < 3; i++) await (await post(mock, '/chat/completions', CHAT)).arrayBuffer();
      const stats = mock.stats();
      expect(stats.requests).toBe(3);
      expect(stats.records.map((r) => r.n)).toEqual([2, 3]);
      expect(stats.byOutcome).toMatchObject({ status: 1, ok: 2, pending: 0 });
      mock.reset();
      expect(mock.stats().requests).toBe(0);
      expect(validatePlan({ mix: [{}] })).toEqual({ mix: [{}] });
    });
  });

  it('records when the client aborts a stream, and stops writing to it', async () => {
    await withMock({ plan: { default: { chunk_gap_ms: 30 } } }, async (mock) => {
      const stream = await client(mock).chat.completions.create({ ...CHAT, stream: true });
      let chunks = 0;
      for await (const _ of stream) {
        if (++chunks === 2) break; // the SDK aborts the request
      }
      await eventually(() => mock.stats().records[0]?.closedByClientAt !== undefined);
      const record = mock.stats().records[0];
      expect(record.closedByClientAt).toBeGreaterThanOrEqual(record.at);
      expect(record.finishedAt).toBeUndefined();
      const sent = record.chunksSent;
      await new Promise((r) => setTimeout(r, 80));
      expect(mock.stats().records[0].chunksSent).toBe(sent);
    });
  });

  it('clears a request’s timers when its client goes away', async () => {
    // The request's own timer, recognised by its odd delay as node makes it. Counting every timer of the process
    // would count vitest's too: its calls to the main process keep a few in flight, more on a busy machine.
    const latencyMs = 61_234;
    const made: Array<{ _destroyed?: boolean }> = [];
    const hook = createHook({
      init(_id, type, _trigger, resource) {
        if (type === 'Timeout' && (resource as { _idleTimeout?: number })._idleTimeout === latencyMs) made.push(resource as { _destroyed?: boolean });
      },
    }).enable();
    try {
      await withMock({ plan: { default: { latency_ms: latencyMs } } }, async (mock) => {
        const abort = new AbortController();
        const pending = post(mock, '/chat/completions', CHAT, { signal: abort.signal }).catch(() => 'aborted');
        await eventually(() => made.length > 0); // the request has arrived and waits on its latency timer
        expect(made).toHaveLength(1);
        expect(made[0]!._destroyed).toBe(false);
        abort.abort();
        expect(await pending).toBe('aborted');
        await eventually(() => mock.stats().records[0]?.closedByClientAt !== undefined);
        // Cleared (node marks a cleared or fired timer destroyed) as the close is seen, not when its time runs out.
        await eventually(() => made[0]!._destroyed === true);
        expect(made[0]!._destroyed).toBe(true);
        expect(mock.stats().records[0].closedByClientAt).toBeDefined();
      });
    } finally {
      hook.disable();
    }
  });

  it('closes quickly with hung and stalled connections', async () => {
    const mock = await startMock({ plan: { script: [{ hang: true }, { stall_after: 1 }] } });
    const hung = client(mock).chat.completions.create(CHAT).catch((e: unknown) => e);
    await until(() => mock.stats().records.length === 1); // so the script hands out hang, then stall, in that order
    const stalled = await post(mock, '/chat/completions', { ...CHAT, stream: true });
    const stalledBody = stalled.text().catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 30));
    const started = Date.now();
    await mock.close();
    expect(Date.now() - started).toBeLessThan(SLACK_MS); // the hang and the stall never end by themselves
    expect(await hung).toBeInstanceOf(APIConnectionError);
    expect(await stalledBody).toBeInstanceOf(Error);
    expect(mock.stats().records[0].closedByClientAt).toBeUndefined(); // the mock closed it, not the client
    await mock.close(); // idempotent
  });
});
