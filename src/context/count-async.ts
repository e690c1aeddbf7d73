/**
 * Counting a long prompt without holding the event loop: the same count as `countChatPromptTokens`, with a
 * turn of the event loop given back every `SLICE_CHARS` characters of text or `SLICE_MS` of counting, whichever
 * comes first. Ordinary text tokenizes at ~10 ms per 100 KB here; done in one piece, a 1 MB prompt would stall
 * every stream the gateway is relaying for ~100 ms.
 *
 * Texts are cut where the pieces' counts add up to the whole's, and runs with no such place are cut every
 * MAX_RUN_BYTES (see pieces.ts): no single tokenizer call sees more than one bounded piece, whatever the text.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { promptTokensWith } from './chat.js';
import { spans } from './pieces.js';
import { applyMargin, countPiece, type EncodingName, encodingFor } from './tokens.js';

export { pieces } from './pieces.js';

const SLICE_CHARS = 16 * 1024;
/**
 * Counting time between turns. A forced-cut piece of a pathological run costs up to ~1 ms (pieces.ts), so the
 * characters alone do not bound a slice's time; with several long prompts counted at once each gets its slice
 * per loop iteration, and the loop still goes round every few tens of milliseconds.
 */
const SLICE_MS = 3;

/**
 * How much was counted since the last turn given back. Calls that share one (many small counts in a row, as
 * middle-out makes) give turns by their total, not each by its own.
 */
export interface Pace {
  sinceTurn: number;
  /** performance.now() at the last turn (or the first count); set on first use. */
  turnAt?: number;
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
  for (const text of texts) total += await countSliced(text, choice.encoding, sliceChars, pace);
  return applyMargin(total, choice);
}

/** `countTextTokens`, in slices with event-loop turns between them. */
export async function countTextTokensAsync(text: string, model: string, sliceChars = SLICE_CHARS): Promise<number> {
  const choice = encodingFor(model);
  return applyMargin(await countSliced(text, choice.encoding, sliceChars, { sinceTurn: 0 }), choice);
}

/** `countEncodedTokens`, piece by piece, with a turn given back whenever `pace` has used up a slice. */
async function countSliced(text: string, encoding: EncodingName, sliceChars: number, pace: Pace): Promise<number> {
  if (text.length === 0) return 0;
  pace.turnAt ??= performance.now();
  let total = 0;
  for (const [from, to, forced] of spans(text, sliceChars)) {
    total += countPiece(from === 0 && to === text.length ? text : text.slice(from, to), encoding, forced);
    pace.sinceTurn += to - from;
    if (pace.sinceTurn >= sliceChars || performance.now() - pace.turnAt >= SLICE_MS) {
      await nextTurn();
      pace.sinceTurn = 0;
      pace.turnAt = performance.now();
    }
  }
  return total;
}
