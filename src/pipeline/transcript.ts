import { countChatPromptTokensAsync, countTextTokensAsync } from '../context/index.js';
import { PlainDeltaReader } from './plain-delta.js';

/** OpenAI usage, as summed over every upstream segment of one answer. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

interface ChunkJson {
  id?: unknown;
  created?: unknown;
  model?: unknown;
  choices?: ChoiceJson[];
  usage?: unknown;
}

interface ChoiceJson {
  index?: unknown;
  delta?: Record<string, unknown>;
  finish_reason?: unknown;
}

const PIECES_PER_BLOCK = 8;

/**
 * Text appended piece by piece, kept as flat strings. A `+=` rope would keep each piece as it came: a slice of its
 * chunk's whole JSON text (V8 slices strings of 13 characters or more), so every chunk of a stream stayed alive until
 * the stream's end: 657 KB of heap for a 2,000-chunk answer whose text is ~34 KB (41 KB kept this way). A few pieces
 * at a time are joined, which copies their characters into one new string and lets the chunks go.
 */
export class FlatText {
  private readonly blocks: string[] = [];
  private readonly pending: string[] = [];
  length = 0;

  add(piece: string): void {
    this.pending.push(piece);
    this.length += piece.length;
    if (this.pending.length === PIECES_PER_BLOCK) this.seal();
  }

  toString(): string {
    this.seal();
    if (this.blocks.length > 1) this.blocks.splice(0, this.blocks.length, this.blocks.join(''));
    return this.blocks[0] ?? '';
  }

  private seal(): void {
    if (this.pending.length === 0) return;
    this.blocks.push(this.pending.join(''));
    this.pending.length = 0;
  }
}

/**
 * What the client has been sent of one streamed chat answer, so that a stream cut short can be continued
 * elsewhere and stitched in as if nothing happened. No I/O; the counts at the end of a stream give the event loop turns.
 *
 * Segment 0 is the first upstream stream; its chunks pass through byte for byte (only observed). Each resume
 * starts a new segment whose chunks are rewritten: the first segment's id, created and model; no second
 * role; the whitespace the prefill had to drop (Anthropic refuses a prefill ending in whitespace) taken off
 * the continuation's start, since the client already has it; usage summed with the cut segments' usage,
 * which is counted with the tokenizer because a cut stream never reports its own.
 */
export class Transcript {
  private readonly text = new FlatText();
  /** Characters past `maxChars` that were not kept (the answer can no longer be continued). */
  private overflow = 0;
  /** Where the current segment's text starts in `text`. */
  private segmentStart = 0;
  private segmentOverflow = 0;
  private blocker: string | undefined;
  /** The first chunk's text: its id, created and model stamp a resumed segment's chunks (parsed when needed). */
  private first: string | undefined;
  private stamp: { id: unknown; created: unknown; model: unknown } | undefined;
  private segment = 0;
  private readonly plain = new PlainDeltaReader();
  private pendingTrim = '';
  private upstreamUsage: Usage | undefined;
  private readonly carried: Usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  /** A finish_reason has been sent: the answer is complete even if the stream dies before `[DONE]`. */
  finished = false;

  constructor(
    /** The upstream model name the tokenizer counts for. */
    private readonly tokenizerModel: string,
    private readonly maxChars: number,
  ) {}

  /** Observes one canonical chunk (JSON text) and returns what the client gets: the same text, a rewrite, or ''. */
  accept(data: string): string {
    if (this.segment === 0) {
      // Most chunks, the first included: observed without a parse (segment 0 passes through as is anyway).
      const content = this.plain.read(data);
      if (content !== undefined) {
        this.first ??= data;
        if (content !== '') this.append(content);
        return data;
      }
    }
    let chunk: ChunkJson;
    try {
      chunk = JSON.parse(data) as ChunkJson;
    } catch {
      this.blocker ??= 'the upstream sent a chunk that is not JSON';
      return this.segment === 0 ? data : '';
    }
    if (this.first === undefined) {
      this.first = data;
      this.stamp = { id: chunk.id, created: chunk.created, model: chunk.model };
    }
    const usage = readUsage(chunk.usage);
    if (this.segment === 0) {
      this.observeChoices(chunk.choices);
      if (usage) this.upstreamUsage = usage;
      return data;
    }
    const stamp = this.identity();
    chunk.id = stamp.id;
    chunk.created = stamp.created;
    chunk.model = stamp.model;
    let keep = usage !== undefined;
    if (usage) {
      this.upstreamUsage = sumUsage(this.carried, usage);
      chunk.usage = this.upstreamUsage;
    }
    for (const choice of chunk.choices ?? []) {
      const delta = choice.delta ?? {};
      delete delta.role;
      if (typeof delta.content === 'string') {
        delta.content = this.trimOverlap(delta.content);
        if (delta.content === '') delete delta.content;
      }
      if (Object.values(delta).some((v) => v !== null && v !== undefined) || choice.finish_reason) keep = true;
    }
    this.observeChoices(chunk.choices);
    return keep ? JSON.stringify(chunk) : '';
  }

  /** Why this answer cannot be continued on another upstream, or undefined when it can. */
  whyNoResume(): string | undefined {
    if (this.blocker) return this.blocker;
    if (this.overflow > 0) return `the answer is longer than streaming.resume_max_chars (${this.maxChars})`;
    return undefined;
  }

