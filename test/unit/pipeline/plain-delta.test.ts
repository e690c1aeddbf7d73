import { describe, expect, it } from 'vitest';
import { PlainDeltaReader, plainDeltaContent } from '../../../src/pipeline/plain-delta.js';
import { Transcript } from '../../../src/pipeline/transcript.js';

/** The parse-free path for plain content chunks must agree with JSON.parse on every chunk it accepts. */

const openai = (delta: Record<string, unknown>, extra: Record<string, unknown> = {}, choice: Record<string, unknown> = {}) =>
  JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'gpt-4o',
    system_fingerprint: 'fp_1',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: null, ...choice }],
    ...extra,
  });

/** A repeatable random source: the same chunks on every run. */
function seeded(start: number) {
  let seed = start;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const pick = <T>(list: T[]): T => list[Math.floor(rand() * list.length)]!;
  return { rand, pick };
}

describe('plainDeltaContent', () => {
  it("reads the text of OpenAI's usual chunk, with or without a usage: null, as the bytes say", () => {
    expect(plainDeltaContent(openai({ content: ' world' }))).toBe(' world');
    expect(plainDeltaContent(openai({ content: ' world' }, { usage: null }))).toBe(' world');
    expect(plainDeltaContent(openai({ content: '' }))).toBe('');
    expect(plainDeltaContent(openai({ content: 'ünï {x: [1]} 😀' }))).toBe('ünï {x: [1]} 😀');
    expect(plainDeltaContent('{"choices":[{"index":0,"delta":{"content":"a","refusal":null,"reasoning_content":null}}]}')).toBe('a');
    // A stream's first chunk names the role before the content.
    expect(plainDeltaContent(openai({ role: 'assistant', content: '', refusal: null }))).toBe('');
    expect(plainDeltaContent(openai({ role: 'assistant', content: 'Hi' }))).toBe('Hi');
  });

  it('leaves to the parser every chunk that is not provably plain', () => {
    const notPlain = [
      openai({ content: 'say \\"hi\\"' }), // escapes
      openai({ content: 'a\nb' }), // an escaped newline
      openai({ content: 'a' }, {}, { finish_reason: 'stop' }),
      openai({ content: 'a' }, { usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }),
      openai({ content: 'a', tool_calls: [{ index: 0, function: { arguments: '{}' } }] }),
      openai({ content: 'a', function_call: { name: 'f' } }),
      openai({ content: 'a', refusal: 'no' }),
      openai({ content: 'a', reasoning_content: 'hmm' }),
      openai({ content: 'a', reasoning: 'hmm' }),
      openai({ content: 'a' }, {}, { index: 1 }),
      openai({ content: 'a' }, {}, { index: 10 }),
      openai({ role: 'user', content: 'a' }), // not the assistant's role: the parser decides
      openai({ role: 'assistant', content: null }),
      openai({ role: 'assistant', content: 'a', tool_calls: [{ index: 0, function: { arguments: '{}' } }] }),
      JSON.stringify({ choices: [{ index: 0, delta: { role: 'assistant', content: 'a' } }, { index: 1, delta: { content: 'b' } }] }),
      JSON.stringify({ choices: [{ index: 0, delta: { content: 'a' } }, { index: 1, delta: { content: 'b' } }] }),
      JSON.stringify({ choices: [{ delta: { content: 'a' } }] }), // no index
      '{"choices":[{"index":0,"delta":{"content":"a"}}', // cut short
      '{"choices":[{"index":0,"delta":{"content":"a"}}]}}',
      '{"choices":[{"index":0,"delta":{"content":"a"}}]}{"x":1}', // two objects
      'not json',
      openai({}),
      JSON.stringify({ error: { message: 'boom' }, choices: [{ index: 0, delta: { content: 'a' } }] }),
    ];
    for (const data of notPlain) expect(plainDeltaContent(data), data).toBeUndefined();
  });

  it('agrees with JSON.parse on 5,000 random chunks', () => {
    const { rand, pick } = seeded(42);
    const text = () => Array.from({ length: Math.floor(rand() * 8) }, () => pick(['a', ' ', '"', '\\', '{', '}', '[', ']', 'é', '\n', ':', ',', 'null', '"index":1'])).join('');
    let accepted = 0;
    for (let i = 0; i < 5000; i++) {
      // The role before the content sometimes (a first chunk), after it sometimes.
      const delta: Record<string, unknown> = rand() < 0.1 ? { role: pick(['assistant', 'assistant', 'user']) } : {};
      if (rand() < 0.9) delta.content = text();
      if (rand() < 0.1) delta.role = 'assistant';
      if (rand() < 0.05) delta.tool_calls = [{ index: 0, function: { arguments: text() } }];
      if (rand() < 0.1) delta.refusal = pick([null, text()]);
      if (rand() < 0.1) delta.reasoning_content = pick([null, text()]);
      const choice: Record<string, unknown> = { index: pick([0, 0, 0, 1]), delta, finish_reason: pick([null, null, null, 'stop']) };
      if (rand() < 0.1) choice.logprobs = { content: [{ token: text(), logprob: -1 }] };
      const chunk: Record<string, unknown> = { id: 'x', choices: rand() < 0.05 ? [choice, { ...choice, index: 1 }] : [choice] };
      if (rand() < 0.3) chunk.usage = pick([null, { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 }]);
      const data = JSON.stringify(chunk);
      const fast = plainDeltaContent(data);
      if (fast === undefined) continue;
      accepted++;
      const parsed = JSON.parse(data);
      expect(parsed.choices).toHaveLength(1);
      const c = parsed.choices[0];
      expect(c.index).toBe(0);
      expect(c.delta.content).toBe(fast);
      expect(c.delta.tool_calls ?? c.delta.function_call ?? c.delta.refusal ?? c.delta.reasoning_content ?? null).toBeNull();
      expect(c.finish_reason ?? null).toBeNull();
      expect(parsed.usage ?? null).toBeNull();
    }
    expect(accepted).toBeGreaterThan(500); // the fast path is actually taken
  });
});

