import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/helpers.js';
import { eventually, SLACK_MS } from '../support/timing.js';

let stack: Stack;
beforeAll(async () => {
  // One attempt per request: these tests are about what a client sees of a single upstream's failure.
  stack = await startStack({
    models: { 'gpt-test': { targets: [{ provider: 'upstream', model: 'mock-gpt' }], retry: { max_attempts: 1 } } },
    extra: { health: { failure_threshold: 1000, min_requests: 1000 } },
  });
});
afterAll(async () => {
  await stack.close();
});

describe('client abort mid-stream', () => {
  it('closes the upstream stream, before the upstream has finished it', async () => {
    stack.mock.setPlan({ default: { chunk_gap_ms: 100 } });
    const ac = new AbortController();
    const stream = await stack.client.chat.completions.create(
      { model: 'gpt-test', messages: [{ role: 'user', content: 'long answer please' }], stream: true },
      { signal: ac.signal },
    );
    let seen = 0;
    let abortedAt = 0;
    await (async () => {
      for await (const _ of stream) {
        if (++seen === 2) {
          abortedAt = Date.now();
          ac.abort();
        }
      }
    })().catch(() => undefined);
    expect(seen).toBeGreaterThanOrEqual(2);
    // Until the gateway closes the upstream, or the mock finishes the answer itself (it was not closed).
    const last = () => stack.mock.stats().records.at(-1)!; // stats() hands out copies
    await eventually(() => last().closedByClientAt !== undefined || last().finishedAt !== undefined);
    const record = last();
    stack.mock.setPlan({});
    expect(record.closedByClientAt).toBeDefined();
    expect(record.finishedAt).toBeUndefined();
    expect(record.closedByClientAt! - abortedAt).toBeLessThan(SLACK_MS);
    // and the gateway keeps serving
    const ok = await stack.client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] });
    expect(ok.choices[0]?.message.content).toBeTruthy();
  });

  it('an upstream that cuts the stream after two chunks ends the client stream with an error event', async () => {
    stack.mock.setPlan({ default: { cut_after: 2 } });
    const stream = await stack.client.chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    let text = '';
    const err = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    stack.mock.setPlan({});
    expect(text.length).toBeGreaterThan(0);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/upstream\/mock-gpt/);
  });

  it('an upstream error event mid-stream reaches the client as an error event', async () => {
    stack.mock.setPlan({ default: { error_event_after: 2 } });
    const stream = await stack.client.chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const err = await (async () => {
      for await (const _ of stream) {
        // drain
      }
    })().catch((e: unknown) => e);
    stack.mock.setPlan({});
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/mid-stream/);
  });

  it('an upstream failure before the first token is an HTTP error, not a broken stream', async () => {
    stack.mock.setPlan({ script: [{ status: 503 }, { reset: true }] });
    for (const code of [503, 502]) {
      const err = await stack.client.chat.completions
        .create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], stream: true })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ status: code });
    }
    stack.mock.setPlan({});
  });
});
