/** Shorthands for the catalog data files: a price in USD per 1M tokens, and the common capability sets. */
import type { Price } from '../../config/types.js';
import type { Capabilities } from '../catalog.js';

/** USD per 1M tokens: input, output, and cached input where the provider publishes a discount for it. */
export function usd(input: number, output: number, cached_input?: number): Price {
  return { input, output, cached_input };
}

const caps = (tools: boolean, vision: boolean, prefill: boolean, json: boolean): Capabilities => ({ tools, vision, prefill, json });

/** Tools, images and JSON mode (OpenAI, Gemini, xAI). */
export const MULTIMODAL = caps(true, true, false, true);
/** Tools and JSON mode, text only. */
export const TEXT_TOOLS = caps(true, false, false, true);
/** Text in, text out, nothing else. */
export const TEXT_ONLY = caps(false, false, false, false);
/** Claude: tools, images, prefill; no JSON mode (Lifeline does not translate `response_format` to Anthropic or Bedrock). */
export const CLAUDE = caps(true, true, true, false);
/** DeepSeek and Mistral: tools, JSON mode, prefill with `prefix: true`. */
export const PREFIX_TEXT = caps(true, false, true, true);
export const PREFIX_VISION = caps(true, true, true, true);
/** Bedrock Converse models other than Claude: tools, no JSON mode, no prefill. */
export const CONVERSE_TOOLS = caps(true, false, false, false);
export const CONVERSE_VISION = caps(true, true, false, false);
/** Embedding models: none of the chat capabilities. */
export const EMBEDDING = TEXT_ONLY;
