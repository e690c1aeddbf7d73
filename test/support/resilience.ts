// Shared by the resilience end-to-end tests (test/e2e/resilience-*.test.ts): a fresh world of named mocks behind
// the gateway per test, quick retries, and the SDK calls they make.
import type OpenAI from 'openai';
import { APIError } from 'openai';
import { expect } from 'vitest';
import type { FaultPlan } from '../../src/mock/index.js';
import { startWorld, type World } from './world.js';

export const messages = [{ role: 'user' as const, content: 'Say something resilient' }];
/** Quick retries, so a test that retries still runs in tens of milliseconds. */
export const FAST_RETRY = { base_delay_ms: 20, max_delay_ms: 100 };

/** Runs `test` in a fresh world and always closes it: breakers and disabled keys never leak between tests. */
export async function withWorld(
  plans: Record<string, FaultPlan>,
  config: { models: Record<string, unknown>; [key: string]: unknown },
  test: (world: World) => Promise<void>,
): Promise<void> {
  // Each mock answers a text naming itself, so a reassembled answer shows who answered.
  const world = await startWorld(plans, { retry: FAST_RETRY, ...config }, { reply: (name) => `This answer comes from the ${name} mock.` });
  try {
    await test(world);
  } finally {
    await world.close();
  }
}

export const single = (provider: string, model: string, extra: Record<string, unknown> = {}) => ({ targets: [{ provider, model }], ...extra });

/** The SDK's error for a call that must fail (fails the test if it succeeds). */
export async function apiError(call: Promise<unknown>): Promise<APIError> {
  const result = await call.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (result.ok) throw new Error(`expected the request to fail, it answered ${JSON.stringify(result.value).slice(0, 200)}`);
  expect(result.error).toBeInstanceOf(APIError);
  return result.error as APIError;
}

export const chat = (client: OpenAI, model: string, headers: Record<string, string> = {}) =>
  client.chat.completions.create({ model, messages }, { headers }).withResponse();
