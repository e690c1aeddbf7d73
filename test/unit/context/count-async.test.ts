import { describe, expect, it } from 'vitest';
import { countChatPromptTokens, countTextTokens, PromptEstimate } from '../../../src/context/index.js';
import { countChatPromptTokensAsync, countTextTokensAsync, pieces } from '../../../src/context/count-async.js';
import { countEncodedTokens, type EncodingName } from '../../../src/context/tokens.js';
import { turnCounter } from '../../support/loop-turns.js';

/** Counting long prompts in slices, with event-loop turns between them, must give exactly the one-piece count. */

let seed = 7;
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const WORDS = ['hello', 'World', "don't", 'naïve', 'über', '日本語', 'x', '42', '3.14', '!!', '...', '  ', '\n', '\n\n', '\r\n', '\t', 'émoji😀', 'a\u0301', '{"k": 1}', 'CamelCase', "it's", '—', ' '];
const countInPieces = (t: string, encoding: EncodingName, size: number) => [...pieces(t, size)].reduce((n, p) => n + countEncodedTokens(p, encoding), 0);
const text = (words: number) => Array.from({ length: words }, () => WORDS[Math.floor(rand() * WORDS.length)]! + (rand() < 0.7 ? ' ' : '')).join('');

describe('counting in slices', () => {
  it('cuts only where the pieces add up to the whole, for both encodings', () => {
    for (let k = 0; k < 8; k++) {
      const t = text(15_000);
      for (const encoding of ['o200k_base', 'cl100k_base'] as const) {
        const whole = countEncodedTokens(t, encoding);
        for (const size of [64, 1000, 16_384]) expect(countInPieces(t, encoding, size), `${encoding}, pieces of ${size}`).toBe(whole);
      }
    }
    expect([...pieces('x'.repeat(100), 10)]).toEqual(['x'.repeat(100)]); // no safe cut: one piece
    expect([...pieces('ab cd ef gh', 3)]).toEqual(['ab cd', ' ef', ' gh']); // each cut at the first safe place after the size
  });

  it('counts a chat body exactly as the one-piece count, for every family', async () => {
    const body = {
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: text(40_000), name: 'ann' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"q":"x"}' } }] },
        { role: 'tool', tool_call_id: 'c', content: text(2_000) },
        { role: 'user', content: [{ type: 'text', text: text(3_000) }, { type: 'image_url', image_url: { url: 'https://x/y.png', detail: 'low' } }] },
      ],
      tools: [{ type: 'function', function: { name: 'f', description: 'finds', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }],
    };
    for (const model of ['gpt-4o', 'gpt-4', 'claude-sonnet-4-5', 'gemini-2.5-pro', 'deepseek-chat']) {
      expect(await countChatPromptTokensAsync(body, model, 4096), model).toBe(countChatPromptTokens(body, model));
    }
  });

  it("counts an answer's text exactly as countTextTokens (the usage of a stream whose upstream reported none)", async () => {
    const answer = text(30_000);
    for (const model of ['gpt-4o', 'claude-sonnet-4-5']) expect(await countTextTokensAsync(answer, model, 2048)).toBe(countTextTokens(answer, model));
  });

  it('gives the event loop turns while it counts a long prompt', async () => {
    const body = { messages: [{ role: 'user', content: text(150_000) }] };
    const counter = turnCounter();
    let turns: number;
    try {
      const n = await countChatPromptTokensAsync(body, 'gpt-4o');
      expect(n).toBe(countChatPromptTokens(body, 'gpt-4o'));
    } finally {
      turns = counter.stop();
    }
    expect(turns).toBeGreaterThan(5); // the loop went round between the slices: the count did not hold it
  });

  it("PromptEstimate.prefetch fills what tokens() returns, once per encoding and margin", async () => {
    const body = { messages: [{ role: 'user', content: text(5_000) }] };
    const estimate = new PromptEstimate(body, undefined);
    await estimate.prefetch(['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5']);
    expect(estimate.tokens('gpt-4o-mini')).toBe(countChatPromptTokens(body, 'gpt-4o'));
    expect(estimate.tokens('claude-sonnet-4-5')).toBe(countChatPromptTokens(body, 'claude-sonnet-4-5'));
  });
});
