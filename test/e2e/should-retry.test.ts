// Issue 20.7: one layer retries, not two. An error the gateway answers after its own retries and failovers (or after
// deciding nothing can be tried now) carries `x-should-retry: false`, which the official SDKs obey over their default
// `maxRetries: 2` and over Retry-After; Retry-After itself stays honest. The SDKs here keep their default retries.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import type { FaultPlan } from '../../src/mock/faults.js';
import { CLIENT_KEY, startStack, type Stack } from '../support/helpers.js';

/** The upstream's hint: far longer than the gateway will wait (max_retry_after_ms below) and than any bound here. */
const HINT_S = 29;
/** "The client hears so at once": well under the hint an SDK would otherwise sleep before its retry. */
const AT_ONCE_MS = (HINT_S * 1000) / 2;
const messages = [{ role: 'user' as const, content: 'hi' }];

/** Two deployments of one model, so an outage means a retry layer's worth of work: an attempt and a failover. */
const MODELS = {
  'gpt-test': {
    targets: [
      { provider: 'upstream', model: 'mock-a' },
      { provider: 'upstream', model: 'mock-b' },
    ],
  },
  // Configured for a single attempt: the gateway is a pass-through here, so the client's SDK is the retry layer.
  'gpt-single': { targets: [{ provider: 'upstream', model: 'mock-single' }], retry: { max_attempts: 1 } },
};

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

async function outage(plan: FaultPlan): Promise<Stack> {
  stack = await startStack({
    plan,
    models: MODELS,
    // The gateway does not wait out a 29 s hint itself (it would, by default, within its 60 s max_retry_after_ms).
    extra: { retry: { max_retry_after_ms: 1000 } },
  });
  return stack;
}

/** Request lines the gateway logged for a path: one per client request that reached it. */
function gatewayRequests(s: Stack, path: string): number {
  return s.lines.filter((l) => l.includes('"msg":"request"') && l.includes(`"path":"${path}"`)).length;
}

