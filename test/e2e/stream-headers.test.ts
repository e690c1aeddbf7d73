// When a stream's status and headers go out: as soon as an upstream accepts the stream (the default), or with its
// first token (streaming.hold_headers). Raw fetch where the timing or the bytes matter; the official SDKs for what
// a client sees.
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectText, startStack, type Stack } from '../support/helpers.js';
import { messages, single, withWorld } from '../support/resilience.js';
import { SLACK_MS } from '../support/timing.js';

const T = { connect_ms: 1000, first_byte_ms: 400, idle_ms: 1000, total_ms: 10_000 };
/**
 * The mock's first token where the tests wait for it: later than a busy machine holds up a stream's headers, and
 * (on the patient model) far inside first_byte_ms, so a late timer cannot turn it into a timeout.
 */
const FIRST_TOKEN_MS = 1000;
const MODELS = {
  'gpt-test': { targets: [{ provider: 'upstream', model: 'mock-gpt' }] },
  'gpt-patient': { targets: [{ provider: 'upstream', model: 'mock-gpt' }], timeouts: { first_byte_ms: FIRST_TOKEN_MS + SLACK_MS + 2000 } },
};
const body = (model = 'gpt-test') => JSON.stringify({ model, messages, stream: true });

/**
 * A raw streamed request: when its headers came (`headersAt`, on the clock of the mock's records), its whole body,
 * and how long it all took.
 */
async function raw(base: string, path = '/chat/completions', payload = body()) {
  const t0 = performance.now();
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload });
  const headersAt = Date.now();
  const text = await res.text();
  return { res, headersAt, text, ms: performance.now() - t0 };
}

/**
 * When the mock sent (or will send) the first token of its last request: FIRST_TOKEN_MS after that request reached
 * it. Measured from there, a machine slow to get the request to the mock moves both sides alike.
 */
const firstTokenAt = (stack: Stack): number => stack.mock.stats().records.at(-1)!.at + FIRST_TOKEN_MS;

describe('stream headers, shipped default: out when the upstream accepts the stream', () => {
  let stack: Stack;
  beforeAll(async () => {
    // heartbeat_ms stays at its 15 s default: when no upstream has accepted a stream within heartbeat_ms, the 200
    // goes out without the deployment's headers, and a busy machine can take 100 ms to reach the mock.
    stack = await startStack({ timeouts: T, models: MODELS });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('the client has the 200 and the headers before the first token; the answer follows whole', async () => {
    stack.mock.setPlan({ default: { first_token_ms: FIRST_TOKEN_MS } });
    const { res, headersAt, text, ms } = await raw(stack.base, '/chat/completions', body('gpt-patient'));
    stack.mock.setPlan({});
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect(res.headers.get('x-lifeline-deployment')).toBe('upstream/mock-gpt');
    expect(res.headers.get('x-lifeline-attempts')).toBe('1');
    expect(headersAt).toBeLessThan(firstTokenAt(stack));
    expect(ms).toBeGreaterThanOrEqual(FIRST_TOKEN_MS - 10);
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('keeps the connection alive with heartbeats while the first token is awaited', async () => {
    const beating = await startStack({ timeouts: T, models: MODELS, extra: { streaming: { heartbeat_ms: 100 } } });
    try {
      beating.mock.setPlan({ default: { first_token_ms: FIRST_TOKEN_MS } });
      const { text } = await raw(beating.base, '/chat/completions', body('gpt-patient'));
      const firstData = text.indexOf('data: ');
      expect(text.slice(0, firstData)).toContain(': keep-alive');
    } finally {
      await beating.close();
    }
  });

  it('a failure after the 200 ends the stream with an error event in the OpenAI shape (the SDK throws it)', async () => {
    stack.mock.setPlan({ default: { first_token_ms: 3000 } });
    const { res, text } = await raw(stack.base);
    expect(res.status).toBe(200);
    expect(text).toMatch(/data: \{"error":\{[^\n]*"code":"first_byte_timeout"/);
    const stream = await stack.client.chat.completions.create({ model: 'gpt-test', messages, stream: true });
    const err = await collectText(stream).catch((e: unknown) => e);
    stack.mock.setPlan({});
    expect(err).toMatchObject({ code: 'first_byte_timeout' });
  });

  it('a failure after the 200 ends an Anthropic-dialect stream with its error event (the Anthropic SDK throws it)', async () => {
    stack.mock.setPlan({ default: { first_token_ms: 3000 } });
    const client = new Anthropic({ baseURL: stack.base.replace(/\/v1$/, ''), apiKey: 'k', maxRetries: 0 });
    const stream = client.messages.stream({ model: 'gpt-test', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
    const err = await stream.finalMessage().catch((e: unknown) => e);
    stack.mock.setPlan({});
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/400 ms/);
  });
});

describe('stream headers with streaming.hold_headers: out with the first token', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ timeouts: T, models: MODELS, extra: { streaming: { hold_headers: true } } });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('the headers wait for the first token', async () => {
    stack.mock.setPlan({ default: { first_token_ms: FIRST_TOKEN_MS } });
    const { res, headersAt } = await raw(stack.base, '/chat/completions', body('gpt-patient'));
    stack.mock.setPlan({});
    expect(res.status).toBe(200);
    expect(headersAt).toBeGreaterThanOrEqual(firstTokenAt(stack) - 5);
  });
});

describe('a failover after the 200, before the first token', () => {
  const config = {
    timeouts: T,
    models: { main: single('primary', 'mock-main', { fallbacks: ['backup'] }), backup: single('fallback', 'mock-backup') },
  };

  it("the client gets the fallback's whole answer; the headers name the deployment that accepted first, a comment the one that answered", async () => {
    await withWorld({ primary: { default: { cut_after: 0 } }, fallback: {} }, config, async ({ client, mocks, server }) => {
      const { res, text } = await raw(`${server.url}/v1`, '/chat/completions', body('main'));
      expect(res.status).toBe(200);
      expect(res.headers.get('x-lifeline-deployment')).toBe('primary/mock-main');
      expect(text).toMatch(/^: [^\n]*x-lifeline-attempts: \d+; x-lifeline-deployment: fallback\/mock-backup; x-lifeline-fallback: backup$/m);
      const sdk = await collectText(await client.chat.completions.create({ model: 'main', messages, stream: true }));
      expect(sdk.text).toBe(mocks.fallback!.answerFor({ model: 'mock-backup', messages }));
      expect(sdk.finish).toBe('stop');
    });
  });

  it('with streaming.hold_headers the headers name the fallback itself', async () => {
    const held = { ...config, streaming: { hold_headers: true } };
    await withWorld({ primary: { default: { cut_after: 0 } }, fallback: {} }, held, async ({ server }) => {
      const { res, text } = await raw(`${server.url}/v1`, '/chat/completions', body('main'));
      expect(res.headers.get('x-lifeline-deployment')).toBe('fallback/mock-backup');
      expect(res.headers.get('x-lifeline-fallback')).toBe('backup');
      expect(text).not.toMatch(/x-lifeline-deployment/);
    });
  });
});
