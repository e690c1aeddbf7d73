// Issue 20.5: a stream's client is never left in silence longer than streaming.heartbeat_ms before its first token,
// whatever the pipeline is doing meanwhile (a Retry-After wait, an upstream slow to send its headers, a retry after
// a stream cut before its first token). The 200 goes out when an upstream accepts the stream, or once the client has
// waited heartbeat_ms without one; heartbeats follow. A raw node:http client reads the bytes; the official SDK parses.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Cancel } from '../../src/cancel.js';
import type { Fault } from '../../src/mock/faults.js';
import type { Exchange } from '../../src/server/adapters/exchange.js';
import { Heartbeat } from '../../src/server/stream-response.js';
import { collectText, startStack, type Stack } from '../support/helpers.js';

const HEARTBEAT_MS = 150;
/** The pipeline's wait before the first token in each scenario: ten heartbeat periods. */
const WAIT_MS = 1500;
/** A generous floor: a third of the heartbeats the wait holds (timers run late on a busy machine). */
const MIN_KEEPALIVES = Math.floor(WAIT_MS / HEARTBEAT_MS / 3);
const messages = [{ role: 'user' as const, content: 'hi' }];

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** What came before the first `data:` line. */
  beforeFirstData: string;
  text: string;
}

function rawStream(base: string, model: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const url = new URL(`${base}/chat/completions`);
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (s: string) => {
          text += s;
        });
        res.on('end', () => {
          const at = text.indexOf('data: ');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, beforeFirstData: at === -1 ? text : text.slice(0, at), text });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ model, messages, stream: true }));
  });
}

const keepAlives = (text: string): number => text.match(/^: keep-alive$/gm)?.length ?? 0;

describe('heartbeats from the request to the first token (streaming.heartbeat_ms)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      timeouts: { connect_ms: 2000, first_byte_ms: WAIT_MS + 5000, idle_ms: 5000, total_ms: 30_000 },
      extra: {
        streaming: { heartbeat_ms: HEARTBEAT_MS },
        // The scenarios fail the one deployment on purpose, again and again: its breaker stays out of it.
        health: { failure_threshold: 1000, min_requests: 1000 },
      },
    });
  });
  afterAll(async () => {
    await stack.close();
  });

  /** A raw request, then the SDK's, each under `script` (then healthy): the stream completes whole both times. */
  async function run(script: Fault[]): Promise<RawAnswer> {
    stack.mock.setPlan({ script });
    const raw = await rawStream(stack.base, 'gpt-test');
    expect(raw.status).toBe(200);
    expect(raw.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    stack.mock.setPlan({ script });
    const sdk = await collectText(await stack.client.chat.completions.create({ model: 'gpt-test', messages, stream: true }));
    expect(sdk.text).toBe(stack.mock.answerFor({ model: 'mock-gpt', messages }));
    expect(sdk.finish).toBe('stop');
    stack.mock.setPlan({});
    return raw;
  }

  describe('before any upstream accepts: the 200 goes out after heartbeat_ms of silence', () => {
    const cases: Array<[string, Fault[]]> = [
      ['a 429 whose Retry-After the gateway waits out', [{ status: 429, retry_after_ms: WAIT_MS }]],
      ['an upstream slow to send its headers', [{ latency_ms: WAIT_MS }]],
    ];
    for (const [name, script] of cases) {
      it(`${name}: keep-alive comments, then a comment naming the deployment, then the whole answer`, async () => {
        const raw = await run(script);
        expect(keepAlives(raw.beforeFirstData)).toBeGreaterThanOrEqual(MIN_KEEPALIVES);
        // No upstream had accepted when the headers went out: the deployment is told in a comment instead.
        expect(raw.headers['x-lifeline-deployment']).toBeUndefined();
        expect(raw.beforeFirstData).toMatch(/^: [^\n]*x-lifeline-deployment: upstream\/mock-gpt/m);
      });
    }
  });

  describe('after an upstream accepted and then cut the stream before its first token', () => {
    const cases: Array<[string, Fault[]]> = [
      ['a retry that waits out a 429 Retry-After', [{ cut_after: 0 }, { status: 429, retry_after_ms: WAIT_MS }]],
      ['a retry whose upstream is slow to its first token', [{ cut_after: 0 }, { first_token_ms: WAIT_MS }]],
    ];
    for (const [name, script] of cases) {
      it(`keep-alive comments through ${name}; the stream then completes whole`, async () => {
        const raw = await run(script);
        // In the headers when the cut stream's accept beat the first heartbeat_ms (as it does on a quiet machine);
        // a busy one can take longer than that to reach the mock, and then a comment names the deployment.
        const named = raw.headers['x-lifeline-deployment'] ?? /^: [^\n]*x-lifeline-deployment: ([^;\s]+)/m.exec(raw.beforeFirstData)?.[1];
        expect(named).toBe('upstream/mock-gpt');
        expect(keepAlives(raw.beforeFirstData)).toBeGreaterThanOrEqual(MIN_KEEPALIVES);
      });
    }
  });
});

describe('an error decided sooner than heartbeat_ms', () => {
  it('still gets its own status', async () => {
    // heartbeat_ms far above the mock's immediate 400, so a busy machine cannot make the 200 go out first (with the
    // 150 ms stack above it did once).
    const stack = await startStack({ extra: { streaming: { heartbeat_ms: 10_000 } } });
    try {
      stack.mock.setPlan({ script: [{ status: 400 }] });
      const raw = await rawStream(stack.base, 'gpt-test');
      expect(raw.status).toBe(400);
      expect(raw.text).toMatch(/"error"/);
    } finally {
      await stack.close();
    }
  });
});

describe('Heartbeat', () => {
  it('is due heartbeat_ms after the last write, not on a fixed tick (which leaves up to twice as long)', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'] });
    try {
      const written: string[] = [];
      const ex = { signal: new Cancel().signal, write: (s: string) => written.push(s) > 0 } as unknown as Exchange;
      const beat = new Heartbeat(ex, 100);
      vi.advanceTimersByTime(100);
      expect(written).toHaveLength(1); // 100 ms of silence
      vi.advanceTimersByTime(50);
      beat.wrote(); // a chunk at 150 ms
      vi.advanceTimersByTime(100);
      expect(written).toHaveLength(2); // at 250 ms: 100 ms after the chunk
      vi.advanceTimersByTime(100);
      expect(written).toHaveLength(3);
      beat.stop();
      vi.advanceTimersByTime(1000);
      expect(written).toHaveLength(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