/** Polls until `read` is true or `ms` passed (the request line is written as the answer finishes). */
async function eventually(read: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!read() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

const openai = (s: Stack) => new OpenAI({ baseURL: s.base, apiKey: CLIENT_KEY, timeout: 20_000 }); // default maxRetries

describe('x-should-retry: false on errors the gateway already retried (official SDKs at their default maxRetries)', () => {
  it('OpenAI SDK, every deployment 503 with Retry-After: 29: one gateway request, rejected at once, Retry-After kept', async () => {
    const s = await outage({ default: { status: 503, retry_after: HINT_S } });
    const t0 = performance.now();
    const err = await openai(s)
      .chat.completions.create({ model: 'gpt-test', messages }, { signal: AbortSignal.timeout(AT_ONCE_MS) })
      .catch((e: unknown) => e);
    const ms = performance.now() - t0;
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const apiErr = err as InstanceType<typeof OpenAI.APIError>;
    expect(apiErr.status).toBe(503);
    expect(apiErr.headers?.get('x-should-retry')).toBe('false');
    expect(Number(apiErr.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(apiErr.headers?.get('retry-after'))).toBeLessThanOrEqual(HINT_S);
    // The gateway's attempts are the upstream's only requests: the SDK did not send the request again.
    const attempts = Number(apiErr.headers?.get('x-lifeline-attempts'));
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(s.mock.stats().requests).toBe(attempts);
    await eventually(() => gatewayRequests(s, '/v1/chat/completions') >= 1);
    expect(gatewayRequests(s, '/v1/chat/completions')).toBe(1);
    expect(ms).toBeLessThan(AT_ONCE_MS);
  });

  it('OpenAI SDK, every deployment 429 with Retry-After: 29: one gateway request, a 429 with its Retry-After', async () => {
    const s = await outage({ default: { status: 429, retry_after: HINT_S } });
    const err = await openai(s)
      .chat.completions.create({ model: 'gpt-test', messages }, { signal: AbortSignal.timeout(AT_ONCE_MS) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const apiErr = err as InstanceType<typeof OpenAI.APIError>;
    expect(apiErr.headers?.get('x-should-retry')).toBe('false');
    expect(Number(apiErr.headers?.get('retry-after'))).toBeGreaterThan(HINT_S / 2); // the upstream's hint, not a made-up one
    expect(s.mock.stats().requests).toBe(Number(apiErr.headers?.get('x-lifeline-attempts')));
    await eventually(() => gatewayRequests(s, '/v1/chat/completions') >= 1);
    expect(gatewayRequests(s, '/v1/chat/completions')).toBe(1);
  });

  it('OpenAI SDK, a stream request in the same outage: one gateway request', async () => {
    const s = await outage({ default: { status: 503, retry_after: HINT_S } });
    const err = await openai(s)
      .chat.completions.create({ model: 'gpt-test', messages, stream: true }, { signal: AbortSignal.timeout(AT_ONCE_MS) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    await eventually(() => gatewayRequests(s, '/v1/chat/completions') >= 1);
    expect(gatewayRequests(s, '/v1/chat/completions')).toBe(1);
  });

  it('the next request, answered from the open breakers without an upstream call, says so too', async () => {
    const s = await outage({ default: { status: 503, retry_after: HINT_S } });
    const client = openai(s);
    await client.chat.completions.create({ model: 'gpt-test', messages }, { maxRetries: 0 }).catch(() => undefined);
    const before = s.mock.stats().requests;
    const err = await client.chat.completions
      .create({ model: 'gpt-test', messages }, { signal: AbortSignal.timeout(AT_ONCE_MS) })
      .catch((e: unknown) => e);
    const apiErr = err as InstanceType<typeof OpenAI.APIError>;
    expect(apiErr.status).toBe(503);
    expect(apiErr.headers?.get('x-lifeline-attempts')).toBe('0');
    expect(apiErr.headers?.get('x-should-retry')).toBe('false');
    expect(Number(apiErr.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(s.mock.stats().requests).toBe(before);
    await eventually(() => gatewayRequests(s, '/v1/chat/completions') >= 2);
    expect(gatewayRequests(s, '/v1/chat/completions')).toBe(2);
  });

  it('Anthropic SDK on /v1/messages, every deployment 503 with Retry-After: 29: one gateway request, rejected at once', async () => {
    const s = await outage({ default: { status: 503, retry_after: HINT_S } });
    const client = new Anthropic({ baseURL: s.base.replace(/\/v1$/, ''), apiKey: CLIENT_KEY, timeout: 20_000 }); // default maxRetries
    const t0 = performance.now();
    const err = await client.messages
      .create({ model: 'gpt-test', max_tokens: 50, messages }, { signal: AbortSignal.timeout(AT_ONCE_MS) })
      .catch((e: unknown) => e);
    const ms = performance.now() - t0;
    expect(err).toBeInstanceOf(Anthropic.APIError);
    const apiErr = err as InstanceType<typeof Anthropic.APIError>;
    expect(apiErr.status).toBe(503);
    expect(apiErr.headers?.get('x-should-retry')).toBe('false');
    expect(Number(apiErr.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(s.mock.stats().requests).toBe(Number(apiErr.headers?.get('x-lifeline-attempts')));
    await eventually(() => gatewayRequests(s, '/v1/messages') >= 1);
    expect(gatewayRequests(s, '/v1/messages')).toBe(1);
    expect(ms).toBeLessThan(AT_ONCE_MS);
  });
});

describe('where the SDK stays the retry layer', () => {
  it('a model configured for a single attempt leaves the SDK its retries (no x-should-retry)', async () => {
    const s = await outage({ default: { status: 502 } });
    const res = await fetch(`${s.base}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-single', messages }),
    });
    await res.text();
    expect(res.status).toBe(502);
    expect(res.headers.get('x-lifeline-attempts')).toBe('1');
    expect(res.headers.get('x-should-retry')).toBeNull();
  });

  it("an error the client caused (an unknown model) carries no x-should-retry: the SDKs don't retry a 4xx anyway", async () => {
    const s = await outage({});
    const res = await fetch(`${s.base}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'no-such-model', messages }),
    });
    await res.text();
    expect(res.status).toBe(404);
    expect(res.headers.get('x-should-retry')).toBeNull();
  });
});