describe('PlainDeltaReader', () => {
  it('takes the next chunks of an answer by their template, and gives the same answer as the full check', () => {
    const reader = new PlainDeltaReader();
    expect(reader.read(openai({ role: 'assistant', content: '' }))).toBe('');
    expect(reader.read(openai({ content: 'Hel' }))).toBe('Hel');
    expect(reader.read(openai({ content: 'lo, {w}[o]' }))).toBe('lo, {w}[o]');
    expect(reader.read(openai({ content: '' }))).toBe('');
    // Same head and tail, but the text holds a quote or an escape: the full check decides.
    expect(reader.read(openai({ content: 'say "hi"' }))).toBeUndefined();
    expect(reader.read(openai({ content: 'a\nb' }))).toBeUndefined();
    // Another shape after a templated one.
    expect(reader.read(openai({ content: 'a' }, {}, { finish_reason: 'stop' }))).toBeUndefined();
    expect(reader.read(openai({ content: 'a' }, { usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }))).toBeUndefined();
    expect(reader.read(openai({ content: 'b' }))).toBe('b');
    // A chunk whose text would run into the template's tail, or is the tail alone.
    expect(reader.read(openai({ content: 'b' }).slice(0, -1))).toBeUndefined();
    expect(reader.read('{"choices":[{"index":0,"delta":{"content":"x"}}]}')).toBe('x');
    expect(reader.read('{"choices":[{"index":0,"delta":{"content":"x"}}]}{"choices":[{"index":0,"delta":{"content":"x"}}]}')).toBeUndefined();
  });

  it('agrees with plainDeltaContent over 20,000 chunks of mixed streams', () => {
    const { rand, pick } = seeded(7);
    const text = () => Array.from({ length: Math.floor(rand() * 6) }, () => pick(['a', ' ', '"', '\\', '{', '}', ']', 'é', '\n', '"},"x":{"y":"', 'null'])).join('');
    const reader = new PlainDeltaReader();
    let templated = 0;
    for (let i = 0; i < 20000; i++) {
      const r = rand();
      const data =
        r < 0.7
          ? openai({ content: text() })
          : r < 0.8
            ? openai({ content: text() }, {}, { finish_reason: pick([null, 'stop']), index: pick([0, 1]) })
            : r < 0.9
              ? openai({ content: text() }, { usage: pick([null, { prompt_tokens: 1 }]) })
              : openai({ content: text(), refusal: pick([null, 'no']) });
      const slow = plainDeltaContent(data);
      expect(reader.read(data), data).toBe(slow);
      if (slow !== undefined) templated++;
    }
    expect(templated).toBeGreaterThan(5000);
  });
});

