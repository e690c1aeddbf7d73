import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectText, startStack, type Stack } from '../support/helpers.js';
import { eventually } from '../support/timing.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ extra: { streaming: { heartbeat_ms: 100, max_concurrent: 2 } } });
});
afterAll(async () => {
  await stack.close();
});

const messages = [{ role: 'user' as const, content: 'hi' }];

describe('streaming relay', () => {
  it('sends keep-alive comments while the upstream is silent, and the SDK still parses the stream', async () => {
    stack.mock.setPlan({ default: { chunk_gap_ms: 350 } });
    try {
      const res = await fetch(`${stack.base}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], stream: true, max_tokens: 3 }),
      });
      const text = await res.text();
      expect(text.match(/^: keep-alive$/gm)?.length ?? 0).toBeGreaterThanOrEqual(2);
      expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);

      const stream = await stack.client.chat.completions.create({ model: 'gpt-test', messages, stream: true, max_tokens: 3 });
      const { finish } = await collectText(stream);
      expect(finish).toBe('length');
    } finally {
      stack.mock.setPlan({});
    }
  });

  it('a finished stream gives its upstream connection back to the pool: 20 streams in a row reuse their connections', async () => {
    stack.mock.reset();
    stack.mock.setPlan({ default: { chunk_gap_ms: 2 } }); // the end of the body comes after [DONE], not with it
    for (let i = 0; i < 20; i++) {
      const { finish } = await collectText(await stack.client.chat.completions.create({ model: 'gpt-test', messages, stream: true }));
      expect(finish).toBe('stop');
    }
    // Destroying the body right after [DONE] (before the end of the HTTP body) closes the connection: 40 new
    // connections here. Reading the end takes a moment, so a stream that starts at once may open a second one.
    expect(stack.mock.stats().connections).toBeLessThanOrEqual(3);
    stack.mock.setPlan({});
  });

  it('beyond streaming.max_concurrent a new stream gets 503 with Retry-After; capacity comes back', async () => {
    // The two streams that fill the limit wait 4 s for their first token: they are still open when the third
    // comes, however slowly this machine gets there. Everything after them is answered at once.
    stack.mock.reset();
    stack.mock.setPlan({ script: [{ first_token_ms: 4000 }, { first_token_ms: 4000 }] });
    try {
      const open = [0, 1].map(async () => collectText(await stack.client.chat.completions.create({ model: 'gpt-test', messages, stream: true })));
      await eventually(() => stack.mock.stats().requests === 2); // both are open at the gateway and upstream now
      expect(stack.mock.stats().requests).toBe(2);
      const res = await fetch(`${stack.base}/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ model: 'gpt-test', messages, stream: true }),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('too_many_streams');
      // a non-streamed request is not limited
      const plain = await stack.client.chat.completions.create({ model: 'gpt-test', messages });
      expect(plain.choices[0]?.message.content).toBeTruthy();
      for (const r of await Promise.all(open)) expect(r.finish).toBe('stop');
      const again = await collectText(await stack.client.chat.completions.create({ model: 'gpt-test', messages, stream: true }));
      expect(again.finish).toBe('stop');
    } finally {
      stack.mock.setPlan({});
    }
  });
});