  /**
   * Ends the current segment (its upstream failed) and returns the request that continues the answer: the
   * original messages plus the text so far as a trailing assistant message (prefill). `body` is the request
   * the failed segment was sent with; its prompt and the text it produced are counted toward usage.
   */
  async continuation(original: Record<string, unknown>, failedBody: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.carried.prompt_tokens += await countChatPromptTokensAsync(failedBody, this.tokenizerModel);
    this.carried.completion_tokens += await this.segmentTokens();
    this.carried.total_tokens = this.carried.prompt_tokens + this.carried.completion_tokens;
    this.segment++;
    this.segmentStart = this.text.length;
    this.segmentOverflow = 0;
    this.upstreamUsage = undefined;
    const text = this.text.toString();
    const kept = text.trimEnd();
    this.pendingTrim = text.slice(kept.length);
    return withPrefill(original, kept, this.carried.completion_tokens);
  }

  /**
   * The usage-only chunk that ends a stream whose upstream reported none (counted with the tokenizer), or
   * undefined when the last segment reported its own (already summed into its chunk). `body` is the request
   * of the last segment.
   */
  async missingUsage(body: Record<string, unknown>): Promise<string | undefined> {
    if (this.upstreamUsage) return undefined;
    // Counted in slices (a long prompt or answer would otherwise hold the event loop at the end of the stream).
    const prompt = this.carried.prompt_tokens + (await countChatPromptTokensAsync(body, this.tokenizerModel));
    const completion = this.carried.completion_tokens + (await this.segmentTokens());
    this.upstreamUsage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
    const stamp = this.identity();
    return JSON.stringify({
      id: stamp.id,
      object: 'chat.completion.chunk',
      created: stamp.created,
      model: stamp.model,
      choices: [],
      usage: this.upstreamUsage,
    });
  }

  /** The answer's usage as known so far (summed over segments), for logs. */
  get usage(): Usage | undefined {
    return this.upstreamUsage;
  }

  /** The id, created and model of the answer's first chunk (none before it: undefined, left out of the JSON). */
  private identity(): { id: unknown; created: unknown; model: unknown } {
    if (this.stamp) return this.stamp;
    let chunk: ChunkJson = {};
    try {
      chunk = this.first === undefined ? {} : (JSON.parse(this.first) as ChunkJson);
    } catch {
      // A plain chunk's shape was checked, not its whole grammar: one that does not parse leaves the stamp empty.
    }
    this.stamp = { id: chunk.id, created: chunk.created, model: chunk.model };
    return this.stamp;
  }

  private async segmentTokens(): Promise<number> {
    // Text past the buffer is estimated at 4 characters a token rather than kept.
    const text = this.text.toString().slice(this.segmentStart);
    return (await countTextTokensAsync(text, this.tokenizerModel)) + Math.ceil(this.segmentOverflow / 4);
  }

  private observeChoices(choices: ChoiceJson[] | undefined): void {
    for (const choice of choices ?? []) {
      if (choice.index !== undefined && choice.index !== 0) this.blocker ??= 'the request asked for several choices (n > 1)';
      const delta = choice.delta ?? {};
      if (delta.tool_calls || delta.function_call) this.blocker ??= 'a tool call was in progress';
      if (nonEmpty(delta.reasoning_content) || nonEmpty(delta.reasoning)) this.blocker ??= 'the model was reasoning';
      if (nonEmpty(delta.refusal)) this.blocker ??= 'the model was refusing';
      if (typeof delta.content === 'string' && delta.content !== '') this.append(delta.content);
      if (choice.finish_reason) this.finished = true;
    }
  }

  private append(content: string): void {
    if (this.overflow === 0 && this.text.length + content.length <= this.maxChars) {
      this.text.add(content);
    } else {
      this.overflow += content.length;
      this.segmentOverflow += content.length;
    }
  }

  /** Drops from a continuation's start the whitespace the client already has (trimmed off the prefill). */
  private trimOverlap(content: string): string {
    if (this.pendingTrim === '' || content === '') return content;
    let k = 0;
    while (k < content.length && k < this.pendingTrim.length && content[k] === this.pendingTrim[k]) k++;
    this.pendingTrim = k < content.length ? '' : this.pendingTrim.slice(k);
    return content.slice(k);
  }
}

/**
 * The request that continues `text`: a trailing assistant message carrying it, merged into the client's own
 * trailing assistant message (its prefill) if there is one, with `prefix: true` for the OpenAI-compatible hosts
 * that need the flag (DeepSeek, Mistral); other providers' adapters ignore it. The output limit shrinks by
 * what was already produced.
 */
export function withPrefill(body: Record<string, unknown>, text: string, producedTokens: number): Record<string, unknown> {
  const messages = Array.isArray(body.messages) ? [...(body.messages as unknown[])] : [];
  const out: Record<string, unknown> = { ...body, messages };
  for (const field of ['max_tokens', 'max_completion_tokens']) {
    const limit = body[field];
    if (typeof limit === 'number') out[field] = Math.max(1, limit - producedTokens);
  }
  if (text === '') return out;
  const last = messages[messages.length - 1] as Record<string, unknown> | undefined;
  if (last?.role === 'assistant' && typeof last.content === 'string' && !last.tool_calls) {
    messages[messages.length - 1] = { ...last, content: last.content + text, prefix: true };
  } else {
    messages.push({ role: 'assistant', content: text, prefix: true });
  }
  return out;
}

function readUsage(value: unknown): Usage | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const u = value as Record<string, unknown>;
  if (typeof u.prompt_tokens !== 'number' || typeof u.completion_tokens !== 'number') return undefined;
  return u as unknown as Usage;
}

function sumUsage(a: Usage, b: Usage): Usage {
  const prompt = a.prompt_tokens + b.prompt_tokens;
  const completion = a.completion_tokens + b.completion_tokens;
  return { ...b, prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function nonEmpty(value: unknown): boolean {
  return typeof value === 'string' ? value !== '' : value !== undefined && value !== null;
}
