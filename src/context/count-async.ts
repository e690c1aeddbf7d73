/**
 * Counting a long prompt without holding the event loop: the same count as `countChatPromptTokens`, in pieces
 * (pieces.ts: cut where the counts add up exactly, and where a run has no such place every MAX_RUN_BYTES, so no
 * tokenizer call does unbounded work), with the event loop given its turns in between.
 *
 * One budget for every count in the process: per turn of the event loop, at most TURN_MS of counting or
 * TURN_CHARS characters, whichever is spent first, whatever request the counts are for. A count that finds it
 * spent waits in line (first come, first served) for the next turn, so however many long prompts are counted at
 * once the loop still goes round every few milliseconds. Per-count slices would not do that: with four counts at
 * once each took its slice in every loop iteration, and /health waited for all four.
 */
import { promptTokensWith } from './chat.js';
import { spans } from './pieces.js';
import { applyMargin, countPiece, type EncodingName, encodingFor } from './tokens.js';

export { pieces } from './pieces.js';

/** How texts are cut for counting: ordinary prose at ~0.3 µs a character, so a piece is ~1 ms. */
const PIECE_CHARS = 4 * 1024;
/** Counting per event-loop turn, for all counts together (a pathological piece costs well under 1 ms). */
const TURN_MS = 2;
const TURN_CHARS = 8 * 1024;

const line: Array<() => void> = [];
let turnOpen = false;
let turnStartedAt = 0;
let turnChars = 0;

function beginTurn(): void {
  turnOpen = true;
  turnStartedAt = performance.now();
  turnChars = 0;
  // The turn ends at the next check phase, after the loop has polled for I/O; the next in line begins another.
  setImmediate(endTurn);
}

function endTurn(): void {
  turnOpen = false;
  next();
}

function spent(): boolean {
  return turnChars >= TURN_CHARS || performance.now() - turnStartedAt >= TURN_MS;
}

/** Resumes the first count in line: now, if the turn has budget left (or none is open); else the turn's end will. */
function next(): void {
  if (line.length === 0) return;
  if (!turnOpen) beginTurn();
  else if (spent()) return;
  line.shift()!();
}

/** Undefined when the caller may count its next piece now; else a promise of its turn. */
function mayGoOn(): Promise<void> | undefined {
  if (line.length === 0) {
    if (!turnOpen) {
      beginTurn();
      return undefined;
    }
    if (!spent()) return undefined;
  }
  return new Promise<void>((resume) => {
    line.push(resume);
    next();
  });
}

export async function countChatPromptTokensAsync(body: Record<string, unknown>, model: string, pieceChars = PIECE_CHARS): Promise<number> {
  const choice = encodingFor(model);
  const texts: string[] = [];
  // The structure's own tokens, with every text set aside for counting below.
  let total = promptTokensWith(body, choice, (text) => {
    texts.push(text);
    return 0;
  });
  for (const text of texts) total += await countInTurns(text, choice.encoding, pieceChars);
  return applyMargin(total, choice);
}

/** `countTextTokens`, in pieces with event-loop turns between them. */
export async function countTextTokensAsync(text: string, model: string, pieceChars = PIECE_CHARS): Promise<number> {
  const choice = encodingFor(model);
  return applyMargin(await countInTurns(text, choice.encoding, pieceChars), choice);
}

/** `countEncodedTokens`, piece by piece, each piece counted when the shared budget allows. */
async function countInTurns(text: string, encoding: EncodingName, pieceChars: number): Promise<number> {
  if (text.length === 0) return 0;
  let total = 0;
  try {
    for (const [from, to, forced] of spans(text, pieceChars)) {
      const wait = mayGoOn();
      if (wait) await wait;
      total += countPiece(from === 0 && to === text.length ? text : text.slice(from, to), encoding, forced);
      turnChars += to - from;
    }
  } finally {
    next(); // what is left of the turn goes to the next in line
  }
  return total;
}
