// Resilience end to end, across models: the official OpenAI SDK → lifeline serve → several mocks, over real
// sockets. Which fallback answers (general, context-window and content-policy chains), when none may (a 400,
// x-lifeline-fallbacks: off), and a stream failing over before its first token. The chaos suite
// (test/chaos/faults.test.ts) covers behaviour at volume and timing; retries and failover inside one model, deadlines
// and everything-down answers are in resilience-retries.test.ts.
import { describe, expect, it } from 'vitest';
import { collectText } from '../support/helpers.js';
import { apiError, chat, FAST_RETRY, messages, single, withWorld } from '../support/resilience.js';

describe('fallback chains', () => {
  const dead = { east: { default: { status: 500 } }, west: {} };
  const chain = {
    models: {
      main: single('east', 'mock-main', { fallbacks: ['backup'], retry: { max_attempts: 2 } }),
      backup: single('west', 'mock-backup'),
    },
  };

  it('a fallback answers when the primary keeps failing, and the headers say so', async () => {
    await withWorld(dead, chain, async ({ client, mocks }) => {
      const { data, response } = await chat(client, 'main');
      expect(data.choices[0]?.message.content).toBe(mocks.west!.answerFor({ model: 'mock-backup', messages }));
      expect(response.headers.get('x-lifeline-fallback')).toBe('backup');
      expect(response.headers.get('x-lifeline-deployment')).toBe('west/mock-backup');
      // The primary's retry.max_attempts (2), then the fallback's one.
      expect(response.headers.get('x-lifeline-attempts')).toBe('3');
      expect(mocks.east!.stats().requests).toBe(2);
      expect(mocks.west!.stats().requests).toBe(1);
      expect((mocks.west!.stats().records[0]!.body as { model: string }).model).toBe('mock-backup');
    });
  });

  it('x-lifeline-fallbacks: off returns the primary\'s error and never touches the fallback', async () => {
    await withWorld(dead, chain, async ({ client, mocks }) => {
      const err = await apiError(chat(client, 'main', { 'x-lifeline-fallbacks': 'off' }));
      // The upstream's own 5xx is passed through (providers/shared/errors.ts, clientStatus: an upstream 500 is the gateway's 502).
      expect(err.status).toBe(502);
      expect(err.message).toContain('Upstream east/mock-main answered 500');
      expect(err.headers?.get('x-lifeline-deployment')).toBe('east/mock-main');
      expect(err.headers?.get('x-lifeline-attempts')).toBe('2');
      expect(err.headers?.get('x-lifeline-fallback')).toBeNull();
      expect(mocks.east!.stats().requests).toBe(2);
      expect(mocks.west!.stats().requests).toBe(0);
    });
  });

  it('a 400 from the upstream is neither retried nor failed over: it goes back to the client', async () => {
    await withWorld({ east: { default: { status: 400 } }, west: {} }, { ...chain, retry: { ...FAST_RETRY, max_attempts: 3 } }, async ({ client, mocks }) => {
      const err = await apiError(chat(client, 'main'));
      expect(err.status).toBe(400);
      expect(err.headers?.get('x-lifeline-attempts')).toBe('1');
      expect(mocks.east!.stats().requests).toBe(1);
      expect(mocks.west!.stats().requests).toBe(0);
    });
  });

  const special = {
    primary: {},
    generic: {},
    big: {},
    safe: {},
  };
  const specialConfig = {
    models: {
      main: single('primary', 'mock-main', {
        fallbacks: ['generic-model'],
        context_window_fallbacks: ['big-model'],
        content_policy_fallbacks: ['safe-model'],
      }),
      // Only general fallbacks: a prompt that does not fit must not go to them.
      plain: single('primary', 'mock-plain', { fallbacks: ['generic-model'] }),
      'generic-model': single('generic', 'mock-generic'),
      'big-model': single('big', 'mock-big'),
      'safe-model': single('safe', 'mock-safe'),
    },
  };

  for (const [label, code, answerer, model] of [
    ['context_length_exceeded goes to context_window_fallbacks', 'context_length_exceeded', 'big', 'big-model'],
    ['content_filter goes to content_policy_fallbacks', 'content_filter', 'safe', 'safe-model'],
  ] as const) {
    it(`a 400 ${label}, not to fallbacks`, async () => {
      const plans = { ...special, primary: { script: [{ status: 400, error_code: code }] } };
      await withWorld(plans, specialConfig, async ({ client, mocks }) => {
        const { data, response } = await chat(client, 'main');
        expect(data.choices[0]?.message.content).toBe(mocks[answerer]!.answerFor({ model: `mock-${answerer}`, messages }));
        expect(response.headers.get('x-lifeline-fallback')).toBe(model);
        expect(response.headers.get('x-lifeline-deployment')).toBe(`${answerer}/mock-${answerer}`);
        expect(response.headers.get('x-lifeline-attempts')).toBe('2');
        expect(mocks.primary!.stats().requests).toBe(1); // not retried
        expect(mocks[answerer]!.stats().requests).toBe(1);
        for (const other of ['generic', 'big', 'safe'].filter((n) => n !== answerer)) {
          expect(mocks[other]!.stats().requests, other).toBe(0);
        }
      });
    });
  }

  it('a context_length error on a model without context_window_fallbacks goes back to the client as 400', async () => {
    const plans = { ...special, primary: { script: [{ status: 400, error_code: 'context_length_exceeded' }] } };
    await withWorld(plans, specialConfig, async ({ client, mocks }) => {
      const err = await apiError(chat(client, 'plain'));
      expect(err.status).toBe(400);
      expect(err.code).toBe('context_length_exceeded');
      expect(mocks.generic!.stats().requests).toBe(0);
    });
  });
});

describe('streaming', () => {
  for (const [label, fault] of [
    ['503', { status: 503 }],
    ['connection reset', { reset: true }],
  ] as const) {
    it(`fails over before the first token (${label}): the client sees only the fallback's stream`, async () => {
      const config = {
        models: {
          main: single('primary', 'mock-main', { fallbacks: ['backup'] }),
          backup: single('fallback', 'mock-backup'),
        },
      };
      await withWorld({ primary: { default: fault }, fallback: {} }, config, async ({ client, mocks }) => {
        const { data, response } = await client.chat.completions.create({ model: 'main', messages, stream: true }).withResponse();
        expect(response.status).toBe(200);
        expect(response.headers.get('x-lifeline-fallback')).toBe('backup');
        expect(response.headers.get('x-lifeline-deployment')).toBe('fallback/mock-backup');
        const { text, finish } = await collectText(data);
        expect(text).toBe(mocks.fallback!.answerFor({ model: 'mock-backup', messages }));
        expect(text).toContain('fallback mock');
        expect(finish).toBe('stop');
        expect(mocks.primary!.stats().requests).toBeGreaterThanOrEqual(1);
        expect(mocks.fallback!.stats().requests).toBe(1);
      });
    });
  }
});
