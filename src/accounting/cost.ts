import type { Price } from '../config/types.js';

/** Token counts in the OpenAI shape: `prompt_tokens` includes the cached ones (as every provider's usage is translated). */
export interface TokenUsage {
  prompt_tokens: number;
  completion_tokens: number;
  /** `prompt_tokens_details.cached_tokens`: prompt tokens read from the provider's cache. */
  cached_tokens?: number;
}

/**
 * What a response cost in USD at `price` (per 1M tokens). Cached prompt tokens are charged at
 * `cached_input`, or at the input price where the provider gives no discount. Not modelled: cache writes
 * (Anthropic, Bedrock charge them 1.25–2× input; here they count as input), long-prompt price tiers,
 * batch discounts, per-request fees.
 */
export function costUSD(usage: TokenUsage, price: Price): number {
  const prompt = tokens(usage.prompt_tokens);
  const cached = Math.min(tokens(usage.cached_tokens), prompt);
  const completion = tokens(usage.completion_tokens);
  const micros = (prompt - cached) * price.input + cached * (price.cached_input ?? price.input) + completion * price.output;
  return micros / 1_000_000;
}

/** A count from an upstream: anything but a finite non-negative number counts as 0. */
function tokens(n: number | undefined): number {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0;
}

/**
 * An answer's usage in the OpenAI shape, from any of the canonical shapes: chat and embeddings (`prompt_tokens`,
 * `completion_tokens`, `prompt_tokens_details.cached_tokens`) or the Responses API (`input_tokens`, `output_tokens`,
 * `input_tokens_details.cached_tokens`). Undefined when it holds no token count.
 */
export function tokenUsageOf(value: unknown): (TokenUsage & { total_tokens: number }) | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const u = value as Record<string, unknown>;
  const prompt = u.prompt_tokens ?? u.input_tokens;
  const completion = u.completion_tokens ?? u.output_tokens;
  if (typeof prompt !== 'number' && typeof completion !== 'number') return undefined;
  const details = (u.prompt_tokens_details ?? u.input_tokens_details) as Record<string, unknown> | undefined;
  const cached = typeof details === 'object' && details !== null ? details.cached_tokens : undefined;
  const p = tokens(prompt as number | undefined);
  const c = tokens(completion as number | undefined);
  return { prompt_tokens: p, completion_tokens: c, total_tokens: p + c, ...(typeof cached === 'number' ? { cached_tokens: tokens(cached) } : {}) };
}

/** Longest `usage` object looked at: a real one is a few hundred characters. */
const MAX_USAGE_CHARS = 4096;

/**
 * The `usage` of a canonical JSON answer, without parsing the answer again: its last `"usage":` key, and the object
 * after it (a few hundred characters). A `"usage"` inside the answer's text is not mistaken for it unless it is
 * followed by an object with token counts; the real one comes last in every canonical shape.
 */
export function usageInJson(body: string): (TokenUsage & { total_tokens: number }) | undefined {
  const at = body.lastIndexOf('"usage"');
  if (at < 0) return undefined;
  const start = body.indexOf('{', at);
  if (start < 0 || body.slice(at + 7, start).trim() !== ':') return undefined;
  let depth = 0;
  const end = Math.min(body.length, start + MAX_USAGE_CHARS);
  for (let i = start; i < end; i++) {
    const c = body.charCodeAt(i);
    if (c === 123) depth++;
    else if (c === 125 && --depth === 0) {
      try {
        return tokenUsageOf(JSON.parse(body.slice(start, i + 1)));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
