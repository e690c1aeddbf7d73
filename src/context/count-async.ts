/**
 * Counting a long prompt without holding the event loop: the same count as `countChatPromptTokens`, with a
 * turn of the event loop given back every `SLICE_CHARS` characters of text. Tokenizing runs at ~10 ms per
 * 100 KB here; done in one piece, a 1 MB prompt would stall every stream the gateway is relaying for ~100 ms.
 *
 * Long texts are cut only where the encodings' pre-tokenizer always splits (after a line break followed by a
 * non-space, or before a single space between two letters), so the pieces' counts add up to the whole's.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { promptTokensWith } from './chat.js';
import { applyMargin, countEncodedTokens, encodingFor } from './tokens.js';

const SLICE_CHARS = 16 * 1024;

/**
 * How much was counted since the last turn given back. Calls that share one (many small counts in a row, as
 * middle-out makes) give turns by their total, not each by its own.
 */
export interface Pace {
  sinceTurn: number;
}

export async function countChatPromptTokensAsync(
  body: Record<string, unknown>,
  model: string,
  sliceChars = SLICE_CHARS,
  pace: Pace = { sinceTurn: 0 },
): Promise<number> {
  const choice = encodingFor(model);
  const texts: string[] = [];
  // The structure's own tokens, with every text set aside for counting below.
  let total = promptTokensWith(body, choice, (text) => {
    texts.push(text);
    return 0;
  });
  for (const text of texts) {
    for (const piece of pieces(text, sliceChars)) {
      total += countEncodedTokens(piece, choice.encoding);
      pace.sinceTurn += piece.length;
      if (pace.sinceTurn >= sliceChars) {
        pace.sinceTurn = 0;
        await nextTurn();
      }
    }
  }
  return applyMargin(total, choice);
}

/** `countTextTokens`, in slices with event-loop turns between them. */
export async function countTextTokensAsync(text: string, model: string, sliceChars = SLICE_CHARS): Promise<number> {
  const choice = encodingFor(model);
  let total = 0;
  let first = true;
  for (const piece of pieces(text, sliceChars)) {
    if (!first) await nextTurn();
    first = false;
    total += countEncodedTokens(piece, choice.encoding);
  }
  return applyMargin(total, choice);
}

/** `text` in pieces of about `size` characters, cut only at safe boundaries (a piece may be longer). */
export function* pieces(text: string, size: number): Generator<string> {
  let start = 0;
  while (text.length - start > size) {
    const cut = safeCut(text, start + size);
    if (cut === -1) break;
    yield text.slice(start, cut);
    start = cut;
  }
  yield text.slice(start);
}

const LETTER = /\p{L}/u;

/** The first index at or after `from` where the text may be cut (see the module doc); -1 when there is none. */
function safeCut(text: string, from: number): number {
  for (let i = Math.max(1, from); i < text.length - 1; i++) {
    const c = text[i]!;
    const prev = text[i - 1]!;
    const next = text[i + 1]!;
    // After the last of a run of line breaks, before a character that is not whitespace.
    if ((prev === '\n' || prev === '\r') && !/\s/.test(c)) return i;
    // Before a lone space between two letters: "word word".
    if (c === ' ' && LETTER.test(prev) && LETTER.test(next)) return i;
  }
  return -1;
}
