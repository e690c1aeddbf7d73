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
