/**
 * Counting a text the tokenizer cannot split (a run of one letter, CJK without punctuation, a long line of digits
 * or punctuation) must not hand gpt-tokenizer one huge pre-token: its merge is quadratic in a pre-token's length
 * (150 KB of `x` held the event loop for 13 s). Every call the counters make into gpt-tokenizer is observed here:
 * no pre-token in it may exceed MAX_RUN_BYTES, and the async counters must give the event loop a turn every bounded
 * amount of text. Counts stay exact for ordinary text and never fall below the exact count for forced cuts.
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countChatPromptTokens, countEncodedTokens, countTextTokens, PromptEstimate } from '../../../src/context/index.js';
import { countChatPromptTokensAsync, countTextTokensAsync, pieces } from '../../../src/context/count-async.js';
import { MAX_RUN_BYTES } from '../../../src/context/pieces.js';
import type { EncodingName } from '../../../src/context/tokens.js';

interface Api {
  countTokens(text: string, options?: unknown): number;
}

// The same CommonJS module instances src/context/tokens.ts loads (Node's require cache is shared).
const requireCjs = createRequire(import.meta.url);
const MODULES: Record<EncodingName, string> = { o200k_base: 'gpt-tokenizer/encoding/o200k_base', cl100k_base: 'gpt-tokenizer/encoding/cl100k_base' };
const originals = new Map<EncodingName, Api['countTokens']>();
const exact = (text: string, encoding: EncodingName) => originals.get(encoding)!(text, { disallowedSpecial: new Set() });

// The encodings' own pre-tokenizers: gpt-tokenizer merges each pre-token on its own, quadratic in its length.
const SPLIT = requireCjs('gpt-tokenizer/encodingParams/constants') as Record<string, RegExp>;
const SPLIT_REGEX: Record<EncodingName, RegExp> = { o200k_base: SPLIT.O200K_TOKEN_SPLIT_REGEX!, cl100k_base: SPLIT.CL100K_TOKEN_SPLIT_REGEX! };
function longestPreToken(text: string, encoding: EncodingName): number {
  let longest = 0;
  for (const [token] of text.matchAll(SPLIT_REGEX[encoding])) longest = Math.max(longest, Buffer.byteLength(token));
  return longest;
}

/** What the counters handed to gpt-tokenizer since `reset`: the longest pre-token in a call, bytes between turns. */
const seen = { calls: 0, longestPreToken: 0, bytesSinceTurn: 0, mostBytesBetweenTurns: 0, charsSinceTurn: 0, mostCharsBetweenTurns: 0 };
function reset(): void {
  Object.assign(seen, { calls: 0, longestPreToken: 0, bytesSinceTurn: 0, mostBytesBetweenTurns: 0, charsSinceTurn: 0, mostCharsBetweenTurns: 0 });
}

