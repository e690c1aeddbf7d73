import { countChatPromptTokens } from './chat.js';
import { countChatPromptTokensAsync } from './count-async.js';
import { encodingFor } from './tokens.js';

/** A deployment's limits as far as they are known (catalog or config); unknown limits never exclude it. */
export interface Window {
  /** The upstream model name: decides how its tokens are counted. */
  model: string;
  contextWindow: number | undefined;
  maxOutput: number | undefined;
  /** A cap on the prompt inside the window (GPT-5's 272,000 of 400,000). */
  maxInput?: number | undefined;
}

/** The output a request asks for: `max_completion_tokens` or `max_tokens`, if set. */
export function requestedOutput(body: Record<string, unknown>): number | undefined {
  const n = body.max_completion_tokens ?? body.max_tokens;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined;
}

/** The chat request's prompt, counted lazily and once per way of counting (encoding and margin). */
export class PromptEstimate {
  private readonly counts = new Map<string, number>();
  private bound: number | undefined;

  constructor(
    readonly body: Record<string, unknown>,
    /** The request body's size in bytes, when known: a cheap upper bound that often makes counting unneeded. */
    private readonly bytes: number | undefined,
  ) {}

  tokens(model: string): number {
    const key = countKey(model);
    let n = this.counts.get(key);
    if (n === undefined) {
      n = countChatPromptTokens(this.body, model);
      this.counts.set(key, n);
    }
    return n;
  }

  /** Counts ahead, giving the event loop a turn now and then, what `tokens` will be asked for these models. */
  async prefetch(models: readonly string[]): Promise<void> {
    for (const model of models) {
      const key = countKey(model);
      if (!this.counts.has(key)) this.counts.set(key, await countChatPromptTokensAsync(this.body, model));
    }
  }

  /**
   * An upper bound of the prompt tokens for any model, without tokenizing: a token covers at least one byte of
   * text, every margin is ≤ 1.3, and tool definitions cost at most their JSON plus Anthropic's tool prompt.
   * Infinity when the body holds parts whose tokens do not follow from bytes (images, audio, files).
   */
  upperBound(): number {
    if (this.bound === undefined) this.bound = this.bytes === undefined || hasMedia(this.body) ? Number.POSITIVE_INFINITY : Math.ceil(this.bytes * 1.3) + 1000;
    return this.bound;
  }
}

/** Models whose counts are equal share a key: same encoding, margin and family. */
function countKey(model: string): string {
  const choice = encodingFor(model);
  return `${choice.encoding}:${choice.margin}:${choice.family}`;
}

export interface FitCheck {
  fits: boolean;
  /** Tokens the request needs on this deployment (prompt estimate + requested output); 0 when not counted. */
  need: number;
}

/**
 * Whether the request fits a deployment: its prompt and output within the context window, its prompt within the
 * input cap if there is one. Counts only when the cheap bound cannot tell.
 */
export function checkFit(estimate: PromptEstimate, window: Window, output: number | undefined): FitCheck {
  if (settledByBound(estimate, window, output)) return { fits: true, need: 0 };
  const prompt = estimate.tokens(window.model);
  const need = prompt + (output ?? 1);
  return { fits: need <= (window.contextWindow ?? Number.POSITIVE_INFINITY) && prompt <= (window.maxInput ?? Number.POSITIVE_INFINITY), need };
}

/** Whether the request surely fits without counting: no known limit, or the byte bound is within them. */
export function settledByBound(estimate: PromptEstimate, window: Window, output: number | undefined): boolean {
  if (window.contextWindow === undefined && window.maxInput === undefined) return true;
  const bound = estimate.upperBound();
  return bound + (output ?? 1) <= (window.contextWindow ?? Number.POSITIVE_INFINITY) && bound <= (window.maxInput ?? Number.POSITIVE_INFINITY);
}

/** The most prompt tokens a deployment takes with `reserve` tokens of output left: window and input cap both. */
export function promptBudget(window: Window, reserve: number): number {
  return Math.min((window.contextWindow ?? Number.POSITIVE_INFINITY) - reserve, window.maxInput ?? Number.POSITIVE_INFINITY);
}

/**
 * The request's output limit clamped to what the window has left after the prompt and to the model's maximum
 * output: undefined when there is nothing to clamp (no limit asked, or it already fits), else the new limit.
 */
export function clampOutput(estimate: PromptEstimate, window: Window, output: number | undefined): number | undefined {
  if (output === undefined) return undefined;
  const left = window.contextWindow === undefined ? Number.POSITIVE_INFINITY : window.contextWindow - estimate.tokens(window.model);
  const limit = Math.max(1, Math.min(left, window.maxOutput ?? Number.POSITIVE_INFINITY));
  return output > limit ? limit : undefined;
}

function hasMedia(body: Record<string, unknown>): boolean {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  for (const m of messages) {
    const content = (m as { content?: unknown } | null)?.content;
    if (!Array.isArray(content)) continue;
    for (const part of content) {
      if ((part as { type?: unknown } | null)?.type !== 'text') return true;
    }
  }
  return false;
}
