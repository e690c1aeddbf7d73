/**
 * Text cut into pieces that gpt-tokenizer counts one at a time, so that no single call does unbounded work.
 *
 * gpt-tokenizer splits text with a regex into pre-tokens (a word with its leading space, a run of punctuation, a
 * run of whitespace, up to 3 digits) and merges each pre-token's bytes with a loop that is quadratic in the
 * pre-token's length. An ordinary word is a few bytes; a run with nothing to split it (150 KB of `x`, a CJK
 * document with no punctuation, a line of `=`) is one pre-token, measured at 13 s for 150 KB on the development
 * box, minutes for 500 KB, days for a 30 MB body, all of it with the event loop held.
 *
 * Safe cuts: places where both encodings' pre-tokenizers (cl100k_base, o200k_base; see gpt-tokenizer's
 * encodingParams/constants.ts) always end a pre-token, and where the text on either side splits the same way on
 * its own, so the pieces' counts add up exactly to the whole's. With `a` the character before, `b` the one after:
 * - a letter, then a digit, a space or line break, or punctuation other than `'` (o200k keeps "don't" whole);
 * - a digit, then anything but a digit (digits go in groups of 3 from the start of their run);
 * - punctuation, then a digit or a space that is not a line break (a punctuation run takes line breaks after it);
 * - a line break, then a letter, digit or punctuation other than `/` (o200k's punctuation runs take `\n/`).
 * Never next to a combining mark (cl100k counts it as punctuation, o200k as part of a letter run), and never after
 * other whitespace (its splits look ahead). Ordinary prose and code have such places every few characters.
 *
 * Forced cuts: where a stretch of MAX_RUN_BYTES of UTF-8 has no safe cut, it is cut anyway, so every pre-token
 * the tokenizer sees is at most that long. A forced cut can move the count by a token or two either way; the
 * count adds one per forced cut so that it stays at or above the exact count (see `countPiece` in tokens.ts).
 */

/**
 * The longest stretch, in UTF-8 bytes, that is counted without a cut. gpt-tokenizer's merge of one pre-token of
 * N bytes, measured (Node 20, CPU time, busy 2-core box, after JIT warm-up): 512 B 0.4-0.7 ms, 1 KB 2-3 ms,
 * 2 KB 3-7 ms, 4 KB ~36 ms, 8 KB ~120 ms (a run of one letter is the slowest per byte). At 512 B a pathological
 * text costs ~1.5 µs a byte, a few times ordinary prose, and a forced cut every 64 tokens or more adds ≤ 2 %.
 */
export const MAX_RUN_BYTES = 512;

/** A text this short cannot hold a stretch over MAX_RUN_BYTES (at most 3 UTF-8 bytes per UTF-16 unit). */
const SHORT = Math.floor(MAX_RUN_BYTES / 3);

// Character classes for the cut rules.
const LETTER = 1;
const MARK = 2;
const DIGIT = 3;
const SPACE = 4; // whitespace other than \r and \n
const NEWLINE = 5; // \r or \n
const PUNCT = 6; // anything else, including symbols and emoji
const APOSTROPHE = 7; // ' (a punctuation mark that starts a contraction)
const SLASH = 8; // / (a punctuation mark that o200k appends to a run of punctuation and line breaks)

const IS_LETTER = /\p{L}/u;
const IS_MARK = /\p{M}/u;
const IS_DIGIT = /\p{N}/u;
const IS_SPACE = /\s/u;

function classify(ch: string): number {
  if (IS_LETTER.test(ch)) return LETTER;
  if (IS_MARK.test(ch)) return MARK;
  if (IS_DIGIT.test(ch)) return DIGIT;
  if (ch === '\r' || ch === '\n') return NEWLINE;
  if (IS_SPACE.test(ch)) return SPACE;
  if (ch === "'") return APOSTROPHE;
  if (ch === '/') return SLASH;
  return PUNCT;
}

// The class of every BMP code unit, filled in on first sight (the regexes cost ~100 ns a character).
const BMP_CLASSES = new Uint8Array(0x10000);

function classAt(code: number): number {
  if (code > 0xffff) return classify(String.fromCodePoint(code));
  let c = BMP_CLASSES[code]!;
  if (c === 0) {
    c = classify(String.fromCharCode(code));
    BMP_CLASSES[code] = c;
  }
  return c;
}

// SAFE[a * 9 + b]: a cut between a character of class a and one of class b keeps the count exact (module doc).
const SAFE = new Uint8Array(81);
for (const [a, bs] of [
  [LETTER, [DIGIT, SPACE, NEWLINE, PUNCT, SLASH]],
  [DIGIT, [LETTER, SPACE, NEWLINE, PUNCT, APOSTROPHE, SLASH]],
  [PUNCT, [DIGIT, SPACE]],
  [APOSTROPHE, [DIGIT, SPACE]],
  [SLASH, [DIGIT, SPACE]],
  [NEWLINE, [LETTER, DIGIT, PUNCT, APOSTROPHE]],
] as const) {
  for (const b of bs) SAFE[a * 9 + b] = 1;
}

function utf8Bytes(code: number): number {
  return code < 0x80 ? 1 : code < 0x800 ? 2 : code > 0xffff ? 4 : 3;
}

/** Where the next piece ends, and whether that end is a forced cut. */
interface Cut {
  end: number;
  forced: boolean;
}

/**
 * The end of the piece that starts at `start`: the first safe cut at or after `start + size`, or a forced cut
 * where MAX_RUN_BYTES pass without a safe one; `text.length` when the text ends first. Reads at most
 * `size + MAX_RUN_BYTES` characters past `start`.
 */
function nextCut(text: string, start: number, size: number): Cut {
  let run = 0; // UTF-8 bytes since the last cut, safe or forced
  let prev = 0;
  for (let i = start; i < text.length; ) {
    const code = text.codePointAt(i)!;
    const cls = classAt(code);
    if (i > start) {
      if (SAFE[prev * 9 + cls] === 1) {
        if (i - start >= size) return { end: i, forced: false };
        run = 0;
      } else if (run + utf8Bytes(code) > MAX_RUN_BYTES) {
        return { end: i, forced: true };
      }
    }
    run += utf8Bytes(code);
    prev = cls;
    i += code > 0xffff ? 2 : 1;
  }
  return { end: text.length, forced: false };
}

/**
 * `text` in pieces of about `size` characters, each cut at the first safe place after `size` (see the module
 * doc), or forced where a stretch has none; no piece holds a stretch of over MAX_RUN_BYTES without a safe cut.
 */
export function* pieces(text: string, size: number): Generator<string> {
  for (const [from, to] of spans(text, size)) yield text.slice(from, to);
}

/** Like `pieces`, as [start, end, forced] index triples. */
export function* spans(text: string, size: number): Generator<[number, number, boolean]> {
  if (text.length <= SHORT && text.length <= size) {
    yield [0, text.length, false];
    return;
  }
  let start = 0;
  while (start < text.length) {
    const cut = nextCut(text, start, Math.max(1, size));
    yield [start, cut.end, cut.forced];
    start = cut.end;
  }
  if (text.length === 0) yield [0, 0, false];
}
