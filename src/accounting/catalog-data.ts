/**
 * The catalog's data: the main models of each provider family Lifeline speaks to, with their context window,
 * output cap, list price (USD per 1M tokens: input, output, cached input) and capabilities.
 *
 * Compiled on CATALOG_DATE from the providers' own pricing and model pages (CATALOG_SOURCES); the figures are
 * as the providers published them as of those pages' dates. Prices change: a target's `price`,
 * `context_window` and `max_output_tokens` in the config override these, and `lifeline models` prints them.
 * An entry with a `note` carries a figure that is tiered, about to change, or was not re-checked.
 * Where a figure is uncertain, a window errs on the large side: the pipeline leaves out a deployment whose
 * window cannot hold a request, so a window smaller than the real one would refuse requests the provider takes.
 *
 * Kept as TypeScript (not JSON) so it ships in dist/ with the code; every entry is frozen at load.
 */
import type { CatalogEntry } from './catalog.js';
import { ANTHROPIC_MODELS } from './catalog-data/anthropic.js';
import { BEDROCK_MODELS } from './catalog-data/bedrock.js';
import { GEMINI_MODELS } from './catalog-data/gemini.js';
import { OPENAI_MODELS } from './catalog-data/openai.js';
import {
  CEREBRAS_MODELS,
  DEEPSEEK_MODELS,
  FIREWORKS_MODELS,
  GROQ_MODELS,
  MISTRAL_MODELS,
  PERPLEXITY_MODELS,
  TOGETHER_MODELS,
  XAI_MODELS,
} from './catalog-data/presets.js';

/** When the figures were compiled (ISO date). */
export const CATALOG_DATE = '2026-11-26';

/** Where they come from: each provider's pricing and models pages. */
export const CATALOG_SOURCES: readonly string[] = Object.freeze([
  'https://platform.openai.com/docs/pricing',
  'https://platform.openai.com/docs/models',
  'https://platform.claude.com/docs/en/about-claude/pricing',
  'https://platform.claude.com/docs/en/about-claude/models/overview',
  'https://ai.google.dev/gemini-api/docs/pricing',
  'https://ai.google.dev/gemini-api/docs/models',
  'https://aws.amazon.com/bedrock/pricing/',
  'https://docs.aws.amazon.com/bedrock/latest/userguide/models-supported.html',
  'https://api-docs.deepseek.com/quick_start/pricing',
  'https://docs.mistral.ai/getting-started/models/',
  'https://mistral.ai/pricing',
  'https://console.groq.com/docs/models',
  'https://groq.com/pricing',
  'https://docs.x.ai/docs/models',
  'https://www.together.ai/pricing',
  'https://fireworks.ai/pricing',
  'https://docs.perplexity.ai/getting-started/pricing',
  'https://www.cerebras.ai/pricing',
]);

/**
 * Catalog families: whose ids an entry uses. OpenAI's also serve Azure (by model name) and OpenRouter-style
 * `openai/…` names; each OpenAI-compatible preset has its own.
 */
export type CatalogFamily =
  | 'openai'
  | 'anthropic'
  | 'gemini'
  | 'bedrock'
  | 'deepseek'
  | 'mistral'
  | 'groq'
  | 'xai'
  | 'together'
  | 'fireworks'
  | 'perplexity'
  | 'cerebras';

export const CATALOG: Readonly<Record<CatalogFamily, readonly CatalogEntry[]>> = Object.freeze({
  openai: frozen(OPENAI_MODELS),
  anthropic: frozen(ANTHROPIC_MODELS),
  gemini: frozen(GEMINI_MODELS),
  bedrock: frozen(BEDROCK_MODELS),
  deepseek: frozen(DEEPSEEK_MODELS),
  mistral: frozen(MISTRAL_MODELS),
  groq: frozen(GROQ_MODELS),
  xai: frozen(XAI_MODELS),
  together: frozen(TOGETHER_MODELS),
  fireworks: frozen(FIREWORKS_MODELS),
  perplexity: frozen(PERPLEXITY_MODELS),
  cerebras: frozen(CEREBRAS_MODELS),
});

function frozen(entries: readonly CatalogEntry[]): readonly CatalogEntry[] {
  for (const entry of entries) {
    Object.freeze(entry.price);
    Object.freeze(entry.capabilities);
    if (entry.aliases) Object.freeze(entry.aliases);
    Object.freeze(entry);
  }
  return Object.freeze(entries);
}