describe('Transcript with the parse-free path', () => {
  it('keeps the same text, finish and blockers as parsing every chunk would', async () => {
    const t = new Transcript('gpt-4o', 1000);
    const parts = ['Hello', ' "quoted"', ' wörld', '', ' {json}', ' done'];
    t.accept(openai({ role: 'assistant', content: '' }));
    for (const p of parts) expect(t.accept(openai({ content: p }))).toBe(openai({ content: p }));
    expect(t.finished).toBe(false);
    expect(t.whyNoResume()).toBeUndefined();
    t.accept(openai({}, {}, { finish_reason: 'stop' }));
    expect(t.finished).toBe(true);
    const next = await t.continuation({ messages: [] }, { messages: [] });
    expect((next.messages as Array<{ content: string }>).at(-1)?.content).toBe(parts.join(''));

    const tool = new Transcript('gpt-4o', 1000);
    tool.accept(openai({ role: 'assistant', content: '' }));
    tool.accept(openai({ content: 'Let me look.' }));
    tool.accept(openai({ tool_calls: [{ index: 0, id: 'c', function: { name: 'f', arguments: '' } }] }));
    expect(tool.whyNoResume()).toMatch(/tool call/);

    const over = new Transcript('gpt-4o', 4);
    over.accept(openai({ role: 'assistant', content: '' }));
    over.accept(openai({ content: 'abc' }));
    over.accept(openai({ content: 'def' }));
    expect(over.whyNoResume()).toMatch(/resume_max_chars/);
  });

  it("stamps a resumed segment and the counted usage with the first chunk's id, created and model, read when needed", async () => {
    const t = new Transcript('gpt-4o', 1000);
    const first = JSON.stringify({ id: 'chatcmpl-A', object: 'chat.completion.chunk', created: 7, model: 'gpt-4o-x', choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' }, finish_reason: null }] });
    expect(plainDeltaContent(first)).toBe('Hel'); // taken without a parse
    expect(t.accept(first)).toBe(first);
    await t.continuation({ messages: [] }, { messages: [] });
    const next = JSON.stringify({ id: 'other', object: 'chat.completion.chunk', created: 9, model: 'other-model', choices: [{ index: 0, delta: { role: 'assistant', content: 'lo' }, finish_reason: null }] });
    expect(JSON.parse(t.accept(next))).toMatchObject({ id: 'chatcmpl-A', created: 7, model: 'gpt-4o-x', choices: [{ delta: { content: 'lo' } }] });
    expect(JSON.parse(t.accept(JSON.stringify({ id: 'other', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })))).toMatchObject({ id: 'chatcmpl-A' });
    const usage = JSON.parse((await t.missingUsage({ messages: [] })) ?? '{}');
    expect(usage).toMatchObject({ id: 'chatcmpl-A', created: 7, model: 'gpt-4o-x', choices: [] });
    expect(usage.usage.completion_tokens).toBeGreaterThan(0);
  });
});
