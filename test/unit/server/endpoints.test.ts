import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../../src/errors.js';
import type { Exchange } from '../../../src/server/adapters/exchange.js';
import { type Endpoint, router } from '../../../src/server/endpoints.js';
import type { Handler } from '../../../src/server/respond.js';

const answer = (name: string): Handler => Object.assign(async () => undefined, { label: name });
const label = (h: Handler) => (h as Handler & { label: string }).label;
const ex = (method: string, path: string) => ({ method, path }) as Exchange;

const table: Endpoint[] = [
  { path: '/v1/models', methods: { GET: answer('list') } },
  { path: '/v1/models/*', methods: { GET: answer('one') } },
  { path: '/health', methods: { GET: answer('health') }, probe: true },
  { path: '/v1/messages', methods: { POST: answer('messages') } },
];

function refusal(fn: () => unknown): GatewayError | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  return undefined;
}

describe('router', () => {
  const api = router(table);

  it('finds an exact path before a prefix, and a prefix for any path under it', () => {
    expect(api.find('/v1/models')?.path).toBe('/v1/models');
    expect(api.find('/v1/models/gpt-4o')?.path).toBe('/v1/models/*');
    expect(api.find('/v1/models/a/b')?.path).toBe('/v1/models/*');
    expect(api.find('/health')?.probe).toBe(true);
    expect(api.find('/v1/model')).toBeUndefined();
  });

  it("dispatches to the method's handler; a 404 for no endpoint, a 405 naming the allowed methods otherwise", () => {
    expect(label(api.dispatch(ex('GET', '/v1/models/x'), api.find('/v1/models/x')))).toBe('one');
    expect(refusal(() => api.dispatch(ex('GET', '/nope'), undefined))).toMatchObject({ kind: 'not_found', code: 'unknown_url' });
    const wrong = refusal(() => api.dispatch(ex('GET', '/v1/messages'), api.find('/v1/messages')));
    expect(wrong).toMatchObject({ kind: 'method_not_allowed', message: 'GET is not allowed on /v1/messages; use POST' });
    expect(api.allow(api.find('/v1/messages'))).toBe('POST');
  });

  it('a method named like an Object.prototype key (the fetch face passes any) is a 405, not a call of Object', () => {
    for (const method of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(refusal(() => api.dispatch(ex(method, '/health'), api.find('/health')))?.kind).toBe('method_not_allowed');
    }
  });
});
