/**
 * The OpenAI-compatible hosts with a preset `type` (each one's own model ids and prices). Where a host
 * publishes no output cap of its own, the entry gives the context window (the output shares it) and says so.
 * Sources: https://api-docs.deepseek.com/quick_start/pricing, https://docs.mistral.ai/getting-started/models/,
 * https://mistral.ai/pricing, https://console.groq.com/docs/models, https://groq.com/pricing,
 * https://docs.x.ai/docs/models, https://www.together.ai/pricing, https://fireworks.ai/pricing,
 * https://docs.perplexity.ai/getting-started/pricing, https://www.cerebras.ai/pricing
 */
import type { CatalogEntry } from '../catalog.js';
import { EMBEDDING, MULTIMODAL, PREFIX_TEXT, PREFIX_VISION, TEXT_ONLY, TEXT_TOOLS, usd } from './shared.js';

const NO_OUTPUT_CAP = 'no separate output cap published: output shares the window';
const UNVERIFIED = 'not re-checked against the host page; figures from memory of its price list';

export const DEEPSEEK_MODELS: readonly CatalogEntry[] = [
  // Both ids serve DeepSeek-V3.2 (non-thinking and thinking mode) at one price. "128K" on the page; the API's limit is 131,072.
  { id: 'deepseek-chat', context_window: 131_072, max_output_tokens: 8_192, price: usd(0.28, 0.42, 0.028), capabilities: PREFIX_TEXT },
  {
    id: 'deepseek-reasoner',
    context_window: 131_072,
    max_output_tokens: 64_000,
    price: usd(0.28, 0.42, 0.028),
    capabilities: PREFIX_TEXT,
    note: '64K output as published; tool calls in thinking mode since V3.2 (earlier R1 versions had none)',
  },
];

export const MISTRAL_MODELS: readonly CatalogEntry[] = [
  {
    id: 'mistral-large',
    aliases: ['mistral-large-2411'],
    context_window: 131_072,
    max_output_tokens: 131_072,
    price: usd(2, 6),
    capabilities: PREFIX_TEXT,
    note: `Mistral Large 24.11; mistral-large-latest moves to newer releases, which may be priced differently; ${NO_OUTPUT_CAP}`,
  },
  {
    id: 'mistral-medium',
    aliases: ['mistral-medium-2508', 'mistral-medium-2505'],
    context_window: 131_072,
    max_output_tokens: 131_072,
    price: usd(0.4, 2),
    capabilities: PREFIX_VISION,
    note: NO_OUTPUT_CAP,
  },
  {
    id: 'mistral-small',
    aliases: ['mistral-small-2506'],
    context_window: 131_072,
    max_output_tokens: 131_072,
    price: usd(0.1, 0.3),
    capabilities: PREFIX_VISION,
    note: `Mistral Small 3.2; ${NO_OUTPUT_CAP}`,
  },
  {
    id: 'codestral',
    aliases: ['codestral-2508', 'codestral-2501'],
    context_window: 256_000,
    max_output_tokens: 256_000,
    price: usd(0.3, 0.9),
    capabilities: PREFIX_TEXT,
    note: NO_OUTPUT_CAP,
  },
  { id: 'open-mistral-nemo', context_window: 131_072, max_output_tokens: 131_072, price: usd(0.15, 0.15), capabilities: PREFIX_TEXT, note: NO_OUTPUT_CAP },
  { id: 'mistral-embed', kind: 'embedding', context_window: 8_192, max_output_tokens: 0, price: usd(0.1, 0), capabilities: EMBEDDING },
];

export const GROQ_MODELS: readonly CatalogEntry[] = [
  { id: 'llama-3.3-70b-versatile', context_window: 131_072, max_output_tokens: 32_768, price: usd(0.59, 0.79), capabilities: TEXT_TOOLS },
  {
    id: 'llama-3.1-8b-instant',
    context_window: 131_072,
    max_output_tokens: 131_072,
    price: usd(0.05, 0.08),
    capabilities: TEXT_TOOLS,
    note: 'Groq lists its max completion as the whole window',
  },
  { id: 'openai/gpt-oss-120b', context_window: 131_072, max_output_tokens: 65_536, price: usd(0.15, 0.75), capabilities: TEXT_TOOLS, note: UNVERIFIED },
  { id: 'openai/gpt-oss-20b', context_window: 131_072, max_output_tokens: 65_536, price: usd(0.1, 0.5), capabilities: TEXT_TOOLS, note: UNVERIFIED },
  {
    id: 'meta-llama/llama-4-scout-17b-16e-instruct',
    context_window: 131_072,
    max_output_tokens: 8_192,
    price: usd(0.11, 0.34),
    capabilities: MULTIMODAL,
  },
];

