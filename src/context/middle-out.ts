/**
 * Middle-out: makes a chat request fit a token budget by taking messages out of the middle of the conversation,
 * where they matter least — the system messages, the first message (the task) and the last (the question) stay.
 * An assistant message with tool calls goes together with the tool results that answer it (a result without
 * its call, or a call without its results, is refused by the APIs). A marker message says what was removed.
 * When removing every middle message is not enough, the longest remaining text is cut in its middle. Pure but
 * for the counting, which the caller supplies.
 */

type Json = Record<string, unknown>;

export interface MiddleOutResult {
  body: Json;
  /** Messages taken out. */
  removed: number;
  /** Messages whose text was cut. */
  truncated: number;
}

/**
 * Counts the prompt tokens of a request body (the caller's tokenizer for the target model); a promise when it
 * counts in slices, giving the event loop turns (a prompt long enough to need trimming is a long count).
 */
export type CountPrompt = (body: Json) => number | Promise<number>;

const MARKER = (n: number): string =>
  `[${n} earlier message${n === 1 ? ' was' : 's were'} removed here by the gateway (middle-out) to fit the model's context window]`;
const CUT = '\n[… cut by the gateway (middle-out) to fit the context window …]\n';

/** `body` trimmed to at most `budget` prompt tokens, or undefined when even the protected messages do not fit. */
export async function middleOut(body: Json, budget: number, count: CountPrompt): Promise<MiddleOutResult | undefined> {
  const messages = Array.isArray(body.messages) ? (body.messages as Json[]) : [];
  const whole = await count(body);
  if (whole <= budget) return { body, removed: 0, truncated: 0 };

  const units = middleUnits(messages);
  // Per-message cost, each message counted once, without the request's tools: a message's tokens are (nearly)
  // additive in every recipe.
  const bare = (list: Json[]): Json => ({ model: body.model, messages: list });
  const empty = await count(bare([]));
  const cost = async (unit: number[]): Promise<number> => (await count(bare(unit.map((i) => messages[i] as Json)))) - empty;
  const gone = new Set<number>();
  let total = whole + (await count(bare([{ role: 'system', content: MARKER(messages.length) }]))) - empty;
  for (const index of outward(units.length)) {
    if (total <= budget) break;
    const unit = units[index] as number[];
    total -= await cost(unit);
    for (const i of unit) gone.add(i);
  }
  let kept = rebuild(messages, gone);
  let out: Json = { ...body, messages: kept };
  let tokens = await count(out);
  let truncated = 0;
  for (let round = 0; round < 4 && tokens > budget; round++) {
    const cut = cutLongest(kept, tokens - budget);
    if (!cut) break;
    kept = cut;
    out = { ...body, messages: kept };
    tokens = await count(out);
    truncated = Math.max(truncated, 1);
  }
  if (tokens > budget) return undefined;
  return { body: out, removed: gone.size, truncated };
}

/**
 * The removable middle of a conversation as units of message indices: everything after the first non-system
 * message and before the last message, except system messages; an assistant tool call with its results is one unit.
 */
function middleUnits(messages: Json[]): number[][] {
  const first = messages.findIndex((m) => !isSystem(m));
  const last = messages.length - 1;
  const units: number[][] = [];
  for (let i = first + 1; first >= 0 && i < last; i++) {
    const m = messages[i] as Json;
    if (isSystem(m)) continue;
    const unit = [i];
    if (m.role === 'assistant' && Array.isArray(m.tool_calls)) {
      while (i + 1 < last && (messages[i + 1] as Json).role === 'tool') unit.push(++i);
    }
    // A tool result whose call is protected (or an orphan) must not lose its partner: keep it.
    if (m.role === 'tool') continue;
    units.push(unit);
  }
  return units;
}

/** Indices from the middle outward: the middle first, then alternating toward both ends. */
function outward(n: number): number[] {
  const order: number[] = [];
  const mid = Math.floor((n - 1) / 2);
  for (let step = 0; order.length < n; step++) {
    if (mid - step >= 0) order.push(mid - step);
    if (step > 0 && mid + step < n) order.push(mid + step);
  }
  return order;
}

/** The messages without the removed ones, with one marker where the first removed message was. */
function rebuild(messages: Json[], gone: Set<number>): Json[] {
  if (gone.size === 0) return messages;
  const at = Math.min(...gone);
  const out: Json[] = [];
  messages.forEach((m, i) => {
    if (i === at) out.push({ role: 'system', content: MARKER(gone.size) });
    if (!gone.has(i)) out.push(m);
  });
  return out;
}

/** Cuts the middle out of the longest text content, by about `over` tokens (4 characters a token, doubled for safety). */
function cutLongest(messages: Json[], over: number): Json[] | undefined {
  let best = -1;
  let bestLength = 0;
  messages.forEach((m, i) => {
    const length = typeof m.content === 'string' ? m.content.length : 0;
    if (length > bestLength) {
      best = i;
      bestLength = length;
    }
  });
  if (best < 0 || bestLength < 200) return undefined;
  const text = (messages[best] as Json).content as string;
  const remove = Math.min(text.length - 100, Math.max(over * 8, 64));
  const keepHead = Math.floor((text.length - remove) / 2);
  const cut = text.slice(0, keepHead) + CUT + text.slice(text.length - (text.length - remove - keepHead));
  return messages.map((m, i) => (i === best ? { ...m, content: cut } : m));
}

function isSystem(m: Json): boolean {
  return m.role === 'system' || m.role === 'developer';
}