let ticking = true;
beforeAll(() => {
  for (const [encoding, id] of Object.entries(MODULES) as [EncodingName, string][]) {
    const api = requireCjs(id) as Api;
    const original = api.countTokens;
    originals.set(encoding, original);
    api.countTokens = (text, options) => {
      const run = longestPreToken(text, encoding);
      // Fail before the call: the unbounded one would hold this test for minutes.
      if (run > MAX_RUN_BYTES) throw new Error(`gpt-tokenizer was handed a pre-token of ${run} bytes`);
      seen.calls++;
      seen.longestPreToken = Math.max(seen.longestPreToken, run);
      seen.bytesSinceTurn += Buffer.byteLength(text);
      seen.mostBytesBetweenTurns = Math.max(seen.mostBytesBetweenTurns, seen.bytesSinceTurn);
      seen.charsSinceTurn += text.length;
      seen.mostCharsBetweenTurns = Math.max(seen.mostCharsBetweenTurns, seen.charsSinceTurn);
      return original(text, options);
    };
  }
  // Once per event-loop iteration: the text counted between two of these was counted without a turn.
  const tick = (): void => {
    seen.bytesSinceTurn = 0;
    seen.charsSinceTurn = 0;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
});
afterAll(() => {
  ticking = false;
  for (const [encoding, id] of Object.entries(MODULES) as [EncodingName, string][]) (requireCjs(id) as Api).countTokens = originals.get(encoding)!;
});

let seed = 11;
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const randomOf = (alphabet: string, n: number) => {
  const chars = [...alphabet];
  return Array.from({ length: n }, () => chars[Math.floor(rand() * chars.length)]).join('');
};
const cjk = (n: number) => Array.from({ length: n }, () => String.fromCharCode(0x4e00 + Math.floor(rand() * 20_000))).join('');

const KB = 1024;
const LONG: Record<string, () => string> = {
  '500 KB of one letter': () => 'x'.repeat(500 * KB),
  '60,000 CJK characters without punctuation (180 KB)': () => cjk(60_000),
  '200 KB of random lowercase letters': () => randomOf('abcdefghijklmnopqrstuvwxyz', 200 * KB),
  '300 KB of digits': () => randomOf('0123456789', 300 * KB),
  '200 KB of punctuation': () => randomOf('!@#$%^&*()-=+[]{};:,.<>?~|', 200 * KB),
  '200 KB of spaces and tabs': () => randomOf(' \t', 200 * KB),
  '200 KB of blank lines': () => '\n'.repeat(200 * KB),
  '100,000 emoji': () => '😀'.repeat(100_000),
  '200 KB of a letter with combining marks': () => 'e\u0301'.repeat(70_000),
  'prose around a 300 KB run': () => `Summarize this file:\n${'A'.repeat(300 * KB)}\nThanks, and be brief.`,
};

describe('counting text the tokenizer cannot split', () => {
  for (const [name, make] of Object.entries(LONG)) {
    it(`${name}: no tokenizer call gets a pre-token over ${MAX_RUN_BYTES} bytes, sync or async, and both count the same`, async () => {
      const text = make();
      for (const model of ['gpt-4o', 'gpt-4']) {
        reset();
        const sync = countTextTokens(text, model);
        expect(seen.longestPreToken).toBeLessThanOrEqual(MAX_RUN_BYTES);
        reset();
        const counted = await countTextTokensAsync(text, model);
        expect(counted, model).toBe(sync);
        // A turn at least every 8 K characters counted (≤ 24 KB of UTF-8 here), or sooner (every 2 ms of counting).
        expect(seen.mostBytesBetweenTurns, model).toBeLessThanOrEqual(24 * KB + MAX_RUN_BYTES);
        expect(counted).toBeGreaterThan(0);
      }
    });
  }

  it('a chat prompt of such text: the sync count, the async count and PromptEstimate agree, in bounded calls', async () => {
    const body = {
      messages: [
        { role: 'system', content: 'You translate.' },
        { role: 'user', content: cjk(60_000) },
        { role: 'assistant', content: 'y'.repeat(100 * KB) },
        { role: 'user', content: [{ type: 'text', text: '9'.repeat(100 * KB) }] },
      ],
    };
    for (const model of ['gpt-4o', 'claude-sonnet-4-5']) {
      reset();
      const sync = countChatPromptTokens(body, model);
      reset();
      const estimate = new PromptEstimate(body, undefined);
      await estimate.prefetch([model]);
      expect(seen.mostBytesBetweenTurns).toBeLessThanOrEqual(24 * KB + MAX_RUN_BYTES);
      expect(estimate.tokens(model)).toBe(sync);
      expect(await countChatPromptTokensAsync(body, model)).toBe(sync);
      expect(seen.longestPreToken).toBeLessThanOrEqual(MAX_RUN_BYTES);
    }
  });

  it('six long counts at once share one budget per loop turn, not one each', async () => {
    const texts = [cjk(40_000), 'q'.repeat(300 * KB), randomOf('0123456789', 200 * KB), randomOf('!=-_*#.', 200 * KB), 'w'.repeat(200 * KB), cjk(20_000)];
    const expected = texts.map((t) => countTextTokens(t, 'gpt-4o'));
    reset();
    const counted = await Promise.all(texts.map((t) => countTextTokensAsync(t, 'gpt-4o')));
    expect(counted).toEqual(expected);
    // 8 K characters a turn for all of them together (these texts have no safe cuts: pieces of ≤ 512 bytes).
    expect(seen.mostCharsBetweenTurns).toBeLessThanOrEqual(8 * KB + MAX_RUN_BYTES);
  });
});

describe('what the cuts do to the count', () => {
  it('where the text has ordinary places to cut, every one of them keeps the count exact (both encodings)', () => {
    // Characters chosen for the pre-tokenizers' edge cases: contractions, marks, digits in groups, \r\n, "/",
    // non-breaking and ideographic spaces, emoji with joiners, a special token's text.
    const ALPHABET = ['a', 'Z', 'é', '中', 'ß', 'e\u0301', '\u0301', '1', '٣', '²', ' ', '  ', '\t', '\n', '\r', '\r\n', '\u00a0', '\u3000', "'", "'s", '/', '.', '!', '-', '"', '😀', '👩‍👩', '\ufe0f', '’', '<|endoftext|>', '_'];
    for (let k = 0; k < 1500; k++) {
      let text = '';
      const n = 1 + Math.floor(rand() * 60);
      for (let i = 0; i < n; i++) text += ALPHABET[Math.floor(rand() * ALPHABET.length)];
      const parts = [...pieces(text, 1)]; // a cut at every safe place
      expect(parts.join('')).toBe(text);
      for (const encoding of ['o200k_base', 'cl100k_base'] as const) {
        const sum = parts.reduce((n, p) => n + exact(p, encoding), 0);
        expect(sum, `${encoding} ${JSON.stringify(text)} as ${JSON.stringify(parts)}`).toBe(exact(text, encoding));
      }
    }
  });

  it('a run cut by force counts at least the exact count, and at most a few tokens more per cut', () => {
    const alphabets = ['abcdefghijklmnopqrstuvwxyz', 'aAbBeEtTsS', 'thequickbrownfox', '中文日本語漢字', 'ก่ข้ค', '!=-_*#.', ' \t\n', 'e\u0301a', 'абвгдАБВ', '😀👍🎉', 'ooooooooooe'];
    for (let k = 0; k < 120; k++) {
      const alphabet = alphabets[k % alphabets.length]!;
      // 1.5-4.5 KB of UTF-8: long enough for forced cuts, short enough to count whole (that count is quadratic).
      const widest = Math.max(...[...alphabet].map((c) => Buffer.byteLength(c)));
      const text = randomOf(alphabet, Math.floor((1500 + rand() * 3000) / widest));
      for (const encoding of ['o200k_base', 'cl100k_base'] as const) {
        const whole = exact(text, encoding);
        const counted = countEncodedTokens(text, encoding);
        const cuts = [...pieces(text, Number.POSITIVE_INFINITY)].length - 1;
        expect(counted, `${encoding}, ${alphabet}`).toBeGreaterThanOrEqual(whole);
        expect(counted, `${encoding}, ${alphabet}`).toBeLessThanOrEqual(whole + 4 * cuts);
      }
    }
  });

  it('ordinary text is counted in the pieces it always was: a text with spaces is not cut by force', () => {
    const words = ['hello', 'World', "don't", 'naïve', '日本語', '42', '3.14', '...', '\n', '{"k": 1}', 'https://example.com/a/b', '=====', '😀'];
    const text = Array.from({ length: 40_000 }, () => words[Math.floor(rand() * words.length)]).join(' ');
    for (const encoding of ['o200k_base', 'cl100k_base'] as const) {
      expect(countEncodedTokens(text, encoding)).toBe(exact(text, encoding));
    }
    expect([...pieces('x'.repeat(MAX_RUN_BYTES), 1 << 20)]).toEqual(['x'.repeat(MAX_RUN_BYTES)]);
    expect([...pieces('x'.repeat(MAX_RUN_BYTES + 1), 1 << 20)]).toEqual(['x'.repeat(MAX_RUN_BYTES), 'x']);
    // Forced cuts fall on whole characters: 3 bytes for each of these, 4 (two UTF-16 units) for an emoji.
    const perCjkPiece = Math.floor(MAX_RUN_BYTES / 3);
    expect([...pieces('中'.repeat(3 * perCjkPiece + 7), 1 << 20)].map((p) => p.length)).toEqual([perCjkPiece, perCjkPiece, perCjkPiece, 7]);
    const emojiPerPiece = Math.floor(MAX_RUN_BYTES / 4);
    expect([...pieces('😀'.repeat(2 * emojiPerPiece + 3), 1 << 20)].map((p) => p.length)).toEqual([2 * emojiPerPiece, 2 * emojiPerPiece, 6]);
  });
});