export const XAI_MODELS: readonly CatalogEntry[] = [
  {
    id: 'grok-4',
    aliases: ['grok-4-0709'],
    context_window: 256_000,
    max_output_tokens: 256_000,
    price: usd(3, 15, 0.75),
    capabilities: MULTIMODAL,
    note: `price doubles past 128K tokens; ${NO_OUTPUT_CAP}`,
  },
  {
    id: 'grok-4-1-fast-reasoning',
    aliases: ['grok-4-1-fast-non-reasoning'],
    context_window: 2_000_000,
    max_output_tokens: 2_000_000,
    price: usd(0.2, 0.5, 0.05),
    capabilities: MULTIMODAL,
    note: `price doubles past 128K tokens; ${NO_OUTPUT_CAP}`,
  },
  {
    id: 'grok-4-fast-reasoning',
    aliases: ['grok-4-fast-non-reasoning'],
    context_window: 2_000_000,
    max_output_tokens: 2_000_000,
    price: usd(0.2, 0.5, 0.05),
    capabilities: MULTIMODAL,
    note: `price doubles past 128K tokens; ${NO_OUTPUT_CAP}`,
  },
  { id: 'grok-code-fast-1', context_window: 256_000, max_output_tokens: 256_000, price: usd(0.2, 1.5, 0.02), capabilities: TEXT_TOOLS, note: NO_OUTPUT_CAP },
  { id: 'grok-3', context_window: 131_072, max_output_tokens: 131_072, price: usd(3, 15, 0.75), capabilities: TEXT_TOOLS, note: NO_OUTPUT_CAP },
  { id: 'grok-3-mini', context_window: 131_072, max_output_tokens: 131_072, price: usd(0.3, 0.5, 0.075), capabilities: TEXT_TOOLS, note: NO_OUTPUT_CAP },
];

export const TOGETHER_MODELS: readonly CatalogEntry[] = [
  {
    id: 'meta-llama/Llama-3.3-70B-Instruct-Turbo',
    context_window: 131_072,
    max_output_tokens: 131_072,
    price: usd(0.88, 0.88),
    capabilities: TEXT_TOOLS,
    note: `${UNVERIFIED}; ${NO_OUTPUT_CAP}`,
  },
  {
    id: 'meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo',
    context_window: 131_072,
    max_output_tokens: 131_072,
    price: usd(0.18, 0.18),
    capabilities: TEXT_TOOLS,
    note: `${UNVERIFIED}; ${NO_OUTPUT_CAP}`,
  },
];

export const FIREWORKS_MODELS: readonly CatalogEntry[] = [
  {
    id: 'accounts/fireworks/models/llama-v3p3-70b-instruct',
    context_window: 131_072,
    max_output_tokens: 131_072,
    price: usd(0.9, 0.9),
    capabilities: TEXT_TOOLS,
    note: `${UNVERIFIED}; ${NO_OUTPUT_CAP}`,
  },
  {
    id: 'accounts/fireworks/models/llama-v3p1-8b-instruct',
    context_window: 131_072,
    max_output_tokens: 131_072,
    price: usd(0.2, 0.2),
    capabilities: TEXT_TOOLS,
    note: `${UNVERIFIED}; ${NO_OUTPUT_CAP}`,
  },
];

export const PERPLEXITY_MODELS: readonly CatalogEntry[] = [
  {
    id: 'sonar-pro',
    context_window: 200_000,
    max_output_tokens: 8_000,
    price: usd(3, 15),
    capabilities: TEXT_ONLY,
    note: `${UNVERIFIED}; a per-request search fee comes on top`,
  },
  {
    id: 'sonar',
    context_window: 128_000,
    max_output_tokens: 128_000,
    price: usd(1, 1),
    capabilities: TEXT_ONLY,
    note: `${UNVERIFIED}; a per-request search fee comes on top; ${NO_OUTPUT_CAP}`,
  },
];

export const CEREBRAS_MODELS: readonly CatalogEntry[] = [
  {
    id: 'llama-3.3-70b',
    context_window: 128_000,
    max_output_tokens: 128_000,
    price: usd(0.85, 1.2),
    capabilities: TEXT_TOOLS,
    note: `${UNVERIFIED}; paid-tier window (the free tier's is smaller); ${NO_OUTPUT_CAP}`,
  },
  {
    id: 'llama3.1-8b',
    context_window: 128_000,
    max_output_tokens: 128_000,
    price: usd(0.1, 0.1),
    capabilities: TEXT_TOOLS,
    note: `${UNVERIFIED}; paid-tier window (the free tier's is smaller); ${NO_OUTPUT_CAP}`,
  },
];
